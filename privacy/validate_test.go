package privacy

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidation: every invalid parameter or input gives a typed error
// wrapping its sentinel, releases nothing and charges nothing.
func TestValidation(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	l, err := NewMemoryLedger(Budget{Epsilon: 100, Delta: 0.5})
	require.NoError(t, err)
	r, err := New(WithLedger(l), WithSource(NewTestingSource(1)))
	require.NoError(t, err)

	type release func() (any, error)
	lab := func(label, k int, eps float64) release {
		return func() (any, error) { v, err := r.Label(label, k, eps); return v, err }
	}
	una := func(label, k int, eps float64) release {
		return func() (any, error) { v, err := r.LabelUnary(label, k, eps); return v, err }
	}
	sca := func(x float64, rg Range, eps float64) release {
		return func() (any, error) { v, err := r.Scalar(x, rg, eps); return v, err }
	}
	log := func(x []float64, rg Range, eps float64) release {
		return func() (any, error) { v, err := r.Logits(x, rg, eps); return v, err }
	}
	l1 := func(x []float64, clip, eps float64) release {
		return func() (any, error) { v, err := r.VectorL1(x, clip, eps); return v, err }
	}
	emb := func(x []float64, clip, eps, delta float64) release {
		return func() (any, error) { v, err := r.Embedding(x, clip, eps, delta); return v, err }
	}
	integer := func(x, lo, hi int64, eps float64) release {
		return func() (any, error) { v, err := r.Integer(x, lo, hi, eps); return v, err }
	}
	cases := []struct {
		name string
		do   release
		want error
	}{
		{"eps NaN", lab(0, 2, nan), ErrInvalidEpsilon},
		{"eps Inf", sca(0, Range{0, 1}, inf), ErrInvalidEpsilon},
		{"eps below 2^-50", lab(0, 2, 0x1p-51), ErrInvalidEpsilon},
		{"eps zero", una(0, 2, 0), ErrInvalidEpsilon},
		{"eps negative", emb([]float64{1}, 1, -1, 1e-5), ErrInvalidEpsilon},
		{"k=1", lab(0, 1, 1), ErrInvalidK},
		{"k=0 unary", una(0, 0, 1), ErrInvalidK},
		{"k huge", una(0, MaxCategories+1, 1), ErrInvalidK},
		{"label=k", lab(3, 3, 1), ErrInvalidLabel},
		{"label<0", una(-1, 3, 1), ErrInvalidLabel},
		{"delta 0 gaussian", emb([]float64{1}, 1, 1, 0), ErrInvalidDelta},
		{"delta 1 gaussian", emb([]float64{1}, 1, 1, 1), ErrInvalidDelta},
		{"delta NaN gaussian", emb([]float64{1}, 1, 1, nan), ErrInvalidDelta},
		{"range empty", sca(0, Range{1, 1}, 1), ErrInvalidBound},
		{"range reversed", sca(0, Range{1, 0}, 1), ErrInvalidBound},
		{"range NaN", sca(0, Range{nan, 1}, 1), ErrInvalidBound},
		{"range Inf", log([]float64{0}, Range{0, inf}, 1), ErrInvalidBound},
		{"range overflows width", sca(0, Range{-math.MaxFloat64, math.MaxFloat64}, 1), ErrInvalidBound},
		{"clip 0", l1([]float64{1}, 0, 1), ErrInvalidBound},
		{"clip negative", emb([]float64{1}, -1, 1, 1e-5), ErrInvalidBound},
		{"clip NaN", l1([]float64{1}, nan, 1), ErrInvalidBound},
		{"clip Inf", emb([]float64{1}, inf, 1, 1e-5), ErrInvalidBound},
		{"int range empty", integer(0, 3, 3, 1), ErrInvalidBound},
		{"int range overflow", integer(0, math.MinInt64, math.MaxInt64, 1), ErrInvalidBound},
		{"input NaN", sca(nan, Range{0, 1}, 1), ErrNonFinite},
		{"input Inf in vector", log([]float64{0, inf}, Range{0, 1}, 1), ErrNonFinite},
		{"input -Inf embedding", emb([]float64{1, math.Inf(-1)}, 1, 1, 1e-5), ErrNonFinite},
		{"input NaN L1", l1([]float64{nan}, 1, 1), ErrNonFinite},
		{"empty vector", emb(nil, 1, 1, 1e-5), ErrEmptyInput},
		{"empty logits", log([]float64{}, Range{0, 1}, 1), ErrEmptyInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.do()
			require.ErrorIs(t, err, c.want)
			var pe *ParamError
			var ie *InputError
			require.True(t, errors.As(err, &pe) || errors.As(err, &ie), "typed error, got %T", err)
			require.Zero(t, v, "nothing released")
			require.Equal(t, 0, l.Spent().Releases, "nothing charged")
		})
	}
	_, err = New(WithSource(nil))
	require.ErrorIs(t, err, ErrInvalidBound)
	_, _, err = RRProbabilities(1, 1)
	require.ErrorIs(t, err, ErrInvalidK)
	_, err = EstimateRR([]int{5}, 1, 0.95)
	require.ErrorIs(t, err, ErrInvalidK)
	_, err = EstimateRR([]int{5, -1}, 1, 0.95)
	require.ErrorIs(t, err, ErrInvalidBound)
	_, err = EstimateRR([]int{0, 0}, 1, 0.95)
	require.ErrorIs(t, err, ErrEmptyInput)
	_, err = EstimateOUE([]int{5, 6}, 4, 1, 0.95)
	require.ErrorIs(t, err, ErrInvalidBound)
	_, err = EstimateOUE([]int{1, 1}, 4, 1, 1)
	require.ErrorIs(t, err, ErrInvalidBound)
	_, err = AnalyticGaussianSigma(1, 1e-5, 0)
	require.ErrorIs(t, err, ErrInvalidBound)
}

