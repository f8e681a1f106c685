package main

import "fmt"

// i8mmMR is the row count of the largest I8MM kernel: 4 row pairs.
const i8mmMR = 8

// smmla encodes SMMLA Vd.4S, Vn.16B, Vm.16B (FEAT_I8MM, Armv8.6; optional
// from Armv8.2), which Go's arm64 assembler has no mnemonic for:
// 0x4e80a400 | m<<16 | n<<5 | d (the same value LLVM's assembler gives,
// pinned by TestEncodings). It treats Vn as a 2x8 int8 matrix (bytes 0-7
// row 0, 8-15 row 1) and Vm likewise, and adds Vn x Vm^T, a 2x2 int32
// block, to Vd:
//
//	Vd.S[2i+j] += sum over k < 8 of int32(Vn.B[8i+k]) * int32(Vm.B[8j+k])
func smmla(d, n, m int) uint32 { return 0x4e80a400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) }

// genI8MM writes gemmI8MMR1..R8, the I8MM (SMMLA) kernels: up to 8 rows x
// 16 columns per call, computed as two halves of 8 columns, each a full
// pass over K with 16 accumulators V(4p+q): row pair p (rows 2p, 2p+1)
// times column pair q (columns 2q, 2q+1 of the half).
//
// Per two k-steps (8 inputs), the packed layout holds each column's 4+4
// inputs 64 bytes apart: [k-step j: c0 k0-3, c1 k0-3, ...], [k-step j+1:
// c0 k4-7, ...]. ZIP1/ZIP2 on 32-bit lanes of the same 16-byte chunk
// (4 columns) of both k-steps give [c0 k0-3, c0 k4-7, c1 k0-3, c1 k4-7]:
// a column pair in SMMLA's Vm layout. An activation row pair is 8 bytes of
// row 2p and 8 of row 2p+1 (LDR D, then LD1 into lane D[1]). An odd last
// k-step zips a chunk with itself and loads only 4 bytes of each row (LDR
// S, LD1 into lane S[2]), so the duplicated weights meet zero activations;
// an odd row count leaves the pair's second half zero. Nothing is read
// beyond the last k-step of a row or a panel.
//
// After the K loop each 2x2 block holds [r c, r c+1, r+1 c, r+1 c+1]:
// ZIP1/ZIP2 on 64-bit lanes of blocks q and q+1 give 4 consecutive columns
// of row r and of row r+1, which the shared arm64 epilogue
// (armEpilogueRows) finishes exactly like the SDOT kernels, or stores raw.
//
// Theory (no arm64 hardware was available to measure it): per 8 inputs
// and 8 columns a call issues 4 ZIPs, which feed 16 SMMLAs (4 row pairs x
// 4 column pairs: 4 SMMLAs per ZIP, 512 multiply-adds), plus 4 lane
// inserts for the activation pairs: 24 vector instructions, 21.3
// multiply-adds each. The SDOT kernel (4x16) issues 16 SDOTs per 256
// multiply-adds, 16 each, so where SMMLA issues at SDOT's rate (it does
// twice the work per instruction) this tile bounds at about 1.33x the
// SDOT kernel. The halves are why: 8 rows x 16 columns at once would need
// 32 accumulators, and a 4x16 tile feeds only 2 SMMLAs per ZIP (26
// instructions per 512). The price is that the activations are read twice
// (from L1: 8 rows x Kp bytes).
//
// Registers: V0-V15 accumulators, V16-V19 the weight chunks of two
// k-steps, V20-V23 the zipped column pairs, V24+p row pair p. R1, R6-R8,
// R19-R22 row pointers, R3 weights, R4 k-steps left, R15 the constant 64.
func genI8MM() []byte {
	var b asm
	b.f("%s//go:build arm64 && !purego\n\n#include \"textflag.h\"\n", header)
	for mr := 1; mr <= i8mmMR; mr++ {
		genI8MMKernel(&b, mr)
	}
	return b.Bytes()
}

