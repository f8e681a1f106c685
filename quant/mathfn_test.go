package quant

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExp32Accuracy(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88; x += 0.0137 {
		got := float64(exp32(float32(x)))
		want := math.Exp(float64(float32(x)))
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		require.LessOrEqual(t, rel, 4e-7, "x=%v got %v want %v", x, got, want)
	}
	t.Logf("worst relative error %.3g (float32 eps 1.19e-7)", worst)
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {-100, 0}, {float32(math.Inf(-1)), 0}, {100, float32(math.Inf(1))},
	} {
		require.Equal(t, c.want, exp32(c.x), "exp32(%v)", c.x)
	}
	require.True(t, math.IsNaN(float64(exp32(float32(math.NaN())))))
}

func TestOnePlusErfAccuracy(t *testing.T) {
	worst := 0.0
	for z := -6.0; z <= 6; z += 0.00731 {
		got := float64(onePlusErf(float32(z)))
		want := 1 + math.Erf(float64(float32(z)))
		d := math.Abs(got - want)
		worst = max(worst, d)
		require.LessOrEqual(t, d, 2e-6, "z=%v got %v want %v", z, got, want)
	}
	t.Logf("worst absolute error %.3g", worst)
	require.Equal(t, float32(2), onePlusErf(float32(math.Inf(1))))
	require.Equal(t, float32(0), onePlusErf(float32(math.Inf(-1))))
}

func TestGELUAccuracy(t *testing.T) {
	var xs []float32
	for x := -10.0; x <= 10; x += 0.0123 {
		xs = append(xs, float32(x))
	}
	got := append([]float32(nil), xs...)
	GELU(got)
	for i, x := range xs {
		want := float64(x) * 0.5 * (1 + math.Erf(float64(x)/math.Sqrt2))
		require.InDelta(t, want, float64(got[i]), 1e-6*max(1, math.Abs(float64(x))), "x=%v", x)
	}
}

func TestSoftmaxAccuracy(t *testing.T) {
	x := []float32{-3, 0, 1.5, 2, -1e9, 7.25, 0.001}
	got := append([]float32(nil), x...)
	Softmax(got)
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - 7.25)
	}
	var total float32
	for i, v := range x {
		want := math.Exp(float64(v)-7.25) / sum
		require.InDelta(t, want, float64(got[i]), 1e-6*want+1e-12, "i=%d", i)
		total += got[i]
	}
	require.InDelta(t, 1, total, 1e-6)
}
