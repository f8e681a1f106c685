package main

import "fmt"

// vexDPBUSD encodes the AVX-VNNI (VEX.256) form of VPDPBUSD, which Go's
// assembler only knows in its AVX-512 (EVEX) form:
//
//	VPDPBUSD ymm(acc), ymm(u), ymm(s)   acc += sum of 4 u8(u) * s8(s) per int32 lane
//
// VEX.256.66.0F38.W0 50 /r: C4, then RXB (inverted) and map 0F38 (00010),
// then W=0, vvvv (inverted, the unsigned source), L=1, pp=01 (66), the opcode,
// and a register-direct ModRM (reg = acc, rm = the signed source).
func vexDPBUSD(acc, u, s int) string {
	if acc < 0 || acc > 15 || u < 0 || u > 15 || s < 0 || s > 15 {
		panic(fmt.Sprintf("vexDPBUSD: register out of range: Y%d, Y%d, Y%d", acc, u, s))
	}
	inv := func(bit int) int { return (^bit) & 1 }
	b1 := inv(acc>>3)<<7 | 1<<6 | inv(s>>3)<<5 | 0x02 // X unused (register operand): inverted 0
	b2 := 0<<7 | ((^u)&0xF)<<3 | 1<<2 | 0x01
	modrm := 0xC0 | (acc&7)<<3 | (s & 7)
	return fmt.Sprintf("BYTE $0xc4; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x50; BYTE $0x%02x // VPDPBUSD Y%d, Y%d, Y%d (AVX-VNNI; Intel order acc, unsigned, signed)",
		b1, b2, modrm, acc, u, s)
}

// genPeakVNNI writes peakVNNI and peakAVXVNNI, the measuring sticks for the
// VNNI tiers: independent VPDPBUSD chains with no loads (24 on zmm, 12 on
// ymm: enough to cover the instruction's latency on two pipes), so only the
// vector pipes limit them.
func genPeakVNNI(b *asm) {
	b.f("// func peakVNNI(iters int)")
	b.f("TEXT ·peakVNNI(SB), NOSPLIT, $0-8")
	b.i("MOVQ iters+0(FP), CX")
	b.i("VPXORD Z30, Z30, Z30")
	b.i("VPXORD Z31, Z31, Z31")
	for r := 0; r < 24; r++ {
		b.i("VPXORD Z%d, Z%d, Z%d", r, r, r)
	}
	b.i("TESTQ CX, CX")
	b.i("JLE peakvdone")
	b.f("peakvloop:")
	for r := 0; r < 24; r++ {
		b.i("VPDPBUSD Z31, Z30, Z%d", r)
	}
	b.i("DECQ CX")
	b.i("JNZ peakvloop")
	b.f("peakvdone:")
	b.i("VZEROUPPER")
	b.i("RET\n")

	b.f("// func peakAVXVNNI(iters int)")
	b.f("TEXT ·peakAVXVNNI(SB), NOSPLIT, $0-8")
	b.i("MOVQ iters+0(FP), CX")
	b.i("VPXOR Y14, Y14, Y14")
	b.i("VPXOR Y15, Y15, Y15")
	for r := 0; r < 12; r++ {
		b.i("VPXOR Y%d, Y%d, Y%d", r, r, r)
	}
	b.i("TESTQ CX, CX")
	b.i("JLE peakavdone")
	b.f("peakavloop:")
	for r := 0; r < 12; r++ {
		b.i(vexDPBUSD(r, 14, 15))
	}
	b.i("DECQ CX")
	b.i("JNZ peakavloop")
	b.f("peakavdone:")
	b.i("VZEROUPPER")
	b.i("RET\n")
}

// genFlipSigns writes flipSigns, which the VNNI tiers run once per GEMM:
// VPDPBUSD multiplies unsigned by signed bytes, so activations go in as
// a XOR 0x80 (= a+128 as u8), made here for the whole activation matrix
// rather than once per broadcast inside every tile (where the XOR took a
// vector-pipe slot from VPDPBUSD for each row of each k-step).
func genFlipSigns(b *asm) {
	b.f("DATA signBytes<>+0(SB)/4, $0x80808080")
	b.f("GLOBL signBytes<>(SB), RODATA|NOPTR, $4\n")
	b.f("// func flipSigns(dst, src *int8, blocks int)")
	b.f("TEXT ·flipSigns(SB), NOSPLIT, $0-24")
	b.i("MOVQ dst+0(FP), DI")
	b.i("MOVQ src+8(FP), SI")
	b.i("MOVQ blocks+16(FP), CX")
	b.i("VPBROADCASTD signBytes<>(SB), Y15")
	b.i("TESTQ CX, CX")
	b.i("JLE flipdone")
	b.f("fliploop:")
	b.i("VPXOR (SI), Y15, Y0")
	b.i("VMOVDQU Y0, (DI)")
	b.i("ADDQ $32, SI")
	b.i("ADDQ $32, DI")
	b.i("DECQ CX")
	b.i("JNZ fliploop")
	b.f("flipdone:")
	b.i("VZEROUPPER")
	b.i("RET\n")
}

