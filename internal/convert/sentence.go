package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
)

// A sentence-transformers model folder (SentenceTransformer.save) holds a
// Hugging Face model plus modules.json, which lists the modules encode()
// runs in order, each in its own subfolder:
//
//	modules.json                      [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
//	                                   {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
//	                                   {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]
//	config.json, model.safetensors,   the Transformer module (path "": the folder itself; older
//	tokenizer.json, ...               models use "0_Transformer/")
//	sentence_bert_config.json         the Transformer's max_seq_length and do_lower_case
//	1_Pooling/config.json             pooling_mode_cls_token, pooling_mode_mean_tokens, ..., include_prompt
//	config_sentence_transformers.json prompts, default_prompt_name
//
// Lepton converts the pipelines Transformer -> Pooling and Transformer ->
// Pooling -> Normalize, which is what all-MiniLM-L6-v2, bge-small,
// e5-small, gte-small and most BERT sentence embedders are. Other modules
// (Dense, LayerNorm, WordWeights, ...) are refused by name rather than
// left out, since leaving one out would silently change every vector.

// sentenceFolder is what a sentence-transformers folder says beyond its
// transformer.
type sentenceFolder struct {
	transformerDir string // the Transformer module's directory
	pooling        string // canonical bert.Pooling name
	dim            int    // Pooling's word_embedding_dimension
	normalize      bool
	excludePrompt  bool
	prompts        map[string]string
	defaultPrompt  string
	maxSeqLength   int  // sentence_bert_config.json; 0 when absent
	doLowerCase    bool // sentence_bert_config.json
	modules        []string
	similarity     string // config_sentence_transformers.json similarity_fn_name
}

// stModule is one entry of modules.json.
type stModule struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// stClass returns the class name of a module type
// ("sentence_transformers.models.Pooling" -> "Pooling"), "" for types
// outside sentence_transformers.
func stClass(typ string) string {
	if !strings.HasPrefix(typ, "sentence_transformers.") {
		return ""
	}
	return typ[strings.LastIndexByte(typ, '.')+1:]
}

// readSentenceFolder reads the sentence-transformers files of dir; it
// returns nil when dir has no modules.json (a plain Hugging Face folder).
func readSentenceFolder(dir string) (*sentenceFolder, error) {
	modPath := filepath.Join(dir, "modules.json")
	data, err := readSmall(modPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var mods []stModule
	if err := json.Unmarshal(data, &mods); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", modPath, ErrUnsupported, err)
	}
	sort.SliceStable(mods, func(i, j int) bool { return mods[i].Idx < mods[j].Idx })
	sf := &sentenceFolder{}
	var classes []string
	for _, m := range mods {
		c := stClass(m.Type)
		classes = append(classes, c)
		sf.modules = append(sf.modules, fmt.Sprintf("%s (%s)", cmpOr(c, m.Type), cmpOr(m.Path, ".")))
	}
	want := []string{"Transformer", "Pooling"}
	if !(slices.Equal(classes, want) || slices.Equal(classes, append(want, "Normalize"))) {
		return nil, fmt.Errorf("%s: %w: sentence-transformers modules %s (Lepton converts Transformer -> Pooling, optionally -> Normalize; "+
			"other modules such as Dense or LayerNorm change every vector and are not supported)", modPath, ErrUnsupported, strings.Join(sf.modules, " -> "))
	}
	sf.normalize = len(classes) == 3

	sub := func(p string) (string, error) {
		clean := filepath.Clean(filepath.FromSlash(p))
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("%s: %w: module path %q leaves the model folder", modPath, ErrUnsupported, p)
		}
		return filepath.Join(dir, clean), nil
	}
	if sf.transformerDir, err = sub(mods[0].Path); err != nil {
		return nil, err
	}
	poolDir, err := sub(mods[1].Path)
	if err != nil {
		return nil, err
	}
	if err := sf.readPooling(filepath.Join(poolDir, "config.json")); err != nil {
		return nil, err
	}
	if err := sf.readTransformerConfig(filepath.Join(sf.transformerDir, "sentence_bert_config.json")); err != nil {
		return nil, err
	}
	if err := sf.readEncodeConfig(filepath.Join(dir, "config_sentence_transformers.json")); err != nil {
		return nil, err
	}
	return sf, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// readPooling reads the Pooling module's config.json: the pooling_mode_*
