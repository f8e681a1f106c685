package main

import "fmt"

// The fp32 kernels of the vnni tier in zmm registers: the same reference
// loops and operation sequences as the AVX2 ones (attention's block
// products fused, every other product rounded before it is added), 16
// lanes per register instead of 8. Zen 4
// splits a zmm operation into two 256-bit halves and Intel cores run it on
// two ports instead of three, so the gain is in instruction count and
// register count (more independent chains), not in raw width alone.

// attnAVX512Funcs are mulBlockR1AVX512..mulBlockR6AVX512 (see attnDoc):
// each pass over t covers 32 columns, Z(2r) and Z(2r+1) holding row r's
// sums (12 independent VFMADD231PS chains at 6 rows, enough to hide its
// latency on two pipes), Z12-Z13 row t of b, Z14 the broadcast a[r][t];
// a last odd block of 16 columns uses Z(2r) alone.
func attnAVX512Funcs() []f32Func {
	var fs []f32Func
	for rows := 1; rows <= attnMRAVX2; rows++ {
		var body string
		add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
		label := func(l string) { body += l + ":\n" }
		add("MOVQ dst+0(FP), DI")
		add("MOVQ ldd+8(FP), R8")
		add("MOVQ a+16(FP), SI")
		add("MOVQ lda+24(FP), R9")
		add("MOVQ b+32(FP), DX")
		add("MOVQ ldb+40(FP), R10")
		add("MOVQ k+48(FP), R11")
		add("MOVQ cblocks+56(FP), R12")
		add("VBROADCASTSS scale+64(FP), Z16")
		aRow := []string{"(AX)", "(AX)(R9*1)", "(AX)(R9*2)", "(R13)", "(R13)(R9*1)", "(R13)(R9*2)"}
		dRow := []string{"(DI)", "(DI)(R8*1)", "(DI)(R8*2)", "(AX)", "(AX)(R8*1)", "(AX)(R8*2)"}
		// block emits one pass over t for w zmm (16 columns each) per row.
		block := func(w int, lbl string) {
			for r := 0; r < rows; r++ {
				for j := 0; j < w; j++ {
					add("VXORPS Z%d, Z%d, Z%d", 2*r+j, 2*r+j, 2*r+j)
				}
			}
			add("MOVQ SI, AX")
			if rows > 3 {
				add("LEAQ (SI)(R9*2), R13")
				add("ADDQ R9, R13")
			}
			add("MOVQ DX, BX")
			add("MOVQ R11, CX")
			label("t" + lbl)
			for j := 0; j < w; j++ {
				add("VMOVUPS %d(BX), Z%d", 64*j, 12+j)
			}
			for r := 0; r < rows; r++ {
				add("VBROADCASTSS %s, Z14", aRow[r])
				for j := 0; j < w; j++ {
					add("VFMADD231PS Z%d, Z14, Z%d", 12+j, 2*r+j)
				}
			}
			add("ADDQ R10, BX")
			add("ADDQ $4, AX")
			if rows > 3 {
				add("ADDQ $4, R13")
			}
			add("DECQ CX")
			add("JNZ t" + lbl)
			for r := 0; r < rows; r++ {
				if r == 3 {
					add("LEAQ (DI)(R8*2), AX")
					add("ADDQ R8, AX")
				}
				for j := 0; j < w; j++ {
					add("VMULPS Z16, Z%d, Z%d", 2*r+j, 2*r+j)
					add("VMOVUPS Z%d, %d%s", 2*r+j, 64*j, dRow[r])
				}
			}
			add("ADDQ $%d, DX", 64*w)
			add("ADDQ $%d, DI", 64*w)
		}
		add("TESTQ R11, R11")
		add("JZ done")
		label("pairs")
		add("CMPQ R12, $2")
		add("JLT single")
		block(2, "2")
		add("SUBQ $2, R12")
		add("JMP pairs")
		label("single")
		add("TESTQ R12, R12")
		add("JZ done")
		block(1, "1")
		label("done")
		add("VZEROUPPER")
		add("RET")
		fs = append(fs, f32Func{
			name: fmt.Sprintf("mulBlockR%dAVX512", rows), sig: attnSig, frame: attnFrame,
			doc: attnDoc(rows), body: body,
		})
	}
	return fs
}

