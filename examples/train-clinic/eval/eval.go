package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"lepton"
	"lepton/internal/lepfile"
	"lepton/models/clinic"
	"lepton/tokenize"
)

// errData marks a missing or malformed input file (CSV, split, reference).
var errData = errors.New("eval: bad input data")

// Scores are the figures of one model on the test split.
type Scores struct {
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
}

// Report is what eval measures.
type Report struct {
	TestRows        int     `json:"test_rows"`
	Int8            Scores  `json:"int8_lepton"`
	FP32            Scores  `json:"fp32_pytorch"`
	Baseline        Scores  `json:"baseline_tfidf_logreg"`
	Agreement       float64 `json:"int8_fp32_argmax_agreement"`
	MaxLogitDiff    float64 `json:"max_abs_logit_diff"`
	TokenRows       int     `json:"tokenizer_rows"`
	TokenRowsEqual  int     `json:"tokenizer_rows_equal"`
	FirstTokenDiffs []int   `json:"first_token_mismatch_rows,omitempty"`
}

func (r *Report) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "test split\t%d rows\n", r.TestRows)
	fmt.Fprintf(tw, "model\taccuracy\tmacro-F1\n")
	fmt.Fprintf(tw, "int8 (Lepton)\t%.4f\t%.4f\n", r.Int8.Accuracy, r.Int8.MacroF1)
	fmt.Fprintf(tw, "fp32 (PyTorch)\t%.4f\t%.4f\n", r.FP32.Accuracy, r.FP32.MacroF1)
	fmt.Fprintf(tw, "TF-IDF + logistic regression\t%.4f\t%.4f\n", r.Baseline.Accuracy, r.Baseline.MacroF1)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "int8 vs fp32: argmax agreement %.4f, max |logit difference| %.4f\n", r.Agreement, r.MaxLogitDiff)
	fmt.Fprintf(w, "tokenizer: %d of %d corpus rows give the training ids\n", r.TokenRowsEqual, r.TokenRows)
	return nil
}

// repoRoot walks up from the working directory to the directory holding
// go.mod, so the program works from the root and the test from its folder.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod above the working directory", errData)
		}
		dir = parent
	}
}

func defaultData(root string) string {
	return filepath.Join(root, "..", "shared", "data", "symptom2disease", "Symptom2Disease.csv")
}

func trainDir(root string) string { return filepath.Join(root, "examples", "train-clinic") }

// modelTokenizer loads the tokenizer stored in the model file, the one
// lepton.Model uses, to compare its ids with the training ids.
func modelTokenizer(path string) (*tokenize.Tokenizer, error) {
	var (
		f   *lepfile.File
		err error
	)
	if path == "" {
		f, err = lepfile.OpenBytes(clinic.Bytes())
	} else {
		f, err = lepfile.Open(path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.TokenizerFormat != lepfile.TokenizerLepton {
		return nil, fmt.Errorf("%w: tokenizer format %q, want %q", errData, f.TokenizerFormat, lepfile.TokenizerLepton)
	}
	// FromBinary copies what it needs, so the tokenizer outlives f.
	return tokenize.FromBinary(slices.Clone(f.Tokenizer))
}

// row is one line of Symptom2Disease.csv.
type row struct{ label, text string }

func readCSV(path string) ([]row, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errData, path, err)
	}
	if len(recs) == 0 || !slices.Equal(recs[0], []string{"index", "label", "text"}) {
		return nil, fmt.Errorf("%w: %s: want header index,label,text", errData, path)
	}
	rows := make([]row, 0, len(recs)-1)
	for i, r := range recs[1:] {
		if len(r) != 3 {
			return nil, fmt.Errorf("%w: %s: row %d has %d fields", errData, path, i, len(r))
		}
		rows = append(rows, row{r[1], r[2]})
	}
	return rows, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %w", errData, path, err)
	}
	return nil
}

// reference is reference/test_logits.json: PyTorch's fp32 logits.
type reference struct {
	Labels []string `json:"labels"`
	Rows   []struct {
		Row    int       `json:"row"`
		Label  int       `json:"label"`
		Logits []float64 `json:"logits"`
	} `json:"rows"`
}

