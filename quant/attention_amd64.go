//go:build amd64 && !purego

package quant

// mulBlockAVX2[rows-1] keeps rows x 16 sums in ymm registers.
var mulBlockAVX2 = [attnMR]func(dst *float32, ldd uintptr, a *float32, lda uintptr, b *float32, ldb uintptr, k, cblocks int, scale float32){
	mulBlockR1AVX2, mulBlockR2AVX2, mulBlockR3AVX2, mulBlockR4AVX2, mulBlockR5AVX2, mulBlockR6AVX2,
}

// mulBlockSIMD runs mulBlock with AVX2 on cblocks blocks of 16 columns
// (strides in float32s).
func mulBlockSIMD(dst *float32, ldd int, a *float32, lda int, b *float32, ldb int, rows, k, cblocks int, scale float32) {
	mulBlockAVX2[rows-1](dst, uintptr(ldd*4), a, uintptr(lda*4), b, uintptr(ldb*4), k, cblocks, scale)
}

// expSumSIMD runs Softmax's exp-and-sum pass over the whole blocks of 16
// values of x with AVX2 when the tier has the fp32 kernels, and returns
// how many values it did.
func expSumSIMD(x []float32, m float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !useF32SIMD() {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	expSumAVX2(&x[0], done/Lanes, m, p)
	return done
}