func genI8MMKernel(b *asm, mr int) {
	rowReg := []string{"R1", "R6", "R7", "R8", "R19", "R20", "R21", "R22"}
	pairs := (mr + 1) / 2
	name := fmt.Sprintf("gemmI8MMR%d", mr)
	b.f("// func %s(p *kargs)", name)
	b.f("TEXT ·%s(SB), NOSPLIT, $0-8", name)
	b.i("MOVD p+0(FP), R0")
	b.i("MOVD $64, R15")
	smmlaBlock := func() {
		for p := 0; p < pairs; p++ {
			for q := 0; q < 4; q++ {
				d, n, m := 4*p+q, 24+p, 20+q
				b.i("WORD $0x%08x // SMMLA V%d.4S, V%d.16B, V%d.16B", smmla(d, n, m), d, n, m)
			}
		}
	}
	for h := 0; h < 2; h++ {
		lbl := fmt.Sprintf("i%dh%d", mr, h)
		if h > 0 {
			b.f("%s:", lbl)
		}
		b.i("MOVD %d(R0), R1", offA)
		b.i("MOVD %d(R0), R2", offLDA)
		b.i("MOVD %d(R0), R3", offW)
		b.i("MOVD %d(R0), R4", offKsteps)
		b.i("MOVD %d(R0), R5", offRaw)
		if h > 0 {
			b.i("ADD $32, R3, R3")
			b.i("ADD $32, R5, R5")
		}
		for r := 1; r < mr; r++ {
			b.i("ADD R2, %s, %s", rowReg[r-1], rowReg[r])
		}
		for v := 0; v < 4*pairs; v++ {
			b.i("VEOR V%d.B16, V%d.B16, V%d.B16", v, v, v)
		}
		// Two k-steps per iteration, then one more when ksteps is odd.
		b.i("SUBS $2, R4, R4")
		b.i("BLT tail%s", lbl)
		b.f("loop%s:", lbl)
		b.i("VLD1.P (R3)(R15), [V16.B16, V17.B16]") // k-step j, this half's 8 columns
		b.i("VLD1.P (R3)(R15), [V18.B16, V19.B16]") // k-step j+1
		b.i("VZIP1 V18.S4, V16.S4, V20.S4")
		b.i("VZIP2 V18.S4, V16.S4, V21.S4")
		b.i("VZIP1 V19.S4, V17.S4, V22.S4")
		b.i("VZIP2 V19.S4, V17.S4, V23.S4")
		for p := 0; p < pairs; p++ {
			b.i("FMOVD.P 8(%s), F%d", rowReg[2*p], 24+p)
			if 2*p+1 < mr {
				b.i("VLD1.P 8(%s), V%d.D[1]", rowReg[2*p+1], 24+p)
			}
		}
		smmlaBlock()
		b.i("SUBS $2, R4, R4")
		b.i("BGE loop%s", lbl)
		b.f("tail%s:", lbl)
		b.i("TBZ $0, R4, done%s", lbl) // R4 is -1 after an odd count, -2 after an even one
		b.i("VLD1 (R3), [V16.B16, V17.B16]")
		b.i("VZIP1 V16.S4, V16.S4, V20.S4")
		b.i("VZIP2 V16.S4, V16.S4, V21.S4")
		b.i("VZIP1 V17.S4, V17.S4, V22.S4")
		b.i("VZIP2 V17.S4, V17.S4, V23.S4")
		for p := 0; p < pairs; p++ {
			b.i("FMOVS (%s), F%d", rowReg[2*p], 24+p)
			if 2*p+1 < mr {
				b.i("VLD1 (%s), V%d.S[2]", rowReg[2*p+1], 24+p)
			}
		}
		smmlaBlock()
		b.f("done%s:", lbl)
		// Rows 2p and 2p+1 land in V24-V25 and V26-V27 (columns 0-3, 4-7
		// of the half), transposed from blocks V(4p)..V(4p+3) on use.
		e := armEpi{lbl: lbl, col: 32 * h, ws: 16, bias: 18, as: 20, asws: 21, res: 22}
		for r := 0; r < mr; r++ {
			e.rows = append(e.rows, []int{24 + 2*(r%2), 25 + 2*(r%2)})
		}
		e.prep = func(r int) {
			if r%2 != 0 {
				return
			}
			a := 4 * (r / 2)
			b.i("VZIP1 V%d.D2, V%d.D2, V24.D2", a+1, a)
			b.i("VZIP1 V%d.D2, V%d.D2, V25.D2", a+3, a+2)
			if r+1 < mr {
				b.i("VZIP2 V%d.D2, V%d.D2, V26.D2", a+1, a)
				b.i("VZIP2 V%d.D2, V%d.D2, V27.D2", a+3, a+2)
			}
		}
		if h == 0 {
			e.next = fmt.Sprintf("i%dh1", mr)
		}
		armEpilogueRows(b, e)
	}
}

// goDeclsI8MM declares the I8MM kernels and their table.
func goDeclsI8MM() []byte {
	var b asm
	b.f("%s//go:build arm64 && !purego\n\npackage quant\n", header)
	for r := 1; r <= i8mmMR; r++ {
		name := fmt.Sprintf("gemmI8MMR%d", r)
		b.f("// %s is the I8MM (SMMLA) micro-kernel for %d row(s) x 16 columns (one panel).", name, r)
		b.f("// It implements, for r < %d, c < 16, with ks = p.ksteps:", r)
		b.f("//")
		b.f("//\tacc[r][c] = sum over k < 4*ks of int32(a[r][k]) * int32(w[(k/4)*64 + c*4 + k%%4])")
		b.f("//\tif p.flags&flagRaw != 0 { raw[r][c] = acc[r][c] } else { epilogueRow(dst[r][0:16], acc[r], as[r], ws, bias, p.flags) }")
		b.f("//")
		b.f("// with a[r] = p.a + r*p.lda and w = p.w; the sums are exact in int32.")
		b.f("//\n//go:noescape\nfunc %s(p *kargs)\n", name)
	}
	b.f("// i8mmKernels[r-1] handles r rows.")
	b.f("var i8mmKernels = [%d]func(*kargs){", i8mmMR)
	for r := 1; r <= i8mmMR; r++ {
		b.f("\tgemmI8MMR%d,", r)
	}
	b.f("}")
	return b.Bytes()
}
