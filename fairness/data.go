package fairness

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// MaxClasses bounds the number of classes an input row may carry, so that a
// hostile file cannot make the reader allocate without limit.
const MaxClasses = 4096

// maxLine bounds one JSONL line (1 MiB).
const maxLine = 1 << 20

// Sample is one labelled model output: the group the input belongs to, its
// true class and the model's class probabilities.
type Sample struct {
	// Group names the sensitive group (age band, sex, site, ...). The
	// package knows it by CanonicalGroup(Group): the readers store that
	// form, and fitting and metrics apply it to samples built in code.
	Group string
	// Label is the true class, in [0, len(Probs)).
	Label int
	// Probs holds the class probabilities; it sums to 1. A binary score s
	// is stored as [1-s, s], so class 1 is the positive class.
	Probs []float64
	// Logits holds the raw logits when the input gave them, else nil.
	// Temperature scaling uses them directly to avoid log(softmax) round
	// trips.
	Logits []float64
	// Line is the 1-based line of the input file the sample came from (0
	// when built in code); errors name it.
	Line int
}

// Score returns the positive-class (class 1) probability of a binary sample.
func (s Sample) Score() float64 {
	if len(s.Probs) < 2 {
		return math.NaN()
	}
	return s.Probs[1]
}

// Softmax returns the probabilities of logits, computed with the max
// subtracted so that large logits do not overflow.
func Softmax(logits []float64) []float64 {
	out := make([]float64, len(logits))
	if len(logits) == 0 {
		return out
	}
	m := logits[0]
	for _, z := range logits[1:] {
		m = math.Max(m, z)
	}
	var sum float64
	for i, z := range logits {
		out[i] = math.Exp(z - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// BinaryProbs turns a positive-class score into the two-class distribution
// [1-s, s].
func BinaryProbs(s float64) []float64 { return []float64{1 - s, s} }

// ReadFile reads samples from a CSV file, or from a JSONL file when the name
// ends in .jsonl or .ndjson.
func ReadFile(path string) ([]Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	low := strings.ToLower(path)
	if strings.HasSuffix(low, ".jsonl") || strings.HasSuffix(low, ".ndjson") {
		return ReadJSONL(f)
	}
	return ReadCSV(f)
}

// scoreKind says how a row carries the model output.
type scoreKind int

const (
	kindScore  scoreKind = iota // one positive-class probability
	kindProbs                   // per-class probabilities
	kindLogits                  // per-class logits
)

// ReadCSV reads samples from CSV with a header row. Required columns are
// group and label, plus exactly one of: score (alias prediction) holding a
// positive-class probability; prob_0..prob_{K-1} holding class
// probabilities; logit_0..logit_{K-1} holding logits. Other columns are
// ignored. Labels may be written as integers or integral floats ("1.0").
// Errors wrap ErrMalformedInput and name the line.
func ReadCSV(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below with a better message
	cr.ReuseRecord = true
	header, err := cr.Read()
	header = append([]string(nil), header...) // Read reuses its slice
	if err == io.EOF {
		return nil, fmt.Errorf("%w: line 1: missing header", ErrMalformedInput)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedInput, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if name == "" {
			continue
		}
		if _, dup := cols[name]; dup {
			return nil, fmt.Errorf("%w: line 1: duplicate column %q", ErrMalformedInput, name)
		}
		cols[name] = i
	}
	gi, ok := cols["group"]
	if !ok {
		return nil, fmt.Errorf("%w: line 1: no group column", ErrMalformedInput)
	}
	li, ok := cols["label"]
	if !ok {
		return nil, fmt.Errorf("%w: line 1: no label column", ErrMalformedInput)
	}
	var kinds []scoreKind
	var idx []int
	si, hasScore := cols["score"]
	if pi, hasPred := cols["prediction"]; hasPred {
		// As in JSONL: two candidate score columns are ambiguous, and
		// picking one silently could report on the wrong model output.
		if hasScore {
			return nil, fmt.Errorf("%w: line 1: both score and prediction columns (prediction is an alias of score; keep one)", ErrMalformedInput)
		}
		si, hasScore = pi, true
	}
	if hasScore {
		kinds = append(kinds, kindScore)
		idx = []int{si}
	}
	for _, pre := range []struct {
		prefix string
		kind   scoreKind
	}{{"prob_", kindProbs}, {"logit_", kindLogits}} {
		var got []int
		for k := 0; k < MaxClasses+1; k++ {
			i, ok := cols[pre.prefix+strconv.Itoa(k)]
			if !ok {
				break
			}
			got = append(got, i)
		}
		if len(got) > 0 {
			kinds = append(kinds, pre.kind)
			idx = got
		}
	}
	if len(kinds) != 1 {
		return nil, fmt.Errorf("%w: line 1: need exactly one of score, prob_0.., logit_0.. columns", ErrMalformedInput)
	}
	kind := kinds[0]
	if kind != kindScore && (len(idx) < 2 || len(idx) > MaxClasses) {
		return nil, fmt.Errorf("%w: line 1: %d class columns, want 2..%d", ErrMalformedInput, len(idx), MaxClasses)
	}
	var out []Sample
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful Read.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedInput, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%w: %v", ErrMalformedInput, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%w: line %d: %d fields, header has %d", ErrMalformedInput, line, len(rec), len(header))
		}
		vals := make([]float64, len(idx))
		for j, i := range idx {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: column %q: %v", ErrMalformedInput, line, header[i], errors.Unwrap(err))
			}
			if !finite(v) {
				return nil, fmt.Errorf("%w: line %d: column %q: value %v is not finite", ErrMalformedInput, line, header[i], v)
			}
			vals[j] = v
		}
		s, err := buildSample(strings.TrimSpace(rec[gi]), strings.TrimSpace(rec[li]), kind, vals)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedInput, line, err)
		}
		s.Line = line
		out = append(out, s)
	}
	if err := checkClasses(out); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonRow is one JSONL object.
