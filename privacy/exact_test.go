package privacy

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUniform checks the exact uniform sampler's range on awkward bounds
// (1, powers of two and their neighbours, big values).
func TestUniform(t *testing.T) {
	s := NewTestingSource(1)
	for _, n := range []uint64{1, 2, 3, 7, 8, 9, 1 << 32, 1<<63 + 1, math.MaxUint64} {
		for i := 0; i < 2000; i++ {
			require.Less(t, s.uniform(n), n)
		}
	}
	for _, n := range []*big.Int{big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 64), new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 100), big.NewInt(3))} {
		for i := 0; i < 2000; i++ {
			u := s.uniformBig(n)
			require.True(t, u.Sign() >= 0 && u.Cmp(n) < 0, "uniformBig(%v) = %v", n, u)
		}
	}
	// Above 2^64 the multi-word path runs: bit 64 of a uniform draw from
	// [0, 2^65) must be set half the time.
	n := new(big.Int).Lsh(big.NewInt(1), 65)
	top := 0
	const N = 20000
	for i := 0; i < N; i++ {
		if s.uniformBig(n).Bit(64) == 1 {
			top++
		}
	}
	// Binomial(N, 1/2): SE = sqrt(N)/2; alpha 1e-6 two-sided.
	require.InDelta(t, N/2, top, zAlpha6*math.Sqrt(N)/2)
}

// TestBernoulliExp checks Bernoulli(exp(-gamma)) frequencies for gamma
// below, at and above 1 (which exercise CKS Algorithm 1's two branches).
// Each comparison is at 4.89 binomial standard errors (alpha 1e-6 each;
// five comparisons: family-wise 5e-6 by the union bound).
func TestBernoulliExp(t *testing.T) {
	s := NewTestingSource(2)
	const N = 100000
	for _, g := range []*big.Rat{big.NewRat(0, 1), big.NewRat(3, 10), big.NewRat(1, 1), big.NewRat(5, 2), big.NewRat(7, 1)} {
		hits := 0
		for i := 0; i < N; i++ {
			if s.bernoulliExp(g) {
				hits++
			}
		}
		gf, _ := g.Float64()
		p := math.Exp(-gf)
		se := math.Sqrt(N * p * (1 - p))
		if p == 1 {
			require.Equal(t, N, hits)
			continue
		}
		require.InDelta(t, N*p, float64(hits), zAlpha6*se, "gamma=%v", g)
	}
}

// TestDiscreteLaplaceChiSquare tests the exact discrete Laplace sampler
// against its pmf P(z) = (1-a)/(1+a) a^|z|, a = exp(-1/scale), with a
// chi-square test at alpha 1e-6 (df 32, critical 85.232).
func TestDiscreteLaplaceChiSquare(t *testing.T) {
	cases := []struct {
		scale *big.Rat
		lo    int64
	}{
		{big.NewRat(3, 1), -15}, // integer scale
		{big.NewRat(7, 2), -15}, // rational scale
		{big.NewRat(1, 3), -1},  // small scale: mostly 0
	}
	s := NewTestingSource(3)
	for _, c := range cases {
		sf, _ := c.scale.Float64()
		a := math.Exp(-1 / sf)
		pmf := func(z int64) float64 { return (1 - a) / (1 + a) * math.Pow(a, math.Abs(float64(z))) }
		tail := math.Pow(a, float64(-c.lo)+1) / (1 + a) // P(Z < lo) = P(Z > -lo)
		const N = 40000
		xs := make([]int64, N)
		for i := range xs {
			xs[i] = s.discreteLaplace(c.scale).Int64()
		}
		stat, df := integerChiSquare(t, xs, c.lo, -c.lo, pmf, tail, tail)
		crit, ok := chi2Crit[df] // df 32, or 4 for the small scale
		require.True(t, ok, "no critical value for df %d", df)
		require.Less(t, stat, crit, "scale=%v df=%d", c.scale, df)
	}
}

// TestDiscreteGaussianChiSquare tests the exact discrete Gaussian sampler
// against its pmf (normalised by direct summation) at alpha 1e-6.
func TestDiscreteGaussianChiSquare(t *testing.T) {
	s := NewTestingSource(4)
	for _, sigma2 := range []*big.Rat{big.NewRat(9, 1), big.NewRat(49, 4)} {
		sf, _ := sigma2.Float64()
		var norm float64
		for z := -200; z <= 200; z++ {
			norm += math.Exp(-float64(z*z) / (2 * sf))
		}
		pmf := func(z int64) float64 { return math.Exp(-float64(z*z)/(2*sf)) / norm }
		const lo = -10
		var tail float64
		for z := -200; z < lo; z++ {
			tail += pmf(int64(z))
		}
		const N = 40000
		xs := make([]int64, N)
		for i := range xs {
			xs[i] = s.discreteGaussian(sigma2).Int64()
		}
		stat, df := integerChiSquare(t, xs, lo, -lo, pmf, tail, tail)
		require.Equal(t, 22, df)
		require.Less(t, stat, chi2Crit[22], "sigma2=%v", sigma2)
	}
}
