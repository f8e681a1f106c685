package privacy

import (
	"math"
	"sort"
	"testing"
)

// Statistical test thresholds. Every constant is printed by
// testdata/reference.py from first principles; the false-failure rate of
// each test (with its fixed seed it is deterministic, but a change of seed
// or sampler consumes a fresh draw) is stated where it is used.
const (
	// zAlpha6 is the two-sided standard-normal quantile for alpha = 1e-6.
	// (The 4.42 corresponds to alpha = 9.9e-6, so we use this.)
	zAlpha6 = 4.8916
	// ksCrit5000 is the DKW/Massart bound for n = 5000 at alpha = 1e-6:
	// sqrt(ln(2/alpha)/(2n)). It holds for discrete distributions too
	// (conservatively). The 0.03805 gives 1.03e-6.
	ksCrit5000 = 0.038090
)

// chi2Crit holds chi-square critical values at alpha = 1e-6 by degrees of
// freedom. The rule df + 6 sqrt(2 df) has false-failure rates of
// 1e-5 (df 24) to 5e-6 (df 32), so we use the exact quantiles.
var chi2Crit = map[int]float64{4: 33.377, 20: 65.421, 22: 68.856, 23: 70.550, 24: 72.229, 32: 85.232}

// meanVar returns the sample mean and unbiased variance.
func meanVar(xs []float64) (float64, float64) {
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(len(xs)-1)
}

// ksDiscrete returns the Kolmogorov-Smirnov distance between the empirical
// distribution of xs and the CDF cdf, checking both sides of every atom so
// it is exact for discrete distributions. cdfBelow(x) = P(X < x).
func ksDiscrete(xs []float64, cdf, cdfBelow func(float64) float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := float64(len(s))
	var d float64
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == s[i] {
			j++
		}
		fBelow, fAt := float64(i)/n, float64(j)/n
		d = math.Max(d, math.Abs(fBelow-cdfBelow(s[i])))
		d = math.Max(d, math.Abs(fAt-cdf(s[i])))
		i = j
	}
	return d
}

// chiSquare returns Pearson's statistic of observed counts against
// expected counts.
func chiSquare(t *testing.T, obs []int, exp []float64) float64 {
	t.Helper()
	var x float64
	for i := range obs {
		if exp[i] < 5 {
			t.Fatalf("bin %d has expected count %.2f < 5: merge bins", i, exp[i])
		}
		d := float64(obs[i]) - exp[i]
		x += d * d / exp[i]
	}
	return x
}

// integerChiSquare bins integer samples into [lo, hi] plus two tail bins
// and tests them against pmf (normalised over all integers) with df =
// bins - 1.
func integerChiSquare(t *testing.T, samples []int64, lo, hi int64, pmf func(int64) float64, tailBelow, tailAbove float64) (stat float64, df int) {
	t.Helper()
	nb := int(hi-lo) + 3
	obs := make([]int, nb)
	exp := make([]float64, nb)
	n := float64(len(samples))
	for _, z := range samples {
		switch {
		case z < lo:
			obs[0]++
		case z > hi:
			obs[nb-1]++
		default:
			obs[z-lo+1]++
		}
	}
	exp[0], exp[nb-1] = tailBelow*n, tailAbove*n
	for z := lo; z <= hi; z++ {
		exp[z-lo+1] = pmf(z) * n
	}
	return chiSquare(t, obs, exp), nb - 1
}
