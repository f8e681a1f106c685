package privacy

import (
	"fmt"
	"math"
)

// rrBits is the resolution of the randomized-response and unary-encoding
// coins: probabilities are dyadic rationals P/2^53, so each coin is one
// exact integer comparison.
const rrBits = 53

// rrLambda returns the integer numerator L of the mixing weight L/2^53
// k-ary randomized response uses at eps. The mechanism reports the true
// label with probability lambda and a uniformly random label (any of the
// k, the true one included) otherwise, which is the same as keeping the
// true label with p = lambda + (1-lambda)/k and reporting each other label
// with q = (1-lambda)/k. The ideal lambda = (e^eps-1)/(e^eps+k-1) gives
// p/q = e^eps; L is rounded DOWN (with a few ulps of margin for the float
// evaluation), and p/q = 1 + k*lambda/(1-lambda) grows with lambda, so the
// realised epsilon never exceeds the requested one. (Rounding p itself
// could put it below 1/k for tiny eps, making q/p > e^eps.)
func rrLambda(eps float64, k int) uint64 {
	// lambda = 1/(1 + k/expm1(eps)): stable for tiny eps, and 1 when
	// expm1 overflows.
	lam := 1 / (1 + float64(k)/math.Expm1(eps))
	lam *= 1 - 8*0x1p-53
	return uint64(math.Floor(math.Ldexp(lam, rrBits)))
}

// RRProbabilities returns the probabilities k-ary randomized response uses
// at eps: p to report the true label and q = (1-p)/(k-1) for each other
// label. They come from the dyadic mixing weight the sampler really uses
// (see rrLambda), within 2^-50 of p = e^eps/(e^eps+k-1) and never
// giving a larger p/q; servers aggregating reports should use these
// values.
func RRProbabilities(eps float64, k int) (p, q float64, err error) {
	if err := checkEpsilon(eps); err != nil {
		return 0, 0, err
	}
	if err := checkK(k); err != nil {
		return 0, 0, err
	}
	lam := math.Ldexp(float64(rrLambda(eps, k)), -rrBits)
	q = (1 - lam) / float64(k)
	return lam + q, q, nil
}

// RREpsilon returns the exact epsilon of k-ary randomized response that
// keeps the true label with probability p (and picks each other label with
// probability (1-p)/(k-1)): ln(p (k-1) / (1-p)). It is 0 at p = 1/k and
// returns NaN for p outside [1/k, 1) or k < 2.
func RREpsilon(k int, p float64) float64 {
	if k < 2 || !(p >= 1/float64(k)) || !(p < 1) {
		return math.NaN()
	}
	return math.Log(p * float64(k-1) / (1 - p))
}

// randomizedResponse releases label with k-ary RR at mixing numerator L.
func (s *Source) randomizedResponse(label, k int, L uint64) int {
	if s.uint64()>>(64-rrBits) < L {
		return label
	}
	return int(s.uniform(uint64(k)))
}

// oueQ returns the integer numerator Q of the probability Q/2^53 with which
// optimized unary encoding sets a bit that is not the true label's. The
// ideal value is 1/(e^eps+1); Q is rounded UP, so the realised ratio
// (1-q)/q is at most e^eps.
func oueQ(eps float64) uint64 {
	q := 1 / (math.Exp(eps) + 1)
	q *= 1 + 8*0x1p-53
	Q := uint64(math.Ceil(math.Ldexp(q, rrBits)))
	if Q == 0 {
		Q = 1
	}
	if Q > 1<<(rrBits-1) {
		Q = 1 << (rrBits - 1)
	}
	return Q
}

// OUEProbabilities returns the bit probabilities of optimized unary
// encoding (Wang et al., USENIX Security 2017) at eps: the true label's bit
// is 1 with probability p = 1/2, every other bit with probability q, a
// dyadic rational within 2^-50 of 1/(e^eps+1) and never below it.
func OUEProbabilities(eps float64) (p, q float64, err error) {
	if err := checkEpsilon(eps); err != nil {
		return 0, 0, err
	}
	return 0.5, math.Ldexp(float64(oueQ(eps)), -rrBits), nil
}

