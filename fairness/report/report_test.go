package report

import (
	"encoding/json"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
)

// TestWrite writes a full report (calibration and equalized-odds decisions)
// on the synthetic golden data and checks every file: the plots decode, the
// metrics round-trip, the decision stage sits at the fitted rates and the
// Markdown has one table per stage.
func TestWrite(t *testing.T) {
	ss, err := fairness.ReadFile(filepath.Join("..", "testdata", "golden", "synthetic.csv"))
	require.NoError(t, err)
	cal, err := fairness.FitCalibration(ss, fairness.Platt, 30)
	require.NoError(t, err)
	var calibrated []fairness.Sample
	for _, s := range ss {
		p, err := cal.ApplySample(s, fairness.UnknownError)
		require.NoError(t, err)
		calibrated = append(calibrated, fairness.Sample{Group: s.Group, Label: s.Label, Probs: p})
	}
	th, err := fairness.FitThresholds(calibrated, fairness.EqualizedOdds, fairness.ThresholdOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	if d := os.Getenv("FAIRNESS_REPORT_DIR"); d != "" {
		dir = d // keep the files to look at them
	}
	th.CalibrationSHA256 = "ab" + strings.Repeat("0", 62)
	in := fairness.ReportInput{Samples: ss, Calibration: cal, Thresholds: th, MinGroupSize: 50}
	_, err = Write(dir, in)
	require.ErrorIs(t, err, fairness.ErrUnsupported, "rules fitted on other scores")
	in.CalibrationSHA256 = th.CalibrationSHA256
	fr, err := Write(dir, in)
	require.NoError(t, err)
	require.Len(t, fr.Stages, 3)
	for _, f := range []string{"metrics.json", "report.md", "roc.png", "roc.svg",
		"reliability_00_a.png", "reliability_01_b.svg", "reliability_02_c.png"} {
		require.Contains(t, fr.Files, f)
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		require.Greater(t, st.Size(), int64(100), f)
	}
	pf, err := os.Open(filepath.Join(dir, "roc.png"))
	require.NoError(t, err)
	img, err := png.Decode(pf)
	pf.Close()
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 300)
	svg, err := os.ReadFile(filepath.Join(dir, "reliability_01_b.svg"))
	require.NoError(t, err)
	require.Contains(t, string(svg), "<svg")

	var back fairness.FullReport
	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, len(ss), back.Rows)
	require.Equal(t, th.Groups, back.Thresholds.Groups)
	require.Equal(t, cal.Groups["a"].A, back.Calibration.Groups["a"].A)
	// Equalized odds decisions: every group at the chosen FPR/TPR.
	for _, g := range back.Stages[2].Report.Groups {
		require.InDelta(t, th.FPR, g.FPR.Value, 1e-9, g.Group)
		require.InDelta(t, th.TPR, g.TPR.Value, 1e-9, g.Group)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "| c * | 41 |")
	require.Contains(t, string(md), "## calibrated (platt)")
	require.Equal(t, 3, strings.Count(string(md), "| overall |"), "one table per stage")

	_, err = Write(dir, fairness.ReportInput{})
	require.ErrorIs(t, err, fairness.ErrEmpty)
	_, err = Write(dir, fairness.ReportInput{Samples: []fairness.Sample{{Group: "zz", Label: 0, Probs: fairness.BinaryProbs(0.3)}}, Calibration: cal})
	require.ErrorIs(t, err, fairness.ErrUnknownGroup)
}

func TestFileSafe(t *testing.T) {
	require.Equal(t, "F__40-49", fileSafe("F, 40-49"))
	require.Equal(t, "__", fileSafe("é/"))
	require.Len(t, fileSafe(strings.Repeat("a", 100)), 40)
}

// TestMetricsJSONUnescaped: metrics.json shows group names as written, not
// HTML-escaped ("\u003e"), and groups spelled two ways ("1.0" and "1") are
// one group in the tables and on the ROC plot.
func TestMetricsJSONUnescaped(t *testing.T) {
	groups := []string{"age<40", "age>=40 & m", "1.0", "1"}
	r := rand.New(rand.NewPCG(7, 11))
	ss := make([]fairness.Sample, 240)
	for i := range ss {
		y := (i / len(groups)) % 2 // both labels in every group
		s := 0.3 + 0.4*float64(y) + 0.5*(r.Float64()-0.5)
		ss[i] = fairness.Sample{Group: groups[i%len(groups)], Label: y, Probs: fairness.BinaryProbs(s)}
	}
	a, err := fairness.NewThresholdArtefact(ss, fairness.EqualizedOdds, fairness.ThresholdOptions{Grid: 100}, 10)
	require.NoError(t, err)
	dir := t.TempDir()
	fr, err := Write(dir, fairness.ReportInput{Samples: ss, Thresholds: a.Thresholds})
	require.NoError(t, err)
	require.Len(t, fr.Stages[0].Report.Groups, 3, "1.0 and 1 are one group")
	require.Contains(t, fr.Files, "roc.svg")
	m, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	require.NoError(t, err)
	require.NotContains(t, string(m), `\u003`)
	require.NotContains(t, string(m), `\u0026`)
	require.Contains(t, string(m), `"age<40"`)
	svg, err := os.ReadFile(filepath.Join(dir, "roc.svg"))
	require.NoError(t, err)
	require.Contains(t, string(svg), "operating point")
}
