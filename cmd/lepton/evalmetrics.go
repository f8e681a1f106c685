package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"lepton/fairness"
)

// evalMetrics accumulates what `lepton eval` reports, one input at a time
// (so that memory does not grow with the data): the confusion matrix, and
// a fairness.Accumulator for accuracy with its interval, expected
// calibration error, reliability bins, log loss and Brier score, computed
// exactly as `lepton calibrate` and `lepton fairness report` compute them.
type evalMetrics struct {
	labels    []string
	confusion [][]int64 // [true][predicted]
	acc       *fairness.Accumulator
	n         int64
	truncated int64
	unknown   int64 // inputs at least mostlyUnknown [UNK]
	skipped   int64 // blank texts
	tokens    int64
}

func newEvalMetrics(labels []string) *evalMetrics {
	c := make([][]int64, len(labels))
	for i := range c {
		c[i] = make([]int64, len(labels))
	}
	return &evalMetrics{labels: labels, confusion: c, acc: fairness.NewAccumulator(1, 0)}
}

// add records one input: its true class and the model's probabilities
// (the prediction is their argmax, lower index first on ties, as
// lepton.Classification.Index).
func (m *evalMetrics) add(label int, probs []float64) error {
	if err := m.acc.Add("all", label, probs); err != nil {
		return err
	}
	best := 0
	for k, p := range probs {
		if p > probs[best] {
			best = k
		}
	}
	m.confusion[label][best]++
	m.n++
	return nil
}

