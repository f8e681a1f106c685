//go:build amd64 && !purego

package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkPeakAVX2 measures this core's AVX2 int8 peak: the instruction
// pair of every AVX2 GEMM step (VPMADDUBSW + VPMADDWD per 32 multiply-adds)
// with nothing else in the loop.
func BenchmarkPeakAVX2(b *testing.B) {
	if !hasTier(KernelAVX2) {
		b.Skip("CPU has no AVX2")
	}
	benchPeak(b, peakLoops[KernelAVX2])
}

// BenchmarkKernelAVX2 times the full-height AVX2 micro-kernels (avx2MR x
// 16, 8- and 7-bit activations) alone on data that stays in L1 (K=768): the
// upper bound for the whole GEMM.
func BenchmarkKernelAVX2(b *testing.B) {
	b.Run("bits8", func(b *testing.B) { benchKernelAVX2(b, 8, avx2Kernels[avx2MR-1]) })
	b.Run("bits7", func(b *testing.B) { benchKernelAVX2(b, 7, avx2U7Kernels[avx2MR-1]) })
}

func benchKernelAVX2(b *testing.B, bits int, kern func(*kargs)) {
	const kp = 768
	rng := rand.New(rand.NewPCG(1, 1))
	a, w, bias := randGEMMInputsBits(rng, avx2MR, 16, kp, bits)
	dst := make([]float32, avx2MR*16)
	var raw [8 * NR]int32
	k := kargs{a: &a.Data[0], lda: kp, w: &w.Data[0], ldw: kp * 16, ksteps: kp / 4, dst: &dst[0], ldd: 64,
		as: &a.Scales[0], ws: &w.Scales[0], cs: &w.ColSums[0], bias: &bias[0], flags: flagBias, raw: &raw[0]}
	cpu0 := cpuSeconds()
	for b.Loop() {
		kern(&k)
	}
	ops := 2 * float64(avx2MR*16*kp) * float64(b.N)
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOPS")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(ops/cpu/1e9, "GOPS/cpu-s")
	}
}

// TestAsmConstants: the constants baked into f32_amd64.s by quant/asmgen
// equal the ones the Go kernels use.
func TestAsmConstants(t *testing.T) {
	f := math.Float32bits
	want := map[string]uint32{
		"invSqrt2": f(invSqrt2), "log2e": f(log2e), "ln2Hi": f(ln2Hi), "ln2Lo": f(ln2Lo),
		"erfA1": f(erfA1), "erfA2": f(erfA2), "erfA3": f(erfA3), "erfA4": f(erfA4), "erfA5": f(erfA5), "erfA6": f(erfA6),
		"e3": f(1.0 / 6), "e4": f(1.0 / 24), "e5": f(1.0 / 120), "e6": f(1.0 / 720), "e7": f(1.0 / 5040),
		"hiExp": f(88), "loExp": f(-87.3), "c127": f(127), "cm127": f(-127),
	}
	for name, bits := range want {
		if asmConstBits[name] != bits {
			t.Errorf("%s: asm %08x, Go %08x", name, asmConstBits[name], bits)
		}
	}
}

// BenchmarkPeakVNNI measures this core's AVX-512 VNNI int8 peak: 24
// independent zmm VPDPBUSD chains and nothing else (BenchmarkGEMM's %peak
// is relative to the same loop).
func BenchmarkPeakVNNI(b *testing.B) {
	if !hasTier(KernelVNNI) {
		b.Skip("CPU has no AVX-512 VNNI")
	}
	benchPeak(b, peakLoops[KernelVNNI])
}

// BenchmarkPeakAVXVNNI is BenchmarkPeakVNNI for the VEX ymm form (AVX-VNNI).
func BenchmarkPeakAVXVNNI(b *testing.B) {
	if !hasTier(KernelAVXVNNI) {
		b.Skip("CPU has no AVX-VNNI")
	}
	benchPeak(b, peakLoops[KernelAVXVNNI])
}

func benchPeak(b *testing.B, pk peakLoop) {
	const iters = 1 << 16
	cpu0 := cpuSeconds()
	for b.Loop() {
		pk.run(iters)
	}
	ops := pk.ops * float64(iters) * float64(b.N)
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOPS")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(ops/cpu/1e9, "GOPS/cpu-s")
	}
}

func hasTier(name string) bool { return slices.Contains(Kernels(), name) }

// BenchmarkKernelVNNI times the full VNNI micro-kernel (8 rows x 3 panels)
// alone on data that stays in L1 (K=256) and in L2 (K=768): the upper
// bound for the whole GEMM.
func BenchmarkKernelVNNI(b *testing.B) {
	if !hasTier(KernelVNNI) {
		b.Skip("CPU has no AVX-512 VNNI")
	}
	for _, kp := range []int{256, 768} {
		b.Run(fmt.Sprintf("K%d", kp), func(b *testing.B) {
			benchKernel(b, kp, vnniMR, vnniNP, vnniKernels[vnniMR-1][vnniNP-1])
		})
	}
}

func benchKernel(b *testing.B, kp, mr, np int, kern func(*kargs)) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, w, bias := randGEMMInputsBits(rng, mr, 16*np, kp, 8)
	dst := make([]float32, mr*16*np)
	var raw [16 * 4 * NR]int32
	k := kargs{a: &a.Data[0], lda: uintptr(kp), w: &w.Data[0], ldw: uintptr(kp * 16), ksteps: uintptr(kp / 4), dst: &dst[0], ldd: uintptr(64 * np),
		as: &a.Scales[0], ws: &w.Scales[0], cs: &w.ColSums[0], bias: &bias[0], flags: flagBias, raw: &raw[0]}
	cpu0 := cpuSeconds()
	for b.Loop() {
		kern(&k)
	}
	ops := 2 * float64(mr*16*np*kp) * float64(b.N)
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOPS")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(ops/cpu/1e9, "GOPS/cpu-s")
	}
}

// peakLoops are the amd64 tiers' peak kernels (see measuredPeak); callers
// check that the tier is supported before running one.
var peakLoops = map[string]peakLoop{
	KernelAVX2:    {peakAVX2, 640},
	KernelVNNI:    {peakVNNI, 24 * 64 * 2},
	KernelAVXVNNI: {peakAVXVNNI, 12 * 32 * 2},
}