// OUEVariance returns n times the variance of the OUE frequency estimate of
// a label nobody holds, 4e^eps/(e^eps-1)^2 (Wang et al. 2017, eq. 13): the
// variance that does not shrink with the label's frequency.
func OUEVariance(eps float64) float64 {
	e := math.Exp(eps)
	return 4 * e / ((e - 1) * (e - 1))
}

// Estimate is a server-side frequency estimate for one label.
type Estimate struct {
	// Freq is the unbiased estimate of the label's frequency in [0, 1]
	// terms; it can be negative or above 1 by noise, and is left so
	// (clipping would bias it).
	Freq float64 `json:"freq"`
	// StdErr is the estimated standard error of Freq.
	StdErr float64 `json:"std_err"`
	// Lo and Hi are the normal-approximation confidence interval bounds at
	// the level asked for.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// estimate is shared by RR and OUE: with n reports, counts c, report
// probabilities p (for holders) and q (for others), the unbiased estimate
// is f = (c/n - q)/(p - q) and its variance is
// (q(1-q) + f(p(1-p) - q(1-q))) / (n (p-q)^2), evaluated at f clamped to
// [0, 1] (Wang et al. 2017, eqs. 1-2 and Theorem 2).
func estimate(counts []int, n int, p, q, z float64) []Estimate {
	out := make([]Estimate, len(counts))
	for j, c := range counts {
		f := (float64(c)/float64(n) - q) / (p - q)
		fc := clamp(f, 0, 1)
		v := (q*(1-q) + fc*(p*(1-p)-q*(1-q))) / (float64(n) * (p - q) * (p - q))
		se := math.Sqrt(v)
		out[j] = Estimate{Freq: f, StdErr: se, Lo: f - z*se, Hi: f + z*se}
	}
	return out
}

// zFor returns the two-sided standard-normal quantile for confidence level
// conf in (0, 1), e.g. 1.959964 for 0.95.
func zFor(conf float64) float64 {
	// invert Phi by bisection on erfc; 100 steps are plenty for float64
	tail := (1 - conf) / 2
	lo, hi := 0.0, 40.0
	for i := 0; i < 100; i++ {
		m := (lo + hi) / 2
		if 0.5*math.Erfc(m/math.Sqrt2) > tail {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

func checkCounts(counts []int, k int, n int) error {
	if err := checkK(k); err != nil {
		return err
	}
	if n <= 0 {
		return &ParamError{Param: "n", Value: float64(n), Err: ErrEmptyInput}
	}
	for j, c := range counts {
		if c < 0 || c > n {
			return &InputError{Index: j, Value: float64(c), Err: fmt.Errorf("%w: count outside [0, n=%d]", ErrInvalidBound, n)}
		}
	}
	return nil
}

func checkConf(conf float64) error {
	if !(conf > 0 && conf < 1) {
		return &ParamError{Param: "confidence", Value: conf, Err: ErrInvalidBound}
	}
	return nil
}

// EstimateRR turns the counts of randomized-response reports per label
// (counts[j] = how many of the reports said j; k = len(counts); every
// report used the same eps) into unbiased frequency estimates with
// standard errors and confidence intervals at level conf (e.g. 0.95).
func EstimateRR(counts []int, eps, conf float64) ([]Estimate, error) {
	n := 0
	for _, c := range counts {
		n += c
	}
	if err := checkCounts(counts, len(counts), n); err != nil {
		return nil, err
	}
	if err := checkConf(conf); err != nil {
		return nil, err
	}
	p, q, err := RRProbabilities(eps, len(counts))
	if err != nil {
		return nil, err
	}
	return estimate(counts, n, p, q, zFor(conf)), nil
}

// EstimateOUE turns the per-label counts of set bits over n OUE reports
// (all at the same eps) into unbiased frequency estimates with standard
// errors and confidence intervals at level conf.
func EstimateOUE(counts []int, n int, eps, conf float64) ([]Estimate, error) {
	if err := checkCounts(counts, len(counts), n); err != nil {
		return nil, err
	}
	if err := checkConf(conf); err != nil {
		return nil, err
	}
	p, q, err := OUEProbabilities(eps)
	if err != nil {
		return nil, err
	}
	return estimate(counts, n, p, q, zFor(conf)), nil
}
