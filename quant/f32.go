package quant

import "math"

// The fp32 kernels of a BERT layer. Each reduction runs in a fixed order
// (lanes partial sums over i%Lanes, then a fixed pairwise tree) so SIMD tiers
// can reproduce the reference bit for bit. Products are converted to float32
// before they are added, which stops the compiler fusing them into FMA on
// architectures where it would (arm64), keeping results identical everywhere.

// Lanes is the number of partial sums every fp32 reduction keeps.
const Lanes = 16

// sumLanes reduces the partial sums with a fixed pairwise tree.
func sumLanes(p *[Lanes]float32) float32 {
	var s8 [8]float32
	for i := range 8 {
		s8[i] = p[i] + p[i+8]
	}
	var s4 [4]float32
	for i := range 4 {
		s4[i] = s8[i] + s8[i+4]
	}
	s2a, s2b := s4[0]+s4[2], s4[1]+s4[3]
	return s2a + s2b
}

// The exported kernels below run the AVX2 loops (f32_amd64.s) when the
// active tier has them (tier.f32) and the pure-Go loops otherwise; both are
// written against the same reference loop and give the same bits (tested
// per tier by TestF32Tiers and the golden hash). SIMD loops cover whole
// blocks of 16 (reductions) or 8 (element-wise) values; Go does the tail.

func useF32SIMD() bool { return activeTier.Load().f32 }

// Dot returns sum_i a[i]*b[i] over len(a) values (b at least as long), with
// the reduction order of sumLanes.
func Dot(a, b []float32) float32 {
	var p [Lanes]float32
	b = b[:len(a)]
	done := 0
	if len(a) >= Lanes && useF32SIMD() {
		done = len(a) &^ (Lanes - 1)
		dotLanesAVX2(&a[0], &b[0], done/Lanes, &p)
	}
	for ; done+Lanes <= len(a); done += Lanes {
		x, y := (*[Lanes]float32)(a[done:]), (*[Lanes]float32)(b[done:])
		for l := range Lanes {
			p[l] += float32(x[l] * y[l])
		}
	}
	for i := done; i < len(a); i++ {
		p[i%Lanes] += float32(a[i] * b[i])
	}
	return sumLanes(&p)
}

// Sum returns the sum of x with the reduction order of sumLanes.
func Sum(x []float32) float32 {
	var p [Lanes]float32
	done := sumLanesSIMD(x, &p)
	for i := done; i < len(x); i++ {
		p[i%Lanes] += x[i]
	}
	return sumLanes(&p)
}

// Axpy adds alpha*x to dst element-wise: dst[i] += float32(alpha*x[i]) for
// i < len(x) (dst at least as long). The product is rounded before the
// addition on every tier, so results are identical everywhere (attention's
// probabilities-times-V accumulation uses it).
func Axpy(dst []float32, alpha float32, x []float32) {
	dst = dst[:len(x)]
	done := 0
	if len(x) >= 8 && useF32SIMD() {
		done = len(x) &^ 7
		axpyAVX2(&dst[0], &x[0], done/8, alpha)
	}
	for i := done; i < len(x); i++ {
		dst[i] += float32(alpha * x[i])
	}
}

// LayerNorm writes (x-mean)/sqrt(var+eps)*gamma+beta into dst (one row).
// dst may alias x.
func LayerNorm(dst, x, gamma, beta []float32, eps float32) {
	n := len(x)
	if n == 0 {
		return
	}
	dst, gamma, beta = dst[:n], gamma[:n], beta[:n]
	if n%Lanes == 0 && activeTier.Load().avx512 {
		// The whole row in one call, the same operations in the same order.
		lnRowAVX512(&dst[0], &x[0], &gamma[0], &beta[0], n/Lanes, eps)
		return
	}
	mean := Sum(x) / float32(n)
	var p [Lanes]float32
	done := sqDiffLanesSIMD(x, mean, &p)
	for i := done; i < n; i++ {
		d := x[i] - mean
		p[i%Lanes] += float32(d * d)
	}
	variance := sumLanes(&p) / float32(n)
	inv := float32(1 / math.Sqrt(float64(variance+eps)))
	done = lnApplySIMD(dst, x, gamma, beta, mean, inv)
	for i := done; i < n; i++ {
		dst[i] = float32(float32((x[i]-mean)*inv)*gamma[i]) + beta[i]
	}
}

// GELU applies the erf GELU in place: x * 0.5 * (1 + erf(x/sqrt2)), with
// 1+erf from onePlusErf (absolute error below 2e-6, see mathfn.go).
func GELU(x []float32) {
	done := geluSIMD(x)
	for i := done; i < len(x); i++ {
		v := x[i]
		x[i] = float32(v*0.5) * onePlusErf(float32(v*invSqrt2))
	}
}

// Softmax replaces x by exp(x-max)/sum in place, with exp32 (mathfn.go).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	if activeTier.Load().avx512 {
		// One call for the whole row, tail included.
		var tmp [8]float32
		softmaxRowsAVX512(&x[0], 0, 1, len(x), &tmp)
		return
	}
	simd := useF32SIMD()
	m := maxF32(x, simd)
	var p [Lanes]float32
	done := expSumSIMD(x, m, &p)
	for i := done; i < len(x); i++ {
		e := exp32(x[i] - m)
		x[i] = e
		p[i%Lanes] += e
	}
	inv := 1 / sumLanes(&p)
	done = 0
	if len(x) >= 8 && simd {
		done = len(x) &^ 7
		scaleAVX2(&x[0], done/8, inv)
	}
	for i := done; i < len(x); i++ {
		x[i] *= inv
	}
}

// maxF32 returns the largest value of x (len(x) >= 1) for Softmax, with
// independent running maxima (8 lanes, AVX2 when simd) instead of one
// serial chain. The maximum of numbers is exact in any order; what is not
// fixed is which NaN comes out when x holds one (the lanes may return it or
// skip it) and which zero when the maximum is +-0. Softmax's bits depend
// on neither: a NaN anywhere in x makes every exp(x[i]-m) sum, and so
// every output, NaN; and exp32(x[i]-m) is the same for m = +0 and -0 (a
// difference of zeros is a zero, exp32 of either is 1).
func maxF32(x []float32, simd bool) float32 {
	m := x[0]
	done := 0
	if len(x) >= 8 {
		done = len(x) &^ 7
		if simd {
			m = maxAVX2(&x[0], done/8)
		} else {
			l := [8]float32(x[:8])
			for i := 8; i < done; i += 8 {
				for j, v := range (*[8]float32)(x[i : i+8]) {
					if v > l[j] {
						l[j] = v
					}
				}
			}
			m = l[0]
			for _, v := range l[1:] {
				if v > m {
					m = v
				}
			}
		}
	}
	for _, v := range x[done:] {
		if v > m {
			m = v
		}
	}
	return m
}
