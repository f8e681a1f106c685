package main

import "fmt"

// neonMR is the row count of the plain-NEON kernels (arm64 without SDOT).
const neonMR = 2

// Integer NEON encodings Go's assembler lacks.
func smull8b(d, n, m int) uint32  { return 0x0e20c000 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // SMULL Vd.8H, Vn.8B, Vm.8B
func smull16b(d, n, m int) uint32 { return 0x4e20c000 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // SMULL2 Vd.8H, Vn.16B, Vm.16B
func sadalp8h(d, n int) uint32    { return 0x4e606800 | uint32(n)<<5 | uint32(d) }                 // SADALP Vd.4S, Vn.8H
func addp4s(d, n, m int) uint32   { return 0x4ea0bc00 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // ADDP Vd.4S, Vn.4S, Vm.4S

// genNEON writes gemmNEONR1..R2 for ARMv8.0 cores (Cortex-A53/A72: the
// Raspberry Pi 3/4 class) that lack SDOT. Per k-step, V16-V19 hold one
// 64-byte panel row (4 columns x 4 inputs each) and V20+r row r's 4
// activations in every 32-bit lane. SMULL/SMULL2 form the int16 products
// (exact: |a*w| <= 16384) of 2 columns each, and SADALP adds adjacent pairs
// into int32 lanes of V(8r+2j+h): per column, inputs 0+1 and 2+3. After the
// loop ADDP folds those pairs, leaving the exact sums of columns 4j..4j+3
// in V(4r+j) for the shared epilogue.
func genNEON(b *asm) {
	rowReg := []string{"R1", "R6"}
	for mr := 1; mr <= neonMR; mr++ {
		name := fmt.Sprintf("gemmNEONR%d", mr)
		lbl := fmt.Sprintf("n%d", mr)
		b.f("// func %s(p *kargs)", name)
		b.f("TEXT ·%s(SB), NOSPLIT, $0-8", name)
		b.i("MOVD p+0(FP), R0")
		b.i("MOVD %d(R0), R1", offA)
		b.i("MOVD %d(R0), R2", offLDA)
		b.i("MOVD %d(R0), R3", offW)
		b.i("MOVD %d(R0), R4", offKsteps)
		b.i("MOVD %d(R0), R5", offRaw)
		if mr > 1 {
			b.i("ADD R2, R1, R6")
		}
		for v := 0; v < 8*mr; v++ {
			b.i("VEOR V%d.B16, V%d.B16, V%d.B16", v, v, v)
		}
		b.f("loop%s:", lbl)
		b.i("VLD1.P 64(R3), [V16.B16, V17.B16, V18.B16, V19.B16]")
		for r := 0; r < mr; r++ {
			b.i("VLD1R.P 4(%s), [V%d.S4]", rowReg[r], 20+r)
		}
		for r := 0; r < mr; r++ {
			for j := 0; j < 4; j++ {
				w, a := 16+j, 20+r
				lo, hi := 24+2*(j%2), 25+2*(j%2)
				b.i("WORD $0x%08x // SMULL V%d.8H, V%d.8B, V%d.8B", smull8b(lo, w, a), lo, w, a)
				b.i("WORD $0x%08x // SMULL2 V%d.8H, V%d.16B, V%d.16B", smull16b(hi, w, a), hi, w, a)
				b.i("WORD $0x%08x // SADALP V%d.4S, V%d.8H", sadalp8h(8*r+2*j, lo), 8*r+2*j, lo)
				b.i("WORD $0x%08x // SADALP V%d.4S, V%d.8H", sadalp8h(8*r+2*j+1, hi), 8*r+2*j+1, hi)
			}
		}
		b.i("SUBS $1, R4, R4")
		b.i("BNE loop%s", lbl)
		for r := 0; r < mr; r++ {
			for j := 0; j < 4; j++ {
				d, n, m := 4*r+j, 8*r+2*j, 8*r+2*j+1
				b.i("WORD $0x%08x // ADDP V%d.4S, V%d.4S, V%d.4S", addp4s(d, n, m), d, n, m)
			}
		}
		armEpilogue(b, mr, lbl)
	}
}

// goDeclsNEON declares the plain-NEON kernels and their table.
func goDeclsNEON() []byte {
	var b asm
	b.f("")
	for r := 1; r <= neonMR; r++ {
		name := fmt.Sprintf("gemmNEONR%d", r)
		b.f("// %s is the NEON (no dot product) micro-kernel for %d row(s) x 16 columns.", name, r)
		b.f("// It implements, for r < %d, c < 16, with ks = p.ksteps:", r)
		b.f("//")
		b.f("//\tacc[r][c] = sum over k < 4*ks of int32(a[r][k]) * int32(w[(k/4)*64 + c*4 + k%%4])")
		b.f("//\tif p.flags&flagRaw != 0 { raw[r][c] = acc[r][c] } else { epilogueRow(dst[r][0:16], acc[r], as[r], ws, bias, p.flags) }")
		b.f("//\n//go:noescape\nfunc %s(p *kargs)\n", name)
	}
	b.f("// neonKernels[r-1] handles r rows.")
	b.f("var neonKernels = [%d]func(*kargs){gemmNEONR1, gemmNEONR2}", neonMR)
	return b.Bytes()
}
