package bert

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"lepton/quant"
)

// BenchmarkAttention times the attention of one sequence (all heads, one
// thread): softmax(q k^T / sqrt(d)) v on random q, k, v, at MiniLM's (d 32)
// and BERT-base's (d 64) head sizes with 12 heads, for 16 and 128 tokens.
// GFLOPS counts 4*n*n*d per head (the two matrix products).
func BenchmarkAttention(b *testing.B) {
	for _, d := range []int{32, 64} {
		for _, n := range []int{16, 128} {
			b.Run(fmt.Sprintf("d%d/n%d", d, n), func(b *testing.B) {
				const heads = 12
				pool := quant.NewPool(1)
				defer pool.Close()
				w := attentionWorkspace(pool, n, heads, d)
				rng := rand.New(rand.NewPCG(5, 6))
				for i := range w.qkv {
					w.qkv[i] = float32(rng.NormFloat64())
				}
				pool.For(len(w.attn), w.attendFn) // grow the scratch
				b.ReportAllocs()
				for b.Loop() {
					pool.For(len(w.attn), w.attendFn)
				}
				flops := 4 * float64(n*n*d*heads) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// attentionWorkspace sets up w for the attention step alone: one sequence
// of n tokens, heads heads of size d, qkv and ctxb sized.
func attentionWorkspace(pool *quant.Pool, n, heads, d int) *Workspace {
	h := heads * d
	w := &Workspace{Pool: pool, hidden: h, heads: heads, headSz: d, start: []int{0, n}, ctx: context.Background()}
	w.qkv = make([]float32, n*3*h)
	w.ctxb = make([]float32, n*h)
	w.planAttention(n)
	w.attendFn = w.attendChunk
	return w
}
