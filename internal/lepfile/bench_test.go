package lepfile_test

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
	"lepton/quant"
)

// zeroModel allocates a model of cfg's shape with zero weights: open time
// does not depend on the values, and building it costs no quantisation.
func zeroModel(cfg bert.Config) *bert.Model {
	h := cfg.Hidden
	emb := func(rows int) bert.Embedding {
		return bert.Embedding{Rows: rows, Dim: h, Data: make([]int8, rows*h), Scales: make([]float32, rows)}
	}
	lin := func(n, k int) bert.Linear {
		return bert.Linear{W: quant.PackedWeights{N: n, K: k, Data: make([]int8, quant.PackedLen(n, k)),
			Scales: make([]float32, n), ColSums: make([]int32, quant.RoundUp(n, quant.NR))}, Bias: make([]float32, n)}
	}
	ln := func() bert.LayerNorm { return bert.LayerNorm{Gamma: make([]float32, h), Beta: make([]float32, h)} }
	m := &bert.Model{Config: cfg, Word: emb(cfg.Vocab), Position: emb(cfg.MaxPositions), TokenType: emb(cfg.TypeVocab), EmbLN: ln()}
	for range cfg.Layers {
		m.Layers = append(m.Layers, bert.Layer{QKV: lin(3*h, h), AttnOut: lin(h, h), AttnLN: ln(),
			Inter: lin(cfg.Intermediate, h), Output: lin(h, cfg.Intermediate), OutLN: ln()})
	}
	p, c := lin(h, h), lin(len(cfg.Labels), h)
	m.Pooler, m.Classifier = &p, &c
	return m
}

// BenchmarkOpen measures Open+Close on BERT-Tiny-sized, 2-layer-wide and
// BERT-base-sized files: with mmap the time should not grow with the file
// (only the header, table, config and directory are read); the arena
// fallback reads everything and is shown for contrast.
func BenchmarkOpen(b *testing.B) {
	base := bert.Config{Architecture: lepfile.ArchBertClassification, Layers: 12, Hidden: 768, Heads: 12,
		Intermediate: 3072, Vocab: 30522, MaxPositions: 512, TypeVocab: 2, LayerNormEps: 1e-12,
		Activation: "gelu", Pooling: "cls", Labels: []string{"NEGATIVE", "POSITIVE"}}
	tiny := base
	tiny.Layers, tiny.Hidden, tiny.Heads, tiny.Intermediate = 2, 128, 2, 512
	// Same tensor count as bert-tiny (2 layers), 10x the bytes: separates
	// the cost of the directory (per tensor) from the size of the weights.
	wide := tiny
	wide.Hidden, wide.Heads, wide.Intermediate = 1024, 16, 4096
	dir := b.TempDir()
	for _, size := range []struct {
		name string
		cfg  bert.Config
	}{{"bert-tiny", tiny}, {"2-layer-wide", wide}, {"bert-base", base}} {
		path := filepath.Join(dir, size.name+".lep")
		fh, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		if err := lepfile.Write(w, zeroModel(size.cfg), make([]byte, 500_000), nil, lepfile.WithTokenizerFormat(lepfile.TokenizerLepton)); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		fh.Close()
		st, _ := os.Stat(path)
		for _, mode := range []struct {
			name string
			opts []lepfile.Option
		}{{"mmap", nil}, {"arena", []lepfile.Option{lepfile.WithoutMmap()}}} {
			b.Run(size.name+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					f, err := lepfile.Open(path, mode.opts...)
					if err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
				b.ReportMetric(float64(st.Size())/1e6, "file-MB")
			})
		}
	}
}
