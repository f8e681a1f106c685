package privacy

import (
	"math"
	"math/big"
)

// GridBits sets the default grid resolution of the Laplace and Gaussian
// mechanisms: the grid step g is the smallest power of two at or above
// sensitivity * 2^-GridBits / n (n coordinates; sqrt(n) for Gaussian), so
// the sensitivity inflation from rounding to the grid is at most 2^-(GridBits-1)
// relative.
const GridBits = 20

// Range is a declared closed interval [Lo, Hi] of an output. Values are
// clamped into it before noise is added, and its width is what the
// sensitivity follows from.
type Range struct {
	Lo, Hi float64
}

func (r Range) check() error {
	if math.IsNaN(r.Lo) || math.IsInf(r.Lo, 0) {
		return &ParamError{Param: "range.lo", Value: r.Lo, Err: ErrInvalidBound}
	}
	if math.IsNaN(r.Hi) || math.IsInf(r.Hi, 0) {
		return &ParamError{Param: "range.hi", Value: r.Hi, Err: ErrInvalidBound}
	}
	return checkBound("range width", r.Hi-r.Lo)
}

func (r Range) maxAbs() float64 { return math.Max(math.Abs(r.Lo), math.Abs(r.Hi)) }

// laplacePlan is a validated grid-Laplace release: the grid step, the
// effective (inflated) L1 sensitivity and the exact noise scale in grid
// units.
type laplacePlan struct {
	grid      float64
	sensEff   float64
	scaleGrid *big.Rat // scale of the discrete Laplace, in grid steps
}

// planLaplace picks the grid and noise for L1 sensitivity sens over n
// coordinates whose absolute values never exceed maxAbs.
//
// Rounding each coordinate to the nearest multiple of g moves it by at most
// g/2, so two rounded inputs differ in L1 by at most sens + n*g: that is
// the effective sensitivity. Adding discrete Laplace noise with
// P(z) ~ exp(-eps*|z|*g/(sens+n*g)) on the grid then gives exactly
// eps-DP, because the rounded difference is a multiple of g.
func planLaplace(sens float64, n int, maxAbs, eps float64) laplacePlan {
	// (1-2^-40): sens may carry a tiny round-up; keep the grid it implies.
	g := pow2Ceil(sens * (1 - 0x1p-40) * 0x1p-20 / float64(n))
	// keep |x|/g < 2^50 so grid indices are exact in float64
	g = math.Max(g, pow2Ceil(maxAbs*0x1p-50))
	sensEff := sens + float64(n)*g
	// exact rational scale (sens + n*g) / (eps * g), from the float64
	// inputs; sens + n*g itself is formed exactly in big.Rat.
	num := new(big.Rat).SetFloat64(sens)
	num.Add(num, new(big.Rat).Mul(new(big.Rat).SetInt64(int64(n)), new(big.Rat).SetFloat64(g)))
	den := new(big.Rat).Mul(new(big.Rat).SetFloat64(eps), new(big.Rat).SetFloat64(g))
	return laplacePlan{grid: g, sensEff: roundUp(sensEff, 1), scaleGrid: num.Quo(num, den)}
}

// noisy rounds x to the plan's grid and adds discrete Laplace noise,
// writing into out (len(out) == len(x)).
func (p laplacePlan) apply(src *Source, x, out []float64) {
	for i, v := range x {
		m := big.NewInt(int64(math.Round(v / p.grid)))
		m.Add(m, src.discreteLaplace(p.scaleGrid))
		out[i] = gridValue(m, p.grid)
	}
}

// gridValue returns m*g as float64. Rounding a huge m to float64 keeps it
// an integer, so the result stays a multiple of g; it is post-processing of
// the private integer and costs no privacy.
func gridValue(m *big.Int, g float64) float64 {
	var f float64
	if m.IsInt64() && math.Abs(float64(m.Int64())) < 0x1p53 {
		f = float64(m.Int64())
	} else {
		f, _ = new(big.Float).SetInt(m).Float64()
	}
	return f * g
}

func clamp(v, lo, hi float64) float64 {
	return math.Min(math.Max(v, lo), hi)
}
