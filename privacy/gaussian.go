package privacy

import (
	"math"
	"math/big"
)

// logPhi returns log Phi(x) for the standard normal CDF Phi, accurate in
// the far left tail where Phi itself underflows.
func logPhi(x float64) float64 {
	switch {
	case math.IsInf(x, 1):
		return 0
	case math.IsInf(x, -1):
		return math.Inf(-1)
	case x > 0:
		return math.Log1p(-0.5 * math.Erfc(x/math.Sqrt2))
	case x > -30:
		return math.Log(0.5 * math.Erfc(-x/math.Sqrt2))
	}
	// Mills-ratio asymptotic series: Phi(x) = phi(x)/|x| * (1 - 1/x^2 +
	// 3/x^4 - 15/x^6 + 105/x^8 ...); at |x| >= 30 the truncation error is
	// below 1e-13 relative.
	x2 := x * x
	s := 1 - 1/x2 + 3/(x2*x2) - 15/(x2*x2*x2) + 105/(x2*x2*x2*x2)
	return -x2/2 - math.Log(-x) - 0.5*math.Log(2*math.Pi) + math.Log(s)
}

// log1mexp returns log(1 - exp(r)) for r <= 0 (Maechler 2012).
func log1mexp(r float64) float64 {
	if r > -math.Ln2 {
		return math.Log(-math.Expm1(r))
	}
	return math.Log1p(-math.Exp(r))
}

// logGaussianDelta returns log delta(eps) of the Gaussian mechanism with
// noise sigma and L2 sensitivity sens (Balle & Wang 2018, Theorem 8):
//
//	delta = Phi(sens/(2 sigma) - eps sigma/sens) - e^eps Phi(-sens/(2 sigma) - eps sigma/sens)
//
// computed as log Phi(a-b) + log(1 - exp(eps + log Phi(-a-b) - log Phi(a-b)))
// so that it stays accurate for tiny delta and large eps.
func logGaussianDelta(eps, sigma, sens float64) float64 {
	a := sens / (2 * sigma)
	b := eps * sigma / sens
	l1 := logPhi(a - b)
	r := eps + logPhi(-a-b) - l1
	if r >= 0 {
		return math.Inf(-1) // rounding; the true value is >= 0 and tiny
	}
	return l1 + log1mexp(r)
}

// GaussianDelta returns the smallest delta for which adding N(0, sigma^2)
// noise to a query of L2 sensitivity sens is (eps, delta)-DP: the tight
// analytic bound of Balle & Wang (ICML 2018), Theorem 8. eps may be 0.
// It returns NaN for invalid arguments.
func GaussianDelta(eps, sigma, sens float64) float64 {
	if !(eps >= 0) || math.IsInf(eps, 0) || !(sigma > 0) || math.IsInf(sigma, 0) || !(sens > 0) || math.IsInf(sens, 0) {
		return math.NaN()
	}
	return math.Exp(logGaussianDelta(eps, sigma, sens))
}

