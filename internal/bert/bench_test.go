package bert_test

import (
	"context"
	"fmt"
	"testing"

	"lepton/internal/bert"
	"lepton/internal/synth"
	"lepton/quant"
)

// BenchmarkForward times the int8 forward pass alone (no tokenizer, no
// heads) on MiniLM-L6 and BERT-base shapes, for single sequences and a
// mixed-length batch, with 1 and 2 threads. It is the number the kernel
// work moves; the root package's benchmarks time whole calls.
func BenchmarkForward(b *testing.B) {
	cases := []struct {
		name    string
		lengths []int
	}{
		{"b1s16", []int{16}},
		{"b1s128", []int{128}},
		{"mixed8", []int{16, 32, 48, 64, 80, 96, 112, 128}},
	}
	for _, spec := range []synth.Spec{synth.MiniLM, synth.Base} {
		b.Run(spec.Name, func(b *testing.B) {
			m, err := spec.Model()
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range cases {
				ids, err := synth.Inputs(c.lengths, spec.Vocab, 1)
				if err != nil {
					b.Fatal(err)
				}
				seqs := make([]bert.Sequence, len(ids))
				tokens := 0
				for i := range ids {
					seqs[i] = bert.Sequence{IDs: ids[i]}
					tokens += len(ids[i])
				}
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/threads=%d", c.name, threads), func(b *testing.B) {
						pool := quant.NewPool(threads)
						defer pool.Close()
						ws := &bert.Workspace{Pool: pool}
						ctx := context.Background()
						if err := m.Forward(ctx, ws, seqs); err != nil {
							b.Fatal(err)
						}
						b.ReportAllocs()
						for b.Loop() {
							if err := m.Forward(ctx, ws, seqs); err != nil {
								b.Fatal(err)
							}
						}
						sec := b.Elapsed().Seconds() / float64(b.N)
						b.ReportMetric(float64(tokens)/sec, "tokens/s")
						b.ReportMetric(sec*1e3, "ms/op")
					})
				}
			}
		})
	}
}
