package privacy

import (
	"math"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLaplacePrivacyLossBound checks the privacy claim itself, exactly:
// for pairs of admissible inputs (range endpoints, values on and next to
// rounding boundaries, random values), the grid-rounded inputs differ by D
// grid steps in L1, and the discrete Laplace's worst-case log-ratio
// D/scaleGrid must not exceed eps. Computed in big.Rat, no tolerance.
func TestLaplacePrivacyLossBound(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	cases := []struct {
		lo, hi, eps float64
		n           int
	}{
		{0, 1, 1, 1},
		{-3, 5, 0.1, 1},
		{45941223.02107 - 1, 45941223.02107 + 1, 2, 1},
		{-4, 4, 1, 7}, // logits
		{0, 1e-300, 1, 1},
		{-1e300, 1e300, 1, 1},
	}
	for _, c := range cases {
		sens := roundUp((c.hi-c.lo)*float64(c.n), 2)
		p := planLaplace(sens, c.n, math.Max(math.Abs(c.lo), math.Abs(c.hi)), c.eps)
		g := p.grid
		pick := func() float64 {
			switch rng.IntN(5) {
			case 0:
				return c.lo
			case 1:
				return c.hi
			case 2: // just around a rounding boundary (m + 1/2) g
				m := math.Round(c.lo/g + rng.Float64()*(c.hi-c.lo)/g)
				v := (m + 0.5) * g
				if rng.IntN(2) == 0 {
					v = math.Nextafter(v, math.Inf(-1))
				}
				return clamp(v, c.lo, c.hi)
			default:
				return c.lo + rng.Float64()*(c.hi-c.lo)
			}
		}
		for trial := 0; trial < 2000; trial++ {
			var d big.Int
			for i := 0; i < c.n; i++ {
				a, b := pick(), pick()
				ma := big.NewInt(int64(math.Round(a / g)))
				mb := big.NewInt(int64(math.Round(b / g)))
				d.Add(&d, new(big.Int).Abs(ma.Sub(ma, mb)))
			}
			loss := new(big.Rat).SetFrac(&d, big.NewInt(1))
			loss.Quo(loss, p.scaleGrid)
			require.True(t, loss.Cmp(new(big.Rat).SetFloat64(c.eps)) <= 0, "case %+v: loss %v > eps", c, loss.FloatString(20))
		}
	}
}

// TestGaussianSensitivityBound: the grid-rounded clipped vectors of any two
// inputs differ in L2 by at most the effective sensitivity sigma was
// calibrated for.
func TestGaussianSensitivityBound(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, d := range []int{1, 2, 3, 16, 384} {
		const clip = 1.5
		p, err := planGaussian(roundUp(2*clip, d+8), d, clip, 1, 1e-5)
		require.NoError(t, err)
		for trial := 0; trial < 300; trial++ {
			var vs [2][]float64
			for k := range vs {
				x := make([]float64, d)
				for i := range x {
					x[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(6)-3))
				}
				var ss float64
				for _, v := range x {
					ss += v * v
				}
				vs[k] = clipScale(x, math.Sqrt(ss), clip)
				for i := range vs[k] {
					vs[k][i] = math.Round(vs[k][i]/p.grid) * p.grid
				}
			}
			var ss float64
			for i := range vs[0] {
				diff := vs[0][i] - vs[1][i]
				ss += diff * diff
			}
			require.LessOrEqual(t, math.Sqrt(ss), p.sensEff, "d=%d", d)
		}
	}
}
