package lepton

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"lepton/internal/bert"
	"lepton/tokenize"
)

// Sentence embeddings the way sentence-transformers makes them. A model
// converted from a sentence-transformers folder records its Pooling module
// (one or several modes), its Normalize module, include_prompt and the
// prompts of config_sentence_transformers.json; Embed applies them all by
// default, so its vectors are those of SentenceTransformer.encode() on the
// same texts (docs/ACCURACY.md gives the measured agreement).

// WithPrompt makes Embed prepend the model's prompt of that name to every
// text, as sentence-transformers' encode(prompt_name=...) does (default:
// the model's default prompt, Info().DefaultPrompt, usually none).
// WithPrompt("") turns the default prompt off. A name the model does not
// have (Info().Prompts) is an error wrapping ErrInvalidOption when the
// call runs. On a model whose Pooling module leaves the prompt out
// (include_prompt false), the prompt's tokens and [CLS] do not count in
// the pooled vector.
func WithPrompt(name string) CallOption {
	return callOption(func(c *callConfig) error {
		c.prompt, c.promptSet = name, true
		return nil
	})
}

// embedPlan is how one Embed call turns texts into vectors.
type embedPlan struct {
	mode      bert.Pooling
	normalize bool
	dim       int
	prompt    string // prepended to every text; "" none
	hasPrompt bool
	skip      int // leading tokens left out of pooling (include_prompt false)
}

// embedPlan resolves the call's pooling, normalisation and prompt against
// the model file's defaults into st.plan (kept in the pooled call state so
// that the plan does not cost an allocation per call).
func (m *Model) embedPlan(st *callState, cc *callConfig) (*embedPlan, error) {
	c := &m.net.Config
	p := &st.plan
	*p = embedPlan{}
	switch cc.pooling {
	case PoolCLS:
		p.mode = bert.PoolCLS
	case PoolMean:
		p.mode = bert.PoolMean
	case PoolMax:
		p.mode = bert.PoolMax
	default:
		mode, err := bert.ParsePooling(c.Pooling) // validated at Open
		if err != nil {
			return p, fmt.Errorf("%w: %w", ErrInvalidModel, err)
		}
		p.mode = mode
	}
	p.dim = p.mode.Dim(c.Hidden)
	p.normalize = c.Normalize
	if cc.normalizeSet {
		p.normalize = cc.normalize
	}
	name := c.DefaultPrompt
	if cc.promptSet {
		name = cc.prompt
	}
	if name == "" {
		return p, nil
	}
	text, ok := c.Prompts[name]
	if !ok {
		return p, fmt.Errorf("%w: prompt %q (the model's prompts: %s)", ErrInvalidOption, name, promptNames(c.Prompts))
	}
	p.prompt, p.hasPrompt = text, true
	if c.ExcludePrompt {
		// sentence-transformers: the prompt tokenised alone, minus its
		// closing [SEP] ([CLS] counts), truncated like the texts.
		enc, err := st.enc.Encode(text, tokenize.EncodeOptions{MaxLength: cc.maxLength, Truncation: tokenize.LongestFirst})
		if err != nil {
			return p, fmt.Errorf("%w: prompt %q: %w", ErrInvalidInput, name, err)
		}
		p.skip = max(enc.Len()-1, 0)
	}
	return p, nil
}

func promptNames(prompts map[string]string) string {
	if len(prompts) == 0 {
		return "none"
	}
	names := slices.Collect(maps.Keys(prompts))
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// texts returns the texts to tokenise: with the prompt prepended (string
// concatenation, as sentence-transformers does) when there is one.
func (p *embedPlan) texts(texts []string) []string {
	if !p.hasPrompt {
		return texts
	}
	out := make([]string, len(texts))
	for i, t := range texts {
		out[i] = p.prompt + t
	}
	return out
}

// pool writes the embedding of a text whose final hidden states are hidden.
func (p *embedPlan) pool(dst, hidden []float32, h int) {
	bert.PoolInto(dst, hidden, h, p.mode, p.skip, p.normalize)
}
