package privacy

import (
	"errors"
	"math"
	"testing"
)

// FuzzRelease feeds arbitrary parameters and inputs to every mechanism:
// each call either returns a typed error (nothing released) or finite
// values on the reported grid; it never panics or hangs.
func FuzzRelease(f *testing.F) {
	f.Add(0.5, 0.0, 1.0, 1.0, 1e-5, int64(3))
	f.Add(45941223.02107, -1e300, 1e300, 1e-15, 0.999, int64(-7))
	f.Add(math.NaN(), 0.0, 0.0, 0.0, 0.0, int64(0))
	f.Add(1e308, -1e308, 1e308, 1e308, 1e-300, int64(math.MaxInt64))
	r, err := New(WithSource(NewTestingSource(99)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, x, lo, hi, eps, delta float64, xi int64) {
		onGrid := func(vs []float64, c Cost, err error) {
			if err != nil {
				var pe *ParamError
				var ie *InputError
				if !errors.As(err, &pe) && !errors.As(err, &ie) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				return
			}
			for _, v := range vs {
				if math.IsNaN(v) {
					t.Fatalf("NaN output, cost %+v", c)
				}
				if !math.IsInf(v, 0) && c.GridStep > 0 && math.Round(v/c.GridStep) != v/c.GridStep {
					t.Fatalf("%v off grid %v", v, c.GridStep)
				}
			}
		}
		s, err := r.Scalar(x, Range{lo, hi}, eps)
		onGrid([]float64{s.Value}, s.Cost, err)
		v, err := r.Logits([]float64{x, lo, hi}, Range{lo, hi}, eps)
		onGrid(v.Values, v.Cost, err)
		v, err = r.VectorL1([]float64{x, hi}, hi, eps)
		onGrid(v.Values, v.Cost, err)
		v, err = r.Embedding([]float64{x, lo}, hi, eps, delta)
		onGrid(v.Values, v.Cost, err)
		if _, err := r.Integer(xi, int64(lo), int64(lo)+int64(hi), eps); err != nil {
			onGrid(nil, Cost{}, err)
		}
		if _, err := r.Label(int(xi%5), 5, eps); err != nil {
			onGrid(nil, Cost{}, err)
		}
	})
}
