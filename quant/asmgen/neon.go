package main

import "fmt"

// NEON fp32 kernels for attention (arm64). Go's assembler has no vector
// FMUL/FADD or scalar FADDP, so they are WORD-encoded like SDOT; all are
// separately rounded, so the reference's bits are reproduced.

func faddp2s(d, n int) uint32 { return 0x7e30d800 | uint32(n)<<5 | uint32(d) }

type neonFunc struct {
	name, sig, frame string
	doc              []string
	body             string
}

func neonFuncs() []neonFunc {
	var fs []neonFunc
	for blocks := 1; blocks <= 4; blocks++ {
		var body string
		add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
		w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
		add("MOVD dst+0(FP), R0")
		add("MOVD q+8(FP), R1")
		add("MOVD k+16(FP), R2")
		add("MOVD ldk+24(FP), R3")
		add("MOVD n+32(FP), R4")
		for b := 0; b < blocks; b++ {
			add("VLD1.P 64(R1), [V%d.S4, V%d.S4, V%d.S4, V%d.S4]", 16+4*b, 17+4*b, 18+4*b, 19+4*b)
		}
		add("CBZ R4, done")
		body += "row:\n"
		add("MOVD R2, R6")
		for v := 0; v < 4; v++ {
			add("VEOR V%d.B16, V%d.B16, V%d.B16", v, v, v)
		}
		// Products are added lane-wise: lane group g of block b into V(g).
		for b := 0; b < blocks; b++ {
			add("VLD1.P 64(R6), [V4.S4, V5.S4, V6.S4, V7.S4]")
			for g := 0; g < 4; g++ {
				w(fmul4s(8+g, 16+4*b+g, 4+g), "FMUL V%d.4S, V%d.4S, V%d.4S", 8+g, 16+4*b+g, 4+g)
				w(fadd4s(g, g, 8+g), "FADD V%d.4S, V%d.4S, V%d.4S", g, g, 8+g)
			}
		}
		w(fadd4s(0, 0, 2), "FADD V0.4S, V0.4S, V2.4S   // s8[0:4] = p[0:4] + p[8:12]")
		w(fadd4s(1, 1, 3), "FADD V1.4S, V1.4S, V3.4S   // s8[4:8] = p[4:8] + p[12:16]")
		w(fadd4s(0, 0, 1), "FADD V0.4S, V0.4S, V1.4S   // s4 = s8[0:4] + s8[4:8]")
		add("VEXT $8, V0.B16, V0.B16, V1.B16")
		w(fadd4s(0, 0, 1), "FADD V0.4S, V0.4S, V1.4S   // s4[0]+s4[2], s4[1]+s4[3]")
		w(faddp2s(0, 0), "FADDP S0, V0.2S             // s2a + s2b")
		add("FMOVS scale+40(FP), F1")
		add("FMULS F1, F0, F0")
		add("FMOVS.P F0, 4(R0)")
		add("ADD R3, R2, R2")
		add("SUBS $1, R4, R4")
		add("BNE row")
		body += "done:\n"
		add("RET")
		fs = append(fs, neonFunc{
			name: fmt.Sprintf("dotRows%dNEON", blocks), sig: "dst, q, k *float32, ldk uintptr, n int, scale float32", frame: "$0-44",
			doc: []string{
				"for j := range n { kj := k[j*ldk/4:]; var p [16]float32",
				fmt.Sprintf("    for i := range %d { p[i%%16] += float32(q[i] * kj[i]) }", 16*blocks),
				"    dst[j] = sumLanes(&p) * scale }",
			},
			body: body,
		})
	}
	for blocks := 1; blocks <= 4; blocks++ {
		var body string
		add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
		w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
		add("MOVD dst+0(FP), R0")
		add("MOVD p+8(FP), R1")
		add("MOVD v+16(FP), R2")
		add("MOVD ldv+24(FP), R3")
		add("MOVD n+32(FP), R4")
		add("CBZ R4, done")
		add("MOVD R0, R6")
		for b := 0; b < blocks; b++ {
			add("VLD1.P 64(R6), [V%d.S4, V%d.S4, V%d.S4, V%d.S4]", 4*b, 4*b+1, 4*b+2, 4*b+3)
		}
		body += "loop:\n"
		add("VLD1R.P 4(R1), [V20.S4]")
		add("MOVD R2, R6")
		for b := 0; b < blocks; b++ {
			add("VLD1.P 64(R6), [V24.S4, V25.S4, V26.S4, V27.S4]")
			for g := 0; g < 4; g++ {
				a := 4*b + g
				w(fmul4s(28+g, 20, 24+g), "FMUL V%d.4S, V20.4S, V%d.4S", 28+g, 24+g)
				w(fadd4s(a, a, 28+g), "FADD V%d.4S, V%d.4S, V%d.4S", a, a, 28+g)
			}
		}
		add("ADD R3, R2, R2")
		add("SUBS $1, R4, R4")
		add("BNE loop")
		add("MOVD R0, R6")
		for b := 0; b < blocks; b++ {
			add("VST1.P [V%d.S4, V%d.S4, V%d.S4, V%d.S4], 64(R6)", 4*b, 4*b+1, 4*b+2, 4*b+3)
		}
		body += "done:\n"
		add("RET")
		fs = append(fs, neonFunc{
			name: fmt.Sprintf("axpyRows%dNEON", blocks), sig: "dst, p, v *float32, ldv uintptr, n int", frame: "$0-40",
			doc:  []string{fmt.Sprintf("for j := range n { vj := v[j*ldv/4:]; for e := range %d { dst[e] += float32(p[j] * vj[e]) } }", 16*blocks)},
			body: body,
		})
	}
	return append(fs, attnNEONFuncs()...)
}

func genF32ARM64() []byte {
	var b asm
	b.f("%s//go:build arm64 && !purego\n\n#include \"textflag.h\"\n", header)
	for _, fn := range neonFuncs() {
		b.f("// func %s(%s)", fn.name, fn.sig)
		b.f("TEXT ·%s(SB), NOSPLIT, %s", fn.name, fn.frame)
		b.Buffer.WriteString(fn.body)
		b.f("")
	}
	return b.Bytes()
}

func genF32ARM64Decls() []byte {
	var b asm
	b.f("%s//go:build arm64 && !purego\n\npackage quant\n", header)
	for _, fn := range neonFuncs() {
		b.f("// %s implements, with the reference's rounding and order:", fn.name)
		b.f("//")
		for _, d := range fn.doc {
			b.f("//\t%s", d)
		}
		b.f("//\n//go:noescape\nfunc %s(%s)\n", fn.name, fn.sig)
	}
	return b.Bytes()
}