// avx512ElemFuncs are GELU, Softmax, LayerNorm and quantisation in zmm
// registers (GELU two blocks of 16 per iteration, interleaved).
// Constants are broadcast from memory (.BCST); the lane selections of the
// AVX2 sequences (VBLENDVPS, VANDNPS on compare results) become mask
// registers with the same predicates.
func avx512ElemFuncs() []f32Func {
	return []f32Func{
		{
			name: "absMaxAVX512", sig: "x *float32, blocks int) (ret float32", frame: "$0-20",
			doc: []string{"m := float32(0); for i := range 16*blocks { if a := |x[i]|; a > m { m = a } }; return m   // NaN ignored"},
			body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VPBROADCASTD absMask<>(SB), Z4
` + absMax16("SI", "CX") + `	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET
`,
		},
		{
			name: "quantizeAVX512", sig: "dst *int8, x *float32, blocks int, inv float32", frame: "$0-28",
			doc: []string{"for i := range 16*blocks { dst[i] = int8(roundHalfEven(x[i] * inv)) }   // NaN -> 0, clamp to [-127, 127]"},
			body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ blocks+16(FP), CX
	VBROADCASTSS inv+24(FP), Z4
	VBROADCASTSS c127<>(SB), Z5
	VBROADCASTSS cm127<>(SB), Z6
	TESTQ CX, CX
	JZ done
loop:
` + quantize16 + `	ADDQ $64, SI
	ADDQ $16, DI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET
`,
		},
		{
			name: "lnApplyAVX512", sig: "dst, x, gamma, beta *float32, blocks int, mean, inv float32", frame: "$0-48",
			doc: []string{"for i := range 16*blocks { dst[i] = float32(float32((x[i]-mean)*inv)*gamma[i]) + beta[i] }"},
			body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R9
	MOVQ blocks+32(FP), CX
	VBROADCASTSS mean+40(FP), Z4
	VBROADCASTSS inv+44(FP), Z5
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Z0
	VSUBPS Z4, Z0, Z0
	VMULPS Z5, Z0, Z0
	VMULPS (R8), Z0, Z0
	VADDPS (R9), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET
`,
		},
		{
			name: "geluAVX512", sig: "x *float32, blocks int", frame: "$0-16",
			doc: []string{"for i := range 16*blocks { v := x[i]; x[i] = float32(v*0.5) * onePlusErf(float32(v*invSqrt2)) }"},
			body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VPBROADCASTD absMask<>(SB), Z15
	VBROADCASTSS one<>(SB), Z14
	VBROADCASTSS two<>(SB), Z13
	VBROADCASTSS half<>(SB), Z12
	VBROADCASTSS invSqrt2<>(SB), Z11
	SUBQ $2, CX
	JLT tail
loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
` + interleave(gelu16("Z0", "Z1", "Z2", "Z3", "Z4", "K1"), gelu16("Z5", "Z6", "Z7", "Z8", "Z9", "K2")) + `	VMOVUPS Z0, (SI)
	VMOVUPS Z5, 64(SI)
	ADDQ $128, SI
	SUBQ $2, CX
	JGE loop
tail:
	CMPQ CX, $-1
	JNE done
	VMOVUPS (SI), Z0
` + gelu16("Z0", "Z1", "Z2", "Z3", "Z4", "K1") + `	VMOVUPS Z0, (SI)
done:
	VZEROUPPER
	RET
`,
		},
		softmaxRowsAVX512,
		lnRowAVX512,
		quantizeRowAVX512,
	}
}

