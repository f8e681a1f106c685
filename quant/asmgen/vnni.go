package main

import "fmt"

// VNNI register tile: up to vnniMR rows x vnniNP panels of 16 columns, one
// zmm accumulator per (row, panel): rows*panels <= 24 (Z0-Z23), the
// panels' weights in Z24.., the broadcast activations in Z28.
var (
	vnniMR = 12
	vnniNP = 2
)

// vnniRowBases are the advancing base registers of activation rows 3b..3b+2.
var vnniRowBases = []string{"SI", "R9", "R12", "R13"}

// vnniTallMR is the most rows of the one-panel "tall" kernels
// gemmVNNIR{vnniMR+1..vnniTallMR}P1. A batch of 13 to 16 rows otherwise
// takes two tiles of two panels each, and the first streams two panels of
// weights per k-step while the second finds them in L1: a short batch's
// weights come from L3 or memory, and that burst waits on them. One tall
// tile uses each weight for every row as it arrives, half the stream rate.
const vnniTallMR = 16

// vnniTallRow is the address of activation row r of a tall kernel: five
// rows per base (bases 5*lda apart), at 0, lda, 2*lda, 3*lda (R10) and
// 4*lda from it, so 16 rows need no more base registers than 12.
func vnniTallRow(r, off int) string {
	base := vnniRowBases[r/5]
	idx := []string{"", "(R8*1)", "(R8*2)", "(R10*1)", "(R8*4)"}[r%5]
	return fmt.Sprintf("%d(%s)%s", off, base, idx)
}

// vnniRow is the address of activation row r at byte offset off of the
// current k-step: base 3*(r/3) plus (r%3)*lda (R8 = lda).
func vnniRow(r, off int) string {
	base := vnniRowBases[r/3]
	switch r % 3 {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(R8*1)", off, base)
	default:
		return fmt.Sprintf("%d(%s)(R8*2)", off, base)
	}
}

// genVNNI writes the AVX-512 VNNI kernels gemmVNNIR{rows}P{panels}.
//
// VPDPBUSD multiplies unsigned by signed bytes and adds each group of four
// products into an int32 lane, without intermediate saturation: exact.
// The kernels read the activations sign-flipped (a XOR 0x80 = a+128 as u8,
// made once per GEMM by flipSigns), so each lane accumulates
// sum (a+128)*w = acc + 128*colsum and the kernel subtracts 128*ColSums[n]
// (VPSLLD 7, VPSUBD), exact in int32. Each k-step loads one 64-byte row of
// each panel (16 columns x 4 inputs) and, per row, broadcasts the row's 4
// activation bytes from memory (a load, no vector-pipe work) and issues one
// VPDPBUSD per panel: rows*panels VPDPBUSD for panels+rows loads, so with
// two VPDPBUSD pipes the loop is bound by VPDPBUSD alone.
func genVNNI(b *asm) {
	for mr := 1; mr <= vnniMR; mr++ {
		for np := 1; np <= vnniNP; np++ {
			genVNNIKernel(b, mr, np)
		}
	}
	for mr := vnniMR + 1; mr <= vnniTallMR; mr++ {
		genVNNIKernel(b, mr, 1)
	}
}

