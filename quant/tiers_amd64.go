//go:build amd64 && !purego

package quant

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd asmgen && go run . -out .."

// vnniTier runs gemmVNNIR{rows}P{panels} (gemm_amd64.s): up to vnniMR rows
// x vnniNP panels per call on AVX-512 VNNI, epilogue included, from
// sign-flipped activations; its fp32 kernels are the AVX-512 ones where
// they exist (attention's block products), AVX2 elsewhere. A chunk is
// one tile's panels (24 KiB of weights at K=768, which stay in L1) times up
// to 96 rows, so a short batch (16 tokens) reads each weight from memory
// once.
var vnniTier = tier{name: KernelVNNI, mr: vnniMR, np: vnniNP, tallMR: vnniTallMR, kern: kernVNNI, flipActs: true, f32: true, avx512: true, rows: true,
	chunkPanels: 24, chunkRows: 24}

func kernVNNI(p *kargs, rows, panels int) {
	if rows > vnniMR {
		vnniTallKernels[rows-vnniMR-1](p) // panels is 1
		return
	}
	vnniKernels[rows-1][panels-1](p)
}

// avxvnniTier runs gemmAVXVNNIR1..R6: the VNNI scheme in ymm registers
// with the VEX-encoded VPDPBUSD of CPUs that have AVX-VNNI but no AVX-512.
var avxvnniTier = tier{name: KernelAVXVNNI, mr: len(avxvnniKernels), np: 1, kern: kernAVXVNNI, flipActs: true, f32: true, rows: true,
	chunkPanels: 24, chunkRows: 24}

func kernAVXVNNI(p *kargs, rows, _ int) { avxvnniKernels[rows-1](p) }

// avx2Tier runs gemmAVX2R1..R5 (gemm_amd64.s), or gemmAVX2U7R1..R5 for
// 7-bit activations: 5 rows x 16 columns per call, epilogue included.
var avx2Tier = tier{name: KernelAVX2, mr: avx2MR, np: 1, kern: kernAVX2, kern7: kernAVX2U7, f32: true, rows: true}

const avx2MR = len(avx2Kernels)

func kernAVX2(p *kargs, rows, _ int) { avx2Kernels[rows-1](p) }

func kernAVX2U7(p *kargs, rows, _ int) { avx2U7Kernels[rows-1](p) }

// hostTiers returns the SIMD tiers this CPU supports, fastest first.
// x/sys/cpu reports AVX2, AVX-512 and AVX-VNNI only when the OS saves the
// register state they need. Every tier's attention kernels use FMA3
// (VFMADD231PS), which all AVX2 CPUs but a few VIA ones also have.
func hostTiers() []*tier {
	var ts []*tier
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VNNI {
		ts = append(ts, &vnniTier)
	}
	if cpu.X86.HasAVXVNNI {
		ts = append(ts, &avxvnniTier)
	}
	return append(ts, &avx2Tier)
}

// flipActs stores src XOR 0x80 into dst (same length): the unsigned form
// a+128 the VNNI kernels read.
func flipActs(dst, src []int8) {
	n := len(src) &^ 31
	if n > 0 {
		flipSigns(&dst[0], &src[0], n/32)
	}
	for i := n; i < len(src); i++ {
		dst[i] = src[i] ^ -128
	}
}
