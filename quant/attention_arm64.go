//go:build arm64 && !purego

package quant

// mulBlockNEON[rows-1] keeps rows x 16 sums in q registers.
var mulBlockNEON = [attnMR]func(dst *float32, ldd uintptr, a *float32, lda uintptr, b *float32, ldb uintptr, k, cblocks int, scale float32){
	mulBlockR1NEON, mulBlockR2NEON, mulBlockR3NEON, mulBlockR4NEON,
}

// mulBlockSIMD runs mulBlock with NEON on cblocks blocks of 16 columns
// (strides in float32s).
func mulBlockSIMD(dst *float32, ldd int, a *float32, lda int, b *float32, ldb int, rows, k, cblocks int, scale float32) {
	mulBlockNEON[rows-1](dst, uintptr(ldd*4), a, uintptr(lda*4), b, uintptr(ldb*4), k, cblocks, scale)
}
