package lepfile

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"lepton/internal/bert"
	"lepton/quant"
)

// Config limits (docs/FORMAT.md, CONF). They bound every size before it is
// multiplied or allocated, so a hostile config cannot overflow an int.
const (
	maxLayers       = 256
	maxHidden       = 16384
	maxIntermediate = 65536
	maxVocab        = 4 << 20
	maxPositions    = 65536
	maxTypeVocab    = 1024
	maxLabels       = 65536
	maxLabelLen     = 1024
	maxPrompts      = 256
	maxPromptLen    = 64 << 10
)

// Architectures this version reads and writes. DistilBERT (format 1.1) is
// stored in BERT's tensors: its token type table is two zero rows, and its
// pre_classifier is the pooler, followed by ReLU instead of tanh.
const (
	ArchBertModel                = "BertModel"
	ArchBertClassification       = "BertForSequenceClassification"
	ArchDistilBertModel          = "DistilBertModel"
	ArchDistilBertClassification = "DistilBertForSequenceClassification"
	// ArchBertTokenClassification (format 1.2) has a token_classifier
	// head: one row of label scores per token, no pooler.
	ArchBertTokenClassification = "BertForTokenClassification"
)

// Architectures lists the architectures this version reads and writes.
var Architectures = []string{ArchBertModel, ArchBertClassification, ArchDistilBertModel, ArchDistilBertClassification, ArchBertTokenClassification}

// IsClassifier reports whether arch has a sequence classification head (a
// classifier tensor and labels).
func IsClassifier(arch string) bool {
	return arch == ArchBertClassification || arch == ArchDistilBertClassification
}

// PoolerActivation is the activation between the pooler and the classifier
// of arch (bert.Config.PoolerActivation): ReLU after DistilBERT's
// pre_classifier, tanh (the empty name) otherwise.
func PoolerActivation(arch string) string {
	if arch == ArchDistilBertClassification {
		return "relu"
	}
	return ""
}

// ScoreActivations are the activations a single-output head may name
// (score_activation).
var ScoreActivations = []string{"sigmoid", "identity", "tanh"}

// fileConfig is the JSON form of bert.Config in the CONF section.
type fileConfig struct {
	Architecture    string   `json:"architecture"`
	Layers          int      `json:"layers"`
	Hidden          int      `json:"hidden"`
	Heads           int      `json:"heads"`
	Intermediate    int      `json:"intermediate"`
	Vocab           int      `json:"vocab"`
	MaxPositions    int      `json:"max_positions"`
	TypeVocab       int      `json:"type_vocab"`
	LayerNormEps    float64  `json:"layer_norm_eps"`
	Activation      string   `json:"activation"`
	Pooling         string   `json:"pooling"`
	Labels          []string `json:"labels"`
	TokenizerFormat string   `json:"tokenizer_format,omitempty"`

	// Format 1.1 (docs/FORMAT.md): the score of single-output heads and
	// the sentence-embedding settings. Absent keys keep 1.0's behaviour.
	ScoreActivation string            `json:"score_activation,omitempty"`
	Normalize       bool              `json:"normalize,omitempty"`
	IncludePrompt   *bool             `json:"include_prompt,omitempty"`
	Prompts         map[string]string `json:"prompts,omitempty"`
	DefaultPrompt   string            `json:"default_prompt,omitempty"`
	MaxLength       int               `json:"max_length,omitempty"`
}

func toFileConfig(c *bert.Config, tokFormat string) fileConfig {
	labels := c.Labels
	if labels == nil {
		labels = []string{}
	}
	fc := fileConfig{
		Architecture: c.Architecture, Layers: c.Layers, Hidden: c.Hidden, Heads: c.Heads,
		Intermediate: c.Intermediate, Vocab: c.Vocab, MaxPositions: c.MaxPositions,
		TypeVocab: c.TypeVocab, LayerNormEps: float64(c.LayerNormEps), Activation: c.Activation,
		Pooling: c.Pooling, Labels: labels, TokenizerFormat: tokFormat,
		ScoreActivation: c.ScoreActivation, Normalize: c.Normalize, Prompts: c.Prompts,
		DefaultPrompt: c.DefaultPrompt, MaxLength: c.MaxLength,
	}
	if c.ExcludePrompt {
		fc.IncludePrompt = new(bool)
	}
	return fc
}