// sumTreeZ14 reduces the 16 lane sums in Z14 with sumLanes' fixed tree
// (p[i]+p[i+8], then +4, then (s4[0]+s4[2]) + (s4[1]+s4[3])) into X3;
// Y1, X2 and X4 are scratch.
const sumTreeZ14 = `	VEXTRACTF64X4 $1, Z14, Y1
	VADDPS Y1, Y14, Y1
	VEXTRACTF128 $1, Y1, X2
	VADDPS X2, X1, X2
	VMOVHLPS X2, X2, X3
	VADDPS X3, X2, X3
	VMOVSHDUP X3, X4
	VADDSS X4, X3, X3
`

// lnRowAVX512 is all of LayerNorm for one row of 16*blocks values in one
// call: the 16-lane sum and sumLanes' tree for the mean, the same for the
// squared differences, the float64 square root and reciprocal, and the
// scaling, with quant.LayerNorm's operations in its order. A row is short
// (the hidden size), so the five calls and the Go between them that this
// replaces cost as much as the arithmetic.
var lnRowAVX512 = f32Func{
	name: "lnRowAVX512", sig: "dst, x, gamma, beta *float32, blocks int, eps float32", frame: "$0-44",
	doc: []string{
		"n := 16*blocks; mean := Sum(x[:n]) / float32(n); var p [16]float32",
		"for i := range n { d := x[i] - mean; p[i%16] += float32(d * d) }",
		"inv := float32(1 / math.Sqrt(float64(sumLanes(&p)/float32(n)+eps)))",
		"for i := range n { dst[i] = float32(float32((x[i]-mean)*inv)*gamma[i]) + beta[i] }",
	},
	body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R9
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JZ done
	VXORPS Z14, Z14, Z14
	MOVQ SI, AX
	MOVQ CX, DX
sum:
	VADDPS (AX), Z14, Z14
	ADDQ $64, AX
	DECQ DX
	JNZ sum
` + sumTreeZ14 + `	MOVQ CX, AX
	SHLQ $4, AX
	VCVTSI2SSQ AX, X5, X5 // float32(n), exact
	VDIVSS X5, X3, X6
	VBROADCASTSS X6, Z15 // mean
	VXORPS Z14, Z14, Z14
	MOVQ SI, AX
	MOVQ CX, DX
sq:
	VMOVUPS (AX), Z0
	VSUBPS Z15, Z0, Z0
	VMULPS Z0, Z0, Z0
	VADDPS Z0, Z14, Z14
	ADDQ $64, AX
	DECQ DX
	JNZ sq
` + sumTreeZ14 + `	VDIVSS X5, X3, X3 // variance
	VADDSS eps+40(FP), X3, X3
	VCVTSS2SD X3, X3, X3
	VSQRTSD X3, X3, X3
	MOVQ $0x3ff0000000000000, AX
	VMOVQ AX, X7
	VDIVSD X3, X7, X7
	VCVTSD2SS X7, X7, X7
	VBROADCASTSS X7, Z13 // inv
apply:
	VMOVUPS (SI), Z0
	VSUBPS Z15, Z0, Z0
	VMULPS Z13, Z0, Z0
	VMULPS (R8), Z0, Z0
	VADDPS (R9), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ apply
done:
	VZEROUPPER
	RET
`,
}

// quantizeRowAVX512 is all of quant.quantizeSymmetric for one row of
// 16*blocks values in one call: absMaxAVX512's pass (the same chains and
// operand order, so NaN is ignored the same way), the scale and its
// inverse, then quantizeAVX512's pass, or zeros when the maximum is 0 or
// +Inf. It returns the scale.
var quantizeRowAVX512 = f32Func{
	name: "quantizeRowAVX512", sig: "dst *int8, x *float32, blocks int, levels float32) (scale float32", frame: "$0-36",
	doc: []string{
		"amax := absMax(x[:16*blocks]); if amax == 0 || amax == +Inf { clear(dst[:16*blocks]); return 0 }",
		"scale = amax / levels; inv := levels / amax",
		"for i := range 16*blocks { dst[i] = int8(roundHalfEven(x[i] * inv)) }; return scale",
	},
	body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVL $0, scale+32(FP)
	TESTQ CX, CX
	JZ done
	VPBROADCASTD absMask<>(SB), Z4
	MOVQ SI, AX
	MOVQ CX, DX
` + absMax16("AX", "DX") + `	VXORPS X1, X1, X1
	VUCOMISS X1, X0
	JEQ zeros // amax == 0 (never NaN: NaN lanes were ignored)
	VUCOMISS inf<>(SB), X0
	JEQ zeros
	VMOVSS levels+24(FP), X2
	VDIVSS X2, X0, X3 // scale = amax / levels
	VMOVSS X3, scale+32(FP)
	VDIVSS X0, X2, X4 // inv = levels / amax
	VBROADCASTSS X4, Z4
	VBROADCASTSS c127<>(SB), Z5
	VBROADCASTSS cm127<>(SB), Z6
quant:
` + quantize16 + `	ADDQ $64, SI
	ADDQ $16, DI
	DECQ CX
	JNZ quant
	JMP done
zeros:
	VXORPS X0, X0, X0
zloop:
	VMOVDQU X0, (DI)
	ADDQ $16, DI
	DECQ CX
	JNZ zloop
done:
	VZEROUPPER
	RET
`,
}

