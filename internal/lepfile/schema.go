package lepfile

import (
	"fmt"
	"math"
	"strconv"
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
)

// Architectures this version reads and writes.
const (
	ArchBertModel          = "BertModel"
	ArchBertClassification = "BertForSequenceClassification"
	// ArchBertTokenClassification (format 1.1) has a token_classifier
	// head: one row of label scores per token.
	ArchBertTokenClassification = "BertForTokenClassification"
)

// minorVersionFor is the minor version a file of config c is written as:
// the lowest that has everything it uses.
func minorVersionFor(c *bert.Config) int {
	if c.Architecture == ArchBertTokenClassification {
		return 1
	}
	return 0
}

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
}

func toFileConfig(c *bert.Config, tokFormat string) fileConfig {
	labels := c.Labels
	if labels == nil {
		labels = []string{}
	}
	return fileConfig{
		Architecture: c.Architecture, Layers: c.Layers, Hidden: c.Hidden, Heads: c.Heads,
		Intermediate: c.Intermediate, Vocab: c.Vocab, MaxPositions: c.MaxPositions,
		TypeVocab: c.TypeVocab, LayerNormEps: float64(c.LayerNormEps), Activation: c.Activation,
		Pooling: c.Pooling, Labels: labels, TokenizerFormat: tokFormat,
	}
}

func (fc *fileConfig) toConfig() bert.Config {
	return bert.Config{
		Architecture: fc.Architecture, Layers: fc.Layers, Hidden: fc.Hidden, Heads: fc.Heads,
		Intermediate: fc.Intermediate, Vocab: fc.Vocab, MaxPositions: fc.MaxPositions,
		TypeVocab: fc.TypeVocab, LayerNormEps: float32(fc.LayerNormEps), Activation: fc.Activation,
		Pooling: fc.Pooling, Labels: fc.Labels,
	}
}

// ValidateConfig checks c against the limits and rules of docs/FORMAT.md.
// The converter calls it before doing any work; the reader calls it on
// every file.
func ValidateConfig(c *bert.Config) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: config: "+format, append([]any{ErrFormat}, args...)...)
	}
	switch c.Architecture {
	case ArchBertModel, ArchBertClassification, ArchBertTokenClassification:
	default:
		return bad("unsupported architecture %q (want %s, %s or %s)", c.Architecture, ArchBertModel, ArchBertClassification, ArchBertTokenClassification)
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
	if c.Pooling != "cls" && c.Pooling != "mean" {
		return bad("unsupported pooling %q (want cls or mean)", c.Pooling)
	}
	switch {
	case c.Architecture == ArchBertModel && len(c.Labels) != 0:
		return bad("%s with %d labels", ArchBertModel, len(c.Labels))
	case c.Architecture != ArchBertModel && (len(c.Labels) < 1 || len(c.Labels) > maxLabels):
		return bad("%s with %d labels, want 1..%d", c.Architecture, len(c.Labels), maxLabels)
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
	var out []slot
	f32 := func(name string, p *[]float32, shape ...int) {
		out = append(out, slot{name: name, dtype: F32, shape: shape, f32: p})
	}
	emb := func(prefix string, e *bert.Embedding, rows int) {
		out = append(out, slot{name: prefix + ".weight", dtype: I8, shape: []int{rows, h}, i8: &e.Data})
		f32(prefix+".scales", &e.Scales, rows)
		if withF32 {
			f32(prefix+".weight_f32", &e.F32, rows, h)
		}
	}
	lin := func(prefix string, l *bert.Linear, n, k int) {
		out = append(out, slot{name: prefix + ".weight", dtype: I8, layout: quant.LayoutI8P16K4, shape: []int{n, k}, i8: &l.W.Data})
		f32(prefix+".scales", &l.W.Scales, n)
		out = append(out, slot{name: prefix + ".colsums", dtype: I32, shape: []int{quant.RoundUp(n, quant.NR)}, i32: &l.W.ColSums})
		f32(prefix+".bias", &l.Bias, n)
		if withF32 {
			f32(prefix+".weight_f32", &l.F32, n, k)
		}
	}
	ln := func(prefix string, l *bert.LayerNorm) {
		f32(prefix+".gamma", &l.Gamma, h)
		f32(prefix+".beta", &l.Beta, h)
	}
	emb("embeddings.word", &m.Word, c.Vocab)
	emb("embeddings.position", &m.Position, c.MaxPositions)
	emb("embeddings.token_type", &m.TokenType, c.TypeVocab)
	ln("embeddings.ln", &m.EmbLN)
	for i := range m.Layers {
		p := "layer." + strconv.Itoa(i) + "."
		l := &m.Layers[i]
		lin(p+"qkv", &l.QKV, 3*h, h)
		lin(p+"attn_out", &l.AttnOut, h, h)
		ln(p+"attn_ln", &l.AttnLN)
		lin(p+"inter", &l.Inter, c.Intermediate, h)
		lin(p+"output", &l.Output, h, c.Intermediate)
		ln(p+"out_ln", &l.OutLN)
	}
	if m.Pooler != nil {
		lin("pooler", m.Pooler, h, h)
	}
	if m.Classifier != nil {
		lin("classifier", m.Classifier, len(c.Labels), h)
	}
	if m.TokenClassifier != nil {
		lin("token_classifier", m.TokenClassifier, len(c.Labels), h)
	}
	return out
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