func TestPow2(t *testing.T) {
	cases := []struct{ in, want float64 }{
		{1, 1}, {0.75, 1}, {1.0000001, 2}, {0x1p-20, 0x1p-20}, {3e-7, 0x1p-21}, {0, 0x1p-1022}, {1e-320, 0x1p-1022},
	}
	for _, c := range cases {
		require.Equal(t, c.want, pow2Ceil(c.in), "pow2Ceil(%v)", c.in)
		require.True(t, isPow2(c.want))
	}
	require.False(t, isPow2(3))
	require.False(t, isPow2(0))
	require.False(t, isPow2(math.Inf(1)))
}

func TestSources(t *testing.T) {
	require.False(t, CryptoSource().Insecure())
	require.True(t, NewTestingSource(1).Insecure())
	a, b := NewTestingSource(42), NewTestingSource(42)
	for i := 0; i < 100; i++ {
		require.Equal(t, a.uint64(), b.uint64())
	}
	c := CryptoSource()
	seen := map[uint64]bool{}
	for i := 0; i < 100; i++ { // spans several buffer refills
		seen[c.uint64()] = true
	}
	require.Len(t, seen, 100)
	// the default releaser uses crypto/rand
	r, err := New()
	require.NoError(t, err)
	require.False(t, r.src.Insecure())
	rel, err := r.Label(2, 3, 1)
	require.NoError(t, err)
	require.True(t, rel.Label >= 0 && rel.Label < 3)
}

// TestValidateExported: the exported validators give the same typed errors
// as the releases, and ValidateEmbedding names the clip, not the
// sensitivity derived from it.
func TestValidateExported(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, eps := range []float64{0, -1, nan, inf, 1e-20} {
		err := ValidateEpsilon(eps)
		require.ErrorIs(t, err, ErrInvalidEpsilon, "%v", eps)
		var pe *ParamError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "epsilon", pe.Param)
	}
	require.NoError(t, ValidateEpsilon(MinEpsilon))
	cases := []struct {
		clip, eps, delta float64
		want             error
		param            string
	}{
		{1, 1, 1e-5, nil, ""},
		{-1, 1, 1e-5, ErrInvalidBound, "clip"},
		{0, 1, 1e-5, ErrInvalidBound, "clip"},
		{nan, 1, 1e-5, ErrInvalidBound, "clip"},
		{inf, 1, 1e-5, ErrInvalidBound, "clip"},
		{-1, 1, 0, ErrInvalidDelta, "delta"},
		{-1, 0, 0, ErrInvalidEpsilon, "epsilon"},
	}
	r, err := New(WithSource(NewTestingSource(1)))
	require.NoError(t, err)
	for _, c := range cases {
		err := ValidateEmbedding(c.clip, c.eps, c.delta)
		_, relErr := r.Embedding([]float64{1, 2}, c.clip, c.eps, c.delta)
		if c.want == nil {
			require.NoError(t, err)
			require.NoError(t, relErr)
			continue
		}
		require.ErrorIs(t, err, c.want, "%+v", c)
		var pe *ParamError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, c.param, pe.Param)
		require.Equal(t, err.Error(), relErr.Error(), "same error as the release")
	}
}
