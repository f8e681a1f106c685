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

// Dot returns sum_i a[i]*b[i] over len(a) values (b at least as long), with
// the reduction order of sumLanes.
func Dot(a, b []float32) float32 {
	var p [Lanes]float32
	b = b[:len(a)]
	for i := range a {
		p[i%Lanes] += float32(a[i] * b[i])
	}
	return sumLanes(&p)
}

// Sum returns the sum of x with the reduction order of sumLanes.
func Sum(x []float32) float32 {
	var p [Lanes]float32
	for i, v := range x {
		p[i%Lanes] += v
	}
	return sumLanes(&p)
}

// LayerNorm writes (x-mean)/sqrt(var+eps)*gamma+beta into dst (one row).
// dst may alias x.
func LayerNorm(dst, x, gamma, beta []float32, eps float32) {
	n := len(x)
	if n == 0 {
		return
	}
	mean := Sum(x) / float32(n)
	var p [Lanes]float32
	for i, v := range x {
		d := v - mean
		p[i%Lanes] += float32(d * d)
	}
	variance := sumLanes(&p) / float32(n)
	inv := float32(1 / math.Sqrt(float64(variance+eps)))
	for i, v := range x {
		dst[i] = float32(float32((v-mean)*inv)*gamma[i]) + beta[i]
	}
}

// GELU applies the erf GELU in place: x * 0.5 * (1 + erf(x/sqrt2)), with
// 1+erf from onePlusErf (absolute error below 2e-6, see mathfn.go).
func GELU(x []float32) {
	for i, v := range x {
		x[i] = float32(v*0.5) * onePlusErf(float32(v*invSqrt2))
	}
}

// Softmax replaces x by exp(x-max)/sum in place.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var p [Lanes]float32
	for i, v := range x {
		e := exp32(v - m)
		x[i] = e
		p[i%Lanes] += e
	}
	inv := 1 / sumLanes(&p)
	for i := range x {
		x[i] *= inv
	}
}
