package privacy

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// Reference values from testdata/reference.py (Python math.erfc, float64).
func TestGaussianDelta(t *testing.T) {
	cases := []struct {
		eps, sigma, sens, want float64
	}{
		{0.1, 10, 1, 0.008751768145810},
		{0, 0.5, 1, 0.6826894921370859},
		{0, 5, 10, 0.6826894921370859}, // scale invariance: only sens/sigma matters
	}
	for _, c := range cases {
		require.InDelta(t, c.want, GaussianDelta(c.eps, c.sigma, c.sens), 1e-10, "%+v", c)
	}
	require.True(t, math.IsNaN(GaussianDelta(-1, 1, 1)))
	require.True(t, math.IsNaN(GaussianDelta(1, 0, 1)))
	require.True(t, math.IsNaN(GaussianDelta(1, 1, math.Inf(1))))
}

// TestAnalyticGaussianSigma: the returned sigma is an upper bound on the
// tight one with sigma^2 <= 1.001 * tight^2 (we promise 1e-5).
func TestAnalyticGaussianSigma(t *testing.T) {
	cases := []struct {
		eps, delta, sens, tight float64
	}{
		{math.Log(3), 1e-5, 1, math.Sqrt(11.7283125397)},
		{0.1, 1e-6, 1, 36.3046904262},
		{1, 1e-5, 1, 3.73063163482},
		{4, 1e-9, 1, 1.4878036771},
		{20, 1e-3, 1, 0.246721797384},
		{1, 1e-5, 8, 8 * 3.73063163482}, // sigma scales with sensitivity
	}
	for _, c := range cases {
		s, err := AnalyticGaussianSigma(c.eps, c.delta, c.sens)
		require.NoError(t, err)
		// python's bisection is itself only accurate to ~1e-11 relative
		require.GreaterOrEqual(t, s*s, c.tight*c.tight*(1-1e-9), "%+v", c)
		require.LessOrEqual(t, s*s, c.tight*c.tight*1.001, "%+v", c)
		require.LessOrEqual(t, s*s, c.tight*c.tight*(1+1e-5), "%+v", c)
		require.LessOrEqual(t, GaussianDelta(c.eps, s, c.sens), c.delta, "%+v", c)
	}
	// The headline number: sigma^2 about 11.7283.
	s, _ := AnalyticGaussianSigma(math.Log(3), 1e-5, 1)
	require.InDelta(t, 11.7283, s*s, 1e-4)

	// Extreme but valid inputs still give a finite bound.
	for _, c := range [][2]float64{{MinEpsilon, 0.5}, {700, 1e-300}, {1e5, 1e-3}, {0.5, 1e-200}} {
		s, err := AnalyticGaussianSigma(c[0], c[1], 1)
		require.NoError(t, err, "%v", c)
		require.True(t, s > 0 && !math.IsInf(s, 0), "%v: sigma %v", c, s)
		require.LessOrEqual(t, logGaussianDelta(c[0], s, 1), math.Log(c[1]), "%v", c)
	}
}

func TestLogPhi(t *testing.T) {
	for _, x := range []float64{5, 1, 0, -1, -10, -29.999, -30, -30.001, -37} {
		want := math.Log(0.5 * math.Erfc(-x/math.Sqrt2))
		require.InDelta(t, want, logPhi(x), 1e-9*math.Max(1, math.Abs(want)), "x=%v", x)
	}
	// far tail: continuity and monotonicity where erfc underflows
	prev := logPhi(-39)
	for x := -40.0; x > -1e6; x *= 1.5 {
		v := logPhi(x)
		require.Less(t, v, prev)
		prev = v
	}
}

// TestRDPToDP checks the accountant against testdata/reference.py
// (alpha step 0.01: 10.724829) and the closed form of the classic
// conversion, rho + 2 sqrt(rho log(1/delta)), which it must not exceed.
func TestRDPToDP(t *testing.T) {
	rho := 100 * 4.0 / (2 * 100) // 100 releases, sigma 10, sensitivity 2
	got := RDPToDP(rho, 1e-5)
	require.InDelta(t, 10.724829, got, 0.01)
	require.LessOrEqual(t, got, rho+2*math.Sqrt(rho*math.Log(1e5)))
	require.Equal(t, 0.0, RDPToDP(0, 1e-5))
	require.True(t, math.IsNaN(RDPToDP(1, 0)))
	// One Gaussian release calibrated for (1, 1e-5): RDP accounting of a
	// single release is looser than the analytic bound but not absurdly.
	s, _ := AnalyticGaussianSigma(1, 1e-5, 1)
	e1 := RDPToDP(1/(2*s*s), 1e-5)
	require.Greater(t, e1, 1.0)
	require.Less(t, e1, 1.6)
}

// TestEmbeddingNoise releases a 4,000-dimensional vector and checks the
// noise's mean and variance against sigma^2 (discrete Gaussian at sigma/g
// >= 2^19 has variance sigma^2 to within 1e-12 relative), each at
// 4.89 standard errors (alpha 1e-6 each), plus the grid and the clipping.
func TestEmbeddingNoise(t *testing.T) {
	r, err := New(WithSource(NewTestingSource(5)))
	require.NoError(t, err)
	const d = 4000
	x := make([]float64, d)
	x[0] = 0.5 // norm 0.5 < clip: unchanged
	rel, err := r.Embedding(x, 1, 2, 1e-6)
	require.NoError(t, err)
	c := rel.Cost
	require.Equal(t, MechGaussian, c.Mechanism)
	require.True(t, isPow2(c.GridStep))
	require.Greater(t, c.Sensitivity, 2.0)
	require.Less(t, c.Sensitivity, 2*(1+0x1p-18))
	sig, _ := AnalyticGaussianSigma(2, 1e-6*(1-0x1p-20), c.Sensitivity)
	require.Equal(t, sig, c.Sigma)
	require.LessOrEqual(t, GaussianDelta(2, c.Sigma, c.Sensitivity), 1e-6)
	noise := make([]float64, d)
	for i, v := range rel.Values {
		require.Equal(t, math.Round(v/c.GridStep), v/c.GridStep, "off grid: %v", v)
		noise[i] = v - x[i]
	}
	m, v := meanVar(noise)
	s2 := c.Sigma * c.Sigma
	require.InDelta(t, 0, m, zAlpha6*math.Sqrt(s2/d))
	require.InDelta(t, s2, v, zAlpha6*s2*math.Sqrt(2.0/(d-1)))

	// Clipping: a huge vector is scaled to norm clip before noise, so the
	// released mean is near clip * direction.
	big := make([]float64, d)
	for i := range big {
		big[i] = 1e300
	}
	rel, err = r.Embedding(big, 3, 2, 1e-6)
	require.NoError(t, err)
	m, _ = meanVar(rel.Values)
	require.InDelta(t, 3/math.Sqrt(d), m, zAlpha6*rel.Cost.Sigma/math.Sqrt(d))

	// float32 variant
	out, cost, err := r.EmbeddingFloat32([]float32{0.1, 0.2, 0.3}, 1, 1, 1e-5)
	require.NoError(t, err)
	require.Len(t, out, 3)
	require.Equal(t, MechGaussian, cost.Mechanism)
}
