// Package synth builds deterministic random-weight BERT encoders of real
// shapes (MiniLM-L6, BERT-base) for benchmarks and tests.
//
// The weights come from a fixed pseudo-random generator keyed by the tensor's
// Hugging Face name, so every run, machine and architecture gets the same
// float values. The same tensors can be written as a Hugging Face
// safetensors checkpoint (WriteCheckpoint), which is how the peer benchmark
// in bench/peers exports byte-identical weights to ONNX: Lepton and ONNX
// Runtime then run the same model, not merely one of the same shape.
//
// Nothing here is used at inference time; it never reads files.
package synth

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"

	"lepton/internal/bert"
	"lepton/internal/convert"
)

// ErrShape is returned for a Spec whose dimensions cannot describe a BERT
// encoder (non-positive sizes, Hidden not divisible by Heads).
var ErrShape = errors.New("synth: invalid model shape")

// Spec is the shape of a synthetic encoder and the seed of its weights.
type Spec struct {
	Name         string // short name used in file names and reports
	Layers       int
	Hidden       int
	Heads        int
	Intermediate int
	Vocab        int
	MaxPositions int
	TypeVocab    int
	Labels       int // > 0 adds a pooler and a classifier with this many labels
	Seed         uint64
}

// Presets. MiniLM is the shape of all-MiniLM-L6-v2, Base of bert-base-uncased;
// Tiny is small enough for unit tests.
var (
	MiniLM = Spec{Name: "minilm", Layers: 6, Hidden: 384, Heads: 12, Intermediate: 1536, Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Seed: 1}
	Base   = Spec{Name: "base", Layers: 12, Hidden: 768, Heads: 12, Intermediate: 3072, Vocab: 30522, MaxPositions: 512, TypeVocab: 2, Seed: 1}
	Tiny   = Spec{Name: "tiny", Layers: 2, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 1000, MaxPositions: 128, TypeVocab: 2, Seed: 1}
)

