package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
)

// writeScores writes a synthetic binary CSV: group "young" is
// over-confident, group "old" under-confident.
func writeScores(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("group,label,score\n")
	seed := uint64(42)
	next := func() float64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / (1 << 53)
	}
	for i := range 400 {
		g := "young"
		scale := 2.0
		if i%3 == 0 {
			g, scale = "old", 0.5
		}
		z := 3 * (next() - 0.5)
		label := 0
		if next() < 1/(1+math.Exp(-z)) {
			label = 1
		}
		fmt.Fprintf(&b, "%s,%d,%.6f\n", g, label, 1/(1+math.Exp(-scale*z)))
	}
	p := filepath.Join(dir, "scores.csv")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

func runFair(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCalibrateThresholdReportCLI(t *testing.T) {
	dir := t.TempDir()
	in := writeScores(t, dir)
	cal := filepath.Join(dir, "cal.json")
	code, out, errs := runFair("calibrate", "--in", in, "--method", "platt", "--out", cal)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "platt calibration of 400 rows")
	a, err := fairness.LoadFile(cal)
	require.NoError(t, err)
	require.Equal(t, []string{"old", "young"}, a.Groups)
	for _, g := range a.Groups {
		b, _ := a.MetricsBefore.Group(g)
		af, _ := a.MetricsAfter.Group(g)
		require.Less(t, af.LogLoss.Value, b.LogLoss.Value, g)
	}

	for _, c := range []string{"equalized_odds", "equal_opportunity", "demographic_parity", "calibrated_equalized_odds"} {
		thr := filepath.Join(dir, c+".json")
		code, out, errs = runFair("fairness", "threshold", "--in", in, "--constraint", c, "--calibration", cal, "--out", thr)
		if c == "calibrated_equalized_odds" && code == 1 {
			require.Contains(t, errs, "constraint infeasible")
			continue
		}
		require.Equal(t, 0, code, errs)
		require.Contains(t, out, c+" on 400 rows")
		a, err := fairness.LoadFile(thr)
		require.NoError(t, err)
		require.Equal(t, fairness.Constraint(c), a.Thresholds.Constraint)
	}

	rep := filepath.Join(dir, "report")
	code, out, errs = runFair("fairness", "report", "--in", in, "--calibration", cal,
		"--thresholds", filepath.Join(dir, "equalized_odds.json"), "--out", rep)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "decisions (equalized_odds)")
	// Rules fitted on calibrated scores refuse raw ones.
	code, _, errs = runFair("fairness", "report", "--in", in,
		"--thresholds", filepath.Join(dir, "equalized_odds.json"), "--out", filepath.Join(dir, "r2"))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "fitted on scores calibrated by artefact")
	for _, f := range []string{"metrics.json", "report.md", "roc.png", "roc.svg", "reliability_00_old.png", "reliability_01_young.svg"} {
		_, err := os.Stat(filepath.Join(rep, f))
		require.NoError(t, err, f)
	}
}

func TestFairnessCLIErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeScores(t, dir)
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("group,label,score\na,1,0.5\nb,1,oops\n"), 0o644))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"calibrate"}, 2, "--in and --out are required"},
		{[]string{"calibrate", "--in", in, "--out", "x", "--method", "magic"}, 2, "want temperature"},
		{[]string{"calibrate", "--in", bad, "--out", filepath.Join(dir, "o.json")}, 1, "line 3"},
		{[]string{"calibrate", "--in", filepath.Join(dir, "missing.csv"), "--out", "x"}, 1, "no such file"},
		{[]string{"calibrate", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"fairness"}, 2, "usage: lepton fairness"},
		{[]string{"fairness", "magic"}, 2, "unknown fairness subcommand"},
		{[]string{"fairness", "threshold", "--in", in, "--out", "x"}, 2, "--in, --constraint and --out are required"},
		{[]string{"fairness", "threshold", "--in", in, "--out", "x", "--constraint", "equalized_odds", "--min-group", "-1"}, 2, "--min-group must be >= 0"},
		{[]string{"fairness", "report", "--in", in, "--out", dir, "--min-group", "-1"}, 2, "--min-group must be >= 0"},
		{[]string{"calibrate", "--in", in, "--out", "x", "--min-group", "-1"}, 2, "--min-group must be >= 0"},
		{[]string{"fairness", "threshold", "--in", in, "--out", "x", "--constraint", "magic"}, 2, "want equalized_odds"},
		{[]string{"fairness", "threshold", "--in", in, "--out", "x", "--constraint", "equalized_odds", "--unknown-group", "maybe"}, 2, "unknown-group policy"},
		{[]string{"fairness", "threshold", "--in", in, "--out", "x", "--constraint", "equalized_odds", "--cost", "fdr"}, 2, "want weighted"},
		{[]string{"fairness", "report", "--in", in}, 2, "--in and --out are required"},
		{[]string{"fairness", "report", "--in", in, "--out", dir, "--calibration", bad}, 1, "invalid artefact"},
	}
	for _, tc := range cases {
		code, _, errs := runFair(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
		require.Contains(t, errs, tc.want, tc.args)
	}
	code, _, errs := runFair("calibrate", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, errs, "usage: lepton calibrate")
}

func TestCalibrationUnknownGroupCLI(t *testing.T) {
	dir := t.TempDir()
	in := writeScores(t, dir)
	cal := filepath.Join(dir, "cal.json")
	code, _, errs := runFair("calibrate", "--in", in, "--method", "temperature", "--out", cal)
	require.Equal(t, 0, code, errs)
	other := filepath.Join(dir, "other.csv")
	require.NoError(t, os.WriteFile(other, []byte("group,label,score\nnew-site,1,0.7\nold,0,0.2\n"), 0o644))
	code, _, errs = runFair("fairness", "report", "--in", other, "--calibration", cal, "--out", filepath.Join(dir, "r1"))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "unknown group")
	code, _, errs = runFair("fairness", "report", "--in", other, "--calibration", cal, "--unknown-group", "fallback", "--out", filepath.Join(dir, "r2"))
	require.Equal(t, 0, code, errs)
}
