package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// peakGOPS is the single-core int8 peak of each tier on the reference
// machine (AMD EPYC Zen 4): a GEMM reports its GOPS as a share of it. avx2
// was measured there; vnni is only assumed (twice avx2, for the doubled
// vector width), since that machine's hypervisor hides AVX-512. generic
// has no meaningful peak; sdot is unmeasured here.
var peakGOPS = map[string]float64{KernelVNNI: 465, KernelAVX2: 233, KernelSDOT: 0, KernelGeneric: 0}

// benchShapes are the weight matmuls of one encoder layer at 128 tokens:
// N x K as (out, in) of MiniLM-L6 (hidden 384) and BERT-base (hidden 768).
var benchShapes = []struct {
	model string
	n, k  int
}{
	{"minilm", 384, 384}, {"minilm", 1152, 384}, {"minilm", 1536, 384}, {"minilm", 384, 1536},
	{"base", 768, 768}, {"base", 2304, 768}, {"base", 3072, 768}, {"base", 768, 3072},
}

// BenchmarkGEMM runs every host tier on every shape with 8- and 7-bit
// activations and 1 and 2 threads and reports GOPS (2*M*N*K per call) and,
// for SIMD tiers, % of the tier's single-core peak times the thread count.
func BenchmarkGEMM(b *testing.B) {
	old := KernelName()
	defer SetKernel(old)
	const m = 128
	for _, tierName := range Kernels() {
		for _, s := range benchShapes {
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
					if pk := peakGOPS[tierName]; pk > 0 {
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
