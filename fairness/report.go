package fairness

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ReportInput is what WriteReport measures and draws.
type ReportInput struct {
	// Samples are labelled model outputs.
	Samples []Sample
	// Calibration, when set, is applied to every sample; the report shows
	// metrics and reliability diagrams before and after it.
	Calibration *Calibration
	// Thresholds, when set, are applied to the (calibrated) binary scores;
	// the report shows the decision metrics after them and marks each
	// group's operating point on the ROC curves. Threshold rules count
	// each row's expected decision; calibrated equalized odds draws each
	// row's coin from the data hash and the row number.
	Thresholds *Thresholds
	// CalibrationSHA256 is the Digest of the artefact holding Calibration.
	// It must equal Thresholds.CalibrationSHA256: rules fitted on
	// calibrated scores are wrong on raw ones and vice versa.
	CalibrationSHA256 string
	// MinGroupSize flags smaller groups; 0 means DefaultMinGroupSize.
	MinGroupSize int
	// Policy handles groups the artefacts do not know.
	Policy UnknownGroupPolicy
}

// Stage is the metrics of one step of the pipeline.
type Stage struct {
	Name   string `json:"name"`
	Report Report `json:"report"`
}

// FullReport is what WriteReport writes to metrics.json.
type FullReport struct {
	Rows      int      `json:"rows"`
	FitSHA256 string   `json:"data_sha256"`
	Stages    []Stage  `json:"stages"`
	Files     []string `json:"files"`
	// The artefacts applied, so the report records what produced it.
	Calibration *Calibration `json:"calibration,omitempty"`
	Thresholds  *Thresholds  `json:"thresholds,omitempty"`
}

// BuildReport computes the metrics of in without writing anything.
func BuildReport(in ReportInput) (*FullReport, [][]Sample, error) {
	if len(in.Samples) == 0 {
		return nil, nil, fmt.Errorf("%w: no samples to report on", ErrEmpty)
	}
	minGroup := in.MinGroupSize
	if minGroup == 0 {
		minGroup = DefaultMinGroupSize
	}
	fr := &FullReport{Rows: len(in.Samples), FitSHA256: FitHash(in.Samples), Calibration: in.Calibration, Thresholds: in.Thresholds}
	stages := [][]Sample{in.Samples}
	before := NewAccumulator(1, minGroup)
	for _, s := range in.Samples {
		if err := before.Add(s.Group, s.Label, s.Probs); err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", s.Line, err)
		}
	}
	fr.Stages = append(fr.Stages, Stage{"uncalibrated", before.Report()})
	cur := in.Samples
	if in.Calibration != nil {
		after := NewAccumulator(1, minGroup)
		cal := make([]Sample, len(cur))
		for i, s := range cur {
			p, err := in.Calibration.ApplySample(s, in.Policy)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", s.Line, err)
			}
			cal[i] = Sample{Group: s.Group, Label: s.Label, Probs: p, Line: s.Line}
			if err := after.Add(s.Group, s.Label, p); err != nil {
				return nil, nil, err
			}
		}
		fr.Stages = append(fr.Stages, Stage{"calibrated (" + string(in.Calibration.Method) + ")", after.Report()})
		cur = cal
		stages = append(stages, cal)
	}
	if in.Thresholds != nil {
		if want := in.Thresholds.CalibrationSHA256; want != in.CalibrationSHA256 {
			return nil, nil, fmt.Errorf("%w: the decision rules were fitted on scores calibrated by artefact %q, the report applies %q", ErrUnsupported, short(want), short(in.CalibrationSHA256))
		}
		dec := NewAccumulator(1, minGroup)
		key := []byte(fr.FitSHA256)
		for i, s := range cur {
			if len(s.Probs) != 2 {
				return nil, nil, fmt.Errorf("%w: decision rules need binary scores", ErrShape)
			}
			r, _, err := in.Thresholds.rule(s.Group, in.Policy)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", s.Line, err)
			}
			probs, p := in.Thresholds.outcome(r, s.Probs, key, fmt.Sprintf("row-%d", i))
			if err := dec.AddDecision(s.Group, s.Label, probs, p); err != nil {
				return nil, nil, err
			}
		}
		fr.Stages = append(fr.Stages, Stage{"decisions (" + string(in.Thresholds.Constraint) + ")", dec.Report()})
	}
	return fr, stages, nil
}