// absMax16 emits absMaxAVX512's pass over cnt blocks of 16 values at ptr
// (both advanced): |x| (Z4 holds the abs mask) into four VMAXPS chains,
// with the accumulator second so that a NaN x yields the accumulator, then
// their fold into X0 (Z0-Z5 scratch).
func absMax16(ptr, cnt string) string {
	return fmt.Sprintf(`	VXORPS Z0, Z0, Z0
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z5, Z5, Z5
max4:
	CMPQ %[2]s, $4
	JLT max1
	VPANDD (%[1]s), Z4, Z1
	VMAXPS Z0, Z1, Z0 // max(x, acc): a NaN x yields acc
	VPANDD 64(%[1]s), Z4, Z1
	VMAXPS Z2, Z1, Z2
	VPANDD 128(%[1]s), Z4, Z1
	VMAXPS Z3, Z1, Z3
	VPANDD 192(%[1]s), Z4, Z1
	VMAXPS Z5, Z1, Z5
	ADDQ $256, %[1]s
	SUBQ $4, %[2]s
	JMP max4
max1:
	TESTQ %[2]s, %[2]s
	JZ fold
	VPANDD (%[1]s), Z4, Z1
	VMAXPS Z0, Z1, Z0
	ADDQ $64, %[1]s
	DECQ %[2]s
	JMP max1
fold:
	VMAXPS Z2, Z0, Z0 // four independent chains: the maximum is exact in any order
	VMAXPS Z5, Z3, Z3
	VMAXPS Z3, Z0, Z0
`, ptr, cnt) + foldMaxZ0
}

// quantize16 quantises the 16 values at SI into the bytes at DI with the
// scale inverse in Z4 and the clamp bounds 127 and -127 in Z5 and Z6.
const quantize16 = `	VMULPS (SI), Z4, Z0
	VCMPPS $7, Z0, Z0, K1 // ordered: not NaN
	VMOVAPS.Z Z0, K1, Z0  // NaN -> +0
	VRNDSCALEPS $0, Z0, Z0 // nearest, ties to even
	VMINPS Z5, Z0, Z0
	VMAXPS Z6, Z0, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVSDB Z0, (DI)
`

