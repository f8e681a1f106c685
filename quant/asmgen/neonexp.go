package main

import (
	"fmt"
	"math"
)

// expSumNEON: Softmax's exp-and-sum pass on arm64, the operation sequence
// of quant.exp32 (and of exp8, the AVX2 one) in 4-lane vectors. Go's
// assembler lacks these vector forms, so they are WORD-encoded. The
// reduction and Horner steps are fused (FMLS, FMLA: one rounding, as
// exp32's fma32); FMLA adds into its destination, so each step copies the
// constant into a scratch register and the polynomial alternates between
// two registers.

// Vector (4 x 32-bit, Q=1) encodings beyond fmul4s and fadd4s.
func fsub4s(d, n, m int) uint32  { return 0x4ea0d400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) }
func frintn4s(d, n int) uint32   { return 0x4e218800 | uint32(n)<<5 | uint32(d) }                 // round to nearest, ties to even
func fcvtzs4s(d, n int) uint32   { return 0x4ea1b800 | uint32(n)<<5 | uint32(d) }                 // to int32, toward zero
func fcmgt4s(d, n, m int) uint32 { return 0x6ea0e400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // d = n > m
func add4s(d, n, m int) uint32   { return 0x4ea08400 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // int32 add
func shl4s(d, n, sh int) uint32  { return 0x4f005400 | uint32(32+sh)<<16 | uint32(n)<<5 | uint32(d) }
func bit16b(d, n, m int) uint32  { return 0x6ea01c00 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // d = m ? n : d
func bic16b(d, n, m int) uint32  { return 0x4e601c00 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // d = n &^ m
func dup4s(d, wn int) uint32     { return 0x4e040c00 | uint32(wn)<<5 | uint32(d) }                // d = broadcast Wn
func fmls4s(d, n, m int) uint32  { return 0x4ea0cc00 | uint32(m)<<16 | uint32(n)<<5 | uint32(d) } // d -= n*m, fused
func orr16b(d, n int) uint32     { return 0x4ea01c00 | uint32(n)<<16 | uint32(n)<<5 | uint32(d) } // d = n (MOV)

// Constant registers of expSumNEON.
const (
	vLog2e = 5 + iota
	vLn2Hi
	vLn2Lo
	vE7
	vE6
	vE5
	vE4
	vE3
	vHalf
	vOne
	vHi
	vLo
	vInf
	vI127
	vM // the row maximum
)

func expSumNEONFunc() neonFunc {
	var body string
	add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
	w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
	f := math.Float32bits
	add("MOVD x+0(FP), R0")
	add("MOVD blocks+8(FP), R1")
	add("MOVD p+24(FP), R2")
	add("MOVD $m+16(FP), R3")
	add("VLD1R (R3), [V%d.S4]", vM)
	for _, c := range []struct {
		v    int
		bits uint32
	}{
		{vLog2e, f(log2e)}, {vLn2Hi, f(ln2Hi)}, {vLn2Lo, f(ln2Lo)},
		{vE7, f(1.0 / 5040)}, {vE6, f(1.0 / 720)}, {vE5, f(1.0 / 120)}, {vE4, f(1.0 / 24)}, {vE3, f(1.0 / 6)},
		{vHalf, f(0.5)}, {vOne, f(1)}, {vHi, f(88)}, {vLo, f(-87.3)}, {vInf, 0x7f800000}, {vI127, 127},
	} {
		add("MOVW $0x%08x, R4", c.bits)
		w(dup4s(c.v, 4), "DUP V%d.4S, W4", c.v)
	}
	add("VLD1 (R2), [V0.S4, V1.S4, V2.S4, V3.S4]")
	add("CBZ R1, done")
	body += "loop:\n"
	add("VLD1 (R0), [V20.S4, V21.S4, V22.S4, V23.S4]")
	// Two vectors at a time (t in V20+i, then registers 24.. as scratch),
	// instructions interleaved so both chains are in flight.
	for half := 0; half < 2; half++ {
		ts := []int{20 + 2*half, 21 + 2*half}
		type regs struct{ t, out, kf, r, tmp int }
		rs := []regs{{ts[0], 24, 25, 26, 27}, {ts[1], 28, 29, 30, 31}}
		both := func(fn func(g regs)) {
			for _, g := range rs {
				fn(g)
			}
		}
		both(func(g regs) { w(fsub4s(g.t, g.t, vM), "FSUB V%d.4S, V%d.4S, V%d.4S   // t = x - m", g.t, g.t, vM) })
		both(func(g regs) { w(fmul4s(g.kf, g.t, vLog2e), "FMUL V%d.4S, V%d.4S, V%d.4S", g.kf, g.t, vLog2e) })
		both(func(g regs) { w(frintn4s(g.kf, g.kf), "FRINTN V%d.4S, V%d.4S   // kf", g.kf, g.kf) })
		both(func(g regs) { w(orr16b(g.r, g.t), "MOV V%d.16B, V%d.16B", g.r, g.t) })
		both(func(g regs) { w(fmls4s(g.r, g.kf, vLn2Hi), "FMLS V%d.4S, V%d.4S, V%d.4S", g.r, g.kf, vLn2Hi) })
		both(func(g regs) { w(fmls4s(g.r, g.kf, vLn2Lo), "FMLS V%d.4S, V%d.4S, V%d.4S   // r", g.r, g.kf, vLn2Lo) })
		// p = e7; then p = c + p*r for each c, alternating between out and
		// tmp so that the last of the 7 steps lands in out.
		steps := []int{vE6, vE5, vE4, vE3, vHalf, vOne, vOne}
		for i, c := range steps {
			both(func(g regs) {
				src, dst := g.tmp, g.out
				if i%2 == 1 {
					src, dst = g.out, g.tmp
				}
				if i == 0 {
					src = vE7
				}
				w(orr16b(dst, c), "MOV V%d.16B, V%d.16B", dst, c)
				w(fmla4s(dst, src, g.r), "FMLA V%d.4S, V%d.4S, V%d.4S", dst, src, g.r)
			})
		}
		both(func(g regs) { w(fcvtzs4s(g.kf, g.kf), "FCVTZS V%d.4S, V%d.4S", g.kf, g.kf) })
		both(func(g regs) { w(add4s(g.kf, g.kf, vI127), "ADD V%d.4S, V%d.4S, V%d.4S", g.kf, g.kf, vI127) })
		both(func(g regs) { w(shl4s(g.kf, g.kf, 23), "SHL V%d.4S, V%d.4S, #23   // 2**kf", g.kf, g.kf) })
		both(func(g regs) { w(fmul4s(g.out, g.out, g.kf), "FMUL V%d.4S, V%d.4S, V%d.4S", g.out, g.out, g.kf) })
		both(func(g regs) { w(fcmgt4s(g.tmp, g.t, vHi), "FCMGT V%d.4S, V%d.4S, V%d.4S   // t > 88", g.tmp, g.t, vHi) })
		both(func(g regs) {
			w(bit16b(g.out, vInf, g.tmp), "BIT V%d.16B, V%d.16B, V%d.16B   // +Inf", g.out, vInf, g.tmp)
		})
		both(func(g regs) {
			w(fcmgt4s(g.tmp, vLo, g.t), "FCMGT V%d.4S, V%d.4S, V%d.4S   // t < -87.3", g.tmp, vLo, g.t)
		})
		both(func(g regs) {
			w(bic16b(g.t, g.out, g.tmp), "BIC V%d.16B, V%d.16B, V%d.16B   // 0; e", g.t, g.out, g.tmp)
		})
		for i, g := range rs {
			acc := 2*half + i
			w(fadd4s(acc, acc, g.t), "FADD V%d.4S, V%d.4S, V%d.4S   // p[%d:%d] += e", acc, acc, g.t, 4*acc, 4*acc+4)
		}
	}
	add("VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R0)")
	add("SUBS $1, R1, R1")
	add("BNE loop")
	body += "done:\n"
	add("VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R2)")
	add("RET")
	return neonFunc{
		name: "expSumNEON", sig: "x *float32, blocks int, m float32, p *[Lanes]float32", frame: "$0-32",
		doc:  []string{"for i := range 16*blocks { e := exp32(x[i] - m); x[i] = e; p[i%16] += e }"},
		body: body,
	}
}
