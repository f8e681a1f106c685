package main

import (
	"fmt"
	"math"
	"strings"
)

// The fp32 AVX2 kernels. Each keeps the reference's order exactly: lane i
// of a 16-lane reduction is lanes [0,8) in one ymm and [8,16) in another,
// products are rounded (VMULPS) before they are added (VADDPS), never
// fused, and element-wise formulas use the reference's operation sequence.
// Loops cover whole blocks only; Go finishes the tails (f32_simd.go).

type f32Func struct {
	name, sig, frame string
	doc              []string // the reference loop, without comment markers
	body             string
}

var f32Funcs = append(append(append(attnAVX2Funcs(), attnAVX512Funcs()...), avx512ElemFuncs()...), []f32Func{
	{
		name: "dotLanesAVX2", sig: "a, b *float32, blocks int, p *[Lanes]float32", frame: "$0-32",
		doc: []string{"for i := range 16*blocks { p[i%16] += float32(a[i] * b[i]) }"},
		body: `	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ blocks+16(FP), CX
	MOVQ p+24(FP), DX
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VMULPS (DI), Y2, Y2
	VMULPS 32(DI), Y3, Y3
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ loop
done:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
`,
	},
	{
		name: "sumLanesAVX2", sig: "x *float32, blocks int, p *[Lanes]float32", frame: "$0-24",
		doc: []string{"for i := range 16*blocks { p[i%16] += x[i] }"},
		body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ p+16(FP), DX
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	TESTQ CX, CX
	JZ done
loop:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ $64, SI
	DECQ CX
	JNZ loop
done:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
`,
	},
	{
		name: "sqDiffLanesAVX2", sig: "x *float32, blocks int, mean float32, p *[Lanes]float32", frame: "$0-32",
		doc: []string{"for i := range 16*blocks { d := x[i] - mean; p[i%16] += float32(d * d) }"},
		body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VBROADCASTSS mean+16(FP), Y4
	MOVQ p+24(FP), DX
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Y2
	VMOVUPS 32(SI), Y3
	VSUBPS Y4, Y2, Y2
	VSUBPS Y4, Y3, Y3
	VMULPS Y2, Y2, Y2
	VMULPS Y3, Y3, Y3
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	ADDQ $64, SI
	DECQ CX
	JNZ loop
done:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
`,
	},
	{
		name: "lnApplyAVX2", sig: "dst, x, gamma, beta *float32, blocks int, mean, inv float32", frame: "$0-48",
		doc: []string{"for i := range 8*blocks { dst[i] = float32(float32((x[i]-mean)*inv)*gamma[i]) + beta[i] }"},
		body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R9
	MOVQ blocks+32(FP), CX
	VBROADCASTSS mean+40(FP), Y4
	VBROADCASTSS inv+44(FP), Y5
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y4, Y0, Y0
	VMULPS Y5, Y0, Y0
	VMULPS (R8), Y0, Y0
	VADDPS (R9), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET
`,
	},
	{
		name: "scaleAVX2", sig: "x *float32, blocks int, s float32", frame: "$0-20",
		doc: []string{"for i := range 8*blocks { x[i] *= s }"},
		body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VBROADCASTSS s+16(FP), Y4
	TESTQ CX, CX
	JZ done
loop:
	VMULPS (SI), Y4, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET
`,
	},
	{
		name: "axpyAVX2", sig: "dst, x *float32, blocks int, alpha float32", frame: "$0-28",
		doc: []string{"for i := range 8*blocks { dst[i] += float32(alpha * x[i]) }"},
		body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ blocks+16(FP), CX
	VBROADCASTSS alpha+24(FP), Y4
	TESTQ CX, CX
	JZ done
loop:
	VMULPS (SI), Y4, Y0
	VADDPS (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET
`,
	},
	{
		name: "absMaxAVX2", sig: "x *float32, blocks int) (ret float32", frame: "$0-20",
		doc: []string{"m := float32(0); for i := range 8*blocks { if a := |x[i]|; a > m { m = a } }; return m   // NaN ignored"},
		body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VBROADCASTSS absMask<>(SB), Y4
	VXORPS Y0, Y0, Y0
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y5, Y5, Y5
loop4:
	CMPQ CX, $4
	JLT loop1
	VANDPS (SI), Y4, Y1
	VMAXPS Y0, Y1, Y0 // max(x, acc): a NaN x yields acc
	VANDPS 32(SI), Y4, Y1
	VMAXPS Y2, Y1, Y2
	VANDPS 64(SI), Y4, Y1
	VMAXPS Y3, Y1, Y3
	VANDPS 96(SI), Y4, Y1
	VMAXPS Y5, Y1, Y5
	ADDQ $128, SI
	SUBQ $4, CX
	JMP loop4
loop1:
	TESTQ CX, CX
	JZ done
	VANDPS (SI), Y4, Y1
	VMAXPS Y0, Y1, Y0
	ADDQ $32, SI
	DECQ CX
	JMP loop1
done:
	VMAXPS Y2, Y0, Y0 // four independent chains: the maximum is exact in any order
	VMAXPS Y5, Y3, Y3
	VMAXPS Y3, Y0, Y0
` + foldMaxY0 + `	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET
`,
	},
	{
		name: "quantizeAVX2", sig: "dst *int8, x *float32, blocks int, inv float32", frame: "$0-28",
		doc: []string{"for i := range 8*blocks { dst[i] = int8(roundHalfEven(x[i] * inv)) }   // NaN -> 0, clamp to [-127, 127]"},
		body: `	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ blocks+16(FP), CX
	VBROADCASTSS inv+24(FP), Y4
	VBROADCASTSS c127<>(SB), Y5
	VBROADCASTSS cm127<>(SB), Y6
	TESTQ CX, CX
	JZ done
loop:
	VMULPS (SI), Y4, Y0
	VCMPPS $3, Y0, Y0, Y1 // unordered: NaN lanes
	VANDNPS Y0, Y1, Y0    // NaN -> +0
	VROUNDPS $0, Y0, Y0   // nearest, ties to even
	VMINPS Y5, Y0, Y0
	VMAXPS Y6, Y0, Y0
	VCVTPS2DQ Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW X1, X0, X0
	VPACKSSWB X0, X0, X0
	VMOVQ X0, (DI)
	ADDQ $32, SI
	ADDQ $8, DI
	DECQ CX
	JNZ loop
done:
	VZEROUPPER
	RET
`,
	},
	{
		name: "geluAVX2", sig: "x *float32, blocks int", frame: "$0-16",
		doc: []string{"for i := range 8*blocks { v := x[i]; x[i] = float32(v*0.5) * onePlusErf(float32(v*invSqrt2)) }"},
		body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VBROADCASTSS absMask<>(SB), Y15
	VBROADCASTSS one<>(SB), Y14
	VBROADCASTSS two<>(SB), Y13
	VBROADCASTSS half<>(SB), Y12
	VBROADCASTSS invSqrt2<>(SB), Y11
	SUBQ $2, CX
	JLT tail
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
` + interleave(gelu8("Y0", "Y1", "Y2", "Y3", "Y4"), gelu8("Y5", "Y6", "Y7", "Y8", "Y9")) + `	VMOVUPS Y0, (SI)
	VMOVUPS Y5, 32(SI)
	ADDQ $64, SI
	SUBQ $2, CX
	JGE loop
tail:
	CMPQ CX, $-1
	JNE done
	VMOVUPS (SI), Y0
` + gelu8("Y0", "Y1", "Y2", "Y3", "Y4") + `	VMOVUPS Y0, (SI)
done:
	VZEROUPPER
	RET
`,
	},
	{
		name: "expSumAVX2", sig: "x *float32, blocks int, m float32, p *[Lanes]float32", frame: "$0-32",
		doc: []string{"for i := range 16*blocks { e := exp32(x[i] - m); x[i] = e; p[i%16] += e }"},
		body: `	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VBROADCASTSS m+16(FP), Y15
	MOVQ p+24(FP), DX
	VMOVUPS (DX), Y13
	VMOVUPS 32(DX), Y14
	TESTQ CX, CX
	JZ done
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	VSUBPS Y15, Y0, Y0
	VSUBPS Y15, Y5, Y5
` + interleave(exp8("Y0", "Y1", "Y2", "Y3", "Y4"), exp8("Y5", "Y6", "Y7", "Y8", "Y9")) + `	VMOVUPS Y1, (SI)
	VADDPS Y1, Y13, Y13
	VMOVUPS Y6, 32(SI)
	VADDPS Y6, Y14, Y14
	ADDQ $64, SI
	DECQ CX
	JNZ loop
done:
	VMOVUPS Y13, (DX)
	VMOVUPS Y14, 32(DX)
	VZEROUPPER
	RET
`,
	},
}...)

// horner emits q = float32(q*a) + c for each constant c (q in Y3, a in Y2).
func horner(consts ...string) string {
	s := ""
	for _, c := range consts {
		s += "\tVMULPS Y2, Y3, Y3\n\tVADDPS " + c + "<>(SB), Y3, Y3\n"
	}
	return s
}

// gelu8 replaces the 8 lanes of v by GELU(v) = float32(v*0.5) *
// onePlusErf(float32(v*invSqrt2)), with the constants absMask, one, two,
// half and invSqrt2 in Y15, Y14, Y13, Y12, Y11. The sign bit of z picks
// erfc(|z|) or 2-erfc(|z|) (VBLENDVPS), which matches quant.onePlusErf's
// z < 0 test: for z = -0 both are 1, and a NaN z makes both NaN.
func gelu8(v, z, a, q, c string) string {
	return fmt.Sprintf(`	VMULPS Y11, %[1]s, %[2]s
	VANDPS Y15, %[2]s, %[3]s
	VBROADCASTSS erfA6<>(SB), %[4]s
	VFMADD213PS erfA5<>(SB), %[3]s, %[4]s
	VFMADD213PS erfA4<>(SB), %[3]s, %[4]s
	VFMADD213PS erfA3<>(SB), %[3]s, %[4]s
	VFMADD213PS erfA2<>(SB), %[3]s, %[4]s
	VFMADD213PS erfA1<>(SB), %[3]s, %[4]s
	VFMADD213PS Y14, %[3]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VMULPS %[4]s, %[4]s, %[4]s
	VDIVPS %[4]s, Y14, %[5]s
	VSUBPS %[5]s, Y13, %[4]s
	VBLENDVPS %[2]s, %[5]s, %[4]s, %[4]s
	VMULPS Y12, %[1]s, %[1]s
	VMULPS %[4]s, %[1]s, %[1]s
`, v, z, a, q, c)
}

// foldMaxY0 reduces the 8 lanes of Y0 to their maximum in X0 (lane 0), X1
// scratch. The maximum is exact in any order; which value a NaN lane gives
// follows the operand order, which the callers' contracts allow (see
// absMaxAVX2 and quant.maxF32).
const foldMaxY0 = `	VEXTRACTF128 $1, Y0, X1
	VMAXPS X0, X1, X0
	VPSHUFD $0x4e, X0, X1
	VMAXPS X0, X1, X0
	VPSHUFD $0xb1, X0, X1
	VMAXPS X0, X1, X0
`

// foldMaxZ0 is foldMaxY0 for the 16 lanes of Z0 (Y1 scratch).
const foldMaxZ0 = `	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y0, Y1, Y0
` + foldMaxY0

// interleave alternates the lines of two independent instruction
// sequences (same length), so the core works on both dependency chains at
// once; each sequence's own order, and so its result, is unchanged.
func interleave(a, b string) string {
	la := strings.SplitAfter(strings.TrimSuffix(a, "\n"), "\n")
	lb := strings.SplitAfter(strings.TrimSuffix(b, "\n"), "\n")
	var s strings.Builder
	for i := range la {
		s.WriteString(strings.TrimSuffix(la[i], "\n") + "\n")
		s.WriteString(strings.TrimSuffix(lb[i], "\n") + "\n")
	}
	return s.String()
}

// exp8 emits out = exp32(t) for the 8 lanes of t, the sequence of
// quant.exp32: kf = roundEven(t*log2e); r = t - kf*ln2Hi - kf*ln2Lo and
// Horner of the degree-7 Taylor polynomial, each step one fused
// multiply-add (VFNMADD231PS, VFMADD213PS); times 2**kf; then t > 88 gives
// +Inf and t < -87.3 gives 0 (NaN stays NaN through the arithmetic).
func exp8(t, out, kf, r, tmp string) string {
	return fmt.Sprintf(`	VMULPS log2e<>(SB), %[1]s, %[3]s
	VROUNDPS $0, %[3]s, %[3]s
	VMOVAPS %[1]s, %[4]s
	VFNMADD231PS ln2Hi<>(SB), %[3]s, %[4]s
	VFNMADD231PS ln2Lo<>(SB), %[3]s, %[4]s
	VBROADCASTSS e7<>(SB), %[2]s
	VFMADD213PS e6<>(SB), %[4]s, %[2]s
	VFMADD213PS e5<>(SB), %[4]s, %[2]s
	VFMADD213PS e4<>(SB), %[4]s, %[2]s
	VFMADD213PS e3<>(SB), %[4]s, %[2]s
	VFMADD213PS half<>(SB), %[4]s, %[2]s
	VFMADD213PS one<>(SB), %[4]s, %[2]s
	VFMADD213PS one<>(SB), %[4]s, %[2]s
	VCVTPS2DQ %[3]s, %[3]s
	VPADDD i127<>(SB), %[3]s, %[3]s
	VPSLLD $23, %[3]s, %[3]s
	VMULPS %[3]s, %[2]s, %[2]s
	VCMPPS $14, hiExp<>(SB), %[1]s, %[5]s
	VBLENDVPS %[5]s, inf<>(SB), %[2]s, %[2]s
	VCMPPS $1, loExp<>(SB), %[1]s, %[5]s
	VANDNPS %[2]s, %[5]s, %[2]s
`, t, out, kf, r, tmp)
}

// The constants of quant/mathfn.go, repeated here because the generator
// cannot import package quant. quant's TestAsmConstants compares
// asmConstBits (generated into f32_amd64.go) with its own constants.
const (
	invSqrt2 = float32(1 / math.Sqrt2)
	log2e    = float32(math.Log2E)
	ln2Hi    = float32(0.693359375)
	ln2Lo    = float32(math.Ln2 - 0.693359375)
	erfA1    = float32(0.0705230784)
	erfA2    = float32(0.0422820123)
	erfA3    = float32(0.0092705272)
	erfA4    = float32(0.0001520143)
	erfA5    = float32(0.0002765672)
	erfA6    = float32(0.0000430638)
)

type f32Const struct {
	name string
	bits uint32
}

// f32Consts are broadcast constants, stored as 8 copies (32 bytes) so they
// can also be ymm memory operands.
func f32Consts() []f32Const {
	f := math.Float32bits
	return []f32Const{
		{"absMask", 0x7fffffff}, {"one", f(1)}, {"two", f(2)}, {"half", f(0.5)},
		{"invSqrt2", f(invSqrt2)}, {"c127", f(127)}, {"cm127", f(-127)},
		{"erfA1", f(erfA1)}, {"erfA2", f(erfA2)}, {"erfA3", f(erfA3)},
		{"erfA4", f(erfA4)}, {"erfA5", f(erfA5)}, {"erfA6", f(erfA6)},
		{"log2e", f(log2e)}, {"ln2Hi", f(ln2Hi)}, {"ln2Lo", f(ln2Lo)},
		{"e3", f(1.0 / 6)}, {"e4", f(1.0 / 24)}, {"e5", f(1.0 / 120)},
		{"e6", f(1.0 / 720)}, {"e7", f(1.0 / 5040)},
		{"i127", 127}, {"hiExp", f(88)}, {"loExp", f(-87.3)}, {"inf", 0x7f800000},
		{"signBit", 0x80000000},
	}
}

func genF32AMD64() []byte {
	var b asm
	b.f("%s//go:build amd64 && !purego\n\n#include \"textflag.h\"\n", header)
	for _, c := range f32Consts() {
		for i := 0; i < 8; i++ {
			b.f("DATA %s<>+%d(SB)/4, $0x%08x", c.name, 4*i, c.bits)
		}
		b.f("GLOBL %s<>(SB), RODATA|NOPTR, $32\n", c.name)
	}
	for _, fn := range f32Funcs {
		b.f("// func %s(%s)", fn.name, fn.sig)
		b.f("TEXT ·%s(SB), NOSPLIT, %s", fn.name, fn.frame)
		b.Buffer.WriteString(fn.body)
		b.f("")
	}
	return b.Bytes()
}

func genF32Decls() []byte {
	var b asm
	b.f("%s//go:build amd64 && !purego\n\npackage quant\n", header)
	for _, fn := range f32Funcs {
		b.f("// %s implements, with the reference's rounding and order:", fn.name)
		b.f("//")
		for _, d := range fn.doc {
			b.f("//\t%s", d)
		}
		b.f("//\n//go:noescape\nfunc %s(%s)\n", fn.name, fn.sig)
	}
	b.f("// asmConstBits are the constants baked into f32_amd64.s.")
	b.f("var asmConstBits = map[string]uint32{")
	for _, c := range f32Consts() {
		b.f("\t%q: 0x%08x,", c.name, c.bits)
	}
	b.f("}")
	return b.Bytes()
}
