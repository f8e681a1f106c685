package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	imagepng "image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/readmecheck"
	"lepton/models/clinic"
)

// TestScore checks accuracy and macro-F1 against scikit-learn 1.2.1
// (f1_score(average="macro", zero_division=0)) on small hand-made cases.
func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name        string
		truth, pred []int
		acc, f1     float64
	}{
		{"perfect", []int{0, 1, 2}, []int{0, 1, 2}, 1, 1},
		{"one_wrong", []int{0, 0, 1, 1}, []int{0, 1, 1, 1}, 0.75, 0.7333333333333334},
		{"class_only_predicted", []int{0, 0}, []int{0, 2}, 0.5, 0.3333333333333333},
		{"all_wrong", []int{0, 1}, []int{1, 0}, 0, 0},
		{"single", []int{3}, []int{3}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := score(tc.truth, tc.pred, 5)
			require.InDelta(t, tc.acc, s.Accuracy, 1e-12)
			require.InDelta(t, tc.f1, s.MacroF1, 1e-12)
		})
	}
	require.Equal(t, Scores{}, score(nil, nil, 3), "no rows: zero scores, not NaN")
}

// TestCalibration checks the bins and the ECE on cases worked by hand
// (and against train.py's ece() on the same numbers).
func TestCalibration(t *testing.T) {
	// Three bins: (0, 1/3], (1/3, 2/3], (2/3, 1].
	truth := []int{0, 1, 2, 3, 4}
	pred := []int{0, 1, 0, 3, 0}
	conf := []float64{0.9, 1.0, 0.8, 0.5, 0.2}
	bins, e := calibration(truth, pred, conf, 3)
	require.Len(t, bins, 3)
	require.Equal(t, 1, bins[0].Count)
	require.Equal(t, 1, bins[1].Count)
	require.Equal(t, 3, bins[2].Count)
	require.InDelta(t, 0.0, bins[0].Accuracy, 1e-12)
	require.InDelta(t, 2.0/3, bins[2].Accuracy, 1e-12)
	require.InDelta(t, 0.9, bins[2].Confidence, 1e-12)
	// (1/5)|0-0.2| + (1/5)|1-0.5| + (3/5)|2/3-0.9| = 0.04 + 0.1 + 0.14
	require.InDelta(t, 0.28, e, 1e-12)

	// Bin edges: a confidence of exactly 1/3 belongs to the first bin,
	// 0 is clamped into it, 1 is in the last.
	bins, _ = calibration([]int{0, 0, 0}, []int{0, 0, 0}, []float64{1.0 / 3, 0, 1}, 3)
	require.Equal(t, []int{2, 0, 1}, []int{bins[0].Count, bins[1].Count, bins[2].Count})

	// Perfectly calibrated: confidence equals accuracy in every bin.
	_, e = calibration([]int{0, 0, 0, 0}, []int{0, 0, 0, 1}, []float64{0.75, 0.75, 0.75, 0.75}, 15)
	require.InDelta(t, 0, e, 1e-12)

	bins, e = calibration(nil, nil, nil, 15)
	require.Len(t, bins, 15)
	require.Zero(t, e, "no rows: zero, not NaN")
}

func TestSoftmax(t *testing.T) {
	p := softmax([]float64{1000, 1000, 1000 - math.Log(2)})
	require.InDeltaSlice(t, []float64{0.4, 0.4, 0.2}, p, 1e-12)
}

func TestReadParaphrasesErrors(t *testing.T) {
	dir := t.TempDir()
	labels := []string{"Malaria", "Acne"}
	for name, body := range map[string]string{
		"header":  "a,b\nMalaria,x\n",
		"label":   "label,text\nFlu,x\n",
		"empty":   "label,text\nMalaria,  \n",
		"fields":  "label,text\nMalaria,x,y\n",
		"norows":  "label,text\n",
		"nothing": "",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".csv")
			require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
			_, err := readParaphrases(p, labels)
			require.ErrorIs(t, err, errData)
		})
	}
	p := filepath.Join(dir, "ok.csv")
	require.NoError(t, os.WriteFile(p, []byte("label,text\nAcne,\"spots, lots\"\n"), 0o644))
	rows, err := readParaphrases(p, labels)
	require.NoError(t, err)
	require.Equal(t, []row{{"Acne", "spots, lots"}}, rows)
}

