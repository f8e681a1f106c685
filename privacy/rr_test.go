package privacy

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRREpsilon(t *testing.T) {
	require.InDelta(t, math.Log(3), RREpsilon(2, 0.75), 1e-15)
	require.InDelta(t, math.Log(9), RREpsilon(4, 0.75), 1e-15)
	require.InDelta(t, 0, RREpsilon(5, 0.2), 1e-15)
	require.True(t, math.IsNaN(RREpsilon(1, 0.75)))
	require.True(t, math.IsNaN(RREpsilon(4, 1)))
	require.True(t, math.IsNaN(RREpsilon(4, 0.1)))
}

// TestRRProbabilities: the dyadic p is within 2^-50 of e^eps/(e^eps+k-1)
// and its exact epsilon never exceeds the requested one.
func TestRRProbabilities(t *testing.T) {
	for _, k := range []int{2, 3, 24, 1000} {
		for _, eps := range []float64{MinEpsilon, 0.01, 0.5, 1, math.Log(3), 5, 30, 700} {
			p, q, err := RRProbabilities(eps, k)
			require.NoError(t, err)
			ideal := math.Exp(eps) / (math.Exp(eps) + float64(k-1))
			if math.IsInf(math.Exp(eps), 1) {
				ideal = 1
			}
			require.InDelta(t, ideal, p, 0x1p-49, "k=%d eps=%v", k, eps)
			require.LessOrEqual(t, p, ideal)
			require.InDelta(t, 1, p+float64(k-1)*q, 1e-15)
			require.GreaterOrEqual(t, p, q, "never inverted")
			if p < 1 {
				// exact realised epsilon from the dyadic mixing weight
				lam := math.Ldexp(float64(rrLambda(eps, k)), -rrBits)
				real := math.Log1p(float64(k) * lam / (1 - lam))
				require.LessOrEqual(t, real, eps, "k=%d eps=%v", k, eps)
			}
		}
	}
}

// TestRRRatio checks the privacy ratio empirically: 10^6 reports from
// true label 0 and 10^6 from true label 1; P(report 0 | 0) / P(report 0 |
// 1) must be e^eps. The tolerance is 5 standard errors of the log ratio by
// the delta method, sqrt((1-p)/(Np) + (1-q)/(Nq)), which grows with e^eps
// as q shrinks (two-sided normal rate 5.7e-7 per case; 3 cases: 1.7e-6).
func TestRRRatio(t *testing.T) {
	const N = 1000000
	const k = 4
	for i, eps := range []float64{0.5, math.Log(9), 4} {
		r, err := New(WithSource(NewTestingSource(uint64(200 + i))))
		require.NoError(t, err)
		L := rrLambda(eps, k)
		kept, flipped := 0, 0
		for j := 0; j < N; j++ {
			if r.src.randomizedResponse(0, k, L) == 0 {
				kept++
			}
			if r.src.randomizedResponse(1, k, L) == 0 {
				flipped++
			}
		}
		p, q := float64(kept)/N, float64(flipped)/N
		se := math.Sqrt((1-p)/(N*p) + (1-q)/(N*q))
		require.InDelta(t, eps, math.Log(p/q), 5*se, "eps=%v ratio=%v want %v", eps, p/q, math.Exp(eps))
	}
}

// TestRRLabelDistribution checks the Releaser path: every other label is
// equally likely (chi-square over the k-1 others, df 22, alpha 1e-6).
func TestRRLabelDistribution(t *testing.T) {
	r, err := New(WithSource(NewTestingSource(9)))
	require.NoError(t, err)
	const k, N = 24, 60000
	obs := make([]int, k)
	for i := 0; i < N; i++ {
		rel, err := r.Label(5, k, 1)
		require.NoError(t, err)
		require.Equal(t, 1.0, rel.Cost.Epsilon)
		require.Equal(t, MechRandomizedResponse, rel.Cost.Mechanism)
		obs[rel.Label]++
	}
	p, q, _ := RRProbabilities(1, k)
	exp := make([]float64, k)
	for j := range exp {
		exp[j] = q * N
	}
	exp[5] = p * N
	require.Less(t, chiSquare(t, obs, exp), chi2Crit[23]) // df = k-1
}

