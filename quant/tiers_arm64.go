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

// i8mmTier runs gemmI8MMR1..R8 (gemm_i8mm_arm64.s): SMMLA (WORD-encoded)
// on 2x8 activation blocks and column pairs zipped from the packed panel,
// up to 8 rows x 16 columns per call (two 8-column halves), the SDOT
// kernels' epilogue. x/sys/cpu's HasI8MM is the Linux hwcap2 "i8mm" bit
// (macOS: hw.optional.arm.FEAT_I8MM). It is opt-in (see Kernels): it has
// been verified only under qemu (QEMU_CPU=max), not on hardware.
var i8mmTier = tier{name: KernelI8MM, mr: len(i8mmKernels), np: 1, kern: kernI8MM, rows: true, optIn: true}

func kernI8MM(p *kargs, rows, _ int) { i8mmKernels[rows-1](p) }

// hostTiers returns the SIMD tiers this CPU supports, fastest first.
func hostTiers() []*tier {
	var ts []*tier
	if cpu.ARM64.HasI8MM {
		ts = append(ts, &i8mmTier)
	}
	if cpu.ARM64.HasASIMDDP {
		ts = append(ts, &sdotTier)
	}
	return append(ts, &neonTier)
}