// TestIDHash pins the hash to Python's
// hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16].
func TestIDHash(t *testing.T) {
	require.Equal(t, "e3b0c44298fc1c14", idHash(nil))
	require.Equal(t, "46584c88c62d575e", idHash([]int32{2, 3}))
	require.Equal(t, "f9b3f668c289a371", idHash([]int32{2, 1000, 3}))
}

func TestReadCSVErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"header": "a,b,c\n1,x,y\n",
		"fields": "index,label,text\n1,x\n",
		"quote":  "index,label,text\n1,x,\"unterminated\n",
		"empty":  "",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".csv")
			require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
			_, err := readCSV(p)
			require.ErrorIs(t, err, errData)
		})
	}
	_, err := readCSV(filepath.Join(dir, "missing.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestEvaluate runs the whole evaluation of the built-in model on the test
// split (it needs ../shared) and checks that the int8 model behaves like
// the fp32 model it came from, that Lepton tokenises every corpus text as
// the training did, and that the accuracy the model file reports about
// itself (shown by `lepton info`) is the accuracy measured here.
func TestEvaluate(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	data := defaultData(root)
	if _, err := os.Stat(data); errors.Is(err, os.ErrNotExist) {
		t.Skipf("Symptom2Disease not found at %s (../shared is absent on a clone outside the workspace)", data)
	}
	var buf bytes.Buffer
	require.NoError(t, run([]string{"-json"}, &buf))
	var rep Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rep))
	t.Logf("%+v", rep)

	require.Equal(t, rep.TokenRows, rep.TokenRowsEqual, "rows whose Lepton ids differ from the training ids: %v", rep.FirstTokenDiffs)
	require.Equal(t, 1200, rep.TokenRows)

	require.Equal(t, 1.0, rep.Agreement, "int8 must pick the fp32 label on every test row")
	// Issue 17 asks for the TF-IDF baseline's accuracy and macro-F1 and an
	// ECE <= 0.05; the committed model does not reach them (the READMEs say
	// so with the figures), so they are logged, not asserted. What is
	// asserted: no model worse than the one it replaced (0.8636 accuracy and
	// macro-F1 0.8641 on this split, before issue 17) is shipped.
	t.Logf("issue 17 targets: int8 accuracy %.4f, macro-F1 %.4f (baseline %.4f / %.4f), ECE %.4f (target 0.05)",
		rep.Int8.Accuracy, rep.Int8.MacroF1, rep.Baseline.Accuracy, rep.Baseline.MacroF1, rep.Int8.ECE)
	require.Greater(t, rep.Int8.Accuracy, 0.8636, "int8 accuracy no better than the previous built-in model's")
	require.Greater(t, rep.Int8.MacroF1, 0.8641, "int8 macro-F1 no better than the previous built-in model's")
	require.Equal(t, 48, rep.Paraphrases.Rows)

	// fp32 figures recomputed here from the reference logits must equal
	// those train.py computed with scikit-learn (ECE: from logits rounded to
	// 6 decimals here, float32 there).
	var metrics struct {
		Test Scores `json:"test_fp32"`
	}
	require.NoError(t, readJSON(filepath.Join(trainDir(root), "metrics.json"), &metrics))
	require.InDelta(t, metrics.Test.Accuracy, rep.FP32.Accuracy, 1e-4)
	require.InDelta(t, metrics.Test.MacroF1, rep.FP32.MacroF1, 1e-4)
	require.InDelta(t, metrics.Test.ECE, rep.FP32.ECE, 2e-4)

	png := filepath.Join(t.TempDir(), "reliability.png")
	require.NoError(t, writeReliability(png, &rep))
	fh, err := os.Open(png)
	require.NoError(t, err)
	defer fh.Close()
	cfg, err := imagepng.DecodeConfig(fh)
	require.NoError(t, err)
	require.Greater(t, cfg.Width, 100)

	// The metadata in the embedded file must state what is measured here.
	m, err := clinic.Open()
	require.NoError(t, err)
	defer m.Close()
	meta := m.Info().Metadata
	for key, want := range map[string]float64{
		"test_accuracy_int8": rep.Int8.Accuracy, "test_macro_f1_int8": rep.Int8.MacroF1,
		"test_accuracy_fp32": rep.FP32.Accuracy, "test_macro_f1_fp32": rep.FP32.MacroF1,
		"test_ece_int8": rep.Int8.ECE, "test_ece_fp32": rep.FP32.ECE,
		"test_int8_fp32_agreement": rep.Agreement,
	} {
		got, err := strconv.ParseFloat(strings.TrimSpace(meta[key]), 64)
		require.NoError(t, err, "metadata %s = %q", key, meta[key])
		require.InDelta(t, want, got, 0.00005, "metadata %s", key)
	}
	require.Equal(t, fmt.Sprintf("%d/%d", rep.Paraphrases.Int8Correct, rep.Paraphrases.Rows), meta["paraphrases_int8"])

	var text bytes.Buffer
	require.NoError(t, rep.print(&text))
	require.Contains(t, text.String(), "int8 (Lepton)")
}

