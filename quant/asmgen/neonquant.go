package main

import (
	"fmt"
	"math"
)

// Activation quantisation on arm64: quant.quantizeSymmetric's two passes
// over a row, 16 values per iteration. absMaxNEON keeps four FMAXNM
// chains (FMAXNM returns the number when one operand is NaN, so NaN is
// ignored as in the reference) and folds them with FMAXNMV; quantizeNEON
// multiplies by inv, rounds to nearest even (FRINTN), clamps to [-127, 127],
// converts exactly (FCVTZS of an integral value; a NaN, which FRINTN, FMIN
// and FMAX pass through, converts to 0, the reference's code for it) and
// narrows with saturation to bytes (SQXTN, which cannot saturate after the
// clamp).

func fmaxnm4s(d, n, m int) uint32 { return 0x4e20c400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) }
func fmaxnmv4s(d, n int) uint32   { return 0x6e30c800 | uint32(n)<<5 | uint32(d) } // Sd = max across lanes
func fmin4s(d, n, m int) uint32   { return 0x4ea0f400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) }
func fmax4s(d, n, m int) uint32   { return 0x4e20f400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) }
func sqxtn4h(d, n int) uint32     { return 0x0e614800 | uint32(n)<<5 | uint32(d) } // low half of Vd.8H from Vn.4S
func sqxtn28h(d, n int) uint32    { return 0x4e614800 | uint32(n)<<5 | uint32(d) } // high half of Vd.8H from Vn.4S
func sqxtn8b(d, n int) uint32     { return 0x0e214800 | uint32(n)<<5 | uint32(d) } // low half of Vd.16B from Vn.8H
func sqxtn216b(d, n int) uint32   { return 0x4e214800 | uint32(n)<<5 | uint32(d) } // high half of Vd.16B from Vn.8H

func absMaxNEONFunc() neonFunc {
	var body string
	add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
	w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
	add("MOVD x+0(FP), R0")
	add("MOVD blocks+8(FP), R1")
	for v := 0; v < 4; v++ {
		add("VEOR V%d.B16, V%d.B16, V%d.B16", v, v, v)
	}
	add("CBZ R1, fold")
	body += "loop:\n"
	add("VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]")
	for v := 0; v < 4; v++ {
		w(fabs4s(4+v, 4+v), "FABS V%d.4S, V%d.4S", 4+v, 4+v)
	}
	for v := 0; v < 4; v++ {
		w(fmaxnm4s(v, v, 4+v), "FMAXNM V%d.4S, V%d.4S, V%d.4S", v, v, 4+v)
	}
	add("SUBS $1, R1, R1")
	add("BNE loop")
	body += "fold:\n"
	w(fmaxnm4s(0, 0, 1), "FMAXNM V0.4S, V0.4S, V1.4S   // the maximum is exact in any order")
	w(fmaxnm4s(2, 2, 3), "FMAXNM V2.4S, V2.4S, V3.4S")
	w(fmaxnm4s(0, 0, 2), "FMAXNM V0.4S, V0.4S, V2.4S")
	w(fmaxnmv4s(0, 0), "FMAXNMV S0, V0.4S")
	add("FMOVS F0, ret+16(FP)")
	add("RET")
	return neonFunc{
		name: "absMaxNEON", sig: "x *float32, blocks int) (ret float32", frame: "$0-20",
		doc:  []string{"m := float32(0); for i := range 16*blocks { if a := |x[i]|; a > m { m = a } }; return m   // NaN ignored"},
		body: body,
	}
}

func quantizeNEONFunc() neonFunc {
	var body string
	add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
	w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
	add("MOVD dst+0(FP), R0")
	add("MOVD x+8(FP), R1")
	add("MOVD blocks+16(FP), R2")
	add("MOVD $inv+24(FP), R3")
	add("VLD1R (R3), [V16.S4]")
	add("MOVW $0x%08x, R4", math.Float32bits(127))
	w(dup4s(17, 4), "DUP V17.4S, W4   // 127")
	add("MOVW $0x%08x, R4", math.Float32bits(-127))
	w(dup4s(18, 4), "DUP V18.4S, W4   // -127")
	add("CBZ R2, done")
	body += "loop:\n"
	add("VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]")
	for v := 0; v < 4; v++ {
		w(fmul4s(v, v, 16), "FMUL V%d.4S, V%d.4S, V16.4S", v, v)
	}
	for v := 0; v < 4; v++ {
		w(frintn4s(v, v), "FRINTN V%d.4S, V%d.4S", v, v)
	}
	for v := 0; v < 4; v++ {
		w(fmin4s(v, v, 17), "FMIN V%d.4S, V%d.4S, V17.4S", v, v)
	}
	for v := 0; v < 4; v++ {
		w(fmax4s(v, v, 18), "FMAX V%d.4S, V%d.4S, V18.4S", v, v)
	}
	for v := 0; v < 4; v++ {
		w(fcvtzs4s(v, v), "FCVTZS V%d.4S, V%d.4S", v, v)
	}
	w(sqxtn4h(4, 0), "SQXTN V4.4H, V0.4S")
	w(sqxtn28h(4, 1), "SQXTN2 V4.8H, V1.4S")
	w(sqxtn4h(5, 2), "SQXTN V5.4H, V2.4S")
	w(sqxtn28h(5, 3), "SQXTN2 V5.8H, V3.4S")
	w(sqxtn8b(6, 4), "SQXTN V6.8B, V4.8H")
	w(sqxtn216b(6, 5), "SQXTN2 V6.16B, V5.8H")
	add("VST1.P [V6.B16], 16(R0)")
	add("SUBS $1, R2, R2")
	add("BNE loop")
	body += "done:\n"
	add("RET")
	return neonFunc{
		name: "quantizeNEON", sig: "dst *int8, x *float32, blocks int, inv float32", frame: "$0-28",
		doc:  []string{"for i := range 16*blocks { dst[i] = int8(roundHalfEven(x[i] * inv)) }   // NaN -> 0, clamp to [-127, 127]"},
		body: body,
	}
}
