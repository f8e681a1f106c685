package privacy

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// dlapCDF returns the CDF of the grid-Laplace release: outputs are g*(m0+Z)
// with P(Z=z) = (1-a)/(1+a) a^|z|. It returns P(X <= x) and P(X < x).
func dlapCDF(m0 int64, g, a float64) (cdf, below func(float64) float64) {
	cdfZ := func(z float64) float64 { // P(Z <= z), z integer
		if z >= 0 {
			return 1 - math.Pow(a, z+1)/(1+a)
		}
		return math.Pow(a, -z) / (1 + a)
	}
	cdf = func(x float64) float64 { return cdfZ(math.Floor(x/g) - float64(m0)) }
	below = func(x float64) float64 { return cdfZ(math.Ceil(x/g) - float64(m0) - 1) }
	return cdf, below
}

// TestLaplaceExactDistribution releases 5,000 scores per case and checks:
// every output lies exactly on the reported power-of-two grid; the
// empirical distribution matches the exact grid-Laplace distribution (KS
// with the DKW critical value 0.03809, alpha 1e-6); the sample mean and
// variance match the exact ones within 4.89 standard errors (alpha 1e-6
// each). Three cases, three tests each: family-wise false-failure rate
// below 1e-5 by the union bound. One case has the large offset
// 45941223.02107, where a float Laplace would lose low-order bits.
func TestLaplaceExactDistribution(t *testing.T) {
	cases := []struct {
		name string
		x    float64
		rng  Range
		eps  float64
	}{
		{"unit", 0.25, Range{0, 1}, 1},
		{"offset", 45941223.02107, Range{45941223.02107 - 100, 45941223.02107 + 100}, 2},
		{"small-eps-negative", -3.7, Range{-8, 8}, 0.1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(WithSource(NewTestingSource(uint64(100 + i))))
			require.NoError(t, err)
			const N = 5000
			xs := make([]float64, N)
			var cost Cost
			for j := range xs {
				rel, err := r.Scalar(c.x, c.rng, c.eps)
				require.NoError(t, err)
				xs[j], cost = rel.Value, rel.Cost
			}
			sens := c.rng.Hi - c.rng.Lo
			g := cost.GridStep
			require.True(t, isPow2(g), "grid %v", g)
			require.Equal(t, pow2Ceil(math.Max(sens*0x1p-20, c.rng.maxAbs()*0x1p-50)), g)
			require.InEpsilon(t, sens+g, cost.Sensitivity, 1e-14)
			require.GreaterOrEqual(t, cost.Sensitivity, sens+g)
			require.Equal(t, c.eps, cost.Epsilon)
			require.Equal(t, 0.0, cost.Delta)
			for _, v := range xs {
				require.Equal(t, math.Round(v/g), v/g, "off grid: %v", v)
			}
			// exact distribution: scale in grid units (sens+g)/(eps g)
			b := (sens + g) / (c.eps * g)
			a := math.Exp(-1 / b)
			m0 := int64(math.Round(c.x / g))
			cdf, below := dlapCDF(m0, g, a)
			d := ksDiscrete(xs, cdf, below)
			require.Less(t, d, ksCrit5000, "KS D")

			// Var(Z) = 2a/(1-a)^2 in grid units; kurtosis ~6 (Laplace)
			oneMinusA := -math.Expm1(-1 / b)
			varX := 2 * a / (oneMinusA * oneMinusA) * g * g
			center := float64(m0) * g
			m, v := meanVar(xs)
			require.InDelta(t, center, m, zAlpha6*math.Sqrt(varX/N), "mean")
			require.InDelta(t, varX, v, zAlpha6*varX*math.Sqrt(5.0/N), "variance")
			// and the bias of rounding is at most g/2
			require.LessOrEqual(t, math.Abs(center-c.x), g/2)
		})
	}
}

