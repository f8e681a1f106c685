package quant

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// measuredPeak returns the single-core int8 peak of a tier on this host in
// GOPS, measured once per process by the tier's peak loop (independent
// multiply-add chains, no loads: BenchmarkPeakVNNI and friends), or 0 when
// the tier has none. BenchmarkGEMM reports GOPS as a share of it.
func measuredPeak(tier string) float64 {
	peakOnce.Do(func() {
		peakCache = map[string]float64{}
		for name, pk := range peakLoops {
			if !slices.Contains(Kernels(), name) {
				continue
			}
			const iters = 1 << 14
			pk.run(iters) // warm up
			var best float64
			for range 5 {
				t0 := time.Now()
				pk.run(iters)
				if g := pk.ops * iters / time.Since(t0).Seconds() / 1e9; g > best {
					best = g
				}
			}
			peakCache[name] = best
		}
	})
	return peakCache[tier]
}

var (
	peakOnce  sync.Once
	peakCache map[string]float64
)

// peakLoop is a tier's peak kernel: run(iters) executes ops int8
// operations per iteration.
type peakLoop struct {
	run func(iters int)
	ops float64
}

// benchShapes are the weight matmuls of one encoder layer at 128 tokens:
// N x K as (out, in) of MiniLM-L6 (hidden 384) and BERT-base (hidden 768).
var benchShapes = []struct {
	model string
	n, k  int
}{
	{"minilm", 384, 384}, {"minilm", 1152, 384}, {"minilm", 1536, 384}, {"minilm", 384, 1536},
	{"base", 768, 768}, {"base", 2304, 768}, {"base", 3072, 768}, {"base", 768, 3072},
}

// BenchmarkGEMM runs every host tier on every shape at 16 and 128 tokens
// with 8- and 7-bit activations and 1 and 2 threads and reports GOPS (2*M*N*K per call) and,
// for tiers with a peak loop, % of the single-core peak measured on this
// host (measuredPeak) times the thread count.
func BenchmarkGEMM(b *testing.B) {
	old := KernelName()
	defer SetKernel(old)
	for _, tierName := range Kernels() {
		for _, s := range benchShapes {
			for _, m := range []int{16, 128} {
				for _, bt := range []struct{ bits, threads int }{{7, 1}, {7, 2}, {8, 1}, {8, 2}} {
					bits, threads := bt.bits, bt.threads
					name := fmt.Sprintf("%s/%s/M%d_N%d_K%d/bits%d/t%d", tierName, s.model, m, s.n, s.k, bits, threads)
					b.Run(name, func(b *testing.B) {
						if err := SetKernel(tierName); err != nil {
							b.Fatal(err)
						}
						rng := rand.New(rand.NewPCG(7, 8))
						a, w, bias := randGEMMInputsBits(rng, m, s.n, s.k, bits)
						dst := make([]float32, m*s.n)
						pool := NewPool(threads)
						defer pool.Close()
						b.ReportAllocs()
						cpu0 := cpuSeconds()
						for b.Loop() {
							pool.GEMM(dst, a, w, bias)
						}
						ops := 2 * float64(m*s.n*s.k) * float64(b.N)
						gops := ops / b.Elapsed().Seconds() / 1e9
						b.ReportMetric(gops, "GOPS")
						if pk := measuredPeak(tierName); pk > 0 {
							b.ReportMetric(100*gops/(pk*float64(threads)), "%peak")
						}
						// Per CPU-second of the process: robust to other load on
						// a shared machine (and, with threads, the per-core rate).
						if cpu := cpuSeconds() - cpu0; cpu > 0 {
							b.ReportMetric(ops/cpu/1e9, "GOPS/cpu-s")
						}
					})
				}
			}
		}
	}
}

// BenchmarkGEMMLayers runs the four weight matrices of 12 BERT-base layers
// (85 MB of int8 weights, each used once per pass) the way a forward pass
// does, at 16 and 128 tokens, 1 thread: unlike BenchmarkGEMM, whose one
// weight matrix stays in cache, this one pays for streaming the weights
// from memory.
func BenchmarkGEMMLayers(b *testing.B) {
	old := KernelName()
	defer SetKernel(old)
	shapes := []struct{ n, k int }{{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}}
	type gemmOp struct {
		a    *Acts
		w    *PackedWeights
		bias []float32
	}
	for _, m := range []int{16, 128} {
		rng := rand.New(rand.NewPCG(7, uint64(m)))
		var ops []gemmOp
		var total float64
		for range 12 {
			for _, s := range shapes {
				a, w, bias := randGEMMInputsBits(rng, m, s.n, s.k, 7)
				ops = append(ops, gemmOp{a, w, bias})
				total += 2 * float64(m*s.n*s.k)
			}
		}
		dst := make([]float32, m*3072)
		for _, tierName := range Kernels() {
			if tierName == KernelGeneric {
				continue
			}
			b.Run(fmt.Sprintf("%s/M%d", tierName, m), func(b *testing.B) {
				if err := SetKernel(tierName); err != nil {
					b.Fatal(err)
				}
				pool := NewPool(1)
				defer pool.Close()
				cpu0 := cpuSeconds()
				for b.Loop() {
					for _, op := range ops {
						pool.GEMM(dst[:m*op.w.N], op.a, op.w, op.bias)
					}
				}
				b.ReportMetric(total*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
				if cpu := cpuSeconds() - cpu0; cpu > 0 {
					b.ReportMetric(total*float64(b.N)/cpu/1e9, "GOPS/cpu-s")
				}
			})
		}
	}
}
