package fairness

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteReport(t *testing.T) {
	ss, _ := loadGolden(t)
	cal, err := FitCalibration(ss, Platt, 30)
	require.NoError(t, err)
	var calibrated []Sample
	for _, s := range ss {
		p, err := cal.ApplySample(s, UnknownError)
		require.NoError(t, err)
		calibrated = append(calibrated, Sample{Group: s.Group, Label: s.Label, Probs: p})
	}
	th, err := FitThresholds(calibrated, EqualizedOdds, ThresholdOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	if d := os.Getenv("FAIRNESS_REPORT_DIR"); d != "" {
		dir = d // keep the files to look at them
	}
	th.CalibrationSHA256 = "ab" + strings.Repeat("0", 62)
	in := ReportInput{Samples: ss, Calibration: cal, Thresholds: th, MinGroupSize: 50}
	_, err = WriteReport(dir, in)
	require.ErrorIs(t, err, ErrUnsupported, "rules fitted on other scores")
	in.CalibrationSHA256 = th.CalibrationSHA256
	fr, err := WriteReport(dir, in)
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

	var back FullReport
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

	_, err = WriteReport(dir, ReportInput{})
	require.ErrorIs(t, err, ErrEmpty)
	_, err = WriteReport(dir, ReportInput{Samples: []Sample{{Group: "zz", Label: 0, Probs: BinaryProbs(0.3)}}, Calibration: cal})
	require.ErrorIs(t, err, ErrUnknownGroup)
}

func TestFileSafe(t *testing.T) {
	require.Equal(t, "F__40-49", fileSafe("F, 40-49"))
	require.Equal(t, "__", fileSafe("é/"))
	require.Len(t, fileSafe(strings.Repeat("a", 100)), 40)
}

func TestBuildReportPleiss(t *testing.T) {
	ss := sharedFairness(t, "health.csv")
	th, err := FitThresholds(ss, CalibratedEqualizedOdds, ThresholdOptions{Cost: CostWeighted})
	require.NoError(t, err)
	fr, _, err := BuildReport(ReportInput{Samples: ss, Thresholds: th})
	require.NoError(t, err)
	require.Len(t, fr.Stages, 2)
	// The group that mixes gets some scores replaced by its base rate:
	// its Brier score changes, the other group's does not.
	for _, g := range fr.Stages[0].Report.Groups {
		after, ok := fr.Stages[1].Report.Group(g.Group)
		require.True(t, ok)
		if th.Groups[g.Group].MixRate == 0 {
			require.Equal(t, g.Brier.Value, after.Brier.Value, g.Group)
		} else {
			require.NotEqual(t, g.Brier.Value, after.Brier.Value, g.Group)
		}
	}
}
