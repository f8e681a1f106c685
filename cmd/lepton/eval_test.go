package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
	"lepton/internal/testshared"
)

// TestEvalMetricsGolden: eval's arithmetic against scikit-learn (and numpy
// for the ECE) on awkward 4-label outputs: a label never seen, one never
// predicted, ties (testdata/eval/make_golden.py).
func TestEvalMetricsGolden(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "eval", "logits.csv"))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	var g struct {
		N          int
		Accuracy   float64
		MacroF1    float64 `json:"macro_f1"`
		WeightedF1 float64 `json:"weighted_f1"`
		Precision  []*float64
		Recall     []*float64
		F1         []*float64
		Support    []int64
		Confusion  [][]int64
		ECE        float64
		LogLoss    float64 `json:"log_loss"`
		Brier      float64
	}
	b, err := os.ReadFile(filepath.Join("testdata", "eval", "golden.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &g))

	labels := []string{"a", "b", "c", "d"}
	m := newEvalMetrics(labels)
	for _, rec := range recs[1:] {
		y, err := strconv.Atoi(rec[0])
		require.NoError(t, err)
		logits := make([]float32, len(rec)-1)
		for k, s := range rec[1:] {
			v, err := strconv.ParseFloat(s, 32)
			require.NoError(t, err)
			logits[k] = float32(v)
		}
		require.NoError(t, m.add(y, softmax64(logits)))
	}
	r := m.report()
	require.EqualValues(t, g.N, r.Inputs)
	require.InDelta(t, g.Accuracy, r.Accuracy.Value, 1e-12)
	require.InDelta(t, g.MacroF1, r.MacroF1, 1e-12)
	require.InDelta(t, g.WeightedF1, r.WeightedF1, 1e-12)
	require.InDelta(t, g.ECE, r.ECE, 1e-9)
	require.InDelta(t, g.LogLoss, r.LogLoss, 1e-9)
	require.InDelta(t, g.Brier, r.Brier, 1e-9)
	require.Equal(t, g.Confusion, r.Confusion)
	for k, c := range r.Classes {
		require.Equal(t, g.Support[k], c.Support, "label %d", k)
		for name, pair := range map[string][2]*float64{"precision": {g.Precision[k], c.Precision}, "recall": {g.Recall[k], c.Recall}, "f1": {g.F1[k], c.F1}} {
			if pair[0] == nil {
				require.Nil(t, pair[1], "%s of label %d is undefined", name, k)
				continue
			}
			require.NotNil(t, pair[1], "%s of label %d", name, k)
			require.InDelta(t, *pair[0], *pair[1], 1e-12, "%s of label %d", name, k)
		}
	}
}

// TestEvalCLI: eval on the golden random model (labels negative, neutral,
// positive) from CSV, TSV and JSONL agree; labels by name, any case, or
// index; blank texts are skipped; --out writes every file and
// --out-scores exactly what calibrate and fairness read, giving the same
// ECE and log loss there as here.
func TestEvalCLI(t *testing.T) {
	model := runFixture(t)
	dir := t.TempDir()
	texts := []string{"fever and cough", "a dry cough at night", "itchy scaly patches", "no fever since monday", "chest pain", "headache, chills"}
	names := []string{"neutral", "NEGATIVE", "positive", "1", "neutral", "0"}
	groups := []string{"a", "b", "a", "b", "a", "b"}
	var csvb, tsvb, jsonb strings.Builder
	csvb.WriteString("id,text,label,site\n")
	tsvb.WriteString("sentence\tlabel\tsite\n")
	for i, tx := range texts {
		fmt.Fprintf(&csvb, "%d,%q,%s,%s\n", i, tx, names[i], groups[i])
		fmt.Fprintf(&tsvb, "%s\t%s\t%s\n", tx, names[i], groups[i])
		fmt.Fprintf(&jsonb, "{\"text\":%q,\"label\":%q,\"site\":%q}\n", tx, names[i], groups[i])
	}
	csvb.WriteString("6,\"  \",neutral,a\n") // blank: skipped
	inCSV := writeFile(t, dir, "data.csv", csvb.String())
	inTSV := writeFile(t, dir, "data.tsv", tsvb.String())
	inJSONL := writeFile(t, dir, "data.jsonl", jsonb.String())

	out := filepath.Join(dir, "out")
	scores := filepath.Join(dir, "scores.csv")
	code, stdout, errs := runCLI("", "eval", "-m", model, "--in", inCSV, "--group-col", "site", "--json", "--out", out, "--out-scores", scores)
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "lepton eval: warning: line 8: blank text, skipped")
	require.Contains(t, errs, "texts/s")
	var rep evalReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.EqualValues(t, 6, rep.Inputs)
	require.EqualValues(t, 1, rep.Skipped)
	require.Equal(t, []string{"negative", "neutral", "positive"}, rep.Labels)
	var support []int64
	for _, c := range rep.Classes {
		support = append(support, c.Support)
	}
	require.Equal(t, []int64{2, 3, 1}, support, "NEGATIVE and 0 are negative, 1 is neutral")
	require.NotNil(t, rep.Throughput)

	// The same data as TSV and JSONL give the same report.
	for _, in := range []string{inTSV, inJSONL} {
		args := []string{"eval", "-m", model, "--in", in, "--group-col", "site", "--json"}
		if strings.HasSuffix(in, ".tsv") {
			args = append(args, "--text-col", "sentence")
		}
		code, o, errs := runCLI("", args...)
		require.Equal(t, 0, code, errs)
		var r2 evalReport
		require.NoError(t, json.Unmarshal([]byte(o), &r2))
		require.Equal(t, rep.Confusion, r2.Confusion, in)
		require.Equal(t, rep.Accuracy, r2.Accuracy, in)
	}

	// --out: every file, the plots decode.
	for _, f := range []string{"metrics.json", "report.md", "confusion.png", "confusion.svg", "reliability.png", "reliability.svg"} {
		st, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
		require.Greater(t, st.Size(), int64(100), f)
	}
	pf, err := os.Open(filepath.Join(out, "confusion.png"))
	require.NoError(t, err)
	_, err = png.Decode(pf)
	pf.Close()
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "Throughput: ")
	require.Contains(t, string(md), "| 0 negative |")

	// --out-scores: exactly group, label, logit_0..2, read by fairness.
	sf, err := os.ReadFile(scores)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(sf)), "\n")
	require.Len(t, lines, 7)
	require.Equal(t, "group,label,logit_0,logit_1,logit_2", lines[0])
	require.True(t, strings.HasPrefix(lines[2], "b,0,"), lines[2])
	ss, err := fairness.ReadFile(scores)
	require.NoError(t, err)
	require.Len(t, ss, 6)
	require.Equal(t, []string{"a", "b"}, fairness.Groups(ss))
	// calibrate reads it and reports this run's ECE and log loss as "before".
	cal := filepath.Join(dir, "cal.json")
	code, _, errs = runCLI("", "calibrate", "--in", scores, "--method", "temperature", "--out", cal, "--min-group", "1")
	require.Equal(t, 0, code, errs)
	a, err := fairness.LoadFile(cal)
	require.NoError(t, err)
	require.InDelta(t, rep.ECE, a.MetricsBefore.Overall.ECE.Value, 1e-12)
	require.InDelta(t, rep.LogLoss, a.MetricsBefore.Overall.LogLoss.Value, 1e-12)
	code, _, errs = runCLI("", "fairness", "report", "--in", scores, "--out", filepath.Join(dir, "fair"))
	require.Equal(t, 0, code, errs)
	code, _, errs = runCLI("", "fairness", "threshold", "--in", scores, "--out", filepath.Join(dir, "thr.json"), "--constraint", "demographic_parity", "--positive", "1", "--min-group", "1")
	require.Equal(t, 0, code, errs)

	// Markdown on stdout is deterministic: no throughput in it.
	code, md1, errs := runCLI("", "eval", "-m", model, "--in", inCSV)
	require.Equal(t, 0, code, errs)
	_, md2, _ := runCLI("", "eval", "-m", model, "--in", inCSV, "--threads", "1")
	require.Equal(t, md1, md2)
	require.NotContains(t, md1, "texts/s")
	require.Contains(t, md1, "| 6 | ")

	// Errors: the flag and the file named, usage errors exit 2.
	bad := writeFile(t, dir, "bad.csv", "text,label\nfever,malaria\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"eval", "-m", model}, 2, "--in FILE is required"},
		{[]string{"eval", "-m", model, "--in", filepath.Join(dir, "none.csv")}, 1, "--in: open "},
		{[]string{"eval", "-m", model, "--in", inCSV, "--text-col", "body"}, 2, `--text-col "body": ` + inCSV + ` has no such column (it has "id", "text", "label", "site")`},
		{[]string{"eval", "-m", model, "--in", inJSONL, "--label-col", "y"}, 1, `line 1: no field "y" (--label-col)`},
		{[]string{"eval", "-m", model, "--in", bad}, 1, `--in: ` + bad + `: line 2: label "malaria" is not one of the model's 3 labels (negative, neutral, positive) nor a label index`},
		{[]string{"eval", "-m", model, "--in", inCSV, "--out-scores", filepath.Join(dir, "no", "dir", "s.csv")}, 1, "--out-scores: "},
		{[]string{"eval", "-m", model, "--in", inCSV, "--act-bits", "5"}, 2, "--act-bits 5"},
		{[]string{"eval", "-m", model, "--in", inCSV, "stray"}, 2, `unexpected argument "stray"`},
	} {
		code, out, errs := runCLI("", tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
		require.Empty(t, out, tc.args)
		require.Contains(t, errs, tc.want, tc.args)
	}
	require.NoFileExists(t, filepath.Join(dir, "no", "dir", "s.csv"))
}

