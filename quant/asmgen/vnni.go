package main

import "fmt"

// VNNI register tile: up to 8 rows x 3 panels (48 columns).
const (
	vnniMR = 8
	vnniNP = 3
)

// vnniRow is the address of activation row r at the current k-step, from
// two advancing bases (SI = row 0, R9 = row 3) and R8 = lda, R10 = 3*lda.
var vnniRow = [vnniMR]string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(R9)", "(SI)(R8*4)", "(R9)(R8*2)", "(SI)(R10*2)", "(R9)(R8*4)"}

// genVNNI writes the AVX-512 VNNI kernels gemmVNNIR{rows}P{panels}.
//
// VPDPBUSD multiplies unsigned by signed bytes and adds each group of four
// products into an int32 lane, without intermediate saturation: exact.
// Activations are made unsigned by flipping their sign bit (a XOR 0x80 =
// a+128 as u8), so each lane accumulates sum (a+128)*w = acc + 128*colsum;
// the epilogue subtracts 128*ColSums[n] (VPSLLD 7, VPSUBD), exact in int32.
// Each k-step loads one 64-byte row of up to three panels (16 columns x 4
// inputs each, Z24-Z26), broadcasts each row's 4 activations (Z27), and
// issues rows*panels VPDPBUSD into Z(3r+p).
func genVNNI(b *asm) {
	b.f("DATA signBytes<>+0(SB)/4, $0x80808080")
	b.f("GLOBL signBytes<>(SB), RODATA|NOPTR, $4\n")
	for mr := 1; mr <= vnniMR; mr++ {
		for np := 1; np <= vnniNP; np++ {
			lbl := fmt.Sprintf("%d_%d", mr, np)
			name := fmt.Sprintf("gemmVNNIR%dP%d", mr, np)
			acc := func(r, p int) string { return fmt.Sprintf("Z%d", 3*r+p) }
			b.f("// func %s(p *kargs)", name)
			b.f("TEXT ·%s(SB), NOSPLIT, $0-8", name)
			b.i("MOVQ p+0(FP), DI")
			b.i("MOVQ %d(DI), SI", offA)
			b.i("MOVQ %d(DI), R8", offLDA)
			b.i("LEAQ (R8)(R8*2), R10")
			b.i("LEAQ (SI)(R10*1), R9")
			b.i("MOVQ %d(DI), DX", offW)
			b.i("MOVQ %d(DI), R11", offLDW)
			b.i("MOVQ %d(DI), CX", offKsteps)
			b.i("VPBROADCASTD signBytes<>(SB), Z28")
			for r := 0; r < mr; r++ {
				for p := 0; p < np; p++ {
					b.i("VPXORD %s, %s, %s", acc(r, p), acc(r, p), acc(r, p))
				}
			}
			b.f("loop%s:", lbl)
			wsrc := []string{"(DX)", "(DX)(R11*1)", "(DX)(R11*2)"}
			for p := 0; p < np; p++ {
				b.i("VMOVDQU32 %s, Z%d", wsrc[p], 24+p)
			}
			for r := 0; r < mr; r++ {
				b.i("VPBROADCASTD %s, Z27", vnniRow[r])
				b.i("VPXORD Z28, Z27, Z27")
				for p := 0; p < np; p++ {
					b.i("VPDPBUSD Z%d, Z27, %s", 24+p, acc(r, p))
				}
			}
			b.i("ADDQ $4, SI")
			b.i("ADDQ $4, R9")
			b.i("ADDQ $64, DX")
			b.i("DECQ CX")
			b.i("JNZ loop%s", lbl)
			// Exact sums: subtract 128*ColSums.
			b.i("MOVQ %d(DI), AX", offCS)
			for p := 0; p < np; p++ {
				b.i("VMOVDQU32 %d(AX), Z27", 64*p)
				b.i("VPSLLD $7, Z27, Z27")
				for r := 0; r < mr; r++ {
					b.i("VPSUBD Z27, %s, %s", acc(r, p), acc(r, p))
				}
			}
			b.i("TESTQ $%d, %d(DI)", 4, offFlags)
			b.i("JZ epi%s", lbl)
			b.i("MOVQ %d(DI), AX", offRaw)
			for r := 0; r < mr; r++ {
				for p := 0; p < np; p++ {
					b.i("VMOVDQU32 %s, %d(AX)", acc(r, p), (r*np+p)*64)
				}
			}
			b.i("VZEROUPPER")
			b.i("RET")
			b.f("epi%s:", lbl)
			b.i("MOVQ %d(DI), AX", offWS)
			for p := 0; p < np; p++ {
				b.i("VMOVUPS %d(AX), Z%d", 64*p, 24+p)
			}
			b.i("TESTQ $%d, %d(DI)", 1, offFlags)
			b.i("JZ nobias%s", lbl)
			b.i("MOVQ %d(DI), AX", offBias)
			for p := 0; p < np; p++ {
				b.i("VMOVUPS %d(AX), Z%d", 64*p, 28+p)
			}
			b.f("nobias%s:", lbl)
			b.i("MOVQ %d(DI), AX", offDst)
			b.i("MOVQ %d(DI), BX", offAS)
			for r := 0; r < mr; r++ {
				b.i("VBROADCASTSS %d(BX), Z31", 4*r)
				for p := 0; p < np; p++ {
					a := acc(r, p)
					b.i("VMULPS Z%d, Z31, Z27", 24+p)
					b.i("VCVTDQ2PS %s, %s", a, a)
					b.i("VMULPS Z27, %s, %s", a, a)
				}
				b.i("TESTQ $%d, %d(DI)", 1, offFlags)
				b.i("JZ nb%s_%d", lbl, r)
				for p := 0; p < np; p++ {
					b.i("VADDPS Z%d, %s, %s", 28+p, acc(r, p), acc(r, p))
				}
				b.f("nb%s_%d:", lbl, r)
				b.i("TESTQ $%d, %d(DI)", 2, offFlags)
				b.i("JZ nr%s_%d", lbl, r)
				for p := 0; p < np; p++ {
					b.i("VADDPS %d(AX), %s, %s", 64*p, acc(r, p), acc(r, p))
				}
				b.f("nr%s_%d:", lbl, r)
				for p := 0; p < np; p++ {
					b.i("VMOVUPS %s, %d(AX)", acc(r, p), 64*p)
				}
				if r < mr-1 {
					b.i("ADDQ %d(DI), AX", offLDD)
				}
			}
			b.i("VZEROUPPER")
			b.i("RET\n")
		}
	}
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
			b.f("// computed as sum (a+128)*w - 128*ColSums[c]; w[q] is panel q at p.w + q*p.ldw.")
			b.f("//\n//go:noescape\nfunc %s(p *kargs)\n", name)
		}
	}
	b.f("// vnniKernels[r-1][p-1] handles r rows and p panels.")
	b.f("var vnniKernels = [%d][%d]func(*kargs){", vnniMR, vnniNP)
	for r := 1; r <= vnniMR; r++ {
		b.f("\t{gemmVNNIR%dP1, gemmVNNIR%dP2, gemmVNNIR%dP3},", r, r, r)
	}
	b.f("}")
	return b.Bytes()
}
