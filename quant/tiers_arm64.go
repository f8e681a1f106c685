//go:build arm64 && !purego

package quant

import "golang.org/x/sys/cpu"

// sdotTier runs gemmSDOTR1..R4 (gemm_arm64.s): 4 rows x 16 columns per
// call, epilogue included (FMUL/FADD/SCVTF WORD-encoded, never fused).
// x/sys/cpu's HasASIMDDP is the Linux "asimddp" hwcap: the SDOT/UDOT
// dot-product extension.
var sdotTier = tier{name: KernelSDOT, mr: sdotMR, np: 1, kern: kernSDOT, rows: true}

const sdotMR = len(sdotKernels)

func kernSDOT(p *kargs, rows, _ int) { sdotKernels[rows-1](p) }

// neonTier runs gemmNEONR1..R2 on every arm64 core (Advanced SIMD is
// mandatory in ARMv8): SMULL/SADALP int16 products widened into exact int32
// sums, 2 rows x 16 columns per call, for cores without SDOT (Cortex-A53,
// A72: Raspberry Pi 3/4). Attention and Softmax use the NEON fp32 kernels.
var neonTier = tier{name: KernelNEON, mr: len(neonKernels), np: 1, kern: kernNEON, rows: true}

func kernNEON(p *kargs, rows, _ int) { neonKernels[rows-1](p) }

// hostTiers returns the SIMD tiers this CPU supports, fastest first.
func hostTiers() []*tier {
	var ts []*tier
	if cpu.ARM64.HasASIMDDP {
		ts = append(ts, &sdotTier)
	}
	return append(ts, &neonTier)
}