// TestEvalSymptom2Disease: on the held-out test split of the built-in
// model's data (examples/train-clinic/split.json), eval reproduces the
// accuracy, macro-F1 and per-label F1 that scikit-learn computed from
// PyTorch's fp32 logits (examples/train-clinic/metrics.json; int8 and fp32
// agree on every test row), and writes --out and --out-scores for it (the
// whole file, as the README shows it, runs in TestReadme).
func TestEvalSymptom2Disease(t *testing.T) {
	data := testshared.Path(t, "data/symptom2disease/Symptom2Disease.csv")
	root := testshared.RepoRoot(t)
	var split struct{ Test []int }
	b, err := os.ReadFile(filepath.Join(root, "examples", "train-clinic", "split.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &split))
	var metrics struct {
		Test struct {
			Accuracy   float64            `json:"accuracy"`
			MacroF1    float64            `json:"macro_f1"`
			PerClassF1 map[string]float64 `json:"per_class_f1"`
		} `json:"test_fp32"`
	}
	b, err = os.ReadFile(filepath.Join(root, "examples", "train-clinic", "metrics.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &metrics))

	f, err := os.Open(data)
	require.NoError(t, err)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	dir := t.TempDir()
	test := filepath.Join(dir, "test.csv")
	tf, err := os.Create(test)
	require.NoError(t, err)
	w := csv.NewWriter(tf)
	require.NoError(t, w.Write(recs[0]))
	for _, i := range split.Test {
		require.NoError(t, w.Write(recs[1+i]))
	}
	w.Flush()
	require.NoError(t, tf.Close())

	code, out, errs := runCLI("", "eval", "--in", test, "--json")
	require.Equal(t, 0, code, errs)
	var rep evalReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.EqualValues(t, 242, rep.Inputs)
	require.InDelta(t, metrics.Test.Accuracy, rep.Accuracy.Value, 5e-5)
	require.InDelta(t, metrics.Test.MacroF1, rep.MacroF1, 5e-5)
	require.Len(t, rep.Classes, 24)
	for _, c := range rep.Classes {
		require.InDelta(t, metrics.Test.PerClassF1[c.Label], *c.F1, 5e-5, c.Label)
	}

	code, out, errs = runCLI("", "eval", "--in", test, "--out", filepath.Join(dir, "out"), "--out-scores", filepath.Join(dir, "scores.csv"))
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "| 242 | ")
	for _, f := range []string{"metrics.json", "report.md", "confusion.png", "confusion.svg", "reliability.png", "reliability.svg"} {
		require.FileExists(t, filepath.Join(dir, "out", f))
	}
	ss, err := fairness.ReadFile(filepath.Join(dir, "scores.csv"))
	require.NoError(t, err)
	require.Len(t, ss, 242)
	require.Len(t, ss[0].Probs, 24)
}
