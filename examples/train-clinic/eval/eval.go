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
	// ECE is the expected calibration error of the top-label confidence
	// (see calibration).
	ECE float64 `json:"ece"`
}

// Paraphrase is one row of paraphrases.csv and the int8 model's answer.
type Paraphrase struct {
	Label      string  `json:"label"`
	Text       string  `json:"text"`
	Predicted  string  `json:"predicted"`
	Confidence float64 `json:"confidence"`
}

// ParaphraseScores are the figures on paraphrases.csv: descriptions in
// everyday words written for this check, never used to choose anything.
type ParaphraseScores struct {
	Rows            int          `json:"rows"`
	Int8Correct     int          `json:"int8_correct"`
	BaselineCorrect int          `json:"baseline_correct"`
	Answers         []Paraphrase `json:"answers"`
}

// Report is what eval measures.
type Report struct {
	TestRows        int              `json:"test_rows"`
	Int8            Scores           `json:"int8_lepton"`
	FP32            Scores           `json:"fp32_pytorch"`
	Baseline        Scores           `json:"baseline_tfidf_logreg"`
	Agreement       float64          `json:"int8_fp32_argmax_agreement"`
	MaxLogitDiff    float64          `json:"max_abs_logit_diff"`
	Reliability     []Bin            `json:"int8_reliability"`
	Paraphrases     ParaphraseScores `json:"paraphrases"`
	TokenRows       int              `json:"tokenizer_rows"`
	TokenRowsEqual  int              `json:"tokenizer_rows_equal"`
	FirstTokenDiffs []int            `json:"first_token_mismatch_rows,omitempty"`
}

func (r *Report) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "test split\t%d rows\n", r.TestRows)
	fmt.Fprintf(tw, "model\taccuracy\tmacro-F1\tECE\tparaphrases\n")
	fmt.Fprintf(tw, "int8 (Lepton)\t%.4f\t%.4f\t%.4f\t%d/%d\n", r.Int8.Accuracy, r.Int8.MacroF1, r.Int8.ECE,
		r.Paraphrases.Int8Correct, r.Paraphrases.Rows)
	fmt.Fprintf(tw, "fp32 (PyTorch)\t%.4f\t%.4f\t%.4f\t\n", r.FP32.Accuracy, r.FP32.MacroF1, r.FP32.ECE)
	fmt.Fprintf(tw, "TF-IDF + logistic regression\t%.4f\t%.4f\t%.4f\t%d/%d\n", r.Baseline.Accuracy, r.Baseline.MacroF1,
		r.Baseline.ECE, r.Paraphrases.BaselineCorrect, r.Paraphrases.Rows)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "int8 vs fp32: argmax agreement %.4f, max |logit difference| %.4f\n", r.Agreement, r.MaxLogitDiff)
	fmt.Fprintf(w, "ECE: %d equal-width bins of top-label confidence\n", eceBins)
	for _, p := range r.Paraphrases.Answers {
		if p.Predicted != p.Label {
			fmt.Fprintf(w, "paraphrase wrong: %s -> %s (%.2f): %q\n", p.Label, p.Predicted, p.Confidence, p.Text)
		}
	}
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
		Test        Scores `json:"test"`
		Paraphrases struct {
			Rows    int `json:"rows"`
			Correct int `json:"correct"`
		} `json:"paraphrases"`
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
	int8Conf := make([]float64, len(res))
	fp32Conf := make([]float64, len(res))
	agree := 0
	for i, c := range res {
		int8[i] = c.Index
		int8Conf[i] = float64(c.Probs[c.Index])
		fp32Conf[i] = softmax(ref.Rows[i].Logits)[fp32[i]]
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
	rep.Reliability, rep.Int8.ECE = calibration(truth, int8, int8Conf, eceBins)
	_, rep.FP32.ECE = calibration(truth, fp32, fp32Conf, eceBins)

	para, err := readParaphrases(filepath.Join(dir, "paraphrases.csv"), labels)
	if err != nil {
		return nil, err
	}
	if base.Paraphrases.Rows != len(para) {
		return nil, fmt.Errorf("%w: baseline.json has %d paraphrase rows, paraphrases.csv %d", errData, base.Paraphrases.Rows, len(para))
	}
	ptexts := make([]string, len(para))
	for i, p := range para {
		ptexts[i] = p.text
	}
	pres, err := m.Classify(context.Background(), ptexts)
	if err != nil {
		return nil, err
	}
	rep.Paraphrases = ParaphraseScores{Rows: len(para), BaselineCorrect: base.Paraphrases.Correct}
	for i, c := range pres {
		if c.Label == para[i].label {
			rep.Paraphrases.Int8Correct++
		}
		rep.Paraphrases.Answers = append(rep.Paraphrases.Answers, Paraphrase{
			Label: para[i].label, Text: para[i].text, Predicted: c.Label, Confidence: float64(c.Probs[c.Index])})
	}
	return rep, nil
}

// readParaphrases reads paraphrases.csv (header label,text); every label
// must be one of the model's.
func readParaphrases(path string, labels []string) ([]row, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errData, path, err)
	}
	if len(recs) < 2 || !slices.Equal(recs[0], []string{"label", "text"}) {
		return nil, fmt.Errorf("%w: %s: want header label,text and at least one row", errData, path)
	}
	out := make([]row, 0, len(recs)-1)
	for i, r := range recs[1:] {
		if len(r) != 2 || !slices.Contains(labels, r[0]) || strings.TrimSpace(r[1]) == "" {
			return nil, fmt.Errorf("%w: %s: row %d: want a known label and a text, got %q", errData, path, i+1, r)
		}
		out = append(out, row{r[0], r[1]})
	}
	return out, nil
}

// eceBins is the number of equal-width confidence bins of the ECE; train.py
// uses the same.
const eceBins = 15

// Bin is one bar of a reliability diagram: the rows whose top-label
// confidence lies in (Lo, Hi].
type Bin struct {
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Count      int     `json:"count"`
	Accuracy   float64 `json:"accuracy"`
	Confidence float64 `json:"mean_confidence"`
}

// calibration sorts the rows into bins equal-width bins by their top-label
// confidence (bin b holds (b/bins, (b+1)/bins]; a confidence of 0 goes to
// the first) and returns the bins and the expected calibration error, the
// row-weighted mean of |accuracy - mean confidence| over the bins.
func calibration(truth, pred []int, conf []float64, bins int) ([]Bin, float64) {
	out := make([]Bin, bins)
	for b := range out {
		out[b].Lo, out[b].Hi = float64(b)/float64(bins), float64(b+1)/float64(bins)
	}
	for i, c := range conf {
		b := int(math.Ceil(c*float64(bins))) - 1
		b = min(max(b, 0), bins-1) // NaN converts to an arbitrary int: clamp
		out[b].Count++
		out[b].Confidence += c
		if truth[i] == pred[i] {
			out[b].Accuracy++
		}
	}
	var e float64
	for b := range out {
		if n := float64(out[b].Count); n > 0 {
			out[b].Accuracy /= n
			out[b].Confidence /= n
			e += n / float64(len(conf)) * math.Abs(out[b].Accuracy-out[b].Confidence)
		}
	}
	return out, e
}

// softmax in float64, shifted by the maximum.
func softmax(v []float64) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	out := make([]float64, len(v))
	var s float64
	for i, x := range v {
		out[i] = math.Exp(x - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
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

// writeFile creates path and fills it with write; a failed write or close
// leaves no partial file.
func writeFile(path string, write func(io.Writer) (int64, error)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