// simulate returns n reports from fixed true counts (truth[j] holders of
// label j) through mechanism release, aggregated as counts.
func rrCounts(src *Source, truth []int, eps float64) []int {
	k := len(truth)
	L := rrLambda(eps, k)
	counts := make([]int, k)
	for label, n := range truth {
		for i := 0; i < n; i++ {
			counts[src.randomizedResponse(label, k, L)]++
		}
	}
	return counts
}

// TestEstimateRRUnbiased: with fixed true counts the estimator's error is
// within 5.33 standard errors (its exact conditional variance) for every
// label: Bonferroni for k = 5 at family-wise alpha 1e-6 (5 SE per label
// would give 2.9e-6).
func TestEstimateRRUnbiased(t *testing.T) {
	src := NewTestingSource(10)
	truth := []int{50000, 30000, 15000, 5000, 0}
	n := 100000
	for _, eps := range []float64{0.5, 2} {
		counts := rrCounts(src, truth, eps)
		est, err := EstimateRR(counts, eps, 0.95)
		require.NoError(t, err)
		p, q, _ := RRProbabilities(eps, len(truth))
		for j, e := range est {
			f := float64(truth[j]) / float64(n)
			se := math.Sqrt((q*(1-q) + f*(p-q)*(1-p-q)) / (float64(n) * (p - q) * (p - q)))
			require.InDelta(t, f, e.Freq, 5.33*se, "eps=%v label %d", eps, j)
			// the reported SE (plug-in) is close to the true one
			require.InEpsilon(t, se, e.StdErr, 0.05)
			require.InDelta(t, e.Freq-1.959964*e.StdErr, e.Lo, 1e-6)
		}
	}
}

// TestOUEVariance checks n*Var = 4e^eps/(e^eps-1)^2 for a label nobody
// holds, analytically and empirically over 2,000 simulated surveys of 400
// reports (sample variance within 4.89 standard errors, alpha 1e-6; the
// counts are binomial with n*q ~ 108, close enough to normal for the
// chi-square SE sqrt(2/(R-1))).
func TestOUEVariance(t *testing.T) {
	require.InDelta(t, 3.0, OUEVariance(math.Log(3)), 1e-12)
	for _, eps := range []float64{0.5, 1, 3} {
		_, q, err := OUEProbabilities(eps)
		require.NoError(t, err)
		exact := q * (1 - q) / ((0.5 - q) * (0.5 - q))
		require.InEpsilon(t, OUEVariance(eps), exact, 1e-12)
	}
	r, err := New(WithSource(NewTestingSource(11)))
	require.NoError(t, err)
	const R, n, k, eps = 2000, 400, 3, 1.0
	ests := make([]float64, R)
	means := make([]float64, R)
	for i := range ests {
		counts := make([]int, k)
		for j := 0; j < n; j++ {
			rel, err := r.LabelUnary(j%2, k, eps) // labels 0 and 1 only
			require.NoError(t, err)
			for b, on := range rel.Bits {
				if on {
					counts[b]++
				}
			}
		}
		est, err := EstimateOUE(counts, n, eps, 0.95)
		require.NoError(t, err)
		ests[i] = est[2].Freq
		means[i] = est[0].Freq
	}
	m, v := meanVar(ests)
	want := OUEVariance(eps) / n
	require.InDelta(t, 0, m, zAlpha6*math.Sqrt(want/R))
	require.InDelta(t, want, v, zAlpha6*want*math.Sqrt(2.0/(R-1)))
	// label 0 is held by half the devices: unbiased there too
	_, q, _ := OUEProbabilities(eps)
	v0 := (0.5/4 + 0.5*q*(1-q)) / (n * (0.5 - q) * (0.5 - q))
	m0, _ := meanVar(means)
	require.InDelta(t, 0.5, m0, zAlpha6*math.Sqrt(v0/R))
}
