package lepton

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"lepton/internal/bert"
	"lepton/tokenize"
)

// Entity is a labelled span of a text found by Tag.
type Entity struct {
	// Label is the entity type. Under AggregateNone it is the token's label
	// as the model names it ("B-NAME"); under the other strategies the
	// label without its "B-" or "I-" prefix ("NAME"), as Hugging Face's
	// entity_group.
	Label string
	// Score is the probability behind the label: the token's softmax
	// probability under AggregateNone, the mean over the entity's tokens
	// (AggregateSimple) or words (AggregateFirst, AggregateAverage,
	// AggregateMax) otherwise.
	Score float32
	// Start and End are byte offsets into the Go string that was tagged:
	// the entity is text[Start:End], from the first byte of its first
	// token to the last byte of its last token. For a character (rune)
	// offset, count the runes before it: utf8.RuneCountInString(text[:Start]).
	Start, End int
	// Text is text[Start:End].
	Text string
	// Index is, under AggregateNone, the token's position in the text's
	// encoding ([CLS] is 0, the first token of the text 1), as Hugging
	// Face's "index"; -1 for grouped entities.
	Index int
}

// Aggregation is how Tag turns per-token predictions into entities: the
// strategies of Hugging Face's token-classification pipeline
// (aggregation_strategy), with the same rules.
type Aggregation int

// Aggregation strategies.
const (
	// AggregateFirst (the default) labels each word with its first
	// token's prediction, then groups words as AggregateSimple groups
	// tokens. Entities never split a word.
	AggregateFirst Aggregation = iota
	// AggregateNone returns one entity per token that is not ignored, with
	// its B-/I- label, score and Index.
	AggregateNone
	// AggregateSimple groups adjacent tokens: a token continues the
	// current entity when its type (the label without "B-" or "I-") is the
	// same and its label does not start with "B-"; the score is the mean
	// of the tokens' scores. A word can be split between entities.
	AggregateSimple
	// AggregateAverage labels each word with the argmax of its tokens'
	// averaged probabilities (score: that average), then groups words.
	AggregateAverage
	// AggregateMax labels each word with the prediction of its most
	// confident token, then groups words.
	AggregateMax
)

var aggregationNames = [...]string{AggregateFirst: "first", AggregateNone: "none", AggregateSimple: "simple",
	AggregateAverage: "average", AggregateMax: "max"}

// String returns the strategy's name as Hugging Face spells it: "none",
// "simple", "first", "average" or "max".
func (a Aggregation) String() string {
	if a >= 0 && int(a) < len(aggregationNames) {
		return aggregationNames[a]
	}
	return fmt.Sprintf("Aggregation(%d)", int(a))
}

// ParseAggregation maps "none", "simple", "first", "average" and "max" to
// an Aggregation, for command lines and config files.
func ParseAggregation(s string) (Aggregation, error) {
	for a, n := range aggregationNames {
		if strings.EqualFold(s, n) {
			return Aggregation(a), nil
		}
	}
	return 0, fmt.Errorf("%w: aggregation %q (want none, simple, first, average or max)", ErrInvalidOption, s)
}

// WithAggregation sets how Tag groups token predictions into entities
// (default AggregateFirst; Hugging Face's pipeline defaults to none).
func WithAggregation(a Aggregation) CallOption {
	return callOption(func(c *callConfig) error {
		if a < 0 || int(a) >= len(aggregationNames) {
			return fmt.Errorf("%w: aggregation %d", ErrInvalidOption, int(a))
		}
		c.tag.aggregation = a
		return nil
	})
}

// WithIgnoreLabels sets the labels Tag leaves out of its results
// (default: "O", the label of tokens outside any entity). Labels are
// compared with the token's label under AggregateNone and with the
// entity's type otherwise, as in Hugging Face's ignore_labels. With no
// labels, every token or group is returned, "O" included.
func WithIgnoreLabels(labels ...string) CallOption {
	ls := append([]string{}, labels...) // not nil: nil means the default
	return callOption(func(c *callConfig) error {
		c.tag.ignore = ls
		return nil
	})
}