func genVNNIKernel(b *asm, mr, np int) {
	lbl := fmt.Sprintf("%d_%d", mr, np)
	name := fmt.Sprintf("gemmVNNIR%dP%d", mr, np)
	acc := func(r, p int) string { return fmt.Sprintf("Z%d", np*r+p) }
	tall := mr > vnniMR
	row := vnniRow
	bases := (mr + 2) / 3
	if tall {
		row = vnniTallRow
		bases = (mr + 4) / 5
	}
	b.f("// func %s(p *kargs)", name)
	b.f("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	b.i("MOVQ p+0(FP), DI")
	b.i("MOVQ %d(DI), SI", offA)
	b.i("MOVQ %d(DI), R8", offLDA)
	b.i("LEAQ (R8)(R8*2), R10")
	if tall {
		b.i("LEAQ (R8)(R8*4), AX")
		for i := 1; i < bases; i++ {
			b.i("LEAQ (%s)(AX*1), %s", vnniRowBases[i-1], vnniRowBases[i])
		}
	} else {
		for i := 1; i < bases; i++ {
			b.i("LEAQ (%s)(R10*1), %s", vnniRowBases[i-1], vnniRowBases[i])
		}
	}
	b.i("MOVQ %d(DI), DX", offW)
	b.i("MOVQ %d(DI), R11", offLDW)
	b.i("MOVQ %d(DI), CX", offKsteps)
	for r := 0; r < mr; r++ {
		for p := 0; p < np; p++ {
			b.i("VPXORD %s, %s, %s", acc(r, p), acc(r, p), acc(r, p))
		}
	}
	// Two k-steps per iteration (half the pointer and loop updates, which
	// compete with VPDPBUSD for ports 0 and 5), then one when ksteps is odd.
	// With p.pf != 0 (GEMM sets it where weights would otherwise arrive
	// from memory just when the next tile needs them) a second copy of the
	// loop also prefetches into L2, for each panel, the line p.pf bytes
	// ahead of the one it loads.
	step := func(off int, prefetch bool) {
		wsrc := []string{"(DX)", "(DX)(R11*1)", "(DX)(R11*2)"}
		for p := 0; p < np; p++ {
			b.i("VMOVDQU32 %d%s, Z%d", 64*off, wsrc[p], 24+p)
		}
		if prefetch {
			// Every panel of the target tile: R14 = pf, R10 = pf+ldw.
			b.i("PREFETCHT1 %d(DX)(R14*1)", 64*off)
			if np > 1 {
				b.i("PREFETCHT1 %d(DX)(R10*1)", 64*off)
			}
		}
		for r := 0; r < mr; r++ {
			b.i("VPBROADCASTD %s, Z28", row(r, 4*off))
			for p := 0; p < np; p++ {
				b.i("VPDPBUSD Z%d, Z28, %s", 24+p, acc(r, p))
			}
		}
	}
	b.i("MOVQ %d(DI), R14", offPF)
	if np > 1 {
		b.i("LEAQ (R14)(R11*1), R10") // R10 (3*lda) is free once the row bases are set
	}
	b.i("SUBQ $2, CX")
	b.i("JLT odd%s", lbl)
	b.i("TESTQ R14, R14")
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
	for p := 0; p < np; p++ {
		b.i("VMOVDQU32 %d(AX), Z28", 64*p)
		b.i("VPSLLD $7, Z28, Z28")
		for r := 0; r < mr; r++ {
			b.i("VPSUBD Z28, %s, %s", acc(r, p), acc(r, p))
		}
	}
	b.i("MOVQ %d(DI), R12", offFlags)
	b.i("TESTQ $%d, R12", flagRawBit)
	b.i("JZ epi%s", lbl)
	b.i("MOVQ %d(DI), AX", offRaw)
	for r := 0; r < mr; r++ {
		for p := 0; p < np; p++ {
			b.i("VMOVDQU32 %s, %d(AX)", acc(r, p), (r*np+p)*64)
		}
	}
	b.i("VZEROUPPER")
	b.i("RET")
	// Epilogue, per element float32(float32(acc) * (as[r]*ws[c])) + bias[c],
	// then + dst with the residual flag: the reference's order, no FMA.
	b.f("epi%s:", lbl)
	b.i("MOVQ %d(DI), AX", offWS)
	for p := 0; p < np; p++ {
		b.i("VMOVUPS %d(AX), Z%d", 64*p, 24+p)
	}
	b.i("MOVQ %d(DI), DX", offBias)
	b.i("MOVQ %d(DI), AX", offDst)
	b.i("MOVQ %d(DI), BX", offAS)
	b.i("MOVQ %d(DI), R11", offLDD)
	for r := 0; r < mr; r++ {
		b.i("VBROADCASTSS %d(BX), Z28", 4*r)
		for p := 0; p < np; p++ {
			a := acc(r, p)
			b.i("VMULPS Z%d, Z28, Z29", 24+p)
			b.i("VCVTDQ2PS %s, %s", a, a)
			b.i("VMULPS Z29, %s, %s", a, a)
		}
		b.i("TESTQ $1, R12")
		b.i("JZ nb%s_%d", lbl, r)
		for p := 0; p < np; p++ {
			b.i("VADDPS %d(DX), %s, %s", 64*p, acc(r, p), acc(r, p))
		}
		b.f("nb%s_%d:", lbl, r)
		b.i("TESTQ $2, R12")
		b.i("JZ nr%s_%d", lbl, r)
		for p := 0; p < np; p++ {
			b.i("VADDPS %d(AX), %s, %s", 64*p, acc(r, p), acc(r, p))
		}
		b.f("nr%s_%d:", lbl, r)
		for p := 0; p < np; p++ {
			b.i("VMOVUPS %s, %d(AX)", acc(r, p), 64*p)
		}
		if r < mr-1 {
			b.i("ADDQ R11, AX")
		}
	}
	b.i("VZEROUPPER")
	b.i("RET\n")
}

// goDeclsVNNI declares the VNNI kernels and their table.
func goDeclsVNNI() []byte {
	var b asm
	b.f("")
	for r := 1; r <= vnniMR; r++ {
		for p := 1; p <= vnniNP; p++ {
			name := fmt.Sprintf("gemmVNNIR%dP%d", r, p)
			b.f("// %s is the AVX-512 VNNI micro-kernel for %d row(s) x %d panel(s) (%d columns).", name, r, p, 16*p)
			b.f("// It implements, for r < %d, c < %d:", r, 16*p)
			b.f("//")
			b.f("//\tacc[r][c] = sum over k < 4*p.ksteps of int32(a[r][k]) * int32(w[c/16][(k/4)*64 + (c%%16)*4 + k%%4])")
			b.f("//\tif p.flags&flagRaw != 0 { raw[r][c] = acc[r][c] } else { epilogueRow(dst[r][0:%d], acc[r], as[r], ws, bias, p.flags) }", 16*p)
			b.f("//")
			b.f("// computed as sum (a+128)*w - 128*ColSums[c] from sign-flipped activations")
			b.f("// (p.a holds a XOR 0x80); w[q] is panel q at p.w + q*p.ldw.")
			b.f("//\n//go:noescape\nfunc %s(p *kargs)\n", name)
		}
	}
	for r := vnniMR + 1; r <= vnniTallMR; r++ {
		name := fmt.Sprintf("gemmVNNIR%dP1", r)
		b.f("// %s is the tall AVX-512 VNNI micro-kernel for %d rows x 1 panel: gemmVNNIR1P1's", name, r)
		b.f("// contract for %d rows.", r)
		b.f("//\n//go:noescape\nfunc %s(p *kargs)\n", name)
	}
	b.f("// peakVNNI runs iters iterations of 24 independent zmm VPDPBUSD (3072 int8")
	b.f("// operations each: 24 x 64 multiply-adds), no loads: the AVX-512 VNNI int8")
	b.f("// peak of this core, which BenchmarkPeakVNNI reports.")
	b.f("//\n//go:noescape\nfunc peakVNNI(iters int)\n")
	b.f("// peakAVXVNNI is peakVNNI for the VEX-encoded ymm form: 12 independent")
	b.f("// chains, 768 int8 operations per iteration (BenchmarkPeakAVXVNNI).")
	b.f("//\n//go:noescape\nfunc peakAVXVNNI(iters int)\n")
	b.f("// flipSigns stores src[i] XOR 0x80 (a+128 as an unsigned byte) to dst[i]")
	b.f("// for i < 32*blocks: the activations as the VNNI kernels read them.")
	b.f("//\n//go:noescape\nfunc flipSigns(dst, src *int8, blocks int)\n")
	b.f("const (\n\tvnniMR = %d // rows per VNNI kernel call, at most\n\tvnniNP = %d // panels per VNNI kernel call, at most\n\tvnniTallMR = %d // rows per one-panel VNNI kernel call, at most\n)\n", vnniMR, vnniNP, vnniTallMR)
	b.f("// vnniTallKernels[r-vnniMR-1] handles r rows of one panel, vnniMR < r <= vnniTallMR.")
	b.f("var vnniTallKernels = [vnniTallMR - vnniMR]func(*kargs){")
	for r := vnniMR + 1; r <= vnniTallMR; r++ {
		b.f("\tgemmVNNIR%dP1,", r)
	}
	b.f("}\n")
	b.f("// vnniKernels[r-1][p-1] handles r rows and p panels.")
	b.f("var vnniKernels = [vnniMR][vnniNP]func(*kargs){")
	for r := 1; r <= vnniMR; r++ {
		b.f("\t{")
		for p := 1; p <= vnniNP; p++ {
			b.f("\t\tgemmVNNIR%dP%d,", r, p)
		}
		b.f("\t},")
	}
	b.f("}")
	return b.Bytes()
}