// minorVersion is the minor format version a file of c needs: the lowest
// that has everything it uses (2 for a token classifier, 1 for what format
// 1.1 added, 0 otherwise), so that files of plain BERT models stay byte for
// byte what 1.0 writers wrote.
func minorVersion(c *bert.Config) uint16 {
	if c.Architecture == ArchBertTokenClassification {
		return 2
	}
	if c.Architecture == ArchDistilBertModel || c.Architecture == ArchDistilBertClassification ||
		(c.Pooling != "cls" && c.Pooling != "mean") || c.ScoreActivation != "" || c.Normalize ||
		c.ExcludePrompt || len(c.Prompts) > 0 || c.DefaultPrompt != "" || c.MaxLength != 0 {
		return 1
	}
	return 0
}

func (fc *fileConfig) toConfig() bert.Config {
	return bert.Config{
		Architecture: fc.Architecture, Layers: fc.Layers, Hidden: fc.Hidden, Heads: fc.Heads,
		Intermediate: fc.Intermediate, Vocab: fc.Vocab, MaxPositions: fc.MaxPositions,
		TypeVocab: fc.TypeVocab, LayerNormEps: float32(fc.LayerNormEps), Activation: fc.Activation,
		Pooling: fc.Pooling, Labels: fc.Labels,
		PoolerActivation: PoolerActivation(fc.Architecture), ScoreActivation: fc.ScoreActivation,
		Normalize: fc.Normalize, ExcludePrompt: fc.IncludePrompt != nil && !*fc.IncludePrompt,
		Prompts: fc.Prompts, DefaultPrompt: fc.DefaultPrompt, MaxLength: fc.MaxLength,
	}
}

// ValidateConfig checks c against the limits and rules of docs/FORMAT.md.
// The converter calls it before doing any work; the reader calls it on
// every file.
func ValidateConfig(c *bert.Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: config: "+format, append([]any{ErrFormat}, args...)...)
	}
	if !slices.Contains(Architectures, c.Architecture) {
		return bad("unsupported architecture %q (want one of %s)", c.Architecture, strings.Join(Architectures, ", "))
	}
	for _, r := range []struct {
		name  string
		v, hi int
	}{
		{"layers", c.Layers, maxLayers}, {"hidden", c.Hidden, maxHidden}, {"heads", c.Heads, c.Hidden},
		{"intermediate", c.Intermediate, maxIntermediate}, {"vocab", c.Vocab, maxVocab},
		{"max_positions", c.MaxPositions, maxPositions}, {"type_vocab", c.TypeVocab, maxTypeVocab},
	} {
		if r.v < 1 || r.v > r.hi {
			return bad("%s = %d, want 1..%d", r.name, r.v, r.hi)
		}
	}
	if c.Hidden%c.Heads != 0 {
		return bad("hidden %d is not a multiple of heads %d", c.Hidden, c.Heads)
	}
	eps := float64(c.LayerNormEps)
	if !(eps > 0) || math.IsInf(eps, 0) {
		return bad("layer_norm_eps = %v, want a finite value > 0", c.LayerNormEps)
	}
	if c.Activation != "gelu" {
		return bad("unsupported activation %q (want gelu)", c.Activation)
	}
	if p, err := bert.ParsePooling(c.Pooling); err != nil || p.String() != c.Pooling {
		return bad("unsupported pooling %q (want cls, mean, max, mean_sqrt_len_tokens, weightedmean or lasttoken, or several joined by + in that order)", c.Pooling)
	}
	switch {
	case c.Architecture == ArchBertTokenClassification && (len(c.Labels) < 2 || len(c.Labels) > maxLabels):
		// Tag takes a softmax over each token's labels: one label would
		// tag every token with probability 1.
		return bad("%s with %d labels, want 2..%d", c.Architecture, len(c.Labels), maxLabels)
	case c.Architecture == ArchBertTokenClassification:
	case !IsClassifier(c.Architecture) && len(c.Labels) != 0:
		return bad("%s with %d labels", c.Architecture, len(c.Labels))
	case IsClassifier(c.Architecture) && (len(c.Labels) < 1 || len(c.Labels) > maxLabels):
		return bad("%s with %d labels, want 1..%d", c.Architecture, len(c.Labels), maxLabels)
	}
	if want := PoolerActivation(c.Architecture); c.PoolerActivation != want && !(want == "" && c.PoolerActivation == "tanh") {
		return bad("%s with pooler activation %q", c.Architecture, c.PoolerActivation)
	}
	switch {
	case len(c.Labels) == 1 && !slices.Contains(ScoreActivations, c.ScoreActivation):
		return bad("a single-output head needs score_activation %s, got %q", strings.Join(ScoreActivations, ", "), c.ScoreActivation)
	case len(c.Labels) != 1 && c.ScoreActivation != "":
		return bad("score_activation %q on a model with %d outputs (only single-output heads have one)", c.ScoreActivation, len(c.Labels))
	}
	if c.MaxLength < 0 || c.MaxLength > c.MaxPositions {
		return bad("max_length = %d, want 0..max_positions (%d)", c.MaxLength, c.MaxPositions)
	}
	if len(c.Prompts) > maxPrompts {
		return bad("%d prompts, limit %d", len(c.Prompts), maxPrompts)
	}
	for name, text := range c.Prompts {
		if name == "" || len(name) > maxLabelLen || !utf8.ValidString(name) || len(text) > maxPromptLen || !utf8.ValidString(text) {
			return bad("prompt %q: names of 1..%d bytes and texts of at most %d bytes, valid UTF-8", name, maxLabelLen, maxPromptLen)
		}
	}
	if _, ok := c.Prompts[c.DefaultPrompt]; c.DefaultPrompt != "" && !ok {
		return bad("default_prompt %q is not one of the prompts", c.DefaultPrompt)
	}
	for i, l := range c.Labels {
		if len(l) > maxLabelLen || !utf8.ValidString(l) {
			return bad("label %d is not valid UTF-8 of at most %d bytes", i, maxLabelLen)
		}
	}
	return nil
}