// softmaxRowsAVX512 is all of Softmax for rows (1..8) rows of n >= 1
// values (byte stride ld) in one call: the maximum of every row, then every row's
// exp with its 16-lane sums, sumLanes' tree and the division, then every
// row's scaling; the last n%16 values of a row are under mask K3 (masked
// loads do not fault, masked-off lanes are neither stored nor summed). A
// row of attention scores is short (the text's tokens): done one row at a
// time, each pass waits for the previous one's result (the maximum, the
// sum), while across rows the passes are independent and overlap. tmp
// carries each row's maximum, then its 1/sum, from pass to pass.
var softmaxRowsAVX512 = f32Func{
	name: "softmaxRowsAVX512", sig: "x *float32, ld uintptr, rows, n int, tmp *[8]float32", frame: "$0-40",
	doc: []string{
		"for r := range rows { row := x[r*ld/4 : r*ld/4+n]; m := max(row); var p [16]float32",
		"    for i := range n { e := exp32(row[i] - m); row[i] = e; p[i%16] += e }",
		"    inv := 1 / sumLanes(&p); for i := range n { row[i] *= inv } }",
	},
	body: `	MOVQ x+0(FP), SI
	MOVQ ld+8(FP), R9
	MOVQ rows+16(FP), R10
	MOVQ n+24(FP), R8
	MOVQ tmp+32(FP), R11
	TESTQ R8, R8
	JLE done
	TESTQ R10, R10
	JLE done
	MOVQ R8, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3 // the tail's lanes
	SHRQ $4, R8 // whole blocks per row
	// Pass 1: each row's maximum, two chains from x[0] (exact in any
	// order; see quant.maxF32), to tmp[r].
	MOVQ SI, BX
	XORQ R12, R12
maxrow:
	VBROADCASTSS (BX), Z0
	VMOVAPS Z0, Z1
	MOVQ BX, DI
	MOVQ R8, DX
max2:
	CMPQ DX, $2
	JLT max1
	VMAXPS (DI), Z0, Z0
	VMAXPS 64(DI), Z1, Z1
	ADDQ $128, DI
	SUBQ $2, DX
	JMP max2
max1:
	TESTQ DX, DX
	JZ maxtail
	VMAXPS (DI), Z0, Z0
	ADDQ $64, DI
maxtail:
	VMAXPS (DI), Z1, K3, Z1
	VMAXPS Z1, Z0, Z0
` + foldMaxZ0 + `	VMOVSS X0, (R11)(R12*4)
	ADDQ R9, BX
	INCQ R12
	CMPQ R12, R10
	JLT maxrow
	// Pass 2: exp(x - m) in place, summed per lane in Z14, reduced by
	// sumLanes' tree (p[i]+p[i+8], then +4, then (s4[0]+s4[2]) +
	// (s4[1]+s4[3])); 1/sum to tmp[r].
	MOVQ SI, BX
	XORQ R12, R12
exprow:
	VBROADCASTSS (R11)(R12*4), Z15
	VXORPS Z14, Z14, Z14
	MOVQ BX, DI
	MOVQ R8, DX
	SUBQ $2, DX
	JLT exp1
exp2:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z5
	VSUBPS Z15, Z0, Z0
	VSUBPS Z15, Z5, Z5
` + interleave(exp16("Z0", "Z1", "Z2", "Z3", "Z4", "K1"), exp16("Z5", "Z6", "Z7", "Z8", "Z9", "K2")) + `	VMOVUPS Z1, (DI)
	VADDPS Z1, Z14, Z14
	VMOVUPS Z6, 64(DI)
	VADDPS Z6, Z14, Z14
	ADDQ $128, DI
	SUBQ $2, DX
	JGE exp2
exp1:
	CMPQ DX, $-1
	JNE exptail
	VMOVUPS (DI), Z0
	VSUBPS Z15, Z0, Z0
` + exp16("Z0", "Z1", "Z2", "Z3", "Z4", "K1") + `	VMOVUPS Z1, (DI)
	VADDPS Z1, Z14, Z14
	ADDQ $64, DI
exptail:
	KORTESTW K3, K3
	JZ sum
	VMOVUPS.Z (DI), K3, Z0
	VSUBPS Z15, Z0, Z0
` + exp16("Z0", "Z1", "Z2", "Z3", "Z4", "K1") + `	VMOVUPS Z1, K3, (DI)
	VADDPS Z1, Z14, K3, Z14
sum:
` + sumTreeZ14 + `	VMOVSS one<>(SB), X5
	VDIVSS X3, X5, X5
	VMOVSS X5, (R11)(R12*4)
	ADDQ R9, BX
	INCQ R12
	CMPQ R12, R10
	JLT exprow
	// Pass 3: x *= 1/sum.
	MOVQ SI, BX
	XORQ R12, R12
scalerow:
	VBROADCASTSS (R11)(R12*4), Z5
	MOVQ BX, DI
	MOVQ R8, DX
	TESTQ DX, DX
	JZ scaletail
scale:
	VMULPS (DI), Z5, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	DECQ DX
	JNZ scale
scaletail:
	VMOVUPS.Z (DI), K3, Z0
	VMULPS Z5, Z0, Z0
	VMOVUPS Z0, K3, (DI)
	ADDQ R9, BX
	INCQ R12
	CMPQ R12, R10
	JLT scalerow
done:
	VZEROUPPER
	RET
`,
}

