package main

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"

	"lepton/fairness"
	"lepton/fairness/report"
)

func init() {
	register("fairness", "fair decision thresholds (threshold) and fairness reports with plots (report)", runFairness)
}

const fairnessUsage = `usage: lepton fairness threshold --in FILE --constraint C --out thr.json [--positive K] [flags]
       lepton fairness report --in FILE --out DIR [--calibration cal.json] [--thresholds thr.json]

threshold  fits per-group decision rules. Constraints: equalized_odds,
           equal_opportunity, demographic_parity, calibrated_equalized_odds.
           Binary scores decide on class 1; scores with more classes
           (lepton eval --out-scores) need --positive K: one-vs-rest rules
           deciding "is the input of class K?".
report     writes metrics.json, report.md and PNG/SVG plots to DIR.

Run 'lepton fairness threshold -h' or 'lepton fairness report -h' for flags.
`

func runFairness(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		// As 'lepton' alone: the usage, readable, and exit status 2.
		fmt.Fprint(stderr, fairnessUsage)
		return errUsageShown
	}
	switch args[0] {
	case "threshold":
		return runFairnessThreshold(args[1:], stdout, stderr)
	case "report":
		return runFairnessReport(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, fairnessUsage)
		return nil
	}
	return usagef("unknown fairness subcommand %q (want threshold or report; run 'lepton fairness -h')", args[0])
}

// loadArtefact loads an artefact of the given kind from the file that flag
// name gave; errors name the flag and the file.
func loadArtefact(name, path string, kind fairness.Kind) (*fairness.Artefact, error) {
	a, err := fairness.LoadFile(path)
	if err != nil {
		return nil, fileError(name, path, err)
	}
	if a.Kind != kind {
		return nil, fileError(name, path, fmt.Errorf("%w: kind %q, want %s", fairness.ErrBadArtefact, a.Kind, kind))
	}
	return a, nil
}

// loadCalibrated reads samples and, when calPath is set, replaces their
// probabilities with calibrated ones and returns the calibration's digest.
func loadCalibrated(in, calPath string, policy fairness.UnknownGroupPolicy) ([]fairness.Sample, string, error) {
	ss, err := fairness.ReadFile(in)
	if err != nil {
		return nil, "", fileError("in", in, err)
	}
	if calPath == "" {
		return ss, "", nil
	}
	a, err := loadArtefact("calibration", calPath, fairness.KindCalibration)
	if err != nil {
		return nil, "", err
	}
	digest, err := a.Digest()
	if err != nil {
		return nil, "", err
	}
	out := make([]fairness.Sample, len(ss))
	for i, s := range ss {
		p, err := a.Calibration.ApplySample(s, policy)
		if err != nil {
			return nil, "", fileError("in", in, fmt.Errorf("line %d: %w", s.Line, err))
		}
		out[i] = fairness.Sample{Group: s.Group, Label: s.Label, Probs: p, Line: s.Line}
	}
	return out, digest, nil
}

