package main

import "fmt"

// The attention block kernels: a small fp32 matrix product with a fixed,
// sequential reduction order,
//
//	s = 0; for t < k { s = fma(a[r][t], b[t][c], s) }; dst[r][c] = s * scale
//
// for up to attnMRAVX2 or attnMRNEON rows r and 16*cblocks columns c (a,
// b, dst row-major with byte strides lda, ldb, ldd). quant.Attention runs
// it twice per block of query rows: scores = Q K^T * scale with b = K
// transposed (so the sum over the head dimension vectorises across keys,
// with no horizontal reduction), then context = P V with scale 1 (x*1 is
// exact). Each column lane accumulates its own sum from +0, each step one
// fused multiply-add (VFMADD231PS, FMLA: a single rounding, which quant's
// reference mulBlockGo reproduces with fma32), so every tier gives the
// same bits at twice the rate of a separate multiply and add.

// The most query rows per kernel call: AVX2 keeps 6 x 16 sums in 12 ymm
// registers; NEON keeps 4 x 16 in 16 q registers (quant splits a block of
// 6 rows into 4 + 2 on arm64: rows are independent, so the bits are the
// same).
const (
	attnMRAVX2 = 6
	attnMRNEON = 4
)

const (
	attnSig   = "dst *float32, ldd uintptr, a *float32, lda uintptr, b *float32, ldb uintptr, k, cblocks int, scale float32"
	attnFrame = "$0-68"
)

func attnDoc(rows int) []string {
	return []string{
		fmt.Sprintf("for r := range %d { for c := range 16*cblocks { var s float32", rows),
		"    for t := range k { s = fma32(a[r*lda/4+t], b[t*ldb/4+c], s) }",
		"    dst[r*ldd/4+c] = s * scale } }",
	}
}

// attnAVX2Funcs are mulBlockR1AVX2..mulBlockR6AVX2. Registers: Y(2r) and
// Y(2r+1) accumulate columns 0-7 and 8-15 of row r; Y12-Y13 hold row t of
// b, Y14 the broadcast a[r][t] (then scale). Row r of a is
// at AX + r*lda for r < 3 and R13 + (r-3)*lda after (R9 = lda); rows of
// dst likewise from DI and, at the store, AX (R8 = ldd).
func attnAVX2Funcs() []f32Func {
	var fs []f32Func
	for rows := 1; rows <= attnMRAVX2; rows++ {
		var body string
		add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
		add("MOVQ dst+0(FP), DI")
		add("MOVQ ldd+8(FP), R8")
		add("MOVQ a+16(FP), SI")
		add("MOVQ lda+24(FP), R9")
		add("MOVQ b+32(FP), DX")
		add("MOVQ ldb+40(FP), R10")
		add("MOVQ k+48(FP), R11")
		add("MOVQ cblocks+56(FP), R12")
		add("TESTQ R12, R12")
		add("JZ done")
		aRow := []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)", "(R13)", "(R13)(R9*1)", "(R13)(R9*2)"}
		body += "block:\n"
		for i := 0; i < 2*rows; i++ {
			add("VXORPS Y%d, Y%d, Y%d", i, i, i)
		}
		add("MOVQ SI, AX")
		if rows > 3 {
			add("LEAQ (SI)(R9*2), R13")
			add("ADDQ R9, R13")
		}
		add("MOVQ DX, BX")
		add("MOVQ R11, CX")
		// One step of t: row t of b times the broadcast a[r][t], added to
		// row r's sums. Two steps per iteration, then one when k is odd.
		step := func(off int) {
			add("VMOVUPS (BX), Y12")
			add("VMOVUPS 32(BX), Y13")
			for r := 0; r < rows; r++ {
				if off > 0 {
					add("VBROADCASTSS %d%s, Y14", off, aRow[r])
				} else {
					add("VBROADCASTSS %s, Y14", aRow[r])
				}
				add("VFMADD231PS Y12, Y14, Y%d", 2*r)
				add("VFMADD231PS Y13, Y14, Y%d", 2*r+1)
			}
			add("ADDQ R10, BX")
		}
		add("SUBQ $2, CX")
		add("JLT odd")
		body += "pair:\n"
		step(0)
		step(4)
		add("ADDQ $8, AX")
		if rows > 3 {
			add("ADDQ $8, R13")
		}
		add("SUBQ $2, CX")
		add("JGE pair")
		body += "odd:\n"
		add("CMPQ CX, $-1")
		add("JNE store")
		step(0)
		body += "store:\n"
		add("VBROADCASTSS scale+64(FP), Y14")
		dRow := []string{"(DI)", "(DI)(R8*1)", "(DI)(R8*2)", "(AX)", "(AX)(R8*1)", "(AX)(R8*2)"}
		for r := 0; r < rows; r++ {
			if r == 3 {
				add("LEAQ (DI)(R8*2), AX")
				add("ADDQ R8, AX")
			}
			add("VMULPS Y14, Y%d, Y%d", 2*r, 2*r)
			add("VMULPS Y14, Y%d, Y%d", 2*r+1, 2*r+1)
			add("VMOVUPS Y%d, %s", 2*r, dRow[r])
			add("VMOVUPS Y%d, 32%s", 2*r+1, dRow[r])
		}
		add("ADDQ $64, DX")
		add("ADDQ $64, DI")
		add("DECQ R12")
		add("JNZ block")
		body += "done:\n"
		add("VZEROUPPER")
		add("RET")
		fs = append(fs, f32Func{
			name: fmt.Sprintf("mulBlockR%dAVX2", rows), sig: attnSig, frame: attnFrame,
			doc: attnDoc(rows), body: body,
		})
	}
	return append(fs, maxAVX2, transposeAVX2)
}

