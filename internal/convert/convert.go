// Package convert turns float BERT checkpoints into Lepton's in-memory
// int8 model (internal/bert.Model), ready to be written as a .lep file by
// internal/lepfile. It backs `lepton quantize`.
//
// [FromHF] reads a Hugging Face model directory (config.json,
// model.safetensors, tokenizer.json or vocab.txt). [FromFloat] builds a model
// from float tensors in memory, named as in a Hugging Face BertModel
// checkpoint, so tests and benchmarks can make synthetic models without
// files; [Random] makes such tensors deterministically.
//
// Quantisation: every Linear weight is quantised per output channel,
// symmetrically, and packed (quant.QuantizePack); the query, key and value
// projections are concatenated (rows Q, then K, then V) first, which gives
// the same codes and scales as quantising them separately because scales are
// per row. Embedding tables are quantised per row. Biases and LayerNorm
// parameters stay float32.
package convert

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
	"lepton/quant"
)

// The sentinels' text names the problem, not this package: `lepton
// quantize` prints these errors to users as they are.

// ErrUnsupported is returned for checkpoints this converter cannot handle:
// other architectures, activations or dtypes.
var ErrUnsupported = errors.New("unsupported checkpoint")

// ErrMissing is returned when a tensor the model needs is absent or has
// the wrong shape. The message names what was expected and what was found.
var ErrMissing = errors.New("missing or malformed tensor")

// ErrMismatch is returned when config.json and the checkpoint's tensors
// disagree: more encoder layers than num_hidden_layers, a shape other than
// the sizes imply, or a tensor the configured model has no place for.
// Converting anyway would write a valid-looking model of the wrong network.
var ErrMismatch = errors.New("config.json does not match the checkpoint")

// ErrMissingFile is returned when the model directory lacks a file the
// conversion needs (config.json, model.safetensors, tokenizer.json or
// vocab.txt); the error also wraps the file-system error (fs.ErrNotExist).
// The message names the directory, the file and what the directory holds.
// A model directory that does not exist at all is reported as such and
// wraps fs.ErrNotExist.
var ErrMissingFile = errors.New("missing checkpoint file")

// Options adjusts a conversion. The zero value is the default.
type Options struct {
	// KeepF32 also stores the float weights (Linear.F32, Embedding.F32) so
	// the same file can run the float reference path. Files grow about 5x.
	KeepF32 bool
	// ScoreActivation, when set, overrides the score activation that
	// FromHF reads from config.json for a single-output head ("sigmoid",
	// "identity" or "tanh"; see ParseHFConfig).
	ScoreActivation string
	// Progress, when set, is called after each tensor is quantised with the
	// number of tensors done and the total.
	Progress func(done, total int)
}

// Tensor names (Hugging Face BertModel convention, without the "bert."
// prefix) that FromFloat reads. Layer tensors are prefixed "encoder.layer.N.".
const (
	NameWord       = "embeddings.word_embeddings.weight"
	NamePosition   = "embeddings.position_embeddings.weight"
	NameTokenType  = "embeddings.token_type_embeddings.weight"
	NameEmbLN      = "embeddings.LayerNorm"
	NamePooler     = "pooler.dense"
	NameClassifier = "classifier" // the sequence head, or the token head of BertForTokenClassification
)

// layerNames are the per-layer tensors (suffix ".weight" and ".bias").
var layerNames = []string{
	"attention.self.query", "attention.self.key", "attention.self.value",
	"attention.output.dense", "attention.output.LayerNorm",
	"intermediate.dense", "output.dense", "output.LayerNorm",
}

// TensorNames lists every float tensor FromFloat needs for cfg, sorted; the
// pooler is included when withPooler is set (and the architecture uses one:
// BertForTokenClassification does not), the classifier for classification
// architectures (sequence and token). DistilBERT checkpoints have no token
// type table: FromHF supplies two zero rows (adding zero changes nothing).
func TensorNames(cfg bert.Config, withPooler bool) []string {
	withPooler = withPooler && usesPooler(&cfg)
	names := []string{NameWord, NamePosition, NameTokenType, NameEmbLN + ".weight", NameEmbLN + ".bias"}
	for l := range cfg.Layers {
		for _, n := range layerNames {
			p := "encoder.layer." + strconv.Itoa(l) + "." + n
			names = append(names, p+".weight", p+".bias")
		}
	}
	if withPooler {
		names = append(names, NamePooler+".weight", NamePooler+".bias")
	}
	if hasClassifier(&cfg) {
		names = append(names, NameClassifier+".weight", NameClassifier+".bias")
	}
	sort.Strings(names)
	return names
}

