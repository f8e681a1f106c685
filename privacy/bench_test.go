package privacy

import (
	"fmt"
	"testing"
)

// BenchmarkRelease measures one release per mechanism on the crypto
// source (what devices use), reporting releases/s; embeddings over a
// dimension ladder.
func BenchmarkRelease(b *testing.B) {
	r, err := New()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("label/k=24", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Label(3, 24, 1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "releases/s")
	})
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Scalar(0.3, Range{0, 1}, 1); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "releases/s")
	})
	for _, d := range []int{1, 128, 384, 768} {
		x := make([]float64, d)
		for i := range x {
			x[i] = float64(i%7) - 3
		}
		b.Run(fmt.Sprintf("embedding/d=%d", d), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Embedding(x, 1, 1, 1e-5); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "releases/s")
		})
	}
}
