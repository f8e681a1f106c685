package fairness

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

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

// TestBuildReportMarkdown: the metrics and the Markdown tables need no
// plotting (package lepton/fairness/report draws the plots).
func TestBuildReportMarkdown(t *testing.T) {
	ss, _ := loadGolden(t)
	cal, err := FitCalibration(ss, Platt, 30)
	require.NoError(t, err)
	fr, stages, err := BuildReport(ReportInput{Samples: ss, Calibration: cal, MinGroupSize: 50})
	require.NoError(t, err)
	require.Len(t, fr.Stages, 2)
	require.Len(t, stages, 2)
	require.Len(t, stages[1], len(ss))
	require.Empty(t, fr.Files, "BuildReport writes nothing")
	var md strings.Builder
	require.NoError(t, WriteMarkdown(&md, fr))
	require.Contains(t, md.String(), "| c * | 41 |")
	require.Contains(t, md.String(), "## calibrated (platt)")
	require.Equal(t, 2, strings.Count(md.String(), "| overall |"), "one table per stage")
	require.NotContains(t, md.String(), "## Plots")
}

func TestROC(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name   string
		scores []float64
		labels []int
		want   []ROCPoint
		err    error
	}{
		{"alternating", []float64{0.9, 0.8, 0.7, 0.6}, []int{1, 0, 1, 0}, []ROCPoint{
			{0, 0, inf}, {0, 0.5, 0.85}, {0.5, 0.5, 0.75}, {0.5, 1, 0.65}, {1, 1, math.Inf(-1)}}, nil},
		{"tied scores", []float64{0.5, 0.5}, []int{1, 0}, []ROCPoint{{0, 0, inf}, {1, 1, math.Inf(-1)}}, nil},
		{"perfect", []float64{0.2, 0.9}, []int{0, 1}, []ROCPoint{{0, 0, inf}, {0, 1, 0.55}, {1, 1, math.Inf(-1)}}, nil},
		{"empty", nil, nil, nil, ErrDegenerate},
		{"one label only", []float64{0.1, 0.2}, []int{1, 1}, nil, ErrDegenerate},
		{"lengths differ", []float64{0.1}, []int{1, 0}, nil, ErrShape},
		{"label 2", []float64{0.1, 0.2}, []int{0, 2}, nil, ErrShape},
		{"negative label", []float64{0.1, 0.2}, []int{-1, 1}, nil, ErrShape},
		{"NaN score", []float64{math.NaN(), 0.2}, []int{0, 1}, nil, ErrInvalidScore},
		{"infinite score", []float64{0.1, math.Inf(1)}, []int{0, 1}, nil, ErrInvalidScore},
	} {
		got, err := ROC(tc.scores, tc.labels)
		if tc.err != nil {
			require.ErrorIs(t, err, tc.err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		require.Len(t, got, len(tc.want), tc.name)
		for i := range got {
			require.Equal(t, tc.want[i].FPR, got[i].FPR, "%s point %d", tc.name, i)
			require.Equal(t, tc.want[i].TPR, got[i].TPR, "%s point %d", tc.name, i)
			if math.IsInf(tc.want[i].Threshold, 0) {
				require.Equal(t, tc.want[i].Threshold, got[i].Threshold, "%s point %d", tc.name, i)
			} else {
				require.InDelta(t, tc.want[i].Threshold, got[i].Threshold, 1e-12, "%s point %d", tc.name, i)
			}
		}
	}
}