func runFairnessThreshold(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fairness threshold")
	var df dataFlags // calibrate.go
	df.register(fs, "labelled binary model outputs: CSV or JSONL with group, label and score",
		"artefact to write (JSON)", "groups smaller than this are flagged in the metrics")
	constraint := fs.String("constraint", "", "equalized_odds, equal_opportunity, demographic_parity or calibrated_equalized_odds")
	cost := fs.String("cost", "weighted", "cost equalised by calibrated_equalized_odds: weighted, fpr or fnr")
	grid := fs.Int("grid", 1000, "grid steps of the operating point search")
	noFlip := fs.Bool("no-flip", false, "forbid inverted threshold rules below the ROC diagonal")
	calPath := fs.String("calibration", "", "calibration artefact applied to the scores before fitting")
	unknown := fs.String("unknown-group", "error", "groups unknown to --calibration: error or fallback")
	positive := fs.Int("positive", -1, "fit one-vs-rest rules for this class (0-based, as lepton info lists labels): required when the scores have more than 2 classes")
	done, err := parseFlags(fs, args, stderr, `usage: lepton fairness threshold --in FILE --constraint C --out thr.json [--positive K] [--cost weighted|fpr|fnr] [--grid N] [--no-flip] [--calibration cal.json]
Binary scores (score, or 2 class columns) give rules on class 1's probability.
With --positive K, or scores of more classes (prob_0.., logit_0.. as lepton eval
--out-scores writes), the rules are one-vs-rest: they decide "is the input of
class K?" on class K's probability; classify --thresholds then prints decision[LABEL]=...`)
	if done {
		return err
	}
	if err := df.check([2]string{"constraint", *constraint}); err != nil {
		return err
	}
	c := fairness.Constraint(*constraint)
	switch c {
	case fairness.EqualizedOdds, fairness.EqualOpportunity, fairness.DemographicParity, fairness.CalibratedEqualizedOdds:
	default:
		return errUsage{fmt.Sprintf("--constraint %q: want equalized_odds, equal_opportunity, demographic_parity or calibrated_equalized_odds", *constraint)}
	}
	policy, err := fairness.ParseUnknownGroupPolicy(*unknown)
	if err != nil {
		return errUsage{err.Error()}
	}
	switch fairness.Cost(*cost) {
	case fairness.CostWeighted, fairness.CostFPR, fairness.CostFNR:
	default:
		return errUsage{fmt.Sprintf("--cost %q: want weighted, fpr or fnr", *cost)}
	}
	if *grid < 1 {
		return errUsage{"--grid must be >= 1"}
	}
	if *positive < -1 {
		return usagef("--positive %d: want a class index (0 or more)", *positive)
	}
	ss, calDigest, err := loadCalibrated(df.in, *calPath, policy)
	if err != nil {
		return err
	}
	classes := len(ss[0].Probs)
	opts := fairness.ThresholdOptions{Grid: *grid, NoFlip: *noFlip, Cost: fairness.Cost(*cost)}
	var a *fairness.Artefact
	switch {
	case *positive >= classes:
		return usagef("--positive %d: the scores have %d classes (0..%d)", *positive, classes, classes-1)
	case *positive >= 0:
		a, err = fairness.NewOneVsRestThresholdArtefact(ss, *positive, c, opts, df.minGroup)
	case classes > 2:
		return usagef("the scores in %s have %d classes: decision rules are one-vs-rest, give --positive K (the class to decide on)", df.in, classes)
	default:
		a, err = fairness.NewThresholdArtefact(ss, c, opts, df.minGroup)
	}
	if err != nil {
		return fileError("in", df.in, err)
	}
	a.Thresholds.CalibrationSHA256 = calDigest
	if err := a.Save(df.out); err != nil {
		return fileError("out", df.out, err)
	}
	t := a.Thresholds
	what := ""
	if t.PositiveClass != nil {
		what = fmt.Sprintf(" (one-vs-rest: class %d of %d)", *t.PositiveClass, a.Classes)
	}
	fmt.Fprintf(stdout, "%s on %d rows, %d groups%s -> %s\n", c, a.FitRows, len(a.Groups), what, df.out)
	switch c {
	case fairness.EqualizedOdds:
		fmt.Fprintf(stdout, "operating point: FPR %.6f, TPR %.6f\n", t.FPR, t.TPR)
	case fairness.EqualOpportunity:
		fmt.Fprintf(stdout, "operating point: TPR %.6f\n", t.TPR)
	case fairness.DemographicParity:
		fmt.Fprintf(stdout, "operating point: selection rate %.6f\n", t.Selection)
	}
	fmt.Fprintf(stdout, "%-16s %6s  %-44s %-17s %-17s %-17s\n", "group", "n", "rule", "selection b/a", "TPR b/a", "FPR b/a")
	for _, g := range a.Groups {
		r := t.Groups[g]
		mb, _ := a.MetricsBefore.Group(g)
		ma, _ := a.MetricsAfter.Group(g)
		fmt.Fprintf(stdout, "%-16s %6d  %-44s %-17s %-17s %-17s\n", g, r.Count, describeRule(c, r),
			pair(mb.SelectionRate, ma.SelectionRate), pair(mb.TPR, ma.TPR), pair(mb.FPR, ma.FPR))
	}
	mb, ma := a.MetricsBefore, a.MetricsAfter
	fmt.Fprintf(stdout, "equalized odds difference %s -> %s; demographic parity difference %s -> %s; accuracy %s -> %s\n",
		mb.EqualizedOddsDifference, ma.EqualizedOddsDifference, mb.DemographicParityDifference, ma.DemographicParityDifference,
		mb.Overall.Accuracy, ma.Overall.Accuracy)
	return nil
}