// classReport is one label's row of the per-class table. Precision is
// undefined (JSON null) for a label never predicted, recall for one that
// never occurs; F1 is 2TP/(2TP+FP+FN), defined whenever the label occurs
// or is predicted, which equals scikit-learn's f1_score with
// zero_division=0.
type classReport struct {
	Label     string   `json:"label"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	F1        *float64 `json:"f1"`
	Support   int64    `json:"support"`   // inputs of this true label
	Predicted int64    `json:"predicted"` // inputs predicted as this label
}

// evalReport is `lepton eval`'s result (--json, and metrics.json).
type evalReport struct {
	Model string `json:"model"`
	Data  string `json:"data"`
	// Inputs counts the texts classified; Skipped the blank ones left out.
	Inputs  int64 `json:"inputs"`
	Skipped int64 `json:"skipped"`
	// Truncated and MostlyUnknown count inputs the model did not fully
	// read: longer than the max length, or at least half [UNK].
	Truncated     int64 `json:"truncated"`
	MostlyUnknown int64 `json:"mostly_unknown"`
	// Accuracy with its 95% Wilson interval.
	Accuracy fairness.Metric `json:"accuracy"`
	// MacroF1 is the mean F1 over the labels that occur or are predicted
	// (scikit-learn's average="macro"); WeightedF1 weights them by support.
	MacroF1    float64 `json:"macro_f1"`
	WeightedF1 float64 `json:"weighted_f1"`
	// ECE is the expected calibration error over fairness.ECEBins equal
	// bins: of the top-label confidence for more than 2 labels, of
	// P(label 1) for 2, as lepton calibrate reports it.
	ECE         float64         `json:"ece"`
	LogLoss     float64         `json:"log_loss"`
	Brier       float64         `json:"brier"`
	Reliability []fairness.Bin  `json:"reliability"`
	Classes     []classReport   `json:"classes"`
	Labels      []string        `json:"labels"`
	Confusion   [][]int64       `json:"confusion"` // [true][predicted], in Labels order
	Throughput  *evalThroughput `json:"throughput,omitempty"`
}

// evalThroughput is how fast the run went (not part of the deterministic
// report printed on stdout).
type evalThroughput struct {
	Seconds      float64 `json:"seconds"`       // wall time of the model calls
	TextsPerS    float64 `json:"texts_per_s"`   // inputs per second of model calls
	TokensPerS   float64 `json:"tokens_per_s"`  // tokens read per second of model calls
	TotalSeconds float64 `json:"total_seconds"` // wall time of the whole run, reading and writing included
	Threads      int     `json:"threads"`
	Kernel       string  `json:"kernel"`
}

func ptr(v float64) *float64 { return &v }

// report computes the final figures.
func (m *evalMetrics) report() evalReport {
	r := m.acc.Report()
	o := r.Overall
	k := len(m.labels)
	rep := evalReport{Inputs: m.n, Skipped: m.skipped, Truncated: m.truncated, MostlyUnknown: m.unknown,
		Accuracy: o.Accuracy, ECE: o.ECE.Value, LogLoss: o.LogLoss.Value, Brier: o.Brier.Value,
		Reliability: o.Reliability, Labels: m.labels, Confusion: m.confusion}
	var f1Sum, weighted float64
	present := 0
	for c := 0; c < k; c++ {
		var tp, support, predicted int64
		tp = m.confusion[c][c]
		for j := 0; j < k; j++ {
			support += m.confusion[c][j]
			predicted += m.confusion[j][c]
		}
		cr := classReport{Label: m.labels[c], Support: support, Predicted: predicted}
		if predicted > 0 {
			cr.Precision = ptr(float64(tp) / float64(predicted))
		}
		if support > 0 {
			cr.Recall = ptr(float64(tp) / float64(support))
		}
		if support+predicted > 0 {
			f1 := 2 * float64(tp) / float64(support+predicted)
			cr.F1 = ptr(f1)
			f1Sum += f1
			weighted += f1 * float64(support)
			present++
		}
		rep.Classes = append(rep.Classes, cr)
	}
	if present > 0 {
		rep.MacroF1 = f1Sum / float64(present)
	}
	if m.n > 0 {
		rep.WeightedF1 = weighted / float64(m.n)
	}
	return rep
}

// maxConfusionOnStdout is the most labels whose confusion matrix eval
// prints on stdout: a wider table is unreadable on a terminal, and is in
// report.md, the plots and the JSON.
const maxConfusionOnStdout = 12

// writeMarkdown writes the report as Markdown: the summary, the per-class
// table and the confusion matrix (full: in report.md; for stdout, only up
// to maxConfusionOnStdout labels). Only deterministic figures are written
// unless full (report.md under --out has the throughput; stdout does not,
// so two runs of one model on one file print the same bytes).
func (r *evalReport) writeMarkdown(w io.Writer, full bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s on %s\n\n", r.Model, r.Data)
	fmt.Fprintf(&b, "| inputs | accuracy (95%% CI) | macro-F1 | weighted F1 | ECE | log loss |\n|---|---|---|---|---|---|\n")
	acc := "-"
	if r.Accuracy.Defined {
		acc = fmt.Sprintf("%.4f (%.4f-%.4f)", r.Accuracy.Value, r.Accuracy.Lo, r.Accuracy.Hi)
	}
	fmt.Fprintf(&b, "| %d | %s | %.4f | %.4f | %.4f | %.4f |\n\n", r.Inputs, acc, r.MacroF1, r.WeightedF1, r.ECE, r.LogLoss)
	fmt.Fprintf(&b, "Skipped (blank text): %d. Truncated to the max length: %d. At least half [UNK]: %d.\n", r.Skipped, r.Truncated, r.MostlyUnknown)
	fmt.Fprintf(&b, "ECE: %d equal-width bins of the %s.\n", fairness.ECEBins, map[bool]string{true: "probability of label 1", false: "top-label confidence"}[len(r.Labels) == 2])
	if full && r.Throughput != nil {
		t := r.Throughput
		fmt.Fprintf(&b, "Throughput: %.0f texts/s, %.0f tokens/s (%.2f s in the model, %d threads, kernel %s; %.2f s in all).\n",
			t.TextsPerS, t.TokensPerS, t.Seconds, t.Threads, t.Kernel, t.TotalSeconds)
	}
	b.WriteString("\n## Per label\n\n| # | label | precision | recall | F1 | support | predicted |\n|---|---|---|---|---|---|---|\n")
	opt := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.4f", *v)
	}
	for i, c := range r.Classes {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %d | %d |\n", i, mdEscape(c.Label), opt(c.Precision), opt(c.Recall), opt(c.F1), c.Support, c.Predicted)
	}
	if !full && len(r.Labels) > maxConfusionOnStdout {
		fmt.Fprintf(&b, "\nThe %dx%d confusion matrix is in --out DIR (report.md, confusion.png, confusion.svg) and in --json.\n", len(r.Labels), len(r.Labels))
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\n## Confusion matrix\n\nRows: true label; columns: predicted label (numbered as above).\n\n| true \\ predicted |")
	for i := range r.Labels {
		fmt.Fprintf(&b, " %d |", i)
	}
	b.WriteString("\n|---|")
	for range r.Labels {
		b.WriteString("---|")
	}
	b.WriteByte('\n')
	for i, row := range r.Confusion {
		fmt.Fprintf(&b, "| %d %s |", i, mdEscape(r.Labels[i]))
		for _, c := range row {
			if c == 0 {
				b.WriteString(" . |")
			} else {
				fmt.Fprintf(&b, " %d |", c)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a label from breaking a Markdown table.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// writeJSON writes the report as indented JSON.
func (r *evalReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// softmax64 returns the float64 probabilities of a classification, as
// calibrate and the reports read them back from --out-scores' logits.
func softmax64(logits []float32) []float64 {
	z := make([]float64, len(logits))
	for i, v := range logits {
		z[i] = float64(v)
	}
	return fairness.Softmax(z)
}

// finiteAll reports whether every value is finite.
func finiteAll(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