// WriteReport writes into dir (created if needed): metrics.json; report.md,
// a Markdown table per stage; reliability diagrams per group before and
// after calibration, and for binary data ROC curves per group with the
// operating points of the decision rule, each as PNG and SVG.
func WriteReport(dir string, in ReportInput) (*FullReport, error) {
	fr, stages, err := BuildReport(in)
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
	if len(last[0].Probs) == 2 {
		var dec *Report
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
	b, err := marshalJSON(fr, "  ") // no "\u003e" for ">"
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return nil, err
	}
	if err := WriteMarkdown(f, fr); err != nil {
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

// WriteMarkdown writes one table per stage and the disparity summary.
func WriteMarkdown(w io.Writer, fr *FullReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fairness report\n\n%d rows, data SHA-256 `%s`.\n", fr.Rows, fr.FitSHA256)
	fmt.Fprintf(&b, "Rates show 95%% Wilson intervals; \"undefined\" means an empty denominator (e.g. TPR of a group without positives). Groups marked * are smaller than the minimum group size.\n")
	for _, st := range fr.Stages {
		r := st.Report
		fmt.Fprintf(&b, "\n## %s\n\n", st.Name)
		b.WriteString("| group | n | accuracy | selection rate | TPR | FPR | precision | ECE | Brier | log loss |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		rows := append([]GroupMetrics{r.Overall}, r.Groups...)
		for _, g := range rows {
			name := g.Group
			if g.Small {
				name += " *"
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(name), g.Count,
				withCI(g.Accuracy), withCI(g.SelectionRate), withCI(g.TPR), withCI(g.FPR), withCI(g.Precision),
				g.ECE, g.Brier, g.LogLoss)
		}
		fmt.Fprintf(&b, "\nDemographic parity difference %s, equalized odds difference %s, equal opportunity difference %s.\n",
			r.DemographicParityDifference, r.EqualizedOddsDifference, r.EqualOpportunityDifference)
		b.WriteString("\n| metric | groups | max-min | min/max | max gap to overall | min ratio to overall |\n|---|---:|---:|---:|---:|---:|\n")
		for _, d := range r.Disparities {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", d.Metric, d.Groups, d.Difference, d.Ratio, d.DifferenceToOverall, d.RatioToOverall)
		}
	}
	if len(fr.Files) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, f := range fr.Files {
			if strings.HasSuffix(f, ".png") {
				fmt.Fprintf(&b, "![%s](%s)\n", f, f)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func short(h string) string {
	if h == "" {
		return "none"
	}
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func withCI(m Metric) string {
	if !m.Defined {
		return "undefined"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", m.Value, m.Lo, m.Hi)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ").Replace(s)
}

// reliabilityPlot draws one group's reliability diagram for the score
// stages (uncalibrated, and calibrated when present).
func reliabilityPlot(group string, st []Stage, scoreStages int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Reliability: " + group
	if st[0].Report.Classes == 2 {
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
	for i := 0; i < scoreStages && i < len(st); i++ {
		g, ok := st[i].Report.Group(group)
		if !ok {
			continue
		}
		var xys plotter.XYs
		for _, b := range g.Reliability {
			if b.Count > 0 {
				xys = append(xys, plotter.XY{X: b.Confidence, Y: b.Frequency})
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
		p.Legend.Add(fmt.Sprintf("%s (ECE %.3f)", st[i].Name, g.ECE.Value), l, pts)
	}
	return p, nil
}

// rocPlot draws each group's empirical ROC curve and, when dec is set,
// the group's operating point under the decision rule.
func rocPlot(ss []Sample, groups []string, dec *Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "ROC per group"
	p.X.Label.Text = "false positive rate"
	p.Y.Label.Text = "true positive rate"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	split, err := splitBinary(ss) // the grouping the decision rules were fitted with
	if err != nil {
		return nil, err
	}
	byG := make(map[string]*groupData, len(split))
	for i := range split {
		byG[split[i].name] = &split[i]
	}
	for i, name := range groups {
		g := byG[name]
		if g == nil {
			continue
		}
		pts, err := rocPoints(g.scores, g.labels, false)
		if err != nil {
			continue // a group without both labels has no ROC curve
		}
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].x < pts[b].x || pts[a].x == pts[b].x && pts[a].y < pts[b].y })
		xys := make(plotter.XYs, len(pts))
		for j, r := range pts {
			xys[j] = plotter.XY{X: r.x, Y: r.y}
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