func evaluate(m *lepton.Model, tok *tokenize.Tokenizer, root, dataPath string) (*Report, error) {
	rows, err := readCSV(dataPath)
	if err != nil {
		return nil, err
	}
	dir := trainDir(root)
	var split struct {
		Test []int `json:"test"`
	}
	if err := readJSON(filepath.Join(dir, "split.json"), &split); err != nil {
		return nil, err
	}
	var ref reference
	if err := readJSON(filepath.Join(dir, "reference", "test_logits.json"), &ref); err != nil {
		return nil, err
	}
	var hashes struct {
		Rows []string `json:"rows"`
	}
	if err := readJSON(filepath.Join(dir, "reference", "token_hashes.json"), &hashes); err != nil {
		return nil, err
	}
	var base struct {
		Test Scores `json:"test"`
	}
	if err := readJSON(filepath.Join(dir, "baseline.json"), &base); err != nil {
		return nil, err
	}
	if len(hashes.Rows) != len(rows) {
		return nil, fmt.Errorf("%w: %d token hashes for %d CSV rows", errData, len(hashes.Rows), len(rows))
	}
	if len(ref.Rows) != len(split.Test) || len(ref.Rows) == 0 {
		return nil, fmt.Errorf("%w: %d reference rows for %d test rows", errData, len(ref.Rows), len(split.Test))
	}
	labels := m.Info().Labels
	if !slices.Equal(labels, ref.Labels) {
		return nil, fmt.Errorf("%w: the model's labels %v differ from the reference's %v", errData, labels, ref.Labels)
	}
	rep := &Report{TestRows: len(split.Test), Baseline: base.Test, TokenRows: len(rows)}

	// Tokenizer parity on every row, with the training script's settings.
	opt := tokenize.EncodeOptions{MaxLength: m.Info().MaxPositions, Truncation: tokenize.LongestFirst}
	for i, r := range rows {
		enc, err := tok.Encode(r.text, opt)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if idHash(enc.IDs) == hashes.Rows[i] {
			rep.TokenRowsEqual++
		} else if len(rep.FirstTokenDiffs) < 10 {
			rep.FirstTokenDiffs = append(rep.FirstTokenDiffs, i)
		}
	}

	texts := make([]string, len(ref.Rows))
	truth := make([]int, len(ref.Rows))
	fp32 := make([]int, len(ref.Rows))
	for i, r := range ref.Rows {
		if r.Row < 0 || r.Row >= len(rows) || r.Row != split.Test[i] {
			return nil, fmt.Errorf("%w: reference row %d is %d, split says %d", errData, i, r.Row, split.Test[i])
		}
		if len(r.Logits) != len(labels) || r.Label < 0 || r.Label >= len(labels) {
			return nil, fmt.Errorf("%w: reference row %d: %d logits, label %d", errData, i, len(r.Logits), r.Label)
		}
		if labels[r.Label] != rows[r.Row].label {
			return nil, fmt.Errorf("%w: row %d: reference label %q, CSV %q", errData, r.Row, labels[r.Label], rows[r.Row].label)
		}
		texts[i] = rows[r.Row].text
		truth[i] = r.Label
		fp32[i] = argmax(r.Logits)
	}
	res, err := m.Classify(context.Background(), texts)
	if err != nil {
		return nil, err
	}
	int8 := make([]int, len(res))
	agree := 0
	for i, c := range res {
		int8[i] = c.Index
		if c.Index == fp32[i] {
			agree++
		}
		for j, v := range c.Logits {
			rep.MaxLogitDiff = max(rep.MaxLogitDiff, math.Abs(float64(v)-ref.Rows[i].Logits[j]))
		}
	}
	rep.Agreement = float64(agree) / float64(len(res))
	rep.Int8 = score(truth, int8, len(labels))
	rep.FP32 = score(truth, fp32, len(labels))
	return rep, nil
}

func idHash(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])[:16]
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// score computes accuracy and macro-F1 as scikit-learn does: the unweighted
// mean over classes present in truth or pred of 2TP/(2TP+FP+FN).
func score(truth, pred []int, classes int) Scores {
	tp := make([]int, classes)
	fp := make([]int, classes)
	fn := make([]int, classes)
	present := make([]bool, classes)
	correct := 0
	for i := range truth {
		present[truth[i]], present[pred[i]] = true, true
		if truth[i] == pred[i] {
			correct++
			tp[truth[i]]++
		} else {
			fp[pred[i]]++
			fn[truth[i]]++
		}
	}
	var sum float64
	n := 0
	for c := range classes {
		if !present[c] {
			continue
		}
		n++
		if d := 2*tp[c] + fp[c] + fn[c]; d > 0 {
			sum += float64(2*tp[c]) / float64(d)
		}
	}
	var s Scores
	if len(truth) > 0 {
		s.Accuracy = float64(correct) / float64(len(truth))
	}
	if n > 0 {
		s.MacroF1 = sum / float64(n)
	}
	return s
}