// maxAVX2 is Softmax's maximum: four independent VMAXPS chains over 32
// values per iteration, then 8 at a time, then a fold of the lanes. The
// maximum is exact in any order; which NaN or which signed zero comes out
// is not, but Softmax's output does not depend on it (see quant.maxF32).
var maxAVX2 = f32Func{
	name: "maxAVX2", sig: "x *float32, blocks int) (ret float32", frame: "$0-20",
	doc: []string{"m := x[0]; for i := range 8*blocks { if x[i] > m { m = x[i] } }; return m   // up to NaN and the sign of zero"},
	body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	ADDQ $32, SI
	DECQ CX
loop4:
	CMPQ CX, $4
	JLT loop1
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	VMAXPS 64(SI), Y2, Y2
	VMAXPS 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $4, CX
	JMP loop4
loop1:
	TESTQ CX, CX
	JZ fold
	VMAXPS (SI), Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JMP loop1
fold:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET
`,
}

// attnNEONFuncs are mulBlockR1NEON..mulBlockR4NEON. Registers: V(4r+g)
// accumulates columns 4g..4g+3 of row r; V16-V19 hold row t of b, V20+r
// the broadcast a[r][t], V28 scale. R6+r walks row r of a; FMLA (fused,
// one rounding) and FMUL are WORD-encoded.
func attnNEONFuncs() []neonFunc {
	var fs []neonFunc
	for rows := 1; rows <= attnMRNEON; rows++ {
		var body string
		add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
		w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
		add("MOVD dst+0(FP), R0")
		add("MOVD ldd+8(FP), R1")
		add("MOVD a+16(FP), R2")
		add("MOVD lda+24(FP), R3")
		add("MOVD b+32(FP), R4")
		add("MOVD ldb+40(FP), R5")
		add("MOVD k+48(FP), R11")
		add("MOVD cblocks+56(FP), R12")
		add("MOVD $scale+64(FP), R13")
		add("VLD1R (R13), [V28.S4]")
		add("CBZ R12, done")
		body += "block:\n"
		for v := 0; v < 4*rows; v++ {
			add("VEOR V%d.B16, V%d.B16, V%d.B16", v, v, v)
		}
		add("MOVD R2, R6")
		for r := 1; r < rows; r++ {
			add("ADD R3, R%d, R%d", 5+r, 6+r)
		}
		add("MOVD R4, R14")
		add("MOVD R11, R15")
		add("CBZ R15, store")
		body += "loop:\n"
		add("VLD1 (R14), [V16.S4, V17.S4, V18.S4, V19.S4]")
		for r := 0; r < rows; r++ {
			add("VLD1R.P 4(R%d), [V%d.S4]", 6+r, 20+r)
		}
		for r := 0; r < rows; r++ {
			for g := 0; g < 4; g++ {
				a := 4*r + g
				w(fmla4s(a, 16+g, 20+r), "FMLA V%d.4S, V%d.4S, V%d.4S", a, 16+g, 20+r)
			}
		}
		add("ADD R5, R14, R14")
		add("SUBS $1, R15, R15")
		add("BNE loop")
		body += "store:\n"
		add("MOVD R0, R6")
		for r := 0; r < rows; r++ {
			for g := 0; g < 4; g++ {
				a := 4*r + g
				w(fmul4s(a, a, 28), "FMUL V%d.4S, V%d.4S, V28.4S", a, a)
			}
			add("VST1 [V%d.S4, V%d.S4, V%d.S4, V%d.S4], (R6)", 4*r, 4*r+1, 4*r+2, 4*r+3)
			if r < rows-1 {
				add("ADD R1, R6, R6")
			}
		}
		add("ADD $64, R0, R0")
		add("ADD $64, R4, R4")
		add("SUBS $1, R12, R12")
		add("BNE block")
		body += "done:\n"
		add("RET")
		fs = append(fs, neonFunc{
			name: fmt.Sprintf("mulBlockR%dNEON", rows), sig: attnSig, frame: attnFrame,
			doc: attnDoc(rows), body: body,
		})
	}
	return fs
}

// transposeAVX2 writes K^T for Attention: 8x8 blocks loaded as 8 rows,
// transposed in registers (VUNPCKLPS/VUNPCKHPS pairs rows, VSHUFPS makes
// 4-row columns per 128-bit lane, VPERM2F128 joins the lanes) and stored
// as 8 rows. Pure data movement, so every order gives the same bits.
// Source rows at AX (+ lds R8, 3*lds R9; BX = rows 4-7), destination rows
// at DX (+ ldd R10, 3*ldd R11; CX = rows 4-7).
var transposeAVX2 = f32Func{
	name: "transposeAVX2", sig: "dst *float32, ldd uintptr, src *float32, lds uintptr, rows8, cols8 int", frame: "$0-48",
	doc: []string{"for r := range 8*rows8 { for c := range 8*cols8 { dst[c*ldd/4+r] = src[r*lds/4+c] } }"},
	body: `	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R10
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R8
	MOVQ rows8+32(FP), R12
	LEAQ (R8)(R8*2), R9
	LEAQ (R10)(R10*2), R11
	TESTQ R12, R12
	JZ done
rowblock:
	MOVQ cols8+40(FP), R13
	TESTQ R13, R13
	JZ nextrow
	MOVQ SI, AX
	MOVQ DI, DX
colblock:
	LEAQ (AX)(R8*4), BX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	VMOVUPS (AX)(R9*1), Y3
	VMOVUPS (BX), Y4
	VMOVUPS (BX)(R8*1), Y5
	VMOVUPS (BX)(R8*2), Y6
	VMOVUPS (BX)(R9*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xee, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xee, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	LEAQ (DX)(R10*4), CX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, (DX)(R10*1)
	VMOVUPS Y10, (DX)(R10*2)
	VMOVUPS Y11, (DX)(R11*1)
	VMOVUPS Y12, (CX)
	VMOVUPS Y13, (CX)(R10*1)
	VMOVUPS Y14, (CX)(R10*2)
	VMOVUPS Y15, (CX)(R11*1)
	ADDQ $32, AX
	LEAQ (DX)(R10*8), DX
	DECQ R13
	JNZ colblock
nextrow:
	LEAQ (SI)(R8*8), SI
	ADDQ $32, DI
	DECQ R12
	JNZ rowblock
done:
	VZEROUPPER
	RET
`,
}