// flags (defaults as in sentence-transformers' Pooling: mean on, the rest
// off) or the newer pooling_mode string, and include_prompt.
func (sf *sentenceFolder) readPooling(path string) error {
	data, err := readSmall(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: sentence-transformers Pooling module: %w", ErrMissingFile, err)
		}
		return err
	}
	var pc struct {
		Dim           int     `json:"word_embedding_dimension"`
		Mode          *string `json:"pooling_mode"`
		CLS           *bool   `json:"pooling_mode_cls_token"`
		Max           *bool   `json:"pooling_mode_max_tokens"`
		Mean          *bool   `json:"pooling_mode_mean_tokens"`
		MeanSqrtLen   *bool   `json:"pooling_mode_mean_sqrt_len_tokens"`
		WeightedMean  *bool   `json:"pooling_mode_weightedmean_tokens"`
		LastToken     *bool   `json:"pooling_mode_lasttoken"`
		IncludePrompt *bool   `json:"include_prompt"`
	}
	if err := json.Unmarshal(data, &pc); err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrUnsupported, err)
	}
	var p bert.Pooling
	if pc.Mode != nil {
		// pooling_mode names one mode and overrides the flags.
		mode := strings.ToLower(*pc.Mode)
		if p, err = bert.ParsePooling(mode); err != nil || strings.Contains(mode, "+") {
			return fmt.Errorf("%s: %w: pooling_mode %q (want cls, lasttoken, max, mean, mean_sqrt_len_tokens or weightedmean)", path, ErrUnsupported, *pc.Mode)
		}
	} else {
		on := func(b *bool, def bool) bool {
			if b == nil {
				return def
			}
			return *b
		}
		for _, f := range []struct {
			set  bool
			mode bert.Pooling
		}{
			{on(pc.CLS, false), bert.PoolCLS}, {on(pc.Max, false), bert.PoolMax}, {on(pc.Mean, true), bert.PoolMean},
			{on(pc.MeanSqrtLen, false), bert.PoolMeanSqrtLen}, {on(pc.WeightedMean, false), bert.PoolWeightedMean},
			{on(pc.LastToken, false), bert.PoolLastToken},
		} {
			if f.set {
				p |= f.mode
			}
		}
		if p == 0 {
			return fmt.Errorf("%s: %w: every pooling_mode_* flag is false (sentence-transformers would fail too)", path, ErrUnsupported)
		}
	}
	sf.pooling = p.String()
	sf.dim = pc.Dim
	sf.excludePrompt = pc.IncludePrompt != nil && !*pc.IncludePrompt
	return nil
}

// readTransformerConfig reads sentence_bert_config.json (optional).
func (sf *sentenceFolder) readTransformerConfig(path string) error {
	data, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var tc struct {
		MaxSeqLength *int `json:"max_seq_length"`
		DoLowerCase  bool `json:"do_lower_case"`
	}
	if err := json.Unmarshal(data, &tc); err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrUnsupported, err)
	}
	if tc.MaxSeqLength != nil {
		if *tc.MaxSeqLength < 3 {
			return fmt.Errorf("%s: %w: max_seq_length %d (need room for [CLS], a token and [SEP])", path, ErrUnsupported, *tc.MaxSeqLength)
		}
		sf.maxSeqLength = *tc.MaxSeqLength
	}
	sf.doLowerCase = tc.DoLowerCase
	return nil
}

// readEncodeConfig reads config_sentence_transformers.json (optional):
// the prompts and the default prompt encode() prepends.
func (sf *sentenceFolder) readEncodeConfig(path string) error {
	data, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var ec struct {
		Prompts       map[string]string `json:"prompts"`
		DefaultPrompt *string           `json:"default_prompt_name"`
		Similarity    *string           `json:"similarity_fn_name"`
	}
	if err := json.Unmarshal(data, &ec); err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrUnsupported, err)
	}
	if len(ec.Prompts) > 0 {
		sf.prompts = ec.Prompts
	}
	if ec.DefaultPrompt != nil && *ec.DefaultPrompt != "" {
		if _, ok := ec.Prompts[*ec.DefaultPrompt]; !ok {
			return fmt.Errorf("%s: %w: default_prompt_name %q is not one of the prompts", path, ErrUnsupported, *ec.DefaultPrompt)
		}
		sf.defaultPrompt = *ec.DefaultPrompt
	}
	if ec.Similarity != nil {
		sf.similarity = *ec.Similarity
	}
	return nil
}