// WithStride sets how many tokens consecutive windows share when Tag reads
// a text longer than the max length (default: a quarter of a window).
// Every token is labelled from the window in which it has the most context
// on both sides. It must leave each window at least one new token;
// a value that does not is an error when the call runs.
func WithStride(tokens int) CallOption {
	return callOption(func(c *callConfig) error {
		if tokens < 0 {
			return fmt.Errorf("%w: stride %d", ErrInvalidOption, tokens)
		}
		c.tag.stride = tokens
		c.tag.strideSet = true
		return nil
	})
}

// tagConfig holds Tag's settings in callConfig.
type tagConfig struct {
	aggregation Aggregation
	ignore      []string // nil: the default, "O"
	stride      int
	strideSet   bool
	// patterns finds pattern entities (WithPatterns; nil: none). A field,
	// so that programs that never ask for patterns do not link them.
	patterns func(string) []Entity
}

// tagWindow is one window of a text: its content tokens [a, b) run as one
// sequence.
type tagWindow struct {
	text, a, b int
}

// tagText is one text's tokens: content token k of text i is row
// off+k of the call's score matrix.
type tagText struct {
	off, n int
}

// Tag finds entities in each text with a token-classification model
// (BertForTokenClassification) and returns them per text, in input order
// and, within a text, in order of position. Each entity has a label, a
// score and byte offsets into its text (Entity).
//
// Tokens are grouped into entities as WithAggregation says (default
// AggregateFirst), by the rules of Hugging Face's token-classification
// pipeline: a word is a token and the continuation pieces ("##...") that
// follow it; labels "B-X" start an entity of type X and "I-X" continue one
// (a label without either prefix counts as "I-"); entities labelled "O",
// or as WithIgnoreLabels says, are left out.
//
// Tag reads the whole of every text: a text longer than the max length
// (WithMaxLength; default the model's position table) is read in
// overlapping windows (WithStride) and every token is labelled from the
// window in which it sits furthest from an edge, so entities are found
// anywhere in a long note. WithTruncation does not apply. Tokenisation,
// cancellation and WithFloat32 behave as in Classify. WithPatterns adds
// dates, phone numbers, record numbers and email addresses found by
// regular expressions (FindPatterns). A model without a
// token-classification head returns an error wrapping ErrNoClassifier.
func (m *Model) Tag(ctx context.Context, texts []string, opts ...CallOption) ([][]Entity, error) {
	return m.tag(ctx, texts, opts, nil)
}

// Tagged is one text's result of TagDetailed.
type Tagged struct {
	Entities []Entity
	// Diagnostics say how much of the text the model could read: Tokens
	// counts all of its tokens (Tag reads long texts whole, in windows, so
	// Truncated is always false) and Unknown the share of [UNK] among them.
	Diagnostics Diagnostics
}

// TagDetailed is Tag returning, with each text's entities, its
// Diagnostics.
func (m *Model) TagDetailed(ctx context.Context, texts []string, opts ...CallOption) ([]Tagged, error) {
	diag := make([]Diagnostics, len(texts))
	ents, err := m.tag(ctx, texts, opts, diag)
	if err != nil {
		return nil, err
	}
	out := make([]Tagged, len(texts))
	for i := range out {
		out[i] = Tagged{Entities: ents[i], Diagnostics: diag[i]}
	}
	return out, nil
}

