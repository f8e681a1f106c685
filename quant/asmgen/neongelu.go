package main

import (
	"fmt"
	"math"
)

// geluNEON: GELU on arm64, quant.GELU's operation sequence (and gelu8's,
// the AVX2 one) in 4-lane vectors, two vectors interleaved per step, 8
// values per iteration. FMUL, FABS, FMLA (the erf polynomial's fused
// Horner steps), FDIV, FSUB and FCMLT are WORD-encoded. The sign of z
// picks erfc(|z|) or 2-erfc(|z|) with FCMLT #0 (false for -0 and NaN):
// for z = -0 both are 1, and a NaN z makes both NaN, as in
// quant.onePlusErf.

func fabs4s(d, n int) uint32    { return 0x4ea0f800 | uint32(n)<<5 | uint32(d) }
func fdiv4s(d, n, m int) uint32 { return 0x6e20fc00 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // d = n / m
func fcmlt04s(d, n int) uint32  { return 0x4ea0e800 | uint32(n)<<5 | uint32(d) }                 // d = n < 0

// Constant registers of geluNEON.
const (
	gInvSqrt2 = 16 + iota
	gHalf
	gOne
	gTwo
	gA1
	gA2
	gA3
	gA4
	gA5
	gA6
)

func geluNEONFunc() neonFunc {
	var body string
	add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
	w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
	f := math.Float32bits
	add("MOVD x+0(FP), R0")
	add("MOVD blocks+8(FP), R1")
	for _, c := range []struct {
		v    int
		bits uint32
	}{
		{gInvSqrt2, f(invSqrt2)}, {gHalf, f(0.5)}, {gOne, f(1)}, {gTwo, f(2)},
		{gA1, f(erfA1)}, {gA2, f(erfA2)}, {gA3, f(erfA3)}, {gA4, f(erfA4)}, {gA5, f(erfA5)}, {gA6, f(erfA6)},
	} {
		add("MOVW $0x%08x, R4", c.bits)
		w(dup4s(c.v, 4), "DUP V%d.4S, W4", c.v)
	}
	add("CBZ R1, done")
	body += "loop:\n"
	add("VLD1 (R0), [V0.S4, V1.S4]")
	// Per vector: v in V(g), z, a, q, t (the polynomial alternates between
	// q and t), c.
	type regs struct{ v, z, a, q, t, c int }
	rs := []regs{{0, 2, 3, 4, 5, 6}, {1, 8, 9, 10, 11, 12}}
	both := func(fn func(g regs)) {
		for _, g := range rs {
			fn(g)
		}
	}
	both(func(g regs) {
		w(fmul4s(g.z, g.v, gInvSqrt2), "FMUL V%d.4S, V%d.4S, V%d.4S   // z", g.z, g.v, gInvSqrt2)
	})
	both(func(g regs) { w(fabs4s(g.a, g.z), "FABS V%d.4S, V%d.4S   // a = |z|", g.a, g.z) })
	// q = A6; then q = c + q*a for c = A5..A1, 1: six fused steps, the
	// first reading A6 from its constant register.
	steps := []int{gA5, gA4, gA3, gA2, gA1, gOne}
	last := 0
	for i, c := range steps {
		both(func(g regs) {
			src, dst := g.t, g.q
			if i%2 == 1 {
				src, dst = g.q, g.t
			}
			if i == 0 {
				src = gA6
			}
			w(orr16b(dst, c), "MOV V%d.16B, V%d.16B", dst, c)
			w(fmla4s(dst, src, g.a), "FMLA V%d.4S, V%d.4S, V%d.4S", dst, src, g.a)
		})
		last = i
	}
	poly := func(g regs) int {
		if last%2 == 1 {
			return g.t
		}
		return g.q
	}
	for range 4 {
		both(func(g regs) { p := poly(g); w(fmul4s(p, p, p), "FMUL V%d.4S, V%d.4S, V%d.4S   // squared", p, p, p) })
	}
	both(func(g regs) {
		w(fdiv4s(g.c, gOne, poly(g)), "FDIV V%d.4S, V%d.4S, V%d.4S   // c = erfc(|z|)", g.c, gOne, poly(g))
	})
	both(func(g regs) { w(fsub4s(g.a, gTwo, g.c), "FSUB V%d.4S, V%d.4S, V%d.4S   // 2 - c", g.a, gTwo, g.c) })
	both(func(g regs) { w(fcmlt04s(g.z, g.z), "FCMLT V%d.4S, V%d.4S, #0   // z < 0", g.z, g.z) })
	both(func(g regs) { w(bit16b(g.a, g.c, g.z), "BIT V%d.16B, V%d.16B, V%d.16B   // 1 + erf(z)", g.a, g.c, g.z) })
	both(func(g regs) { w(fmul4s(g.v, g.v, gHalf), "FMUL V%d.4S, V%d.4S, V%d.4S   // v*0.5", g.v, g.v, gHalf) })
	both(func(g regs) { w(fmul4s(g.v, g.v, g.a), "FMUL V%d.4S, V%d.4S, V%d.4S", g.v, g.v, g.a) })
	add("VST1.P [V0.S4, V1.S4], 32(R0)")
	add("SUBS $1, R1, R1")
	add("BNE loop")
	body += "done:\n"
	add("RET")
	return neonFunc{
		name: "geluNEON", sig: "x *float32, blocks int", frame: "$0-16",
		doc:  []string{"for i := range 8*blocks { v := x[i]; x[i] = float32(v*0.5) * onePlusErf(float32(v*invSqrt2)) }"},
		body: body,
	}
}
