package main

import "fmt"

// LayerNorm's passes on arm64, 16 values per iteration in four q
// registers: the 16-lane sums for the mean (sumLanesNEON) and for the
// squared differences (sqDiffLanesNEON, FSUB then FMUL then FADD, each
// rounded, as quant.LayerNorm), and the scaling (lnApplyNEON). Lane l of
// p accumulates x[16b+l] block by block, the order quant.Sum fixes.

func sumLanesNEONFunc(sq bool) neonFunc {
	var body string
	add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
	w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
	name, sig, frame := "sumLanesNEON", "x *float32, blocks int, p *[Lanes]float32", "$0-24"
	doc := []string{"for i := range 16*blocks { p[i%16] += x[i] }"}
	pArg := "p+16(FP)"
	if sq {
		name, sig, frame = "sqDiffLanesNEON", "x *float32, blocks int, mean float32, p *[Lanes]float32", "$0-32"
		doc = []string{"for i := range 16*blocks { d := x[i] - mean; p[i%16] += float32(d * d) }"}
		pArg = "p+24(FP)"
	}
	add("MOVD x+0(FP), R0")
	add("MOVD blocks+8(FP), R1")
	add("MOVD %s, R2", pArg)
	if sq {
		add("MOVD $mean+16(FP), R3")
		add("VLD1R (R3), [V16.S4]")
	}
	add("VLD1 (R2), [V0.S4, V1.S4, V2.S4, V3.S4]")
	add("CBZ R1, done")
	body += "loop:\n"
	add("VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]")
	if sq {
		for v := 4; v < 8; v++ {
			w(fsub4s(v, v, 16), "FSUB V%d.4S, V%d.4S, V16.4S   // d", v, v)
		}
		for v := 4; v < 8; v++ {
			w(fmul4s(v, v, v), "FMUL V%d.4S, V%d.4S, V%d.4S   // d*d", v, v, v)
		}
	}
	for v := 0; v < 4; v++ {
		w(fadd4s(v, v, 4+v), "FADD V%d.4S, V%d.4S, V%d.4S", v, v, 4+v)
	}
	add("SUBS $1, R1, R1")
	add("BNE loop")
	body += "done:\n"
	add("VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R2)")
	add("RET")
	return neonFunc{name: name, sig: sig, frame: frame, doc: doc, body: body}
}

func lnApplyNEONFunc() neonFunc {
	var body string
	add := func(f string, a ...any) { body += fmt.Sprintf("\t"+f+"\n", a...) }
	w := func(code uint32, f string, a ...any) { add("WORD $0x%08x // "+f, append([]any{code}, a...)...) }
	add("MOVD dst+0(FP), R0")
	add("MOVD x+8(FP), R1")
	add("MOVD gamma+16(FP), R2")
	add("MOVD beta+24(FP), R3")
	add("MOVD blocks+32(FP), R4")
	add("MOVD $mean+40(FP), R5")
	add("VLD1R (R5), [V16.S4]")
	add("MOVD $inv+44(FP), R5")
	add("VLD1R (R5), [V17.S4]")
	add("CBZ R4, done")
	body += "loop:\n"
	add("VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]")
	add("VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]")
	add("VLD1.P 64(R3), [V8.S4, V9.S4, V10.S4, V11.S4]")
	for v := 0; v < 4; v++ {
		w(fsub4s(v, v, 16), "FSUB V%d.4S, V%d.4S, V16.4S   // x - mean", v, v)
	}
	for v := 0; v < 4; v++ {
		w(fmul4s(v, v, 17), "FMUL V%d.4S, V%d.4S, V17.4S   // * inv", v, v)
	}
	for v := 0; v < 4; v++ {
		w(fmul4s(v, v, 4+v), "FMUL V%d.4S, V%d.4S, V%d.4S   // * gamma", v, v, 4+v)
	}
	for v := 0; v < 4; v++ {
		w(fadd4s(v, v, 8+v), "FADD V%d.4S, V%d.4S, V%d.4S   // + beta", v, v, 8+v)
	}
	add("VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)")
	add("SUBS $1, R4, R4")
	add("BNE loop")
	body += "done:\n"
	add("RET")
	return neonFunc{
		name: "lnApplyNEON", sig: "dst, x, gamma, beta *float32, blocks int, mean, inv float32", frame: "$0-48",
		doc:  []string{"for i := range 16*blocks { dst[i] = float32(float32((x[i]-mean)*inv)*gamma[i]) + beta[i] }"},
		body: body,
	}
}