// tag is Tag; diag, when not nil, receives each text's diagnostics.
func (m *Model) tag(ctx context.Context, texts []string, opts []CallOption, diag []Diagnostics) ([][]Entity, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.net.TokenClassifier == nil {
		return nil, fmt.Errorf("%w: Tag needs a token-classification head (architecture %s); use Classify or Embed", ErrNoClassifier, m.net.Config.Architecture)
	}
	st := m.getState()
	defer m.states.Put(st)
	cc, err := m.callConfig(st, opts)
	if err != nil {
		return nil, err
	}
	if cc.fair.cal != nil || cc.fair.groups != nil || cc.priv.labelEps != 0 || cc.priv.embedEps != 0 {
		return nil, fmt.Errorf("%w: calibration, groups and private outputs apply to Classify and Embed, not Tag", ErrInvalidOption)
	}
	if cc.tag.patterns != nil && cc.tag.aggregation == AggregateNone {
		return nil, fmt.Errorf("%w: WithPatterns needs grouped entities, not AggregateNone", ErrInvalidOption)
	}
	out := make([][]Entity, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	tt, err := m.tagTokens(ctx, st, texts, cc, diag)
	if err != nil {
		return nil, err
	}
	ignore := cc.tag.ignore
	if ignore == nil {
		ignore = []string{"O"}
	}
	for i := range texts {
		out[i] = aggregate(texts[i], tt.tokens[tt.texts[i].off:tt.texts[i].off+tt.texts[i].n], m.labels, cc.tag.aggregation, ignore, tt.lead)
		if cc.tag.patterns != nil {
			var pats []Entity
			for _, p := range cc.tag.patterns(texts[i]) {
				if !contains(ignore, p.Label) {
					pats = append(pats, p)
				}
			}
			out[i] = mergePatterns(texts[i], out[i], pats)
		}
	}
	return out, nil
}

// tagged is the per-token output of one Tag call, before aggregation.
type tagged struct {
	texts  []tagText
	tokens []tagToken
	wins   []tagWindow
	lead   int // special tokens before the text in every encoding ([CLS])
}

// appendWindows appends the windows of text i, n tokens long: one if it
// fits in window tokens, else the fewest windows of exactly window tokens,
// spread evenly from the first token to the last, in which consecutive
// windows share at least stride tokens (0 <= stride < window).
func appendWindows(wins []tagWindow, i, n, window, stride int) []tagWindow {
	switch {
	case n == 0:
		return wins // nothing to label
	case n <= window:
		return append(wins, tagWindow{text: i, a: 0, b: n})
	}
	step := window - stride
	k := 1 + (n-window+step-1)/step // windows
	for j := range k {
		a := j * (n - window) / (k - 1)
		wins = append(wins, tagWindow{text: i, a: a, b: a + window})
	}
	return wins
}

// tagToken is one content token of a text with its probabilities.
type tagToken struct {
	start, end int       // byte offsets into the text
	subword    bool      // continues the previous token's word
	probs      []float32 // softmax over the labels
}

// tagTokens encodes every text whole, cuts it into windows, runs them and
// gives every token the probabilities from its most central window.
func (m *Model) tagTokens(ctx context.Context, st *callState, texts []string, cc callConfig, diag []Diagnostics) (*tagged, error) {
	nl := len(m.labels)
	prefix := m.tok.ContinuingSubwordPrefix()
	tt := &tagged{texts: make([]tagText, len(texts))}
	var (
		ids                  []int32 // content token ids of every text, back to back
		head, tail           []int32 // the template's special tokens around a text
		headTypes, tailTypes []int32
		haveTemplate         bool
	)
	for i, text := range texts {
		enc, err := st.enc.EncodeContext(ctx, text, tokenize.EncodeOptions{})
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return nil, ctxErr
			}
			return nil, fmt.Errorf("%w: input %d: %w", ErrInvalidInput, i, err)
		}
		if diag != nil {
			diag[i] = m.diagnose(enc)
		}
		// The template's special tokens are the leading and trailing ones
		// (SpecialTokensMask); everything between is the text.
		lo, hi := 0, len(enc.IDs)
		for lo < hi && enc.SpecialTokensMask[lo] == 1 {
			lo++
		}
		for hi > lo && enc.SpecialTokensMask[hi-1] == 1 {
			hi--
		}
		if !haveTemplate && hi > lo {
			// Taken from a text with tokens: in [CLS] [SEP] alone, the
			// head and tail cannot be told apart.
			haveTemplate = true
			head = append(head, enc.IDs[:lo]...)
			headTypes = append(headTypes, enc.TypeIDs[:lo]...)
			tail = append(tail, enc.IDs[hi:]...)
			tailTypes = append(tailTypes, enc.TypeIDs[hi:]...)
			tt.lead = lo
		}
		tt.texts[i] = tagText{off: len(tt.tokens), n: hi - lo}
		for k := lo; k < hi; k++ {
			s, e := enc.Offsets[k][0], enc.Offsets[k][1]
			var sub bool
			if prefix != "" {
				tokStr, _ := m.tok.Token(enc.IDs[k])
				sub = strings.HasPrefix(tokStr, prefix)
			} else {
				// Hugging Face's fallback for tokenizers without a
				// continuation marker: a token glued to the one before.
				sub = s > 0 && !strings.Contains(text[s-1:min(s+1, len(text))], " ")
			}
			tt.tokens = append(tt.tokens, tagToken{start: s, end: e, subword: sub})
			ids = append(ids, enc.IDs[k])
		}
	}

	window := cc.maxLength - len(head) - len(tail)
	if window < 1 {
		return nil, fmt.Errorf("%w: max length %d leaves no room for text between %d special tokens", ErrInvalidOption, cc.maxLength, len(head)+len(tail))
	}
	stride := window / 4
	if cc.tag.strideSet {
		stride = cc.tag.stride
	}
	if stride >= window {
		return nil, fmt.Errorf("%w: stride %d must be less than the %d tokens of text a window holds", ErrInvalidOption, stride, window)
	}
	var wins []tagWindow
	for i, t := range tt.texts {
		wins = appendWindows(wins, i, t.n, window, stride)
	}
	tt.wins = wins
	st.ids, st.tids, st.ends = st.ids[:0], st.tids[:0], st.ends[:0]
	for _, w := range wins {
		t := tt.texts[w.text]
		st.ids = append(st.ids, head...)
		st.tids = append(st.tids, headTypes...)
		st.ids = append(st.ids, ids[t.off+w.a:t.off+w.b]...)
		for range w.b - w.a {
			st.tids = append(st.tids, 0)
		}
		st.ids = append(st.ids, tail...)
		st.tids = append(st.tids, tailTypes...)
		st.ends = append(st.ends, len(st.ids))
	}

	probs := make([]float32, len(tt.tokens)*nl)
	// best[r] is the context (see take) of the window token r's scores came
	// from, +1, so that 0 means none yet.
	best := make([]int, len(tt.tokens))
	var bad error
	take := func(k int, logits []float32) { // logits: [len(window)+specials][nl]
		w := wins[k]
		t := tt.texts[w.text]
		if bad == nil && !finite(logits) {
			bad = nonFinite(w.text)
		}
		for p := range w.b - w.a {
			// A token's context in a window is the smaller of the tokens
			// it sees on its left and on its right; a window edge that is
			// the text's own edge hides nothing.
			left, right := p, w.b-w.a-1-p
			if w.a == 0 {
				left = t.n
			}
			if w.b == t.n {
				right = t.n
			}
			r := t.off + w.a + p
			if c := min(left, right) + 1; c > best[r] {
				best[r] = c
			} else {
				continue
			}
			row := logits[(len(head)+p)*nl : (len(head)+p+1)*nl]
			bert.Softmax(probs[r*nl:(r+1)*nl], row)
		}
	}
	var err error
	if cc.reference != nil {
		for k := 0; err == nil && k < len(wins); k++ {
			var ref *bert.RefOutput
			if ref, err = cc.reference(m, ctx, st, k); err == nil {
				take(k, ref.TokenLogits)
			}
		}
	} else {
		err = m.run(ctx, st, func(first int, ws *bert.Workspace) error {
			logits, err := m.net.TokenLogits(ws)
			if err != nil {
				return err
			}
			for i := range ws.Seqs() {
				r0 := ws.Start(i)
				take(first+i, logits[r0*nl:(r0+ws.Len(i))*nl])
			}
			return nil
		})
	}
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	for r := range tt.tokens {
		tt.tokens[r].probs = probs[r*nl : (r+1)*nl : (r+1)*nl]
	}
	return tt, nil
}

