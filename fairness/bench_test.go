package fairness

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// benchSamples makes n binary samples in 4 groups with a fixed generator.
func benchSamples(n int) []Sample {
	ss := make([]Sample, n)
	seed := uint64(11)
	next := func() float64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / (1 << 53)
	}
	for i := range ss {
		z := 4 * (next() - 0.5)
		label := 0
		if next() < 1/(1+math.Exp(-z)) {
			label = 1
		}
		s := 1 / (1 + math.Exp(-1.5*z))
		ss[i] = Sample{Group: strconv.Itoa(i % 4), Label: label, Probs: BinaryProbs(s)}
	}
	return ss
}

func BenchmarkAccumulatorAdd(b *testing.B) {
	ss := benchSamples(4096)
	acc := NewAccumulator(1, 30)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := ss[i%len(ss)]
		if err := acc.Add(s.Group, s.Label, s.Probs); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkDecide(b *testing.B) {
	th, err := FitThresholds(benchSamples(4096), EqualizedOdds, ThresholdOptions{})
	if err != nil {
		b.Fatal(err)
	}
	key := []byte("k")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := th.Decide("1", 0.5, key, "request-"+strconv.Itoa(i), UnknownError); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

func BenchmarkCalibrationApply(b *testing.B) {
	ss := benchSamples(4096)
	for _, m := range []Method{Temperature, Platt, Isotonic} {
		cal, err := FitCalibration(ss, m, 30)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(m), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cal.Apply("2", ss[7].Probs, UnknownError); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFitThresholds(b *testing.B) {
	for _, n := range []int{100, 10000} {
		ss := benchSamples(n)
		b.Run(fmt.Sprintf("equalized_odds/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := FitThresholds(ss, EqualizedOdds, ThresholdOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
