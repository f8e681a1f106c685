package quant

import "math"

// exp and erf for the fp32 kernels, written so that every architecture and
// every SIMD tier computes the same bits: only float32 additions,
// multiplications, fused multiply-adds (fma32, rounded once like the
// hardware's: the polynomials' steps), one division and exact scalings by
// powers of two. Every other product is converted explicitly, so that no
// compiler fuses it into an FMA of its own (Go fuses x*y+z on arm64;
// math.Exp and math.Erf would then differ from amd64 in the last bit).
// Accuracy against math.Exp and math.Erf is checked in mathfn_test.go.

const invSqrt2 = float32(1 / math.Sqrt2)

// fma32 returns a*b + c rounded once to float32, as the fused multiply-add
// instructions of every SIMD tier compute it (VFMADD231PS, FMLA). Go has
// no float32 FMA. The product of two float32s is exact in float64, so the
// float64 sum s is the exact sum rounded once; rounding s to float32 is
// then right unless s landed exactly on a float32 midpoint (the tie would
// be broken by where the exact sum was, which s no longer says) or in the
// float32 subnormal range, where the midpoints have fewer bits.
func fma32(a, b, c float32) float32 {
	s := float64(a)*float64(b) + float64(c)
	if fma32Midpoint(s) {
		return fma32Odd(a, b, c)
	}
	return float32(s)
}

// fma32Midpoint reports whether the float64 sum s of fma32's exact
// product and addend needs fma32Odd: s is a float32 midpoint, or below
// float32's normal range. Small enough to inline in loops.
func fma32Midpoint(s float64) bool {
	const (
		dropped = 1<<29 - 1              // the float64 bits float32 drops
		half    = 1 << 28                // their value at a midpoint
		minExp  = uint64(1023-126) << 52 // float32's smallest normal exponent
		expMask = uint64(0x7ff) << 52
	)
	bits := math.Float64bits(s)
	return bits&dropped == half || bits&expMask < minExp
}

// fma32Odd is fma32 for any sum: the float64 sum is rounded to odd first
// (truncated, with its last bit set when inexact), which makes the second
// rounding correct because float64 keeps more than two extra bits; TwoSum
// gives the exact error that decides the direction.
func fma32Odd(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	z := float64(c)
	s := p + z
	// TwoSum: s + e == p + z exactly (e is NaN when s is not finite).
	bb := s - p
	e := (p - (s - bb)) + (z - bb)
	if e != 0 && e == e {
		bits := math.Float64bits(s)
		if bits&1 == 0 {
			// Round to odd: the neighbour of s on the side of the exact
			// sum (s itself is even, so that neighbour is odd).
			if (e > 0) == (s > 0) {
				bits++
			} else {
				bits--
			}
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// Cody-Waite split of ln 2: ln2Hi has 9 significant bits, so k*ln2Hi is
// exact for |k| < 2^15; ln2Lo = ln 2 - ln2Hi.
const (
	log2e = float32(math.Log2E)
	ln2Hi = float32(0.693359375)
	ln2Lo = float32(math.Ln2 - 0.693359375)
)

// exp32 returns e**x with a relative error of a few float32 ulps for
// x in [-87.3, 88]; below it returns 0 (no subnormals), above +Inf.
//
//	k = roundEven(x*log2e), r = x - k*ln2 (|r| <= 0.347)
//	e**x = 2**k * (1 + r + r^2/2! + ... + r^7/7!)
//
// The Taylor tail after r^7/7! is below 6e-9 relative. The reduction and
// each Horner step are fused multiply-adds (fma32): one instruction each in
// the SIMD tiers' exp (VFMADD/VFNMADD, FMLA/FMLS) instead of a multiply
// and an add.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88:
		return float32(math.Inf(1))
	case x < -87.3:
		return 0
	}
	kf := float32(math.RoundToEven(float64(float32(x * log2e))))
	r := fma32(-kf, ln2Hi, x) // kf*ln2Hi is exact: the same as x - kf*ln2Hi
	r = fma32(-kf, ln2Lo, r)
	p := float32(1.0 / 5040)
	p = fma32(p, r, 1.0/720)
	p = fma32(p, r, 1.0/120)
	p = fma32(p, r, 1.0/24)
	p = fma32(p, r, 1.0/6)
	p = fma32(p, r, 0.5)
	p = fma32(p, r, 1)
	p = fma32(p, r, 1)
	return p * math.Float32frombits(uint32(int32(kf)+127)<<23)
}

// Coefficients of Abramowitz & Stegun 7.1.28:
// erfc(z) ~ 1/(1 + a1 z + ... + a6 z^6)^16 for z >= 0, |error| <= 3e-7.
const (
	erfA1 = float32(0.0705230784)
	erfA2 = float32(0.0422820123)
	erfA3 = float32(0.0092705272)
	erfA4 = float32(0.0001520143)
	erfA5 = float32(0.0002765672)
	erfA6 = float32(0.0000430638)
)

// onePlusErf returns 1 + erf(z) with an absolute error below 2e-6 (the
// formula's 3e-7 plus float32 rounding of the 16th power). The polynomial's
// Horner steps are fused multiply-adds (fma32), like exp32's. For z < 0 it is
// erfc(|z|) directly, so there is no cancellation in the negative tail
// where GELU needs it.
func onePlusErf(z float32) float32 {
	if z != z {
		return z
	}
	a := z
	if a < 0 {
		a = -a
	}
	q := erfA6
	q = fma32(q, a, erfA5)
	q = fma32(q, a, erfA4)
	q = fma32(q, a, erfA3)
	q = fma32(q, a, erfA2)
	q = fma32(q, a, erfA1)
	q = fma32(q, a, 1)
	q *= q
	q *= q
	q *= q
	q *= q
	c := 1 / q // erfc(|z|)
	if z < 0 {
		return c
	}
	return 2 - c
}
