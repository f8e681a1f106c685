package quant

import (
	"math"
	"math/big"
	"math/rand/v2"
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

// TestFMA32 checks fma32 against math/big (exact product and sum, one
// rounding to nearest even), on inputs built to round twice and on random
// ones whose product and addend are of similar size, so that sums carry,
// cancel and land near float32 midpoints.
func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(2000).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	naive := func(a, b, c float32) float32 { return float32(float64(a)*float64(b) + float64(c)) }
	one := float32(1)
	up := math.Nextafter32(one, 2)     // 1 + 2^-23
	down := math.Nextafter32(one, 0)   // 1 - 2^-24
	down2 := math.Nextafter32(down, 0) // 1 - 2^-23
	twoM24 := float32(math.Ldexp(1, -24))
	// (1+2^-23)(1-2^-23)2^-24 + (1+2^-23) = 1 + 2^-23 + 2^-24 - 2^-70, just
	// below a float32 midpoint; float64 rounds it onto the midpoint, and a
	// plain conversion then rounds up to 1 + 2^-22.
	cases := []struct{ a, b, c float32 }{
		{up, down2 * twoM24, up},
		{-up, down2 * twoM24, -up},
		{up, -down2 * twoM24, 1 + 3*twoM24*2},
		{0, 0, 0}, {-0.0, 1, 0}, {1, 1, -1}, {3, 5, 7},
		{math.MaxFloat32, 2, -math.MaxFloat32},
		{math.SmallestNonzeroFloat32, math.SmallestNonzeroFloat32, 0},
		{math.SmallestNonzeroFloat32, 0.5, 0},
		{math.SmallestNonzeroFloat32, 0.5, -math.SmallestNonzeroFloat32},
		{1e-30, 1e-30, 1e-45},
	}
	require.Equal(t, up, exact(cases[0].a, cases[0].b, cases[0].c))
	require.NotEqual(t, exact(cases[0].a, cases[0].b, cases[0].c), naive(cases[0].a, cases[0].b, cases[0].c),
		"the first case no longer rounds twice in float64; it guards nothing")
	rng := rand.New(rand.NewPCG(20261207, 1))
	f32 := func(exp int) float32 {
		return float32(math.Ldexp(rng.Float64()*2-1, exp))
	}
	for range 200000 {
		ea := rng.IntN(60) - 30
		eb := rng.IntN(60) - 30
		// The addend within a factor 2^30 of the product, either side.
		c := f32(ea + eb + rng.IntN(60) - 30)
		cases = append(cases, struct{ a, b, c float32 }{f32(ea), f32(eb), c})
	}
	// Products of tiny numbers against subnormal addends.
	for range 20000 {
		cases = append(cases, struct{ a, b, c float32 }{f32(-70 - rng.IntN(10)), f32(-70 - rng.IntN(10)), f32(-140 - rng.IntN(8))})
	}
	doubled := 0
	for _, c := range cases {
		want := exact(c.a, c.b, c.c)
		got := fma32(c.a, c.b, c.c)
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#x), exact rounding gives %g (%#x)", c.a, c.b, c.c,
				got, math.Float32bits(got), want, math.Float32bits(want))
		}
		if naive(c.a, c.b, c.c) != want {
			doubled++
		}
	}
	t.Logf("%d cases; %d of them round wrongly through a plain float64 sum", len(cases), doubled)
	require.Equal(t, float32(math.Inf(1)), fma32(float32(math.Inf(1)), 1, 1))
	require.True(t, math.IsNaN(float64(fma32(float32(math.Inf(1)), 0, 1))))
	require.True(t, math.IsNaN(float64(fma32(float32(math.NaN()), 1, 1))))
	require.True(t, math.IsNaN(float64(fma32(float32(math.Inf(1)), 1, float32(math.Inf(-1))))))
}