// usesPooler reports whether cfg's architecture has a pooler. Hugging
// Face's BertForTokenClassification builds its encoder without one, so a
// pooler found in such a checkpoint is not converted.
func usesPooler(cfg *bert.Config) bool {
	return cfg.Architecture != lepfile.ArchBertTokenClassification && cfg.Architecture != lepfile.ArchDistilBertModel
}

// hasClassifier reports whether cfg's architecture has a classifier head
// (Hugging Face names it "classifier" for both sequence and token
// classification).
func hasClassifier(cfg *bert.Config) bool {
	return lepfile.IsClassifier(cfg.Architecture) || cfg.Architecture == lepfile.ArchBertTokenClassification
}

// shapeOf returns the expected shape of a tensor name for cfg.
func shapeOf(cfg *bert.Config, name string) []int {
	h := cfg.Hidden
	switch name {
	case NameWord:
		return []int{cfg.Vocab, h}
	case NamePosition:
		return []int{cfg.MaxPositions, h}
	case NameTokenType:
		return []int{cfg.TypeVocab, h}
	case NameClassifier + ".weight":
		return []int{len(cfg.Labels), h}
	case NameClassifier + ".bias":
		return []int{len(cfg.Labels)}
	case NamePooler + ".weight":
		return []int{h, h}
	}
	switch {
	case strings.HasSuffix(name, "intermediate.dense.weight"):
		return []int{cfg.Intermediate, h}
	case strings.HasSuffix(name, "intermediate.dense.bias"):
		return []int{cfg.Intermediate}
	case strings.HasSuffix(name, "output.dense.weight") && !strings.Contains(name, "attention"):
		return []int{h, cfg.Intermediate}
	case strings.HasSuffix(name, ".weight") && !strings.Contains(name, "LayerNorm"):
		return []int{h, h}
	}
	return []int{h}
}

