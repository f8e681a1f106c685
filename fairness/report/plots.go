package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lepton/fairness"
)

// The plots of this file are also drawn for `lepton eval` (a classifier
// measured on labelled data): a confusion matrix and a reliability diagram.

// ReliabilitySeries is one curve of a reliability diagram: the bins of
// fairness.GroupMetrics.Reliability and the expected calibration error
// they give.
type ReliabilitySeries struct {
	Name string
	Bins []fairness.Bin
	ECE  float64
	// ShowCounts prints each bin's number of inputs beside its point: a
	// point far from the diagonal weighs little in the ECE when it holds
	// few inputs.
	ShowCounts bool
}

// ReliabilityPlot draws a reliability diagram: for each series, the mean
// predicted probability of every non-empty bin against the observed
// frequency, beside the diagonal of perfect calibration. binary chooses
// the axis titles: P(class 1) and its frequency for binary scores,
// top-label confidence and accuracy otherwise (see fairness.ECEBins).
func ReliabilityPlot(title string, binary bool, series []ReliabilitySeries) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	if binary {
		p.X.Label.Text = "mean predicted P(class 1)"
		p.Y.Label.Text = "observed frequency of class 1"
	} else {
		p.X.Label.Text = "mean top-label confidence"
		p.Y.Label.Text = "accuracy"
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.Color = color.Gray{Y: 128}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("perfect", diag)
	p.Legend.Top = true
	p.Legend.Left = true
	for i, s := range series {
		var (
			xys    plotter.XYs
			counts []string
		)
		for _, b := range s.Bins {
			if b.Count > 0 {
				xys = append(xys, plotter.XY{X: b.Confidence, Y: b.Frequency})
				counts = append(counts, "n="+strconv.FormatFloat(b.Count, 'f', -1, 64))
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		c := plotutil.Color(i)
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(fmt.Sprintf("%s (ECE %.3f)", s.Name, s.ECE), l, pts)
		if s.ShowCounts {
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: counts})
			if err != nil {
				return nil, err
			}
			lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(-10)}
			for j := range lb.TextStyle {
				lb.TextStyle[j].Color = c
				lb.TextStyle[j].Font.Size = vg.Points(8)
			}
			p.Add(lb)
		}
	}
	return p, nil
}

// ErrConfusionShape is returned by ConfusionPlot for a matrix that is not
// square or does not match its labels.
var ErrConfusionShape = errors.New("report: confusion matrix shape")

// ConfusionPlot draws a confusion matrix as a heat map: row i is true
// label i (top to bottom), column j predicted label j, each cell printed
// with its count and shaded by its share of the row, so that a small
// class's mistakes show as plainly as a large one's. Cells with no
// inputs are white; the diagonal holds the correct answers.
func ConfusionPlot(title string, labels []string, counts [][]int64) (*plot.Plot, error) {
	k := len(labels)
	if k == 0 || len(counts) != k {
		return nil, fmt.Errorf("%w: %d labels, %d rows", ErrConfusionShape, k, len(counts))
	}
	g := confusionGrid{k: k, share: make([]float64, k*k)}
	var cells plotter.XYs
	var texts []string
	var styles []text.Style
	p := plot.New()
	base := p.X.Tick.Label // the default tick style: font and colour
	for i, row := range counts {
		if len(row) != k {
			return nil, fmt.Errorf("%w: row %d has %d columns, want %d", ErrConfusionShape, i, len(row), k)
		}
		var n int64
		for _, c := range row {
			if c < 0 {
				return nil, fmt.Errorf("%w: negative count %d", ErrConfusionShape, c)
			}
			n += c
		}
		for j, c := range row {
			if n > 0 {
				g.share[i*k+j] = float64(c) / float64(n)
			}
			if c == 0 {
				continue
			}
			cells = append(cells, plotter.XY{X: float64(j), Y: float64(k - 1 - i)})
			texts = append(texts, strconv.FormatInt(c, 10))
			st := base
			st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
			st.Color = color.Black
			if g.share[i*k+j] > 0.55 {
				st.Color = color.White
			}
			styles = append(styles, st)
		}
	}
	p.Title.Text = title
	p.X.Label.Text = "predicted label"
	p.Y.Label.Text = "true label"
	hm := plotter.NewHeatMap(g, shades{})
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	if len(cells) > 0 {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: cells, Labels: texts})
		if err != nil {
			return nil, err
		}
		l.TextStyle = styles
		p.Add(l)
	}
	xt := make(plot.ConstantTicks, k)
	yt := make(plot.ConstantTicks, k)
	for i, name := range labels {
		xt[i] = plot.Tick{Value: float64(i), Label: name}
		yt[i] = plot.Tick{Value: float64(k - 1 - i), Label: name}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.X.Min, p.X.Max = -0.5, float64(k)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(k)-0.5
	return p, nil
}

// confusionGrid is a confusion matrix's row shares as a heat map grid.
type confusionGrid struct {
	k     int
	share []float64 // row-major, true label i at row k-1-i
}

func (g confusionGrid) Dims() (c, r int)   { return g.k, g.k }
func (g confusionGrid) Z(c, r int) float64 { return g.share[(g.k-1-r)*g.k+c] }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }
func (shades) Colors() []color.Color       { return shadeColors }

// shades is white to dark blue in 64 steps.
type shades struct{}

var shadeColors = func() []color.Color {
	const n = 64
	c := make([]color.Color, n)
	for i := range c {
		t := float64(i) / (n - 1)
		c[i] = color.RGBA{R: uint8(255 - t*(255-8)), G: uint8(255 - t*(255-48)), B: uint8(255 - t*(255-107)), A: 255}
	}
	return c
}()

// Save writes p into dir (created if needed) as base.png and base.svg, w
// by h, and returns the two file names.
func Save(p *plot.Plot, dir, base string, w, h vg.Length) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, ext := range []string{".png", ".svg"} {
		if err := p.Save(w, h, filepath.Join(dir, base+ext)); err != nil {
			return nil, err
		}
		files = append(files, base+ext)
	}
	return files, nil
}
