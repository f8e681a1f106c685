package fairness

import (
	"fmt"
	"io"
	"strings"
)

// ReportInput is what BuildReport measures (and package
// lepton/fairness/report draws).
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

// FullReport is the metrics of every stage of a report, as
// lepton/fairness/report writes them to metrics.json.
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
		if p := in.Thresholds.PositiveClass; p != nil {
			// One-vs-rest rules decide on their class's probability.
			bin, err := OneVsRest(cur, *p)
			if err != nil {
				return nil, nil, err
			}
			cur = bin
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
