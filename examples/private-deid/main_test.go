package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

// TestRun runs the simulation with fixed seeds and checks what the
// program promises: every device spends exactly its budget; the server's
// estimates of the masked counts fall within their 95% intervals of the
// truth for most types (over 3 seeds x 6 types = 18 intervals, 0.9
// expected misses; more than 4 means broken intervals); the estimated share
// of devices whose last check fired is within 4 standard errors; the
// shared notes carry masks and no raw annotated identifier that the model
// found.
func TestRun(t *testing.T) {
	misses, intervals := 0, 0
	for seed := uint64(1); seed <= 3; seed++ {
		var buf bytes.Buffer
		s, err := run(context.Background(), &buf, config{devices: 60, epsilon: 2, maxCount: 40, seed: seed, show: 1})
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(len(s.types)+1) * 2; s.spent != want {
			t.Errorf("seed %d: each device spent %v, want %v", seed, s.spent, want)
		}
		for _, typ := range s.types {
			intervals++
			if math.Abs(s.estimate[typ]-float64(s.trueTotal[typ])) > s.halfWidth[typ] {
				misses++
			}
		}
		se := (s.flagEst.Hi - s.flagEst.Lo) / (2 * 1.96)
		if d := math.Abs(s.flagEst.Freq - s.flagTrue); d > 4*se {
			t.Errorf("seed %d: flag estimate %v vs truth %v (SE %v)", seed, s.flagEst.Freq, s.flagTrue, se)
		}
		out := buf.String()
		for _, want := range []string{"95% interval", "NAME", "shared note 1:", "[NAME]", "not wholly masked"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if s.identifiers == 0 || float64(s.survived) > maxSurvived*float64(s.identifiers) {
			t.Errorf("seed %d: %d of %d identifiers not wholly masked", seed, s.survived, s.identifiers)
		}
		if seed == 1 {
			t.Logf("\n%s", out)
		}
	}
	if misses > 4 {
		t.Errorf("%d of %d count estimates outside their 95%% intervals", misses, intervals)
	}
}

func TestRunErrors(t *testing.T) {
	for _, c := range []config{{devices: 0, epsilon: 1, maxCount: 10}, {devices: 5, epsilon: math.NaN(), maxCount: 10},
		{devices: 5, epsilon: 1, maxCount: 0}, {devices: 5, epsilon: 1, maxCount: 10, notes: "/nonexistent.jsonl"}} {
		if _, err := run(context.Background(), &bytes.Buffer{}, c); err == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
}

// maxSurvived bounds the share of annotated identifiers not wholly masked
// (measured with the built-in model: 17.2%, examples/train-deid/README.md);
// more means the model got worse.
const maxSurvived = 0.20
