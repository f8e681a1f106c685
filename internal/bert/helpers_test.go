package bert

import (
	"math"
	"math/rand/v2"
	"testing"

	"lepton/quant"
)

// randomModel builds a model with random weights (fixed seed) the way the
// converter does: float weights quantised per output channel and packed,
// embeddings quantised per row, float copies kept for the reference path.
func randomModel(t testing.TB, cfg Config, labels int, seed uint64) *Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	randn := func(n int, std float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(rng.NormFloat64() * std)
		}
		return out
	}
	emb := func(rows, dim int) Embedding {
		f := randn(rows*dim, 0.5)
		e := Embedding{Rows: rows, Dim: dim, Data: make([]int8, rows*dim), Scales: make([]float32, rows), F32: f}
		for r := 0; r < rows; r++ {
			var amax float32
			for _, v := range f[r*dim : (r+1)*dim] {
				amax = max(amax, abs32(v))
			}
			if amax == 0 {
				continue
			}
			e.Scales[r] = amax / 127
			for d := 0; d < dim; d++ {
				e.Data[r*dim+d] = int8(roundEven(f[r*dim+d] * 127 / amax))
			}
		}
		return e
	}
	lin := func(n, k int) Linear {
		// std 1.5/sqrt(k) keeps pre-activations O(1) so GELU and softmax see
		// both their linear and their saturated ranges.
		f := randn(n*k, 1.5/math.Sqrt(float64(k)))
		p, err := quant.QuantizePack(f, n, k)
		if err != nil {
			t.Fatal(err)
		}
		return Linear{W: p, Bias: randn(n, 0.1), F32: f}
	}
	ln := func(h int) LayerNorm {
		g := randn(h, 0.1)
		for i := range g {
			g[i] += 1
		}
		return LayerNorm{Gamma: g, Beta: randn(h, 0.1)}
	}
	h := cfg.Hidden
	m := &Model{
		Config:    cfg,
		Word:      emb(cfg.Vocab, h),
		Position:  emb(cfg.MaxPositions, h),
		TokenType: emb(cfg.TypeVocab, h),
		EmbLN:     ln(h),
	}
	for i := 0; i < cfg.Layers; i++ {
		m.Layers = append(m.Layers, Layer{
			QKV: lin(3*h, h), AttnOut: lin(h, h), AttnLN: ln(h),
			Inter: lin(cfg.Intermediate, h), Output: lin(h, cfg.Intermediate), OutLN: ln(h),
		})
	}
	if labels > 0 {
		p, c := lin(h, h), lin(labels, h)
		m.Pooler, m.Classifier = &p, &c
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func roundEven(v float32) float32 {
	r := float32(int32(v))
	if d := v - r; d > 0.5 || (d == 0.5 && int32(r)%2 != 0) {
		r++
	} else if d < -0.5 || (d == -0.5 && int32(r)%2 != 0) {
		r--
	}
	return r
}

func smallConfig() Config {
	return Config{
		Architecture: "BertForSequenceClassification", Layers: 2, Hidden: 32, Heads: 4, Intermediate: 64,
		Vocab: 100, MaxPositions: 40, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "cls",
		Labels: []string{"a", "b", "c"},
	}
}

// randomSeqs returns sequences with the given lengths and random ids; odd
// sequences get a second segment to exercise token types.
func randomSeqs(cfg Config, lens []int, seed uint64) []Sequence {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]Sequence, len(lens))
	for i, n := range lens {
		s := Sequence{IDs: make([]int32, n)}
		for j := range s.IDs {
			s.IDs[j] = int32(rng.IntN(cfg.Vocab))
		}
		if i%2 == 1 {
			s.TypeIDs = make([]int32, n)
			for j := n / 2; j < n; j++ {
				s.TypeIDs[j] = 1
			}
		}
		out[i] = s
	}
	return out
}
