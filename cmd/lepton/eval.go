package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"lepton"
	"lepton/fairness/report"
	"lepton/models/clinic"
)

func init() {
	register("eval", "measure a classifier on labelled data: accuracy, F1, confusion, calibration, throughput", runEval)
}

const evalUsage = `usage: lepton eval [-m MODEL] --in FILE.csv|.tsv|.jsonl [--text-col text] [--label-col label] [--group-col COL]
                   [--json] [--out DIR] [--out-scores FILE.csv] [model flags]
Classifies every row of a labelled file and reports accuracy (with its 95%
interval), macro- and weighted F1, precision, recall and F1 per label, the
confusion matrix and the expected calibration error, as Markdown on stdout
(--json: JSON). Throughput goes to stderr (and into the JSON and report.md).
Labels may be written as the model's label names (case-insensitive when
unambiguous) or as label indices; a label the model does not have is an
error. Rows with a blank text are skipped with a warning.
--out DIR writes metrics.json, report.md, and the confusion matrix and
reliability diagram as PNG and SVG. --out-scores FILE.csv writes one row
per input with the columns lepton calibrate and lepton fairness read:
group (--group-col, or "all"), label (index) and logit_0..logit_K-1.
`

func runEval(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	var pf progressFlags
	pf.register(fs)
	in := fs.String("in", "", "labelled data: CSV or TSV with a header row, or JSONL (.jsonl)")
	var cols evalColumns
	fs.StringVar(&cols.text, "text-col", "text", "column (JSONL: field) holding the text")
	fs.StringVar(&cols.label, "label-col", "label", "column holding the true label: a label name or index")
	fs.StringVar(&cols.group, "group-col", "", "column holding each row's group, written to --out-scores (default: every row in group \"all\")")
	fs.StringVar(&cols.pair, "pair-col", "", "column holding a second text: classify text pairs")
	outDir := fs.String("out", "", "directory to write metrics.json, report.md and the plots into")
	outScores := fs.String("out-scores", "", "CSV to write group, label and logit_0.. of every input into (for lepton calibrate and lepton fairness)")
	done, err := parseFlags(fs, args, stderr, strings.TrimSuffix(evalUsage, "\n"))
	if done {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--in FILE is required")
	}
	if cols.text == "" || cols.label == "" {
		return usagef("--text-col and --label-col cannot be empty")
	}
	rows, bytesRead, closeIn, err := openEvalData(*in, cols)
	if err != nil {
		return err
	}
	defer closeIn()
	m, err := mf.open()
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	if len(info.Labels) == 0 {
		return flagError("m", fmt.Errorf("%w: the model is an encoder, eval needs a classifier", lepton.ErrNoClassifier))
	}
	var scores *scoreWriter
	if *outScores != "" {
		if scores, err = newScoreWriter(*outScores, len(info.Labels)); err != nil {
			return err
		}
		defer scores.abort()
	}
	ctx, cancel := interruptible()
	defer cancel()

	st, _ := os.Stat(*in)
	src := &inputSource{size: -1, name: "--in " + *in}
	if st != nil && st.Mode().IsRegular() {
		src.size = st.Size()
	}
	prog := newProgress(pf, stdout, stderr, src, "eval")
	warn := newWarnings(stderr, "eval", prog)
	met := newEvalMetrics(info.Labels)
	labels := newLabelIndex(info.Labels)
	start := time.Now()
	var inModel time.Duration
	rowsDone := 0
	err = evalBatches(rows, func(batch []evalRow) error {
		rowsDone += len(batch)
		defer prog.set(rowsDone, bytesRead())
		var (
			texts []string
			pairs [][2]string
			keep  []evalRow
			truth []int
		)
		for _, r := range batch {
			if strings.TrimSpace(r.text) == "" && strings.TrimSpace(r.pair) == "" {
				met.skipped++
				warn.warn(warnBlank, "line %d: blank text, skipped", r.line)
				continue
			}
			y, ok := labels.lookup(r.label)
			if !ok {
				return fileError("in", *in, fmt.Errorf("line %d: label %q is not one of the model's %d labels (%s) nor a label index", r.line, r.label, len(info.Labels), abbreviate(info.Labels)))
			}
			if cols.pair != "" {
				pairs = append(pairs, [2]string{r.text, r.pair})
			} else {
				texts = append(texts, r.text)
			}
			keep = append(keep, r)
			truth = append(truth, y)
		}
		if len(keep) == 0 {
			return nil
		}
		t0 := time.Now()
		var res []lepton.Classification
		var err error
		if cols.pair != "" {
			res, err = m.ClassifyPairs(ctx, pairs, lepton.WithTruncation(true))
		} else {
			res, err = m.Classify(ctx, texts, lepton.WithTruncation(true))
		}
		inModel += time.Since(t0)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			return fmt.Errorf("lines %d to %d: %w", keep[0].line, keep[len(keep)-1].line, optionError(err))
		}
		for i, c := range res {
			d := c.Diagnostics
			met.tokens += int64(d.Tokens)
			if d.Truncated {
				if mf.noTruncate {
					return fileError("in", *in, fmt.Errorf("line %d: longer than the max length of %d tokens (--no-truncate)", keep[i].line, maxTokens(m, mf.maxLength)))
				}
				met.truncated++
			}
			if d.Unknown >= mostlyUnknown {
				met.unknown++
			}
			probs := softmax64(c.Logits)
			if !finiteAll(probs) {
				return fmt.Errorf("line %d: %w: non-finite output", keep[i].line, lepton.ErrInvalidModel)
			}
			if err := met.add(truth[i], probs); err != nil {
				return fmt.Errorf("line %d: %w", keep[i].line, err)
			}
			if scores != nil {
				if err := scores.write(keep[i].group, truth[i], c.Logits); err != nil {
					return err
				}
			}
		}
		return nil
	})
	prog.finish()
	if err != nil {
		return err
	}
	if met.n == 0 {
		return fileError("in", *in, errors.New("no rows to evaluate"))
	}
	if scores != nil {
		if err := scores.close(); err != nil {
			return err
		}
	}
	rep := met.report()
	rep.Model = modelName(mf.model)
	rep.Data = filepath.Base(*in)
	secs := inModel.Seconds()
	rep.Throughput = &evalThroughput{Seconds: secs, TotalSeconds: time.Since(start).Seconds(), Threads: info.Threads, Kernel: info.Kernel}
	if secs > 0 {
		rep.Throughput.TextsPerS = float64(met.n) / secs
		rep.Throughput.TokensPerS = float64(met.tokens) / secs
	}
	warn.summary()
	fmt.Fprintf(stderr, "lepton eval: %d inputs in %.2f s: %.0f texts/s, %.0f tokens/s in the model (%d threads, kernel %s)\n",
		met.n, rep.Throughput.TotalSeconds, rep.Throughput.TextsPerS, rep.Throughput.TokensPerS, info.Threads, info.Kernel)
	if *outDir != "" {
		if err := writeEvalDir(*outDir, &rep); err != nil {
			return err
		}
	}
	if mf.json {
		return rep.writeJSON(stdout)
	}
	det := rep
	det.Throughput = nil
	return det.writeMarkdown(stdout, false)
}

