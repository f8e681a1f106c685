// Package report writes a fairness report to a directory: the metrics of
// package fairness as metrics.json and a Markdown table, with reliability
// diagrams per group and per-group ROC curves drawn as PNG and SVG.
//
// It lives apart from package fairness because drawing needs gonum/plot,
// which brings fonts, image encoders and PDF and SVG writers (several
// megabytes in every binary). Programs that only apply fairness artefacts
// at inference time import fairness, or just lepton, and link none of that;
// the lepton command-line tool imports this package for `lepton fairness
// report`.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"lepton/fairness"
)

// Write measures in with fairness.BuildReport and writes into dir (created
// if needed): metrics.json; report.md, a Markdown table per stage;
// reliability diagrams per group before and after calibration; and, for
// binary data, ROC curves per group with the operating points of the
// decision rule. Plots are written as PNG and SVG. The returned report
// lists every file written, in Files.
func Write(dir string, in fairness.ReportInput) (*fairness.FullReport, error) {
	fr, stages, err := fairness.BuildReport(in)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	groups := make([]string, 0, len(fr.Stages[0].Report.Groups))
	for _, g := range fr.Stages[0].Report.Groups {
		groups = append(groups, g.Group)
	}
	for i, g := range groups {
		p, err := reliabilityPlot(g, fr.Stages, len(stages))
		if err != nil {
			return nil, err
		}
		base := fmt.Sprintf("reliability_%02d_%s", i, fileSafe(g))
		for _, ext := range []string{".png", ".svg"} {
			if err := p.Save(5*vg.Inch, 5*vg.Inch, filepath.Join(dir, base+ext)); err != nil {
				return nil, err
			}
			fr.Files = append(fr.Files, base+ext)
		}
	}
	last := stages[len(stages)-1]
	if in.Thresholds != nil && in.Thresholds.PositiveClass != nil {
		// One-vs-rest rules: the ROC curves of their class's probability.
		if last, err = fairness.OneVsRest(last, *in.Thresholds.PositiveClass); err != nil {
			return nil, err
		}
	}
	if len(last[0].Probs) == 2 {
		var dec *fairness.Report
		if in.Thresholds != nil {
			dec = &fr.Stages[len(fr.Stages)-1].Report
		}
		p, err := rocPlot(last, groups, dec)
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".png", ".svg"} {
			if err := p.Save(6*vg.Inch, 5*vg.Inch, filepath.Join(dir, "roc"+ext)); err != nil {
				return nil, err
			}
			fr.Files = append(fr.Files, "roc"+ext)
		}
	}
	fr.Files = append(fr.Files, "metrics.json", "report.md")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // no "\u003e" for ">"
	enc.SetIndent("", "  ")
	if err := enc.Encode(fr); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.json"), buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return nil, err
	}
	if err := fairness.WriteMarkdown(f, fr); err != nil {
		f.Close()
		return nil, err
	}
	return fr, f.Close()
}

// fileSafe keeps letters, digits, '-' and '_' of a group name for a file
// name; the caller adds an index so distinct groups never collide.
func fileSafe(g string) string {
	var b strings.Builder
	for _, r := range g {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// reliabilityPlot draws one group's reliability diagram for the score
// stages (uncalibrated, and calibrated when present).
func reliabilityPlot(group string, st []fairness.Stage, scoreStages int) (*plot.Plot, error) {
	var series []ReliabilitySeries
	for i := 0; i < scoreStages && i < len(st); i++ {
		if g, ok := st[i].Report.Group(group); ok {
			series = append(series, ReliabilitySeries{Name: st[i].Name, Bins: g.Reliability, ECE: g.ECE.Value})
		}
	}
	return ReliabilityPlot("Reliability: "+group, st[0].Report.Classes == 2, series)
}

// rocPlot draws each group's empirical ROC curve and, when dec is set,
// the group's operating point under the decision rule. Samples are grouped
// by their canonical group name, as the decision rules were fitted.
func rocPlot(ss []fairness.Sample, groups []string, dec *fairness.Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "ROC per group"
	p.X.Label.Text = "false positive rate"
	p.Y.Label.Text = "true positive rate"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	type scored struct {
		scores []float64
		labels []int
	}
	byG := map[string]*scored{}
	for _, s := range ss {
		if len(s.Probs) != 2 {
			return nil, fmt.Errorf("%w: ROC curves need binary scores, got %d classes", fairness.ErrShape, len(s.Probs))
		}
		name := fairness.CanonicalGroup(s.Group)
		g := byG[name]
		if g == nil {
			g = &scored{}
			byG[name] = g
		}
		g.scores = append(g.scores, s.Probs[1])
		g.labels = append(g.labels, s.Label)
	}
	for i, name := range groups {
		g := byG[name]
		if g == nil {
			continue
		}
		pts, err := fairness.ROC(g.scores, g.labels)
		if errors.Is(err, fairness.ErrDegenerate) {
			continue // a group without both labels has no ROC curve
		}
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", name, err)
		}
		xys := make(plotter.XYs, len(pts))
		for j, r := range pts {
			xys[j] = plotter.XY{X: r.FPR, Y: r.TPR}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(name, l)
		if dec != nil {
			gm, ok := dec.Group(name)
			if ok && gm.FPR.Defined && gm.TPR.Defined {
				sc, err := plotter.NewScatter(plotter.XYs{{X: gm.FPR.Value, Y: gm.TPR.Value}})
				if err != nil {
					return nil, err
				}
				sc.Color = plotutil.Color(i)
				sc.Shape = draw.CrossGlyph{}
				sc.Radius = vg.Points(6)
				p.Add(sc)
				p.Legend.Add(name+" operating point", sc)
			}
		}
	}
	return p, nil
}