// FromFloat builds a quantised model from float tensors named as
// TensorNames lists (row-major, PyTorch Linear weights are [out][in]). The
// pooler is used when its tensors are present. Tensors not needed are
// ignored. cfg is validated with lepfile.ValidateConfig first.
func FromFloat(cfg bert.Config, t map[string][]float32, opts Options) (*bert.Model, error) {
	if err := lepfile.ValidateConfig(&cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	_, hasPW := t[NamePooler+".weight"]
	_, hasPB := t[NamePooler+".bias"]
	// DistilBertModel and BertForTokenClassification have no pooler (a
	// checkpoint's pooler or pre_classifier, if any, belongs to a head
	// they do not run).
	withPooler := (hasPW || hasPB) && usesPooler(&cfg)
	names := TensorNames(cfg, withPooler)
	var missing []string
	for _, n := range names {
		v, ok := t[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		shape := shapeOf(&cfg, n)
		want := 1
		for _, d := range shape {
			want *= d
		}
		if len(v) != want {
			return nil, fmt.Errorf("%w: %s has %d values, want shape %v (%d values)", ErrMissing, n, len(v), shape, want)
		}
		if i, ok := finite(v); !ok {
			return nil, fmt.Errorf("%w: %s has a non-finite value (%v) at index %d", ErrMissing, n, v[i], i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %d of %d tensors missing: %s", ErrMissing, len(missing), len(names), abbreviate(missing, 6))
	}

	m := &bert.Model{Config: cfg, Layers: make([]bert.Layer, cfg.Layers)}
	total := quantSteps(&cfg, withPooler)
	done := 0
	step := func() {
		done++
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	var err error
	emb := func(name string, rows int) bert.Embedding {
		e := quantizeEmbedding(t[name], rows, cfg.Hidden, opts.KeepF32)
		step()
		return e
	}
	lin := func(w, b []float32, n, k int) bert.Linear {
		if err != nil {
			return bert.Linear{}
		}
		var l bert.Linear
		l.W, err = quant.QuantizePack(w, n, k)
		l.Bias = clone(b)
		if opts.KeepF32 {
			l.F32 = clone(w)
		}
		step()
		return l
	}
	ln := func(prefix string) bert.LayerNorm {
		return bert.LayerNorm{Gamma: clone(t[prefix+".weight"]), Beta: clone(t[prefix+".bias"])}
	}
	h := cfg.Hidden
	m.Word = emb(NameWord, cfg.Vocab)
	m.Position = emb(NamePosition, cfg.MaxPositions)
	m.TokenType = emb(NameTokenType, cfg.TypeVocab)
	m.EmbLN = ln(NameEmbLN)
	for i := range m.Layers {
		p := "encoder.layer." + strconv.Itoa(i) + "."
		l := &m.Layers[i]
		qkvW := make([]float32, 0, 3*h*h)
		qkvB := make([]float32, 0, 3*h)
		for _, s := range []string{"query", "key", "value"} {
			qkvW = append(qkvW, t[p+"attention.self."+s+".weight"]...)
			qkvB = append(qkvB, t[p+"attention.self."+s+".bias"]...)
		}
		l.QKV = lin(qkvW, qkvB, 3*h, h)
		l.AttnOut = lin(t[p+"attention.output.dense.weight"], t[p+"attention.output.dense.bias"], h, h)
		l.AttnLN = ln(p + "attention.output.LayerNorm")
		l.Inter = lin(t[p+"intermediate.dense.weight"], t[p+"intermediate.dense.bias"], cfg.Intermediate, h)
		l.Output = lin(t[p+"output.dense.weight"], t[p+"output.dense.bias"], h, cfg.Intermediate)
		l.OutLN = ln(p + "output.LayerNorm")
	}
	if withPooler {
		p := lin(t[NamePooler+".weight"], t[NamePooler+".bias"], h, h)
		m.Pooler = &p
	}
	switch {
	case lepfile.IsClassifier(cfg.Architecture):
		c := lin(t[NameClassifier+".weight"], t[NameClassifier+".bias"], len(cfg.Labels), h)
		m.Classifier = &c
	case cfg.Architecture == lepfile.ArchBertTokenClassification:
		c := lin(t[NameClassifier+".weight"], t[NameClassifier+".bias"], len(cfg.Labels), h)
		m.TokenClassifier = &c
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMissing, err)
	}
	return m, nil
}

// quantSteps is the number of Progress calls FromFloat makes: one per
// embedding table and per linear.
func quantSteps(cfg *bert.Config, withPooler bool) int {
	n := 3 + 4*cfg.Layers
	if withPooler {
		n++
	}
	if hasClassifier(cfg) {
		n++
	}
	return n
}

// quantizeEmbedding quantises each row of a [rows][dim] table symmetrically
// to int8 with its own scale, with the same rounding as the activations
// quantiser (quant.QuantizeRows) so kernels and tables agree.
func quantizeEmbedding(w []float32, rows, dim int, keep bool) bert.Embedding {
	e := bert.Embedding{Rows: rows, Dim: dim, Data: make([]int8, rows*dim), Scales: make([]float32, rows)}
	var acts quant.Acts
	const chunk = 256
	kp := quant.RoundUp(dim, quant.KR)
	for r0 := 0; r0 < rows; r0 += chunk {
		n := min(chunk, rows-r0)
		quant.QuantizeRows(&acts, w[r0*dim:(r0+n)*dim], n, dim)
		for i := range n {
			copy(e.Data[(r0+i)*dim:(r0+i+1)*dim], acts.Data[i*kp:i*kp+dim])
		}
		copy(e.Scales[r0:r0+n], acts.Scales[:n])
	}
	if keep {
		e.F32 = clone(w)
	}
	return e
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// abbreviate joins up to n names and says how many more there are.
func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// Random returns deterministic float tensors for cfg (with a pooler), named
// for FromFloat: matrices and embeddings uniform with standard deviation
// 0.02 (BERT's initialiser range), biases likewise, LayerNorm gammas in
// 1 +- 0.1 and betas +- 0.02. The same seed gives the same values on every
// platform.
func Random(cfg bert.Config, seed uint64) map[string][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0x1e9707))
	out := map[string][]float32{}
	// Uniform on [-a, a) has standard deviation a/sqrt(3).
	const a = 0.02 * 1.7320508
	for _, name := range TensorNames(cfg, true) {
		shape := shapeOf(&cfg, name)
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		isLN := strings.Contains(name, "LayerNorm")
		for i := range v {
			u := float32(rng.Float64()*2 - 1)
			switch {
			case isLN && strings.HasSuffix(name, ".weight"):
				v[i] = 1 + 0.1*u
			default:
				v[i] = a * u
			}
		}
		out[name] = v
	}
	return out
}

// finite reports whether every value is finite, naming the first bad index.
func finite(x []float32) (int, bool) {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return i, false
		}
	}
	return -1, true
}