// apply records the folder's settings in the converted model's config and
// metadata. pooling is the caller's explicit choice, which wins.
func (sf *sentenceFolder) apply(cfg *bert.Config, meta lepfile.Metadata, pooling, tokDir string) error {
	if lepfile.IsClassifier(cfg.Architecture) {
		return fmt.Errorf("%w: a sentence-transformers Pooling module over a %s (embedders are BertModel or DistilBertModel)", ErrUnsupported, cfg.Architecture)
	}
	if sf.dim != 0 && sf.dim != cfg.Hidden {
		return fmt.Errorf("%w: the Pooling module's word_embedding_dimension %d is not the model's hidden size %d", ErrUnsupported, sf.dim, cfg.Hidden)
	}
	if sf.doLowerCase {
		lower, err := tokenizerLowercases(tokDir)
		if err != nil {
			return err
		}
		if !lower {
			return fmt.Errorf("%w: sentence_bert_config.json do_lower_case with a tokenizer that keeps case (Lepton would not lowercase the texts)", ErrUnsupported)
		}
	}
	if pooling == "" {
		cfg.Pooling = sf.pooling
	}
	cfg.Normalize = sf.normalize
	cfg.ExcludePrompt = sf.excludePrompt
	cfg.Prompts = sf.prompts
	cfg.DefaultPrompt = sf.defaultPrompt
	if sf.maxSeqLength != 0 {
		setMaxLength(cfg, meta, sf.maxSeqLength, "sentence_bert_config.json max_seq_length")
	}
	meta["sentence_transformers"] = strings.Join(sf.modules, " -> ")
	meta["pooling_source"] = "1_Pooling/config.json"
	if pooling != "" {
		meta["pooling_source"] = "--pooling (the folder says " + sf.pooling + ")"
	}
	if sf.similarity != "" {
		meta["similarity_fn_name"] = sf.similarity
	}
	return nil
}

// setMaxLength records a default max length n (from a config file named
// by source) unless it is no shorter than the position table.
func setMaxLength(cfg *bert.Config, meta lepfile.Metadata, n int, source string) {
	switch {
	case n <= 0:
	case n < cfg.MaxPositions:
		cfg.MaxLength = n
		meta["max_length"] = strconv.Itoa(n)
		meta["max_length_source"] = source
	default:
		cfg.MaxLength = 0
		delete(meta, "max_length")
		delete(meta, "max_length_source")
	}
}

// tokenizerMaxLength reads tokenizer_config.json's model_max_length, the
// length Hugging Face tokenizers (and so sentence-transformers'
// CrossEncoder) truncate to; 0 when absent or unset (transformers writes
// a huge number for "no limit").
func tokenizerMaxLength(dir string) (int, error) {
	path := filepath.Join(dir, "tokenizer_config.json")
	data, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var tc struct {
		ModelMaxLength *float64 `json:"model_max_length"`
	}
	if err := json.Unmarshal(data, &tc); err != nil {
		return 0, fmt.Errorf("%s: %w: %v", path, ErrUnsupported, err)
	}
	if tc.ModelMaxLength == nil || *tc.ModelMaxLength < 3 || *tc.ModelMaxLength > 1<<24 {
		return 0, nil
	}
	return int(*tc.ModelMaxLength), nil
}

// tokenizerLowercases reports whether the tokenizer of dir lowercases its
// input: tokenizer.json's normalizer (a BertNormalizer with lowercase, or a
// Lowercase step), else tokenizer_config.json's do_lower_case for a
// vocab.txt (default true, as loadTokenizer assumes).
func tokenizerLowercases(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err == nil {
		var tj struct {
			Normalizer json.RawMessage `json:"normalizer"`
		}
		if err := json.Unmarshal(data, &tj); err != nil {
			return false, fmt.Errorf("%s: %w: %v", filepath.Join(dir, "tokenizer.json"), ErrUnsupported, err)
		}
		return normalizerLowercases(tj.Normalizer), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	var tc struct {
		DoLowerCase *bool `json:"do_lower_case"`
	}
	if b, err := readSmall(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		_ = json.Unmarshal(b, &tc)
	}
	return tc.DoLowerCase == nil || *tc.DoLowerCase, nil
}

func normalizerLowercases(raw json.RawMessage) bool {
	var n struct {
		Type        string            `json:"type"`
		Lowercase   *bool             `json:"lowercase"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if json.Unmarshal(raw, &n) != nil {
		return false
	}
	switch n.Type {
	case "BertNormalizer":
		return n.Lowercase == nil || *n.Lowercase
	case "Lowercase":
		return true
	case "Sequence":
		for _, sub := range n.Normalizers {
			if normalizerLowercases(sub) {
				return true
			}
		}
	}
	return false
}
