//go:build amd64 && !purego

package quant

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd asmgen && go run . -out .."

// avx2Tier runs gemmAVX2R1..R5 (gemm_amd64.s), or gemmAVX2U7R1..R5 for
// 7-bit activations: 5 rows x 16 columns per call, epilogue included. x/sys/cpu reports AVX2 only when the OS saves the YMM
// state.
var avx2Tier = tier{name: KernelAVX2, mr: avx2MR, np: 1, kern: kernAVX2, kern7: kernAVX2U7, f32: true, rows: true}

const avx2MR = len(avx2Kernels)

func kernAVX2(p *kargs, rows, _ int) { avx2Kernels[rows-1](p) }

func kernAVX2U7(p *kargs, rows, _ int) { avx2U7Kernels[rows-1](p) }

// vnniTier runs gemmVNNIR{1..8}P{1..3} (gemm_amd64.s): up to 8 rows x 48
// columns per call, epilogue included; its fp32 kernels are the AVX2 ones.
// It is opt-in (see Kernels).
var vnniTier = tier{name: KernelVNNI, mr: 8, np: 3, kern: kernVNNI, f32: true, rows: true, optIn: true}

func kernVNNI(p *kargs, rows, panels int) { vnniKernels[rows-1][panels-1](p) }

// hostTiers returns the SIMD tiers this CPU supports, fastest first.
func hostTiers() []*tier {
	var ts []*tier
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX2 {
		ts = append(ts, &vnniTier)
	}
	if cpu.X86.HasAVX2 {
		ts = append(ts, &avx2Tier)
	}
	return ts
}