// Lookup returns the preset with the given name ("minilm", "base", "tiny").
func Lookup(name string) (Spec, error) {
	for _, s := range []Spec{MiniLM, Base, Tiny} {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("%w: unknown preset %q (want minilm, base or tiny)", ErrShape, name)
}

// Validate checks that s describes a BERT encoder.
func (s Spec) Validate() error {
	if s.Layers <= 0 || s.Hidden <= 0 || s.Heads <= 0 || s.Intermediate <= 0 ||
		s.Vocab <= 0 || s.MaxPositions <= 0 || s.TypeVocab <= 0 || s.Hidden%s.Heads != 0 || s.Labels < 0 {
		return fmt.Errorf("%w: %+v", ErrShape, s)
	}
	return nil
}

// Config returns the bert.Config of s: a BertModel (embeddings, no
// classifier) with erf GELU, eps 1e-12 and mean pooling, like
// sentence-transformers' MiniLM; with Labels > 0 a
// BertForSequenceClassification with labels "LABEL_0", "LABEL_1", ...
func (s Spec) Config() bert.Config {
	c := bert.Config{
		Architecture: "BertModel",
		Layers:       s.Layers,
		Hidden:       s.Hidden,
		Heads:        s.Heads,
		Intermediate: s.Intermediate,
		Vocab:        s.Vocab,
		MaxPositions: s.MaxPositions,
		TypeVocab:    s.TypeVocab,
		LayerNormEps: 1e-12,
		Activation:   "gelu",
		Pooling:      "mean",
	}
	if s.Labels > 0 {
		c.Architecture = "BertForSequenceClassification"
		c.Pooling = "cls"
		for i := range s.Labels {
			c.Labels = append(c.Labels, fmt.Sprintf("LABEL_%d", i))
		}
	}
	return c
}

// Tensor is one float32 weight in Hugging Face naming and shape.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Tensors returns every weight of s, sorted by name, in the layout of a
// Hugging Face BertModel checkpoint (Linear weights are [out][in]). With
// Labels > 0 it adds "pooler.dense.*" and "classifier.*"; WriteCheckpoint
// then prefixes the encoder's names with "bert." as transformers does.
//
// Matrices and embeddings are uniform with standard deviation 0.02 (BERT's
// initialiser range); biases uniform with deviation 0.02; LayerNorm gammas
// 1 +- 0.1 and betas +- 0.02, so that no parameter is trivially 0 or 1.
func (s Spec) Tensors() ([]Tensor, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	h, in := s.Hidden, s.Intermediate
	var ts []Tensor
	add := func(name string, kind byte, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		t := Tensor{Name: name, Shape: shape, Data: make([]float32, n)}
		fill(t.Data, s.Seed, name, kind)
		ts = append(ts, t)
	}
	add("embeddings.word_embeddings.weight", 'w', s.Vocab, h)
	add("embeddings.position_embeddings.weight", 'w', s.MaxPositions, h)
	add("embeddings.token_type_embeddings.weight", 'w', s.TypeVocab, h)
	add("embeddings.LayerNorm.weight", 'g', h)
	add("embeddings.LayerNorm.bias", 'b', h)
	for l := 0; l < s.Layers; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, qkv := range []string{"query", "key", "value"} {
			add(p+"attention.self."+qkv+".weight", 'w', h, h)
			add(p+"attention.self."+qkv+".bias", 'b', h)
		}
		add(p+"attention.output.dense.weight", 'w', h, h)
		add(p+"attention.output.dense.bias", 'b', h)
		add(p+"attention.output.LayerNorm.weight", 'g', h)
		add(p+"attention.output.LayerNorm.bias", 'b', h)
		add(p+"intermediate.dense.weight", 'w', in, h)
		add(p+"intermediate.dense.bias", 'b', in)
		add(p+"output.dense.weight", 'w', h, in)
		add(p+"output.dense.bias", 'b', h)
		add(p+"output.LayerNorm.weight", 'g', h)
		add(p+"output.LayerNorm.bias", 'b', h)
	}
	if s.Labels > 0 {
		add("pooler.dense.weight", 'w', h, h)
		add("pooler.dense.bias", 'b', h)
		add("classifier.weight", 'w', s.Labels, h)
		add("classifier.bias", 'b', s.Labels)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts, nil
}

// fill writes the deterministic values of one tensor. The generator is
// splitmix64 seeded with seed ^ FNV-1a(name); each value takes the top 24
// bits of one output as a uniform number in [-1, 1), computed exactly in
// float32 so every platform (and the Python exporter, if it ever regenerates
// instead of reading the checkpoint) gets the same bits.
func fill(dst []float32, seed uint64, name string, kind byte) {
	f := fnv.New64a()
	f.Write([]byte(name))
	state := seed ^ f.Sum64()
	// Uniform on [-a, a) has deviation a/sqrt(3); a = 0.02*sqrt(3).
	const a = 0.034641016
	for i := range dst {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		u := float32(int32(z>>40)-(1<<23)) / (1 << 23) // exact: 24-bit integer / 2^23
		if kind == 'g' {
			dst[i] = 1 + float32(u*0.1)
		} else {
			dst[i] = float32(u * a)
		}
	}
}

// Model builds the int8 bert.Model of s from Tensors: every Linear is
// quantised per output channel and packed (query, key and value fused into
// one QKV matrix), embeddings are quantised per row. The float weights are
// not kept (F32 is nil), as in a .lep file written without --keep-fp32.
func (s Spec) Model() (*bert.Model, error) {
	ts, err := s.Tensors()
	if err != nil {
		return nil, err
	}
	return FromTensors(s.Config(), ts)
}

// FromTensors builds the int8 model from Hugging Face tensors (as returned
// by Tensors) with the converter behind `lepton quantize`
// (internal/convert.FromFloat), so a synthetic model holds exactly the bytes
// a .lep converted from WriteCheckpoint's output would. It is exported so
// tests can perturb the float weights first.
func FromTensors(cfg bert.Config, ts []Tensor) (*bert.Model, error) {
	byName := make(map[string][]float32, len(ts))
	for _, t := range ts {
		byName[t.Name] = t.Data
	}
	m, err := convert.FromFloat(cfg, byName, convert.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrShape, err)
	}
	return m, nil
}

// Inputs returns deterministic token ids for a batch of sequences with the
// given lengths: [CLS]=101 first, [SEP]=102 last, and ids in [1000, vocab)
// between them, as a tokenizer would produce. Every length must be >= 2.
func Inputs(lengths []int, vocab int, seed uint64) ([][]int32, error) {
	lo := 1000 // skip BERT's special and unused ids like a real text would
	if vocab < 2000 {
		lo = 103 // small test vocabularies: just past [CLS] and [SEP]
	}
	if vocab <= lo {
		return nil, fmt.Errorf("%w: vocabulary of %d ids", ErrShape, vocab)
	}
	out := make([][]int32, len(lengths))
	state := seed
	for i, n := range lengths {
		if n < 2 {
			return nil, fmt.Errorf("%w: sequence length %d < 2", ErrShape, n)
		}
		ids := make([]int32, n)
		ids[0], ids[n-1] = 101, 102
		for j := 1; j < n-1; j++ {
			state += 0x9e3779b97f4a7c15
			z := state
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
			z = (z ^ (z >> 27)) * 0x94d049bb133111eb
			z ^= z >> 31
			ids[j] = int32(lo + int(z%uint64(vocab-lo)))
		}
		out[i] = ids
	}
	return out, nil
}