// slot is one tensor of the model: its name and expected form in the file,
// and a pointer to the model field it comes from (Write) or goes to (read).
type slot struct {
	name   string
	dtype  DType
	layout quant.Layout
	shape  []int
	f32    *[]float32
	i8     *[]int8
	i32    *[]int32
}

// elems is the number of elements the payload holds.
func (s *slot) elems() int {
	if s.layout == quant.LayoutI8P16K4 {
		return quant.PackedLen(s.shape[0], s.shape[1])
	}
	n := 1
	for _, d := range s.shape {
		n *= d
	}
	return n
}

// sliceLen is the length of the model field the slot points to.
func (s *slot) sliceLen() int {
	switch {
	case s.f32 != nil:
		return len(*s.f32)
	case s.i8 != nil:
		return len(*s.i8)
	default:
		return len(*s.i32)
	}
}

// bytes returns the model field as little-endian bytes, without copying.
func (s *slot) bytes() []byte {
	switch {
	case s.f32 != nil && len(*s.f32) > 0:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(*s.f32))), 4*len(*s.f32))
	case s.i8 != nil && len(*s.i8) > 0:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(*s.i8))), len(*s.i8))
	case s.i32 != nil && len(*s.i32) > 0:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(*s.i32))), 4*len(*s.i32))
	}
	return nil
}

// setView points the model field at b, which the caller has checked to be
// 4-byte aligned (for 4-byte dtypes) and exactly elems() elements long.
func (s *slot) setView(b []byte) {
	p := unsafe.Pointer(unsafe.SliceData(b))
	switch {
	case s.f32 != nil:
		*s.f32 = unsafe.Slice((*float32)(p), len(b)/4)
	case s.i8 != nil:
		*s.i8 = unsafe.Slice((*int8)(p), len(b))
	default:
		*s.i32 = unsafe.Slice((*int32)(p), len(b)/4)
	}
}

// modelSlots lists the tensors of m (whose Layers, Pooler and Classifier
// must already be allocated as the file or model requires) in file order.
// Shapes come from cfg, so Write and read agree on what a valid file is.
func modelSlots(m *bert.Model, withF32 bool) []slot {
	c := &m.Config
	h := c.Hidden
	b := &slotList{hidden: h, withF32: withF32}
	b.emb("embeddings.word", &m.Word, c.Vocab)
	b.emb("embeddings.position", &m.Position, c.MaxPositions)
	b.emb("embeddings.token_type", &m.TokenType, c.TypeVocab)
	b.ln("embeddings.ln", &m.EmbLN)
	for i := range m.Layers {
		p := "layer." + strconv.Itoa(i) + "."
		l := &m.Layers[i]
		b.lin(p+"qkv", &l.QKV, 3*h, h)
		b.lin(p+"attn_out", &l.AttnOut, h, h)
		b.ln(p+"attn_ln", &l.AttnLN)
		b.lin(p+"inter", &l.Inter, c.Intermediate, h)
		b.lin(p+"output", &l.Output, h, c.Intermediate)
		b.ln(p+"out_ln", &l.OutLN)
	}
	if m.Pooler != nil {
		b.lin("pooler", m.Pooler, h, h)
	}
	if m.Classifier != nil {
		b.lin("classifier", m.Classifier, len(c.Labels), h)
	}
	if m.TokenClassifier != nil {
		b.lin("token_classifier", m.TokenClassifier, len(c.Labels), h)
	}
	return b.out
}

// slotList collects slots for modelSlots. Its methods are kept out of line:
// inlined at every call site they made modelSlots one of the largest
// functions in an embedding binary.
type slotList struct {
	out     []slot
	hidden  int
	withF32 bool
}

