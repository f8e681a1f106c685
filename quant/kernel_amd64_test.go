//go:build amd64 && !purego

package quant

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkKernelAVX2 times the 4x16 micro-kernel alone on data that stays
// in L1 (K=768), the upper bound for the whole GEMM.
func BenchmarkKernelAVX2(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, w, bias := randGEMMInputs(rng, 4, 16, 768)
	dst := make([]float32, 4*16)
	var raw [8 * NR]int32
	k := kargs{a: &a.Data[0], lda: 768, w: &w.Data[0], ldw: 768 * 16, ksteps: 768 / 4, dst: &dst[0], ldd: 64,
		as: &a.Scales[0], ws: &w.Scales[0], cs: &w.ColSums[0], bias: &bias[0], flags: flagBias, raw: &raw[0]}
	cpu0 := cpuSeconds()
	for b.Loop() {
		gemmAVX2R4(&k)
	}
	ops := 2 * 4 * 16 * 768 * float64(b.N)
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOPS")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(ops/cpu/1e9, "GOPS/cpu-s")
	}
}
