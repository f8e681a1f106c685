package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestRun runs the simulation for several fixed seeds and checks coverage
// sanity: over 5 x 24 = 120 nominal-95% intervals the expected number of
// misses is 6 (SD 2.4); more than 24 misses (coverage below 80%) would
// mean broken intervals (false-failure rate far below 1e-6 for correct
// ones, were the seeds not fixed). Also: the estimates sum to 1 (the RR
// estimator's algebra), errors are bounded, and each device spent exactly
// its epsilon.
func TestRun(t *testing.T) {
	covered, labels := 0, 0
	for seed := uint64(1); seed <= 5; seed++ {
		var buf bytes.Buffer
		s, err := run(&buf, config{devices: 1000, epsilon: 3, seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		covered += s.covered
		labels += s.labels
		if math.Abs(s.sumEst-1) > 1e-9 {
			t.Errorf("seed %d: estimates sum to %v, want 1", seed, s.sumEst)
		}
		// SE at eps=3, k=24, n=1000 is at most ~0.016: 6 SE
		if s.maxAbsErr > 0.1 {
			t.Errorf("seed %d: largest error %v", seed, s.maxAbsErr)
		}
		if s.spent != 3 {
			t.Errorf("seed %d: spent %v, want 3", seed, s.spent)
		}
		out := buf.String()
		for _, want := range []string{"common cold", "COVID-19", "95% CI", "intervals cover"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
	if frac := float64(covered) / float64(labels); frac < 0.8 {
		t.Errorf("coverage %d/%d = %.2f, want >= 0.80", covered, labels, frac)
	}
	t.Logf("coverage %d/%d", covered, labels)
}

func TestRunRejectsNoDevices(t *testing.T) {
	if _, err := run(&bytes.Buffer{}, config{devices: 0, epsilon: 1, seed: 1}); err == nil {
		t.Fatal("want error")
	}
	if _, err := run(&bytes.Buffer{}, config{devices: 10, epsilon: math.NaN(), seed: 1}); err == nil {
		t.Fatal("want error for NaN epsilon")
	}
}