//go:noinline
func (b *slotList) f32(name string, p *[]float32, shape ...int) {
	b.out = append(b.out, slot{name: name, dtype: F32, shape: shape, f32: p})
}

//go:noinline
func (b *slotList) emb(prefix string, e *bert.Embedding, rows int) {
	b.out = append(b.out, slot{name: prefix + ".weight", dtype: I8, shape: []int{rows, b.hidden}, i8: &e.Data})
	b.f32(prefix+".scales", &e.Scales, rows)
	if b.withF32 {
		b.f32(prefix+".weight_f32", &e.F32, rows, b.hidden)
	}
}

//go:noinline
func (b *slotList) lin(prefix string, l *bert.Linear, n, k int) {
	b.out = append(b.out, slot{name: prefix + ".weight", dtype: I8, layout: quant.LayoutI8P16K4, shape: []int{n, k}, i8: &l.W.Data})
	b.f32(prefix+".scales", &l.W.Scales, n)
	b.out = append(b.out, slot{name: prefix + ".colsums", dtype: I32, shape: []int{quant.RoundUp(n, quant.NR)}, i32: &l.W.ColSums})
	b.f32(prefix+".bias", &l.Bias, n)
	if b.withF32 {
		b.f32(prefix+".weight_f32", &l.F32, n, k)
	}
}

//go:noinline
func (b *slotList) ln(prefix string, l *bert.LayerNorm) {
	b.f32(prefix+".gamma", &l.Gamma, b.hidden)
	b.f32(prefix+".beta", &l.Beta, b.hidden)
}

// setDims records the logical dimensions of every linear and embedding of
// a model whose slices were filled by read.
func setDims(m *bert.Model) {
	c := &m.Config
	h := c.Hidden
	m.Word.Rows, m.Word.Dim = c.Vocab, h
	m.Position.Rows, m.Position.Dim = c.MaxPositions, h
	m.TokenType.Rows, m.TokenType.Dim = c.TypeVocab, h
	for i := range m.Layers {
		l := &m.Layers[i]
		l.QKV.W.N, l.QKV.W.K = 3*h, h
		l.AttnOut.W.N, l.AttnOut.W.K = h, h
		l.Inter.W.N, l.Inter.W.K = c.Intermediate, h
		l.Output.W.N, l.Output.W.K = h, c.Intermediate
	}
	if m.Pooler != nil {
		m.Pooler.W.N, m.Pooler.W.K = h, h
	}
	if m.Classifier != nil {
		m.Classifier.W.N, m.Classifier.W.K = len(c.Labels), h
	}
	if m.TokenClassifier != nil {
		m.TokenClassifier.W.N, m.TokenClassifier.W.K = len(c.Labels), h
	}
}

// checkModelDims checks the N/K/Rows/Dim fields of a model passed to Write.
func checkModelDims(m *bert.Model) error {
	c := &m.Config
	h := c.Hidden
	type dims struct {
		name       string
		got1, got2 int
		n, k       int
	}
	want := []dims{
		{"embeddings.word", m.Word.Rows, m.Word.Dim, c.Vocab, h},
		{"embeddings.position", m.Position.Rows, m.Position.Dim, c.MaxPositions, h},
		{"embeddings.token_type", m.TokenType.Rows, m.TokenType.Dim, c.TypeVocab, h},
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		p := "layer." + strconv.Itoa(i) + "."
		want = append(want,
			dims{p + "qkv", l.QKV.W.N, l.QKV.W.K, 3 * h, h},
			dims{p + "attn_out", l.AttnOut.W.N, l.AttnOut.W.K, h, h},
			dims{p + "inter", l.Inter.W.N, l.Inter.W.K, c.Intermediate, h},
			dims{p + "output", l.Output.W.N, l.Output.W.K, h, c.Intermediate})
	}
	if m.Pooler != nil {
		want = append(want, dims{"pooler", m.Pooler.W.N, m.Pooler.W.K, h, h})
	}
	if m.Classifier != nil {
		want = append(want, dims{"classifier", m.Classifier.W.N, m.Classifier.W.K, len(c.Labels), h})
	}
	if m.TokenClassifier != nil {
		want = append(want, dims{"token_classifier", m.TokenClassifier.W.N, m.TokenClassifier.W.K, len(c.Labels), h})
	}
	for _, d := range want {
		if d.got1 != d.n || d.got2 != d.k {
			return fmt.Errorf("%w: %s is %dx%d, config says %dx%d", ErrModel, d.name, d.got1, d.got2, d.n, d.k)
		}
	}
	return nil
}