// AVX-VNNI register tile: up to avxvnniMR rows x one panel of 16 columns,
// two ymm accumulators per row (Y0-Y11), the panel's k-step in Y12-Y13,
// the broadcast activations in Y14.
const avxvnniMR = 6

// genAVXVNNI writes the AVX-VNNI kernels gemmAVXVNNIR{rows}: the VNNI
// scheme (sign-flipped activations broadcast from memory, VPDPBUSD per
// 8 columns, 128*ColSums subtracted at the end) on the 16 ymm registers of
// CPUs with VEX-encoded VPDPBUSD but no AVX-512 (Intel Alder Lake and later
// client cores). Per k-step: 2 weight loads, rows broadcasts, 2*rows
// VPDPBUSD.
func genAVXVNNI(b *asm) {
	for mr := 1; mr <= avxvnniMR; mr++ {
		lbl := fmt.Sprintf("av%d", mr)
		name := fmt.Sprintf("gemmAVXVNNIR%d", mr)
		bases := (mr + 2) / 3
		lo := func(r int) int { return 2 * r }
		hi := func(r int) int { return 2*r + 1 }
		b.f("// func %s(p *kargs)", name)
		b.f("TEXT ·%s(SB), NOSPLIT, $0-8", name)
		b.i("MOVQ p+0(FP), DI")
		b.i("MOVQ %d(DI), SI", offA)
		b.i("MOVQ %d(DI), R8", offLDA)
		b.i("LEAQ (R8)(R8*2), R10")
		for i := 1; i < bases; i++ {
			b.i("LEAQ (%s)(R10*1), %s", vnniRowBases[i-1], vnniRowBases[i])
		}
		b.i("MOVQ %d(DI), DX", offW)
		b.i("MOVQ %d(DI), CX", offKsteps)
		for r := 0; r < 2*mr; r++ {
			b.i("VPXOR Y%d, Y%d, Y%d", r, r, r)
		}
		// Two k-steps per iteration, then one when ksteps is odd; with
		// p.pf != 0 a second copy of the loop prefetches the line p.pf
		// bytes ahead into L2 (see genVNNIKernel).
		step := func(off int, prefetch bool) {
			b.i("VMOVDQU %d(DX), Y12", 64*off)
			b.i("VMOVDQU %d(DX), Y13", 64*off+32)
			if prefetch {
				b.i("PREFETCHT1 %d(DX)(R11*1)", 64*off) // R11 = pf
			}
			for r := 0; r < mr; r++ {
				b.i("VPBROADCASTD %s, Y14", vnniRow(r, 4*off))
				b.i(vexDPBUSD(lo(r), 14, 12))
				b.i(vexDPBUSD(hi(r), 14, 13))
			}
		}
		b.i("MOVQ %d(DI), R11", offPF)
		b.i("SUBQ $2, CX")
		b.i("JLT odd%s", lbl)
		b.i("TESTQ R11, R11")
		b.i("JNZ loopp%s", lbl)
		for _, prefetch := range []bool{false, true} {
			l := "loop" + lbl
			if prefetch {
				l = "loopp" + lbl
			}
			b.f("%s:", l)
			step(0, prefetch)
			step(1, prefetch)
			for i := 0; i < bases; i++ {
				b.i("ADDQ $8, %s", vnniRowBases[i])
			}
			b.i("ADDQ $128, DX")
			b.i("SUBQ $2, CX")
			b.i("JGE %s", l)
			b.i("JMP odd%s", lbl)
		}
		b.f("odd%s:", lbl)
		b.i("CMPQ CX, $-1")
		b.i("JNE sums%s", lbl)
		step(0, false)
		b.f("sums%s:", lbl)
		// Exact sums: subtract 128*ColSums.
		b.i("MOVQ %d(DI), AX", offCS)
		b.i("VMOVDQU (AX), Y12")
		b.i("VMOVDQU 32(AX), Y13")
		b.i("VPSLLD $7, Y12, Y12")
		b.i("VPSLLD $7, Y13, Y13")
		for r := 0; r < mr; r++ {
			b.i("VPSUBD Y12, Y%d, Y%d", lo(r), lo(r))
			b.i("VPSUBD Y13, Y%d, Y%d", hi(r), hi(r))
		}
		b.i("MOVQ %d(DI), R12", offFlags)
		b.i("TESTQ $%d, R12", flagRawBit)
		b.i("JZ epi%s", lbl)
		b.i("MOVQ %d(DI), AX", offRaw)
		for r := 0; r < mr; r++ {
			b.i("VMOVDQU Y%d, %d(AX)", lo(r), 64*r)
			b.i("VMOVDQU Y%d, %d(AX)", hi(r), 64*r+32)
		}
		b.i("VZEROUPPER")
		b.i("RET")
		// Epilogue in the reference's order: float32(float32(acc) *
		// (as[r]*ws[c])) + bias[c], then + dst with the residual flag.
		b.f("epi%s:", lbl)
		b.i("MOVQ %d(DI), AX", offWS)
		b.i("VMOVUPS (AX), Y12")
		b.i("VMOVUPS 32(AX), Y13")
		b.i("MOVQ %d(DI), DX", offBias)
		b.i("MOVQ %d(DI), AX", offDst)
		b.i("MOVQ %d(DI), BX", offAS)
		b.i("MOVQ %d(DI), R11", offLDD)
		for r := 0; r < mr; r++ {
			b.i("VBROADCASTSS %d(BX), Y14", 4*r)
			b.i("VMULPS Y12, Y14, Y15")
			b.i("VMULPS Y13, Y14, Y14")
			b.i("VCVTDQ2PS Y%d, Y%d", lo(r), lo(r))
			b.i("VCVTDQ2PS Y%d, Y%d", hi(r), hi(r))
			b.i("VMULPS Y15, Y%d, Y%d", lo(r), lo(r))
			b.i("VMULPS Y14, Y%d, Y%d", hi(r), hi(r))
			b.i("TESTQ $1, R12")
			b.i("JZ nb%s_%d", lbl, r)
			b.i("VADDPS (DX), Y%d, Y%d", lo(r), lo(r))
			b.i("VADDPS 32(DX), Y%d, Y%d", hi(r), hi(r))
			b.f("nb%s_%d:", lbl, r)
			b.i("TESTQ $2, R12")
			b.i("JZ nr%s_%d", lbl, r)
			b.i("VADDPS (AX), Y%d, Y%d", lo(r), lo(r))
			b.i("VADDPS 32(AX), Y%d, Y%d", hi(r), hi(r))
			b.f("nr%s_%d:", lbl, r)
			b.i("VMOVUPS Y%d, (AX)", lo(r))
			b.i("VMOVUPS Y%d, 32(AX)", hi(r))
			if r < mr-1 {
				b.i("ADDQ R11, AX")
			}
		}
		b.i("VZEROUPPER")
		b.i("RET\n")
	}
}

