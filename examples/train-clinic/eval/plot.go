package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writeReliability draws the int8 model's reliability diagram on the test
// split to a PNG: one bar per confidence bin at the bin's accuracy, a dot at
// its mean confidence (on the diagonal when calibrated), and below it the
// number of rows in each bin.
func writeReliability(path string, r *Report) error {
	top := plot.New()
	top.Title.Text = fmt.Sprintf("Built-in clinic model, int8 (Lepton): %d test rows, ECE %.4f", r.TestRows, r.Int8.ECE)
	top.Y.Label.Text = "accuracy"
	top.X.Min, top.X.Max, top.Y.Min, top.Y.Max = 0, 1, 0, 1.02
	top.Add(plotter.NewGrid())
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return err
	}
	diag.Color = color.Gray{Y: 110}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	top.Add(diag)
	top.Legend.Add("perfect calibration", diag)

	bottom := plot.New()
	bottom.X.Label.Text = "top-label confidence (equal-width bins)"
	bottom.Y.Label.Text = "rows"
	bottom.X.Min, bottom.X.Max, bottom.Y.Min = 0, 1, 0
	bottom.Add(plotter.NewGrid())

	barFill := color.RGBA{R: 66, G: 120, B: 190, A: 200}
	var means plotter.XYs
	maxCount := 0
	for _, b := range r.Reliability {
		maxCount = max(maxCount, b.Count)
		if b.Count == 0 {
			continue
		}
		acc, err := plotter.NewPolygon(plotter.XYs{{X: b.Lo, Y: 0}, {X: b.Hi, Y: 0}, {X: b.Hi, Y: b.Accuracy}, {X: b.Lo, Y: b.Accuracy}})
		if err != nil {
			return err
		}
		acc.Color = barFill
		acc.LineStyle.Color = color.White
		top.Add(acc)
		if len(means) == 0 {
			top.Legend.Add("accuracy of the bin's rows", acc)
		}
		means = append(means, plotter.XY{X: b.Confidence, Y: b.Confidence})

		n, err := plotter.NewPolygon(plotter.XYs{{X: b.Lo, Y: 0}, {X: b.Hi, Y: 0}, {X: b.Hi, Y: float64(b.Count)}, {X: b.Lo, Y: float64(b.Count)}})
		if err != nil {
			return err
		}
		n.Color = color.Gray{Y: 150}
		n.LineStyle.Color = color.White
		bottom.Add(n)
	}
	var counts plotter.XYLabels
	for _, b := range r.Reliability {
		if b.Count > 0 {
			counts.XYs = append(counts.XYs, plotter.XY{X: (b.Lo + b.Hi) / 2, Y: float64(b.Count)})
			counts.Labels = append(counts.Labels, fmt.Sprint(b.Count))
		}
	}
	if len(counts.XYs) > 0 {
		lab, err := plotter.NewLabels(counts)
		if err != nil {
			return err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i].XAlign = draw.XCenter
			lab.TextStyle[i].Font.Size = vg.Points(8)
		}
		bottom.Add(lab)
	}
	if len(means) > 0 {
		pts, err := plotter.NewScatter(means)
		if err != nil {
			return err
		}
		pts.Color = color.RGBA{R: 200, G: 60, B: 40, A: 255}
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(3)
		top.Add(pts)
		top.Legend.Add("mean confidence of the bin's rows", pts)
	}
	top.Legend.Top, top.Legend.Left = true, true
	top.Legend.XOffs, top.Legend.YOffs = vg.Points(6), -vg.Points(6)
	bottom.Y.Max = float64(maxCount) * 1.25

	const w, h = 6 * vg.Inch, 6 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(6)}
	// The accuracy panel gets three quarters of the height.
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	split := h * 0.28
	canvases[0][0].Min.Y = split + vg.Points(6)
	canvases[1][0].Max.Y = split
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	png := vgimg.PngCanvas{Canvas: img}
	return writeFile(path, png.WriteTo)
}