// TestReadme checks the figures the READMEs show for the built-in model
// against a fresh evaluation (it needs ../shared): the output block of
// `go run ./examples/train-clinic/eval` in the repository's README, the
// accuracy table rows, and "largest logit difference" in both READMEs.
func TestReadme(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	data := defaultData(root)
	if _, err := os.Stat(data); errors.Is(err, os.ErrNotExist) {
		t.Skipf("Symptom2Disease not found at %s (../shared is absent on a clone outside the workspace)", data)
	}
	var out bytes.Buffer
	require.NoError(t, run(nil, &out))
	var rep bytes.Buffer
	require.NoError(t, run([]string{"-json"}, &rep))
	var r Report
	require.NoError(t, json.Unmarshal(rep.Bytes(), &r))

	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	examples, err := readmecheck.Examples(md)
	require.NoError(t, err)
	found := false
	for _, ex := range examples {
		if len(ex.Commands) == 1 && ex.Commands[0] == "go run ./examples/train-clinic/eval" {
			ok, diff := readmecheck.Match(ex.Output, out.String())
			require.True(t, ok, "README.md:%d: not what go run ./examples/train-clinic/eval prints (%s):\n%s", ex.Line, diff, out.String())
			found = true
		}
	}
	require.True(t, found, "README.md shows the output of go run ./examples/train-clinic/eval")

	diff := fmt.Sprintf("largest logit difference %.4f", r.MaxLogitDiff)
	rows := map[string][]string{
		"README.md": {
			fmt.Sprintf("| Lepton int8 (`models/clinic/clinic.lep`, %s KiB) | **%.4f** | **%.4f** |", kib(len(clinic.Bytes())), r.Int8.Accuracy, r.Int8.MacroF1),
			fmt.Sprintf("| the same model in fp32 (PyTorch) | %.4f | %.4f |", r.FP32.Accuracy, r.FP32.MacroF1),
			fmt.Sprintf("| baseline: TF-IDF word 1-2 grams + logistic regression (scikit-learn) | %.4f | %.4f |", r.Baseline.Accuracy, r.Baseline.MacroF1),
			diff,
		},
		filepath.Join("examples", "train-clinic", "README.md"): {
			fmt.Sprintf("| int8, Lepton (`go run ./examples/train-clinic/eval`) | %.4f | %.4f |", r.Int8.Accuracy, r.Int8.MacroF1),
			fmt.Sprintf("| fp32, PyTorch (`metrics.json`) | %.4f | %.4f |", r.FP32.Accuracy, r.FP32.MacroF1),
			fmt.Sprintf("| TF-IDF + logistic regression (`baseline.json`) | %.4f | %.4f |", r.Baseline.Accuracy, r.Baseline.MacroF1),
			diff,
		},
	}
	for file, want := range rows {
		b, err := os.ReadFile(filepath.Join(root, file))
		require.NoError(t, err)
		for _, w := range want {
			require.Contains(t, string(b), w, "%s: stale or missing figure", file)
		}
	}
}

// kib formats a size in bytes as whole KiB with thousands separators, as
// the README states the model file's size.
func kib(n int) string {
	s := strconv.Itoa(n / 1024)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestKiB(t *testing.T) {
	for n, want := range map[int]string{0: "0", 1023: "0", 962*1024 + 5: "962", 1024 * 1024: "1,024", 2900000: "2,832", 1 << 30: "1,048,576"} {
		require.Equal(t, want, kib(n), "kib(%d)", n)
	}
}