// TestLaplaceVectors checks the L1 sensitivities derived from the declared
// bounds and the clamping/clipping before noise.
func TestLaplaceVectors(t *testing.T) {
	r, err := New(WithSource(NewTestingSource(7)))
	require.NoError(t, err)

	rel, err := r.Logits([]float64{-100, 0.5, 100}, Range{-4, 4}, 1)
	require.NoError(t, err)
	g := rel.Cost.GridStep
	require.InEpsilon(t, 3*8+3*g, rel.Cost.Sensitivity, 1e-14)
	require.InEpsilon(t, rel.Cost.Sensitivity/1, rel.Cost.Scale, 1e-14)

	rel, err = r.VectorL1([]float64{3, -4, 0}, 1, 1)
	require.NoError(t, err)
	g = rel.Cost.GridStep
	require.InEpsilon(t, 2+3*g, rel.Cost.Sensitivity, 1e-12)
	for _, v := range rel.Values {
		require.Equal(t, math.Round(v/g), v/g)
	}

	// Mean over many releases approaches the clamped / clipped input.
	const N = 4000
	sum := make([]float64, 3)
	for i := 0; i < N; i++ {
		rel, err := r.VectorL1([]float64{3, -4, 0}, 1, 4)
		require.NoError(t, err)
		for j, v := range rel.Values {
			sum[j] += v
		}
	}
	b := rel.Cost.Sensitivity / 4
	se := math.Sqrt(2*b*b/N) * zAlpha6 // three comparisons: 3e-6 family-wise
	require.InDelta(t, 3.0/7, sum[0]/N, se)
	require.InDelta(t, -4.0/7, sum[1]/N, se)
	require.InDelta(t, 0, sum[2]/N, se)
}

// TestIntegerChiSquare tests the discrete Laplace integer mechanism against
// its pmf exp(-eps|z|/(hi-lo)) with a chi-square test (df 32, alpha 1e-6).
func TestIntegerChiSquare(t *testing.T) {
	r, err := New(WithSource(NewTestingSource(8)))
	require.NoError(t, err)
	const N = 40000
	xs := make([]int64, N)
	for i := range xs {
		rel, err := r.Integer(5, 0, 3, 1) // clamped to 3, sensitivity 3
		require.NoError(t, err)
		require.Equal(t, 3.0, rel.Cost.Sensitivity)
		xs[i] = rel.Value - 3
	}
	a := math.Exp(-1.0 / 3)
	pmf := func(z int64) float64 { return (1 - a) / (1 + a) * math.Pow(a, math.Abs(float64(z))) }
	tail := math.Pow(a, 16) / (1 + a)
	stat, df := integerChiSquare(t, xs, -15, 15, pmf, tail, tail)
	require.Equal(t, 32, df)
	require.Less(t, stat, chi2Crit[32])

}

// TestIntegerSaturates: a release whose noisy value leaves int64 saturates
// at the bound instead of wrapping around. At eps = 2^-50 and sensitivity
// 1 the noise has scale 2^50, so near MaxInt64 (MinInt64) about half the
// draws overflow. Each side takes 64 draws: P(no draw saturates) is about
// 2^-64, and P(|noise| >= 2^60) per draw is about e^-1024, so the test's
// false-failure rate is below 1e-18. A wrapped value would be on the far
// side of zero, so the range check catches it.
func TestIntegerSaturates(t *testing.T) {
	r, err := New(WithSource(NewTestingSource(9)))
	require.NoError(t, err)
	cases := []struct {
		name      string
		x, lo, hi int64
		bound     int64 // saturation value
		nearLo    int64 // every release lies in [nearLo, nearHi]
		nearHi    int64
	}{
		{name: "max", x: math.MaxInt64, lo: math.MaxInt64 - 1, hi: math.MaxInt64, bound: math.MaxInt64,
			nearLo: math.MaxInt64 - 1<<60, nearHi: math.MaxInt64},
		{name: "min", x: math.MinInt64, lo: math.MinInt64, hi: math.MinInt64 + 1, bound: math.MinInt64,
			nearLo: math.MinInt64, nearHi: math.MinInt64 + 1<<60},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sat, unsat := 0, 0
			for range 64 {
				rel, err := r.Integer(c.x, c.lo, c.hi, MinEpsilon)
				require.NoError(t, err)
				require.Equal(t, 1.0, rel.Cost.Sensitivity)
				v := rel.Value
				require.GreaterOrEqual(t, v, c.nearLo, "wrapped around")
				require.LessOrEqual(t, v, c.nearHi, "wrapped around")
				if v == c.bound {
					sat++
				} else {
					unsat++
				}
			}
			require.Positive(t, sat, "no release saturated")
			require.Positive(t, unsat, "every release saturated")
		})
	}
}