type jsonRow struct {
	Group  json.RawMessage `json:"group"`
	Label  json.Number     `json:"label"`
	Score  *float64        `json:"score"`
	Pred   *float64        `json:"prediction"`
	Probs  []float64       `json:"probs"`
	Logits []float64       `json:"logits"`
}

// ReadJSONL reads one JSON object per line with fields group (string or
// number), label (integer), and exactly one of score (alias prediction),
// probs or logits. Blank lines are skipped. Errors wrap ErrMalformedInput
// and name the line.
func ReadJSONL(r io.Reader) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []Sample
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var row jsonRow
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedInput, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%w: line %d: trailing data after object", ErrMalformedInput, line)
		}
		group, err := jsonGroup(row.Group)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedInput, line, err)
		}
		n := 0
		var kind scoreKind
		var vals []float64
		if row.Score != nil && row.Pred != nil {
			return nil, fmt.Errorf("%w: line %d: both score and prediction", ErrMalformedInput, line)
		}
		if row.Score != nil || row.Pred != nil {
			n++
			kind = kindScore
			if row.Score != nil {
				vals = []float64{*row.Score}
			} else {
				vals = []float64{*row.Pred}
			}
		}
		if row.Probs != nil {
			n++
			kind, vals = kindProbs, row.Probs
		}
		if row.Logits != nil {
			n++
			kind, vals = kindLogits, row.Logits
		}
		if n != 1 {
			return nil, fmt.Errorf("%w: line %d: need exactly one of score, probs, logits", ErrMalformedInput, line)
		}
		if kind != kindScore && (len(vals) < 2 || len(vals) > MaxClasses) {
			return nil, fmt.Errorf("%w: line %d: %d classes, want 2..%d", ErrMalformedInput, line, len(vals), MaxClasses)
		}
		s, err := buildSample(group, row.Label.String(), kind, vals)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedInput, line, err)
		}
		s.Line = line
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d: longer than %d bytes (the JSONL line limit)", ErrMalformedInput, line+1, maxLine)
		}
		return nil, fmt.Errorf("%w: line %d: %v", ErrMalformedInput, line+1, err)
	}
	if err := checkClasses(out); err != nil {
		return nil, err
	}
	return out, nil
}

func jsonGroup(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("missing group")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", errors.New("group must be a string or a number")
}

// buildSample validates one row's values and converts them to a Sample.
func buildSample(group, label string, kind scoreKind, vals []float64) (Sample, error) {
	if group == "" {
		return Sample{}, errors.New("empty group")
	}
	if CanonicalGroup(group) == "" {
		return Sample{}, errors.New("blank group")
	}
	lf, err := strconv.ParseFloat(label, 64)
	if err != nil || lf != math.Trunc(lf) || lf < 0 || lf >= MaxClasses {
		return Sample{}, fmt.Errorf("label %q is not a class index", label)
	}
	s := Sample{Group: CanonicalGroup(group), Label: int(lf)}
	for i, v := range vals {
		if !finite(v) { // ReadCSV names the column before this
			return Sample{}, fmt.Errorf("%s = %v is not finite", valueName(kind, i), v)
		}
	}
	switch kind {
	case kindScore:
		v := vals[0]
		if v < 0 || v > 1 {
			return Sample{}, fmt.Errorf("score %v outside [0,1]", v)
		}
		s.Probs = BinaryProbs(v)
	case kindProbs:
		var sum float64
		for i, v := range vals {
			if v < 0 || v > 1 {
				return Sample{}, fmt.Errorf("probability %d = %v outside [0,1]", i, v)
			}
			sum += v
		}
		if math.Abs(sum-1) > 1e-4 {
			return Sample{}, fmt.Errorf("probabilities sum to %v, not 1", sum)
		}
		s.Probs = make([]float64, len(vals))
		for i, v := range vals {
			s.Probs[i] = v / sum
		}
	case kindLogits:
		s.Logits = append([]float64(nil), vals...)
		s.Probs = Softmax(vals)
	}
	if s.Label >= len(s.Probs) {
		return Sample{}, fmt.Errorf("label %d out of range for %d classes", s.Label, len(s.Probs))
	}
	return s, nil
}