// goDeclsAVXVNNI declares the AVX-VNNI kernels and their table.
func goDeclsAVXVNNI() []byte {
	var b asm
	for r := 1; r <= avxvnniMR; r++ {
		name := fmt.Sprintf("gemmAVXVNNIR%d", r)
		b.f("// %s is the AVX-VNNI micro-kernel for %d row(s) x 16 columns (one panel).", name, r)
		b.f("// It implements, for r < %d, c < 16:", r)
		b.f("//")
		b.f("//\tacc[r][c] = sum over k < 4*p.ksteps of int32(a[r][k]) * int32(w[(k/4)*64 + c*4 + k%%4])")
		b.f("//\tif p.flags&flagRaw != 0 { raw[r][c] = acc[r][c] } else { epilogueRow(dst[r][0:16], acc[r], as[r], ws, bias, p.flags) }")
		b.f("//")
		b.f("// computed as sum (a+128)*w - 128*ColSums[c] from sign-flipped activations")
		b.f("// (p.a holds a XOR 0x80).")
		b.f("//\n//go:noescape\nfunc %s(p *kargs)\n", name)
	}
	b.f("// avxvnniKernels[r-1] handles r rows.")
	b.f("var avxvnniKernels = [%d]func(*kargs){", avxvnniMR)
	for r := 1; r <= avxvnniMR; r++ {
		b.f("\tgemmAVXVNNIR%d,", r)
	}
	b.f("}")
	return b.Bytes()
}