// evalBatches reads rows and calls process with batches of batchSize.
func evalBatches(rows rowReader, process func([]evalRow) error) error {
	batch := make([]evalRow, 0, batchSize)
	for {
		r, err := rows.next()
		if err == io.EOF {
			if len(batch) > 0 {
				return process(batch)
			}
			return nil
		}
		if err != nil {
			return err
		}
		batch = append(batch, r)
		if len(batch) == batchSize {
			if err := process(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
}

// modelName is how eval names the model in its reports.
func modelName(path string) string {
	if path == "" {
		return clinic.Name
	}
	return filepath.Base(path)
}

// abbreviate lists labels, the first few of many.
func abbreviate(labels []string) string {
	if len(labels) <= 6 {
		return strings.Join(labels, ", ")
	}
	return strings.Join(labels[:5], ", ") + ", ..."
}

// writeEvalDir writes metrics.json, report.md, and the confusion matrix and
// reliability diagram as PNG and SVG into dir.
func writeEvalDir(dir string, rep *evalReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return flagError("out", err)
	}
	write := func(name string, f func(io.Writer) error) error {
		var b strings.Builder
		if err := f(&b); err != nil {
			return err
		}
		return flagError("out", os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644))
	}
	if err := write("metrics.json", rep.writeJSON); err != nil {
		return err
	}
	if err := write("report.md", func(w io.Writer) error { return rep.writeMarkdown(w, true) }); err != nil {
		return err
	}
	k := len(rep.Labels)
	side := vg.Length(max(5, 2.2+0.28*float64(k))) * vg.Inch // room for the label names
	cp, err := report.ConfusionPlot("Confusion matrix: "+rep.Model, rep.Labels, rep.Confusion)
	if err != nil {
		return err
	}
	if _, err := report.Save(cp, dir, "confusion", side, side); err != nil {
		return flagError("out", err)
	}
	rp, err := report.ReliabilityPlot("Reliability: "+rep.Model, k == 2,
		[]report.ReliabilitySeries{{Name: rep.Data, Bins: rep.Reliability, ECE: rep.ECE, ShowCounts: true}})
	if err != nil {
		return err
	}
	if _, err := report.Save(rp, dir, "reliability", 5*vg.Inch, 5*vg.Inch); err != nil {
		return flagError("out", err)
	}
	return nil
}

// scoreWriter writes --out-scores: a header group,label,logit_0.. and one
// row per input, through a temporary file renamed into place at the end
// (a failed run leaves no partial file).
type scoreWriter struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	cw   *csv.Writer
	rec  []string
}

func newScoreWriter(path string, k int) (*scoreWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, flagError("out-scores", err)
	}
	bw := bufio.NewWriter(f)
	s := &scoreWriter{path: path, f: f, bw: bw, cw: csv.NewWriter(bw), rec: make([]string, 2+k)}
	s.rec[0], s.rec[1] = "group", "label"
	for i := range k {
		s.rec[2+i] = "logit_" + strconv.Itoa(i)
	}
	if err := s.cw.Write(s.rec); err != nil {
		s.abort()
		return nil, flagError("out-scores", err)
	}
	return s, nil
}

func (s *scoreWriter) write(group string, label int, logits []float32) error {
	if group == "" {
		group = "all"
	}
	s.rec[0], s.rec[1] = group, strconv.Itoa(label)
	for i, z := range logits {
		// The float32 value's exact float64 spelling (not its shortest
		// float32 one), so readers that parse float64, as package
		// fairness does, get the very logits this run measured.
		s.rec[2+i] = strconv.FormatFloat(float64(z), 'g', -1, 64)
	}
	return flagError("out-scores", s.cw.Write(s.rec))
}

func (s *scoreWriter) close() error {
	s.cw.Flush()
	err := s.cw.Error()
	if err == nil {
		err = s.bw.Flush()
	}
	if err == nil {
		err = s.f.Chmod(0o644)
	}
	if err == nil {
		err = s.f.Close()
	}
	if err == nil {
		err = os.Rename(s.f.Name(), s.path)
	}
	if err != nil {
		s.abort()
		return flagError("out-scores", err)
	}
	s.f = nil
	return nil
}

// abort removes the temporary file unless close succeeded.
func (s *scoreWriter) abort() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
}
