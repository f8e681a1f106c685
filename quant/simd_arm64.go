//go:build arm64 && !purego

package quant

// The fp32 kernels' dispatch on arm64: which of the NEON kernels (f32_arm64.s)
// the active tier runs for each of the generic code's SIMD steps (mulBlock,
// Softmax's exp, GELU, LayerNorm's passes, quantisation); each returns
// how much it did, and the generic code finishes the rest in Go.

import "unsafe"

// mulBlockNEON[rows-1] keeps rows x 16 sums in q registers.
var mulBlockNEON = [4]func(dst *float32, ldd uintptr, a *float32, lda uintptr, b *float32, ldb uintptr, k, cblocks int, scale float32){
	mulBlockR1NEON, mulBlockR2NEON, mulBlockR3NEON, mulBlockR4NEON,
}

// mulBlockSIMD runs mulBlock with NEON on cblocks blocks of 16 columns
// (strides in float32s), 4 rows per call at most: rows are independent,
// so splitting them changes no bits.
func mulBlockSIMD(dst *float32, ldd int, a *float32, lda int, b *float32, ldb int, rows, k, cblocks int, scale float32) {
	if rows > 4 {
		mulBlockNEON[3](dst, uintptr(ldd*4), a, uintptr(lda*4), b, uintptr(ldb*4), k, cblocks, scale)
		dst = (*float32)(unsafe.Add(unsafe.Pointer(dst), 4*4*ldd))
		a = (*float32)(unsafe.Add(unsafe.Pointer(a), 4*4*lda))
		rows -= 4
	}
	mulBlockNEON[rows-1](dst, uintptr(ldd*4), a, uintptr(lda*4), b, uintptr(ldb*4), k, cblocks, scale)
}

// expSumSIMD runs Softmax's exp-and-sum pass over the whole blocks of 16
// values of x with NEON on the NEON tiers, and returns how many values it
// did.
func expSumSIMD(x []float32, m float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !activeTier.Load().rows {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	expSumNEON(&x[0], done/Lanes, m, p)
	return done
}

// geluSIMD applies GELU to the whole blocks of 8 values of x with NEON on
// the NEON tiers, and returns how many values it did.
func geluSIMD(x []float32) int {
	if len(x) < 8 || !activeTier.Load().rows {
		return 0
	}
	done := len(x) &^ 7
	geluNEON(&x[0], done/8)
	return done
}

// absMaxSIMD returns the largest |x[i]| (NaN ignored) of the first done
// values of x, its whole blocks of 16, with NEON on the NEON tiers (done
// is 0 otherwise).
func absMaxSIMD(x []float32) (m float32, done int) {
	if len(x) < 16 || !activeTier.Load().rows {
		return 0, 0
	}
	done = len(x) &^ 15
	return absMaxNEON(&x[0], done/16), done
}

// quantizeSIMD quantises the len(x) values (absMaxSIMD's done, a multiple
// of 16) with NEON.
func quantizeSIMD(dst []int8, x []float32, inv float32) {
	quantizeNEON(&dst[0], &x[0], len(x)/16, inv)
}

// sumLanesSIMD adds the whole blocks of 16 values of x into p lane by lane
// (quant.Sum's order) with NEON on the NEON tiers, and returns how many
// values it did.
func sumLanesSIMD(x []float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !activeTier.Load().rows {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	sumLanesNEON(&x[0], done/Lanes, p)
	return done
}

// sqDiffLanesSIMD is sumLanesSIMD for the squared differences from mean.
func sqDiffLanesSIMD(x []float32, mean float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !activeTier.Load().rows {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	sqDiffLanesNEON(&x[0], done/Lanes, mean, p)
	return done
}

// lnApplySIMD is LayerNorm's scaling over the whole blocks of 16 values
// with NEON; it returns how many values it did.
func lnApplySIMD(dst, x, gamma, beta []float32, mean, inv float32) int {
	if len(x) < 16 || !activeTier.Load().rows {
		return 0
	}
	done := len(x) &^ 15
	lnApplyNEON(&dst[0], &x[0], &gamma[0], &beta[0], done/16, mean, inv)
	return done
}