// gelu16 is gelu8 on the 16 lanes of v (constants absMask, one, two, half,
// invSqrt2 in Z15..Z11): the sign of z picks erfc(|z|) through mask k
// (VPMOVD2M-free: VPTESTMD against the sign bit, AVX-512F).
func gelu16(v, z, a, q, c, k string) string {
	return fmt.Sprintf(`	VMULPS Z11, %[1]s, %[2]s
	VPANDD Z15, %[2]s, %[3]s
	VBROADCASTSS erfA6<>(SB), %[4]s
	VFMADD213PS.BCST erfA5<>(SB), %[3]s, %[4]s
	VFMADD213PS.BCST erfA4<>(SB), %[3]s, %[4]s
	VFMADD213PS.BCST erfA3<>(SB), %[3]s, %[4]s
	VFMADD213PS.BCST erfA2<>(SB), %[3]s, %[4]s
	VFMADD213PS.BCST erfA1<>(SB), %[3]s, %[4]s
	VFMADD213PS Z14, %[3]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VDIVPS %[4]s, Z14, %[5]s
	VSUBPS %[5]s, Z13, %[4]s
	VPTESTMD.BCST signBit<>(SB), %[2]s, %[6]s
	VBLENDMPS %[5]s, %[4]s, %[6]s, %[4]s
	VMULPS Z12, %[1]s, %[1]s
	VMULPS %[4]s, %[1]s, %[1]s
`, v, z, a, q, c, k)
}

// exp16 is exp8 on the 16 lanes of t: VRNDSCALEPS $0 rounds to nearest
// even like VROUNDPS $0; t > 88 (ordered, false for NaN) selects +Inf and
// lanes not t >= -87.3 (NLT unordered: NaN keeps its lane) are zeroed.
func exp16(t, out, kf, r, tmp, k string) string {
	return fmt.Sprintf(`	VMULPS.BCST log2e<>(SB), %[1]s, %[3]s
	VRNDSCALEPS $0, %[3]s, %[3]s
	VMOVAPS %[1]s, %[4]s
	VFNMADD231PS.BCST ln2Hi<>(SB), %[3]s, %[4]s
	VFNMADD231PS.BCST ln2Lo<>(SB), %[3]s, %[4]s
	VBROADCASTSS e7<>(SB), %[2]s
	VFMADD213PS.BCST e6<>(SB), %[4]s, %[2]s
	VFMADD213PS.BCST e5<>(SB), %[4]s, %[2]s
	VFMADD213PS.BCST e4<>(SB), %[4]s, %[2]s
	VFMADD213PS.BCST e3<>(SB), %[4]s, %[2]s
	VFMADD213PS.BCST half<>(SB), %[4]s, %[2]s
	VFMADD213PS.BCST one<>(SB), %[4]s, %[2]s
	VFMADD213PS.BCST one<>(SB), %[4]s, %[2]s
	VCVTPS2DQ %[3]s, %[3]s
	VPADDD.BCST i127<>(SB), %[3]s, %[3]s
	VPSLLD $23, %[3]s, %[3]s
	VMULPS %[3]s, %[2]s, %[2]s
	VCMPPS.BCST $14, hiExp<>(SB), %[1]s, %[6]s
	VBLENDMPS.BCST inf<>(SB), %[2]s, %[6]s, %[2]s
	VCMPPS.BCST $5, loExp<>(SB), %[1]s, %[6]s
	VMOVAPS.Z %[2]s, %[6]s, %[2]s
`, t, out, kf, r, tmp, k)
}
