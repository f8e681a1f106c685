//go:build arm64 && !purego

package quant

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// sdotTier runs gemmSDOTR1..R4 (gemm_arm64.s): 4 rows x 16 columns per
// call. The kernels store exact int32 sums and the epilogue runs in Go
// (epilogueRow), which is the reference code itself, so arm64 output
// matches amd64 bit for bit by construction. (x/sys/cpu's HasASIMDDP is the
// Linux "asimddp" hwcap: the SDOT/UDOT dot-product extension.)
var sdotTier = tier{name: KernelSDOT, mr: sdotMR, np: 1, kern: kernSDOT}

const sdotMR = len(sdotKernels)

func kernSDOT(p *kargs, rows, _ int) {
	sdotKernels[rows-1](p)
	if p.flags&flagRaw != 0 {
		return
	}
	raw := unsafe.Slice(p.raw, rows*NR)
	ws := unsafe.Slice(p.ws, NR)
	var bias []float32
	if p.flags&flagBias != 0 {
		bias = unsafe.Slice(p.bias, NR)
	}
	for r := 0; r < rows; r++ {
		dst := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(p.dst), r*int(p.ldd))), NR)
		as := *(*float32)(unsafe.Add(unsafe.Pointer(p.as), r*4))
		epilogueRow(dst, raw[r*NR:], as, ws, bias, p.flags)
	}
}

// hostTiers returns the SIMD tiers this CPU supports, fastest first.
func hostTiers() []*tier {
	var ts []*tier
	if cpu.ARM64.HasASIMDDP {
		ts = append(ts, &sdotTier)
	}
	return ts
}
