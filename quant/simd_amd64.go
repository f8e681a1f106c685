//go:build amd64 && !purego

package quant

// The fp32 kernels' dispatch on amd64: which of the AVX2 and AVX-512 kernels (f32_amd64.s)
// the active tier runs for each of the generic code's SIMD steps (mulBlock,
// Softmax's exp, GELU, LayerNorm's passes, quantisation); each returns
// how much it did, and the generic code finishes the rest in Go.

// mulBlockAVX2[rows-1] keeps rows x 16 sums in ymm registers.
var mulBlockAVX2 = [attnMR]func(dst *float32, ldd uintptr, a *float32, lda uintptr, b *float32, ldb uintptr, k, cblocks int, scale float32){
	mulBlockR1AVX2, mulBlockR2AVX2, mulBlockR3AVX2, mulBlockR4AVX2, mulBlockR5AVX2, mulBlockR6AVX2,
}

// mulBlockAVX512[rows-1] keeps rows x 32 sums in zmm registers.
var mulBlockAVX512 = [attnMR]func(dst *float32, ldd uintptr, a *float32, lda uintptr, b *float32, ldb uintptr, k, cblocks int, scale float32){
	mulBlockR1AVX512, mulBlockR2AVX512, mulBlockR3AVX512, mulBlockR4AVX512, mulBlockR5AVX512, mulBlockR6AVX512,
}

// mulBlockSIMD runs mulBlock with AVX-512 (tiers with avx512) or AVX2 on
// cblocks blocks of 16 columns (strides in float32s).
func mulBlockSIMD(dst *float32, ldd int, a *float32, lda int, b *float32, ldb int, rows, k, cblocks int, scale float32) {
	kern := &mulBlockAVX2
	if activeTier.Load().avx512 {
		kern = &mulBlockAVX512
	}
	kern[rows-1](dst, uintptr(ldd*4), a, uintptr(lda*4), b, uintptr(ldb*4), k, cblocks, scale)
}

// expSumSIMD runs Softmax's exp-and-sum pass over the whole blocks of 16
// values of x with AVX2 when the tier has it (AVX-512 tiers run all of
// Softmax in softmaxRowsAVX512), and returns how many values it did.
func expSumSIMD(x []float32, m float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !useF32SIMD() {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	expSumAVX2(&x[0], done/Lanes, m, p)
	return done
}

// geluSIMD applies GELU to the whole blocks of 8 values of x with AVX-512
// (blocks of 16) and AVX2 when the tier has them, and returns how many
// values it did.
func geluSIMD(x []float32) int {
	done := 0
	if len(x) >= 8 && useF32SIMD() {
		if len(x) >= 16 && activeTier.Load().avx512 {
			done = len(x) &^ 15
			geluAVX512(&x[0], done/16)
		}
		if rest := (len(x) - done) &^ 7; rest > 0 {
			geluAVX2(&x[done], rest/8)
			done += rest
		}
	}
	return done
}

// absMaxSIMD returns the largest |x[i]| (NaN ignored) of the first done
// values of x, a multiple of 8, with AVX-512 for whole blocks of 16 where
// the tier has it and AVX2 for the rest; done is 0 without the fp32 loops.
// The maximum is exact in any order, so any split gives the same bits.
func absMaxSIMD(x []float32) (m float32, done int) {
	if len(x) < 8 || !useF32SIMD() {
		return 0, 0
	}
	n := len(x) &^ 7
	if n >= 16 && activeTier.Load().avx512 {
		done = n &^ 15
		m = absMaxAVX512(&x[0], done/16)
	}
	if done < n {
		m = max(m, absMaxAVX2(&x[done], (n-done)/8))
	}
	return m, n
}

// quantizeSIMD quantises the len(x) values (absMaxSIMD's done) with the
// SIMD loops of the active tier: AVX-512 for whole blocks of 16 where the
// tier has it, AVX2 for the rest. Element-wise, so any split gives the
// same bits.
func quantizeSIMD(dst []int8, x []float32, inv float32) {
	done := 0
	if len(x) >= 16 && activeTier.Load().avx512 {
		done = len(x) &^ 15
		quantizeAVX512(&dst[0], &x[0], done/16, inv)
	}
	if done < len(x) {
		quantizeAVX2(&dst[done], &x[done], (len(x)-done)/8, inv)
	}
}

// sumLanesSIMD adds the whole blocks of 16 values of x into p lane by lane
// (quant.Sum's order) with AVX2 when the tier has it, and returns how many
// values it did.
func sumLanesSIMD(x []float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !useF32SIMD() {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	sumLanesAVX2(&x[0], done/Lanes, p)
	return done
}

// sqDiffLanesSIMD is sumLanesSIMD for the squared differences from mean.
func sqDiffLanesSIMD(x []float32, mean float32, p *[Lanes]float32) int {
	if len(x) < Lanes || !useF32SIMD() {
		return 0
	}
	done := len(x) &^ (Lanes - 1)
	sqDiffLanesAVX2(&x[0], done/Lanes, mean, p)
	return done
}

// lnApplySIMD is LayerNorm's scaling over the whole blocks of 8 values,
// AVX-512 for blocks of 16 where the tier has it; it returns how many
// values it did.
func lnApplySIMD(dst, x, gamma, beta []float32, mean, inv float32) int {
	n := len(x)
	if n < 8 || !useF32SIMD() {
		return 0
	}
	done := 0
	if n >= 16 && activeTier.Load().avx512 {
		done = n &^ 15
		lnApplyAVX512(&dst[0], &x[0], &gamma[0], &beta[0], done/16, mean, inv)
	}
	if rest := (n - done) &^ 7; rest > 0 {
		lnApplyAVX2(&dst[done], &x[done], &gamma[done], &beta[done], rest/8, mean, inv)
		done += rest
	}
	return done
}
