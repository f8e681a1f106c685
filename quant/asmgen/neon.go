package main

// NEON fp32 kernels for attention (arm64). Go's assembler has no vector
// FMUL/FADD/FMLA, so they are WORD-encoded like SDOT, each with the
// rounding of the reference's step (FMLA where it uses fma32).

type neonFunc struct {
	name, sig, frame string
	doc              []string
	body             string
}

// neonFuncs are the NEON fp32 kernels: attention's blocks (attn.go),
// Softmax's exp (neonexp.go), GELU (neongelu.go), activation
// quantisation (neonquant.go) and LayerNorm's passes (neonln.go).
func neonFuncs() []neonFunc {
	return append(attnNEONFuncs(), expSumNEONFunc(), geluNEONFunc(), absMaxNEONFunc(), quantizeNEONFunc(),
		sumLanesNEONFunc(false), sumLanesNEONFunc(true), lnApplyNEONFunc())
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