func pair(a, b fairness.Metric) string {
	short := func(m fairness.Metric) string {
		if !m.Defined {
			return "undef"
		}
		return fmt.Sprintf("%.3f", m.Value)
	}
	return short(a) + "/" + short(b)
}

func describeRule(c fairness.Constraint, r fairness.Rule) string {
	if c == fairness.CalibratedEqualizedOdds {
		return fmt.Sprintf("mix %.6f towards base rate %.4f", r.MixRate, r.BaseRate)
	}
	op := func(o fairness.Op) string {
		if o.Greater {
			return fmt.Sprintf("[>%.4g]", o.Threshold)
		}
		return fmt.Sprintf("[<%.4g]", o.Threshold)
	}
	s := fmt.Sprintf("%.4f%s + %.4f%s", r.P0, op(r.Op0), r.P1, op(r.Op1))
	if r.PIgnore > 0 {
		s += fmt.Sprintf(", ignore %.4f", r.PIgnore)
	}
	return s
}

func runFairnessReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fairness report")
	var df dataFlags // calibrate.go
	df.register(fs, "labelled model outputs: CSV or JSONL with group, label and score | prob_0.. | logit_0..",
		"directory to write metrics.json, report.md and the PNG/SVG plots into", "groups smaller than this are flagged")
	calPath := fs.String("calibration", "", "calibration artefact: report before and after it")
	thrPath := fs.String("thresholds", "", "threshold artefact: report its decisions and mark its operating points")
	unknown := fs.String("unknown-group", "error", "groups unknown to the artefacts: error or fallback")
	done, err := parseFlags(fs, args, stderr, "usage: lepton fairness report --in FILE --out DIR [--calibration cal.json] [--thresholds thr.json]")
	if done {
		return err
	}
	if err := df.check(); err != nil {
		return err
	}
	policy, err := fairness.ParseUnknownGroupPolicy(*unknown)
	if err != nil {
		return errUsage{err.Error()}
	}
	ss, err := fairness.ReadFile(df.in)
	if err != nil {
		return fileError("in", df.in, err)
	}
	ri := fairness.ReportInput{Samples: ss, MinGroupSize: df.minGroup, Policy: policy}
	if *calPath != "" {
		a, err := loadArtefact("calibration", *calPath, fairness.KindCalibration)
		if err != nil {
			return err
		}
		ri.Calibration = a.Calibration
		if ri.CalibrationSHA256, err = a.Digest(); err != nil {
			return err
		}
	}
	if *thrPath != "" {
		a, err := loadArtefact("thresholds", *thrPath, fairness.KindThresholds)
		if err != nil {
			return err
		}
		if len(ss[0].Probs) != a.Classes {
			return usagef("--thresholds %s was fitted on scores of %d classes, --in %s has %d", *thrPath, a.Classes, df.in, len(ss[0].Probs))
		}
		ri.Thresholds = a.Thresholds
	}
	fr, err := report.Write(df.out, ri)
	var pe *iofs.PathError
	switch {
	case errors.As(err, &pe):
		return flagError("out", err)
	case err != nil:
		// Not a file system error: something in the data.
		return fileError("in", df.in, err)
	}
	fmt.Fprintf(stdout, "wrote %d files to %s: %s\n", len(fr.Files), df.out, strings.Join(fr.Files, ", "))
	for _, st := range fr.Stages {
		r := st.Report
		fmt.Fprintf(stdout, "%-40s accuracy %s  ECE %s  log loss %s  DP diff %s  EO diff %s\n", st.Name,
			r.Overall.Accuracy, r.Overall.ECE, r.Overall.LogLoss, r.DemographicParityDifference, r.EqualizedOddsDifference)
	}
	return nil
}
