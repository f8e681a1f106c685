package report

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/vg"

	"lepton/fairness"
)

// TestConfusionPlot: the matrix is drawn with every non-zero count and
// every label, saved as PNG and SVG of the asked size; wrong shapes are
// errors, not panics.
func TestConfusionPlot(t *testing.T) {
	labels := []string{"Acne", "Bronchial Asthma", "Common Cold"}
	counts := [][]int64{{7, 0, 1}, {0, 12, 3}, {0, 0, 0}} // the last label never occurs
	p, err := ConfusionPlot("Confusion matrix", labels, counts)
	require.NoError(t, err)
	dir := t.TempDir()
	files, err := Save(p, filepath.Join(dir, "sub"), "confusion", 5*vg.Inch, 4*vg.Inch)
	require.NoError(t, err)
	require.Equal(t, []string{"confusion.png", "confusion.svg"}, files)
	f, err := os.Open(filepath.Join(dir, "sub", "confusion.png"))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	require.Equal(t, 5*96, img.Bounds().Dx()) // plot.Save's PNGs are 96 dpi
	require.Equal(t, 4*96, img.Bounds().Dy())
	svg, err := os.ReadFile(filepath.Join(dir, "sub", "confusion.svg"))
	require.NoError(t, err)
	for _, want := range append(labels, ">7<", ">12<", ">3<", ">1<", "predicted label", "true label") {
		require.Contains(t, string(svg), want)
	}
	require.NotContains(t, string(svg), ">0<", "empty cells carry no count")

	for _, bad := range [][][]int64{{{1, 2}}, {{1, 2, 3}, {1, 2}, {1, 2, 3}}, {{-1, 0, 0}, {0, 0, 0}, {0, 0, 0}}} {
		_, err := ConfusionPlot("x", labels, bad)
		require.ErrorIs(t, err, ErrConfusionShape)
	}
	_, err = ConfusionPlot("x", nil, nil)
	require.ErrorIs(t, err, ErrConfusionShape)
}

// TestReliabilityPlot: one curve per series with its ECE in the legend;
// empty bins are left out, and a series without any is no curve at all.
func TestReliabilityPlot(t *testing.T) {
	bins := []fairness.Bin{{Lo: 0, Hi: 0.5, Count: 3, Confidence: 0.3, Frequency: 0.2}, {Lo: 0.5, Hi: 1}, {Lo: 0.5, Hi: 1, Count: 9, Confidence: 0.9, Frequency: 0.8}}
	p, err := ReliabilityPlot("Reliability", false, []ReliabilitySeries{{Name: "int8", Bins: bins, ECE: 0.1234, ShowCounts: true}, {Name: "empty"}})
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = Save(p, dir, "rel", 4*vg.Inch, 4*vg.Inch)
	require.NoError(t, err)
	svg, err := os.ReadFile(filepath.Join(dir, "rel.svg"))
	require.NoError(t, err)
	s := string(svg)
	require.Contains(t, s, "int8 (ECE 0.123)")
	require.NotContains(t, s, "empty (ECE")
	require.Contains(t, s, "mean top-label confidence")
	require.Contains(t, s, ">n=3<")
	require.Contains(t, s, ">n=9<")
	p, err = ReliabilityPlot("Reliability", true, nil)
	require.NoError(t, err)
	_, err = Save(p, dir, "bin", 4*vg.Inch, 4*vg.Inch)
	require.NoError(t, err)
	svg, err = os.ReadFile(filepath.Join(dir, "bin.svg"))
	require.NoError(t, err)
	require.True(t, strings.Contains(string(svg), "P(class 1)"))
}