// aggregate turns one text's token predictions into entities, as Hugging
// Face's pipeline postprocess does: per token (none, simple) or per word
// (first, average, max), then grouped (all but none), then filtered.
// lead is the number of special tokens before the text (for Index).
func aggregate(text string, toks []tagToken, labels []string, strat Aggregation, ignore []string, lead int) []Entity {
	var ents []Entity
	switch strat {
	case AggregateNone, AggregateSimple:
		ents = make([]Entity, len(toks))
		for i, t := range toks {
			j := bestIndex(t.probs)
			ents[i] = Entity{Label: labels[j], Score: t.probs[j], Start: t.start, End: t.end, Index: lead + i}
		}
	default:
		for a := 0; a < len(toks); {
			b := a + 1
			for b < len(toks) && toks[b].subword {
				b++
			}
			ents = append(ents, aggregateWord(toks[a:b], labels, strat))
			a = b
		}
	}
	if strat != AggregateNone {
		ents = groupEntities(ents)
	}
	out := ents[:0]
	for _, e := range ents {
		if !contains(ignore, e.Label) {
			e.Text = text[e.Start:e.End]
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return []Entity{}
	}
	return append([]Entity(nil), out...)
}

// aggregateWord labels one word (its tokens) under first, average or max.
func aggregateWord(toks []tagToken, labels []string, strat Aggregation) Entity {
	e := Entity{Start: toks[0].start, End: toks[len(toks)-1].end, Index: -1}
	switch strat {
	case AggregateAverage:
		avg := make([]float64, len(labels))
		for _, t := range toks {
			for j, p := range t.probs {
				avg[j] += float64(p)
			}
		}
		best := 0
		for j := range avg {
			avg[j] /= float64(len(toks))
			if avg[j] > avg[best] {
				best = j
			}
		}
		e.Label, e.Score = labels[best], float32(avg[best])
	case AggregateMax:
		top, topScore := 0, float32(math.Inf(-1))
		for i, t := range toks {
			if s := t.probs[bestIndex(t.probs)]; s > topScore {
				top, topScore = i, s
			}
		}
		j := bestIndex(toks[top].probs)
		e.Label, e.Score = labels[j], toks[top].probs[j]
	default: // AggregateFirst
		j := bestIndex(toks[0].probs)
		e.Label, e.Score = labels[j], toks[0].probs[j]
	}
	return e
}

// groupEntities merges adjacent entities of the same type, as Hugging
// Face's group_entities: an entity continues the group before it when
// their types match and its label does not start with "B-". A group's
// label is its first member's without the part up to the first "-", its
// score the mean of its members', its span from the first's start to the
// last's end.
func groupEntities(ents []Entity) []Entity {
	var out []Entity
	for i := 0; i < len(ents); {
		_, tag := splitTag(ents[i].Label)
		j := i + 1
		for j < len(ents) {
			if b, t := splitTag(ents[j].Label); t != tag || b == "B" {
				break
			}
			j++
		}
		var sum float64
		for _, e := range ents[i:j] {
			sum += float64(e.Score)
		}
		label := ents[i].Label
		if k := strings.IndexByte(label, '-'); k >= 0 {
			label = label[k+1:]
		}
		out = append(out, Entity{Label: label, Score: float32(sum / float64(j-i)), Start: ents[i].Start, End: ents[j-1].End, Index: -1})
		i = j
	}
	return out
}

// splitTag splits "B-X" and "I-X" into their prefix and type; any other
// label is a continuation ("I") of its own type.
func splitTag(label string) (bi, tag string) {
	switch {
	case strings.HasPrefix(label, "B-"):
		return "B", label[2:]
	case strings.HasPrefix(label, "I-"):
		return "I", label[2:]
	}
	return "I", label
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// bestIndex returns the index of the largest value, the first on ties (as
// numpy's argmax).
func bestIndex(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}
