package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"lepton/fairness"
)

func init() {
	register("calibrate", "fit per-group calibration on labelled model outputs (CSV/JSONL) into a JSON artefact", runCalibrate)
}

// newFlagSet returns a flag set whose parse errors become one line on
// stderr (via main) and whose usage is printed for -h only.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags is parseArgs for commands without positional arguments.
// done is true when the command should stop (after -h).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) (done bool, err error) {
	pos, err := parseArgs(fs, args, stderr, usage+"\n")
	switch {
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	case err != nil:
		return true, err
	case len(pos) > 0:
		return true, errUsage{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	return false, nil
}

// dataFlags are the input and output flags calibrate and the fairness
// subcommands share: the labelled data file, what to write, and the group
// size below which groups are flagged (and, for calibration, fall back).
type dataFlags struct {
	in, out  string
	minGroup int
}

// register adds --in, --out and --min-group with the command's own help.
func (d *dataFlags) register(fs *flag.FlagSet, inHelp, outHelp, minGroupHelp string) {
	fs.StringVar(&d.in, "in", "", inHelp)
	fs.StringVar(&d.out, "out", "", outHelp)
	fs.IntVar(&d.minGroup, "min-group", fairness.DefaultMinGroupSize, minGroupHelp)
}

// check requires --in, --out and every extra flag (name, value) given, and
// a non-negative --min-group; failures are usage errors.
func (d *dataFlags) check(extra ...[2]string) error {
	names := []string{"--in"}
	missing := d.in == ""
	for _, e := range extra {
		names = append(names, "--"+e[0])
		missing = missing || e[1] == ""
	}
	names = append(names, "--out")
	if missing || d.out == "" {
		return errUsage{strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " are required"}
	}
	if d.minGroup < 0 {
		return errUsage{"--min-group must be >= 0"}
	}
	return nil
}

func runCalibrate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate")
	var df dataFlags
	df.register(fs, "labelled model outputs: CSV or JSONL (.jsonl) with group, label and score | prob_0.. | logit_0..",
		"artefact to write (JSON)", "groups with fewer rows use the global fit and are flagged")
	method := fs.String("method", "temperature", "temperature (any number of classes), platt or isotonic (binary)")
	done, err := parseFlags(fs, args, stderr, "usage: lepton calibrate --in FILE --method temperature|platt|isotonic --out cal.json [--min-group N]")
	if done {
		return err
	}
	if err := df.check(); err != nil {
		return err
	}
	m := fairness.Method(*method)
	switch m {
	case fairness.Temperature, fairness.Platt, fairness.Isotonic:
	default:
		return errUsage{fmt.Sprintf("--method %q: want temperature, platt or isotonic", *method)}
	}
	ss, err := fairness.ReadFile(df.in)
	if err != nil {
		return fileError("in", df.in, err)
	}
	if k := len(ss[0].Probs); m != fairness.Temperature && k != 2 {
		// The method given cannot apply to these scores: a usage error.
		return usagef("--method %s needs binary scores, %s has %d classes (use temperature)", m, df.in, k)
	}
	a, err := fairness.NewCalibrationArtefact(ss, m, df.minGroup)
	if err != nil {
		return fileError("in", df.in, err)
	}
	if err := a.Save(df.out); err != nil {
		return fileError("out", df.out, err)
	}
	c := a.Calibration
	fmt.Fprintf(stdout, "%s calibration of %d rows, %d classes, %d groups -> %s\n", m, a.FitRows, a.Classes, len(a.Groups), df.out)
	fmt.Fprintf(stdout, "%-16s %6s  %-22s %20s %20s\n", "group", "n", "parameters", "log loss before/after", "ECE before/after")
	rows := append([]string{"(global)"}, a.Groups...)
	sort.Strings(rows[1:])
	for _, g := range rows {
		p := c.Global
		mb, ma := a.MetricsBefore.Overall, a.MetricsAfter.Overall
		if g != "(global)" {
			p = c.Groups[g]
			mb, _ = a.MetricsBefore.Group(g)
			ma, _ = a.MetricsAfter.Group(g)
		}
		fmt.Fprintf(stdout, "%-16s %6d  %-22s %9.4f / %-9.4f %9.4f / %-9.4f\n", g, mb.Count, describeParams(m, p),
			mb.LogLoss.Value, ma.LogLoss.Value, mb.ECE.Value, ma.ECE.Value)
	}
	return nil
}

func describeParams(m fairness.Method, p fairness.CalParams) string {
	var s string
	switch m {
	case fairness.Temperature:
		s = fmt.Sprintf("T=%.4f", p.Temperature)
	case fairness.Platt:
		s = fmt.Sprintf("a=%.4f b=%.4f", p.A, p.B)
	case fairness.Isotonic:
		s = fmt.Sprintf("%d knots", len(p.X))
	}
	if p.Fallback {
		s += " (global)"
	}
	return s
}