// valueName names the i-th model output of a row of kind in errors, by the
// JSONL field it comes from.
func valueName(kind scoreKind, i int) string {
	switch kind {
	case kindProbs:
		return fmt.Sprintf("probs[%d]", i)
	case kindLogits:
		return fmt.Sprintf("logits[%d]", i)
	}
	return "score"
}

// CanonicalGroup returns the name under which the package knows group g.
// Group names are opaque strings with exactly two normalisations:
//
//   - surrounding white space is trimmed (" A " is "A");
//   - an integer written as a float with a zero fraction, the way pandas
//     writes an integer column that holds a missing value ("1.0", "-2.00"),
//     loses the fraction ("1", "-2").
//
// Nothing else is interpreted: "01" and "1" are different groups (a zero
// may be significant in a site or postcode), as are "1e0" and "1", "+1" and
// "1", and "A" and "a". A JSONL group given as a number is taken by its
// spelling in the file and normalised the same way.
//
// Every entry point applies it: the readers, the fit functions (so a group
// fitted as "1.0" is stored as "1"), the metric accumulators and every
// lookup (Apply, Decide, the lepton options). Artefact.Validate rejects
// group names that are not canonical, so two spellings of one group can
// never both appear in an artefact.
func CanonicalGroup(g string) string {
	g = strings.TrimSpace(g)
	i := strings.IndexByte(g, '.')
	if i < 0 || i == len(g)-1 {
		return g
	}
	intPart, frac := g[:i], g[i+1:]
	digits := strings.TrimPrefix(intPart, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" || strings.Trim(frac, "0") != "" {
		return g
	}
	return intPart
}

// checkClasses requires every sample to have the same number of classes.
func checkClasses(ss []Sample) error {
	if len(ss) == 0 {
		return fmt.Errorf("%w: no rows", ErrEmpty)
	}
	k := len(ss[0].Probs)
	for _, s := range ss {
		if len(s.Probs) != k {
			return fmt.Errorf("%w: line %d: %d classes, earlier rows have %d", ErrMalformedInput, s.Line, len(s.Probs), k)
		}
	}
	return nil
}

// FitHash returns the hex SHA-256 of the canonical encoding of samples: per
// row the canonical group's (CanonicalGroup) length and bytes, the label, and the IEEE-754 bits of each
// probability (or logit, when given), all little-endian. The artefact
// records it so that an audit can tell which data a fit came from.
func FitHash(ss []Sample) string {
	h := sha256.New()
	var b [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	for _, s := range ss {
		g := CanonicalGroup(s.Group) // the fit sees canonical groups only
		put(uint64(len(g)))
		h.Write([]byte(g))
		put(uint64(s.Label))
		vals, tag := s.Probs, uint64(0)
		if s.Logits != nil {
			vals, tag = s.Logits, 1
		}
		put(tag)
		put(uint64(len(vals)))
		for _, v := range vals {
			put(math.Float64bits(v))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Groups returns the distinct canonical groups (CanonicalGroup) of ss in
// first-seen order.
func Groups(ss []Sample) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		g := CanonicalGroup(s.Group)
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// validateSamples checks samples built in code (the readers already
// enforce this): a non-empty group, k >= 2 probabilities in [0,1], finite
// logits of the same length when present, and a label in range. Fitting
// relies on it to index by label.
func validateSamples(ss []Sample) error {
	if len(ss) == 0 {
		return fmt.Errorf("%w: no samples", ErrEmpty)
	}
	k := len(ss[0].Probs)
	for i, s := range ss {
		if CanonicalGroup(s.Group) == "" {
			return fmt.Errorf("%w: sample %d: empty group", ErrMalformedInput, i)
		}
		if len(s.Probs) != k || k < 2 || k > MaxClasses {
			return fmt.Errorf("%w: sample %d: %d classes, first sample has %d", ErrShape, i, len(s.Probs), k)
		}
		if s.Label < 0 || s.Label >= k {
			return fmt.Errorf("%w: sample %d: label %d of %d classes", ErrShape, i, s.Label, k)
		}
		for j, p := range s.Probs {
			if !(p >= 0 && p <= 1) {
				return fmt.Errorf("%w: sample %d: probability %d = %v", ErrInvalidScore, i, j, p)
			}
		}
		if s.Logits != nil {
			if len(s.Logits) != k {
				return fmt.Errorf("%w: sample %d: %d logits for %d classes", ErrShape, i, len(s.Logits), k)
			}
			for j, z := range s.Logits {
				if math.IsNaN(z) || math.IsInf(z, 0) {
					return fmt.Errorf("%w: sample %d: logit %d = %v", ErrInvalidScore, i, j, z)
				}
			}
		}
	}
	return nil
}
