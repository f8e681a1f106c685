// Command fair-triage shows Lepton's fairness workflow on a real model's
// scores: fit per-group calibration and equalized-odds decision rules on one
// half of a labelled validation file, apply them to the other half as a
// deployment would (one request at a time, each decision's coin drawn from
// its request id), and print the metrics per group before and after.
//
// The data is ../shared/data/fairness/income.csv (Pleiss et al. 2017: an
// income model's score, the true label and a binary group). Rows alternate
// between the fit and the evaluation split. Without ../shared the program
// says so and exits successfully.
//
//	go run ./examples/fair-triage
//	go run ./examples/fair-triage -method isotonic -constraint equal_opportunity
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"lepton/fairness"
)

// summary is what a run measured; the test checks it.
type summary struct {
	skipped                 bool
	fitRows, evalRows       int
	before, calib, decision fairness.Report // on the evaluation split
}

func main() {
	data := flag.String("data", "", "CSV with group, label, prediction (default: ../shared/data/fairness/income.csv from the repository root)")
	method := flag.String("method", "platt", "calibration: platt, temperature or isotonic")
	constraint := flag.String("constraint", "equalized_odds", "decision constraint: equalized_odds, equal_opportunity or demographic_parity")
	key := flag.String("key", "fair-triage-demo", "HMAC key for the per-request coins")
	flag.Parse()
	if _, err := run(os.Stdout, *data, fairness.Method(*method), fairness.Constraint(*constraint), []byte(*key)); err != nil {
		fmt.Fprintln(os.Stderr, "fair-triage:", err)
		os.Exit(1)
	}
}

// defaultData finds ../shared/data/fairness/income.csv beside the
// repository root (the directory holding go.mod).
func defaultData() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data", "fairness", "income.csv"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found; pass -data")
		}
		dir = parent
	}
}

func run(w io.Writer, data string, method fairness.Method, c fairness.Constraint, key []byte) (summary, error) {
	var sum summary
	if data == "" {
		var err error
		if data, err = defaultData(); err != nil {
			return sum, err
		}
	}
	if _, err := os.Stat(data); err != nil {
		fmt.Fprintf(w, "skipping: %s not found (the shared data sits beside the repository)\n", data)
		sum.skipped = true
		return sum, nil
	}
	all, err := fairness.ReadFile(data)
	if err != nil {
		return sum, err
	}
	var fit, eval []fairness.Sample
	for i, s := range all {
		if i%2 == 0 {
			fit = append(fit, s)
		} else {
			eval = append(eval, s)
		}
	}
	sum.fitRows, sum.evalRows = len(fit), len(eval)

	// Offline: calibrate, then fit decision rules on the calibrated scores.
	calArt, err := fairness.NewCalibrationArtefact(fit, method, fairness.DefaultMinGroupSize)
	if err != nil {
		return sum, err
	}
	cal := calArt.Calibration
	calFit := make([]fairness.Sample, len(fit))
	for i, s := range fit {
		p, err := cal.ApplySample(s, fairness.UnknownError)
		if err != nil {
			return sum, err
		}
		calFit[i] = fairness.Sample{Group: s.Group, Label: s.Label, Probs: p}
	}
	thr, err := fairness.FitThresholds(calFit, c, fairness.ThresholdOptions{})
	if err != nil {
		return sum, err
	}

	// Deployment: one request at a time on the held-out half.
	before := fairness.NewAccumulator(1, fairness.DefaultMinGroupSize)
	after := fairness.NewAccumulator(1, fairness.DefaultMinGroupSize)
	decided := fairness.NewAccumulator(1, fairness.DefaultMinGroupSize)
	for i, s := range eval {
		if err := before.Add(s.Group, s.Label, s.Probs); err != nil {
			return sum, err
		}
		p, err := cal.ApplySample(s, fairness.UnknownError)
		if err != nil {
			return sum, err
		}
		if err := after.Add(s.Group, s.Label, p); err != nil {
			return sum, err
		}
		d, err := thr.Decide(s.Group, p[1], key, fmt.Sprintf("eval-row-%d", i), fairness.UnknownError)
		if err != nil {
			return sum, err
		}
		pos := 0.0
		if d.Positive {
			pos = 1
		}
		if err := decided.AddDecision(s.Group, s.Label, p, pos); err != nil {
			return sum, err
		}
	}
	sum.before, sum.calib, sum.decision = before.Report(), after.Report(), decided.Report()

	fmt.Fprintf(w, "%s: %d rows fit, %d held out; %s calibration, %s decisions\n\n", filepath.Base(data), len(fit), len(eval), method, c)
	fmt.Fprintf(w, "%-8s %6s  %-15s %-15s %-15s %-15s %-15s\n", "group", "n", "ECE", "log loss", "TPR", "FPR", "selection")
	for _, g := range append([]fairness.GroupMetrics{sum.before.Overall}, sum.before.Groups...) {
		a, d := sum.calib.Overall, sum.decision.Overall
		if g.Group != "overall" {
			a, _ = sum.calib.Group(g.Group)
			d, _ = sum.decision.Group(g.Group)
		}
		fmt.Fprintf(w, "%-8s %6d  %-15s %-15s %-15s %-15s %-15s\n", g.Group, g.Count,
			arrow(g.ECE, a.ECE), arrow(g.LogLoss, a.LogLoss), arrow(g.TPR, d.TPR), arrow(g.FPR, d.FPR), arrow(g.SelectionRate, d.SelectionRate))
	}
	fmt.Fprintf(w, "\nequalized odds difference %s -> %s, equal opportunity difference %s -> %s, accuracy %s -> %s\n",
		sum.before.EqualizedOddsDifference, sum.decision.EqualizedOddsDifference,
		sum.before.EqualOpportunityDifference, sum.decision.EqualOpportunityDifference,
		sum.before.Overall.Accuracy, sum.decision.Overall.Accuracy)
	fmt.Fprintln(w, "(ECE and log loss: raw -> calibrated scores; TPR, FPR, selection: argmax -> fair decisions)")
	return sum, nil
}

func arrow(a, b fairness.Metric) string {
	f := func(m fairness.Metric) string {
		if !m.Defined {
			return "undef"
		}
		return fmt.Sprintf("%.3f", m.Value)
	}
	return f(a) + "->" + f(b)
}