// AnalyticGaussianSigma returns a noise standard deviation sigma for which
// the Gaussian mechanism with L2 sensitivity sens is (eps, delta)-DP by the
// analytic bound (Balle & Wang 2018, Algorithm 1 in spirit; we bisect the
// exact delta(sigma) curve instead of their reparametrisation). The result
// is an upper bound on the tight sigma, with sigma^2 within 1e-5 relative of
// the tight value (the issue asks for 0.1%).
func AnalyticGaussianSigma(eps, delta, sens float64) (float64, error) {
	if err := checkEpsilon(eps); err != nil {
		return 0, err
	}
	if err := checkGaussDelta(delta); err != nil {
		return 0, err
	}
	if err := checkBound("sensitivity", sens); err != nil {
		return 0, err
	}
	ld := math.Log(delta)
	ok := func(s float64) bool { return logGaussianDelta(eps, s, sens) <= ld }
	// delta(sigma) decreases in sigma: bracket [lo, hi] with ok(hi), !ok(lo).
	lo, hi := sens, sens
	for ok(lo) {
		lo /= 2
		if lo == 0 {
			return 0, &ParamError{Param: "epsilon", Value: eps, Err: ErrInvalidEpsilon}
		}
	}
	for !ok(hi) {
		hi *= 2
		if math.IsInf(hi, 0) {
			return 0, &ParamError{Param: "delta", Value: delta, Err: ErrInvalidDelta}
		}
	}
	for i := 0; i < 200 && hi > lo*(1+1e-9); i++ {
		mid := math.Sqrt(lo) * math.Sqrt(hi)
		if mid <= lo || mid >= hi {
			break
		}
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	// A little slack above hi guards against rounding in the evaluation
	// of delta; it keeps sigma^2 within 1e-5 of tight.
	return hi * (1 + 1e-6), nil
}

// gaussianPlan is a validated discrete-Gaussian release on a grid.
type gaussianPlan struct {
	grid      float64
	sensEff   float64 // L2 sensitivity after rounding to the grid
	sigma     float64 // noise standard deviation (real units), upper bound
	sigma2Grd *big.Rat
}

// planGaussian picks the grid and noise for L2 sensitivity sens over n
// coordinates bounded by maxAbs in absolute value.
//
// Rounding to the grid moves the vector by at most g*sqrt(n)/2 in L2, so
// two rounded inputs differ by at most sens + g*sqrt(n): sigma is
// calibrated for that. The noise is the exact discrete Gaussian on the grid
// (Canonne, Kamath & Steinke 2020), whose privacy-loss function for
// grid-valued shifts is the same as the continuous Gaussian's; its
// Renyi/concentrated-DP guarantee (CKS Theorem 14: rho = sens^2/(2 sigma^2))
// is identical, which is what the ledger's RDP accountant uses.
func planGaussian(sens float64, n int, maxAbs, eps, delta float64) (gaussianPlan, error) {
	sq := math.Sqrt(float64(n))
	g := pow2Ceil(sens * (1 - 0x1p-40) * 0x1p-20 / sq)
	g = math.Max(g, pow2Ceil(maxAbs*0x1p-50))
	sensEff := roundUp(sens+g*roundUp(sq, 1), 2)
	// Calibrate for delta*(1-2^-20): the slack absorbs the lattice
	// difference between discrete and continuous Gaussian tails (see the
	// package doc); it costs a negligible amount of extra noise.
	sigma, err := AnalyticGaussianSigma(eps, delta*(1-0x1p-20), sensEff)
	if err != nil {
		return gaussianPlan{}, err
	}
	sg := new(big.Rat).SetFloat64(sigma / g) // exact: g is a power of two
	if sg == nil || sg.Sign() <= 0 {
		return gaussianPlan{}, &ParamError{Param: "sigma", Value: sigma, Err: ErrInvalidBound}
	}
	return gaussianPlan{grid: g, sensEff: sensEff, sigma: sigma, sigma2Grd: sg.Mul(sg, sg)}, nil
}

func (p gaussianPlan) apply(src *Source, x, out []float64) {
	for i, v := range x {
		m := big.NewInt(int64(math.Round(v / p.grid)))
		m.Add(m, src.discreteGaussian(p.sigma2Grd))
		out[i] = gridValue(m, p.grid)
	}
}

// rdpAlphas is the grid of Renyi orders the accountant minimises over:
// 1 + 10^(-3 + 7 i / 699), i = 0..699, i.e. alpha from 1.001 to 10^4+1.
var rdpAlphas = func() []float64 {
	a := make([]float64, 700)
	for i := range a {
		a[i] = 1 + math.Pow(10, -3+7*float64(i)/699)
	}
	return a
}()

// RDPToDP converts a Gaussian-type Renyi-DP curve rdp(alpha) = rho*alpha
// (rho = sum of sens^2/(2 sigma^2) over the composed releases) to an
// (eps, delta) guarantee, minimising over the order grid both the classic
// conversion eps = rdp + log(1/delta)/(alpha-1) (Mironov 2017, Prop. 3)
// and the improved one eps = rdp + log((alpha-1)/alpha) -
// (log delta + log alpha)/(alpha-1) (Canonne, Kamath & Steinke 2020,
// Proposition 12; Balle et al. 2020, Theorem 21).
func RDPToDP(rho, delta float64) float64 {
	if !(rho >= 0) || !(delta > 0 && delta < 1) {
		return math.NaN()
	}
	if rho == 0 {
		return 0 // nothing released
	}
	best := math.Inf(1)
	ld := math.Log(delta)
	for _, a := range rdpAlphas {
		r := rho * a
		classic := r - ld/(a-1)
		improved := r + math.Log((a-1)/a) - (ld+math.Log(a))/(a-1)
		best = math.Min(best, math.Min(classic, improved))
	}
	return math.Max(best, 0)
}
