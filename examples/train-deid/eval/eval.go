package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"lepton"
	"lepton/tokenize"
)

var errData = errors.New("bad evaluation data")

// Types are the entity types, in report order.
var Types = []string{"NAME", "DATE", "PHONE", "ID", "ADDRESS", "EMAIL"}

// PatternTypes are the types a regular expression can reasonably find.
var PatternTypes = []string{"DATE", "PHONE", "ID", "EMAIL"}

// Note is one line of data/test.jsonl (written by train.py from notes.py):
// entity offsets are Unicode code points.
type Note struct {
	ID       string `json:"id"`
	Template string `json:"template"`
	Text     string `json:"text"`
	Entities []struct {
		Type  string `json:"type"`
		Start int    `json:"start"`
		End   int    `json:"end"`
		Fmt   string `json:"fmt"`
	} `json:"entities"`
}

// span is an entity in byte offsets.
type span struct {
	note       int
	typ        string
	start, end int
}

// PRF is entity-level precision, recall and F1 (exact type and span).
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Gold      int     `json:"gold"`
	Predicted int     `json:"predicted"`
	Correct   int     `json:"correct"`
}

func prf(correct, gold, predicted int) PRF {
	r := PRF{Gold: gold, Predicted: predicted, Correct: correct}
	if predicted > 0 {
		r.Precision = float64(correct) / float64(predicted)
	}
	if gold > 0 {
		r.Recall = float64(correct) / float64(gold)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	return r
}

// score compares predicted spans with gold per type (and "all" over types).
func score(gold, pred []span, types []string) map[string]PRF {
	in := map[span]bool{}
	for _, g := range gold {
		in[g] = true
	}
	out := map[string]PRF{}
	var tg, tp, tc int
	for _, t := range types {
		var g, p, c int
		for _, x := range gold {
			if x.typ == t {
				g++
			}
		}
		for _, x := range pred {
			if x.typ == t {
				p++
				if in[x] {
					c++
				}
			}
		}
		out[t] = prf(c, g, p)
		tg, tp, tc = tg+g, tp+p, tc+c
	}
	out["all"] = prf(tc, tg, tp)
	return out
}

// Recall is found/total, for the held-out format breakdown.
type Recall struct {
	Found int `json:"found"`
	Total int `json:"total"`
}

// Report is what eval measures.
type Report struct {
	Data        string   `json:"data"` // the notes' file name
	Notes       int      `json:"notes"`
	Templates   []string `json:"templates"`
	Aggregation string   `json:"aggregation"`
	ActBits     int      `json:"act_bits"`
	// Int8 is Lepton's int8 path; Fp32Lepton Lepton's fp32 reference path
	// (only with -fp32); Fp32PyTorch train.py's figures (PyTorch logits,
	// its own aggregation code), from metrics.json.
	Int8        map[string]PRF `json:"int8_lepton"`
	Fp32Lepton  map[string]PRF `json:"fp32_lepton,omitempty"`
	Fp32PyTorch map[string]PRF `json:"fp32_pytorch"`
	// Regex is the regular-expression baseline on PatternTypes; Int8Pattern
	// is the model on the same types, for the "all" row.
	Regex       map[string]PRF `json:"regex_baseline"`
	Int8Pattern PRF            `json:"int8_pattern_types"`
	// Patterns is lepton.FindPatterns alone and Hybrid the int8 model with
	// lepton.WithPatterns(true), on every type; HybridMasking is what
	// redaction with the hybrid leaves (as Masking).
	Patterns      map[string]PRF     `json:"patterns"`
	Hybrid        map[string]PRF     `json:"hybrid"`
	HybridMasking map[string]Masking `json:"hybrid_masking"`
	// PatternsPattern and HybridPattern are Patterns and Hybrid over
	// PatternTypes only.
	PatternsPattern PRF `json:"patterns_pattern_types"`
	HybridPattern   PRF `json:"hybrid_pattern_types"`
	// Detail names the predictions that HeldOut, Misses, FalsePositives
	// and DetailMasking describe: "int8" (the model alone) or "hybrid"
	// (eval -hybrid).
	Detail        string             `json:"detail"`
	DetailMasking map[string]Masking `json:"detail_masking"`
	// Policies compares ways to merge the model's entities with the
	// patterns' (policyShipped is lepton.WithPatterns' rule).
	Policies map[string]PolicyFigures `json:"merge_policies"`
	// HeldOut is the model's recall (int8) per type on entities written in
	// formats seen in training and in formats only the test notes use.
	HeldOut map[string]map[string]Recall `json:"int8_recall_by_format"`
	// TokenAgreement is the share of tokens whose int8 label equals the
	// fp32 label of reference/test_tokens.json (PyTorch).
	TokenAgreement float64 `json:"int8_fp32_token_agreement"`
	Tokens         int     `json:"tokens"`
	// TokenizerMatches counts notes whose Lepton token ids hash as the
	// training ids did.
	TokenizerMatches int `json:"tokenizer_matches"`
	// Misses lists, per type and format, gold entities the int8 model
	// missed (wrong span or type); FalsePositives what it found that is no
	// entity of that type.
	Misses         map[string]int `json:"int8_misses_by_format"`
	FalsePositives map[string]int `json:"int8_false_positives_by_type"`
	// Masking is what redaction with the int8 model alone leaves of the gold
	// identifiers, per type and over all ("all"): a span masked as any
	// type counts, since lepton redact masks whatever it finds.
	Masking map[string]Masking `json:"int8_masking"`
}

// Masking counts how much of the gold identifiers redaction covers:
// identifiers whose letters and digits are all masked, some, or none
// (white space and punctuation reveal nothing and are not counted), and
// the letters and digits left in the clear.
type Masking struct {
	Identifiers int `json:"identifiers"`
	Full        int `json:"fully_masked"`
	Partly      int `json:"partly_masked"`
	None        int `json:"not_masked"`
	Chars       int `json:"chars"`
	CharsLeft   int `json:"chars_left"`
}

// masking measures what masking pred leaves of gold (see Masking).
func masking(notes []Note, gold, pred []span) map[string]Masking {
	covered := make([][]bool, len(notes))
	for i, n := range notes {
		covered[i] = make([]bool, len(n.Text))
	}
	for _, p := range pred {
		for b := p.start; b < p.end; b++ {
			covered[p.note][b] = true
		}
	}
	out := map[string]Masking{}
	for _, g := range gold {
		var chars, left int
		for b, r := range notes[g.note].Text[g.start:g.end] {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				chars++
				if !covered[g.note][g.start+b] {
					left++
				}
			}
		}
		for _, k := range []string{g.typ, "all"} {
			m := out[k]
			m.Identifiers++
			m.Chars += chars
			m.CharsLeft += left
			switch {
			case left == 0:
				m.Full++
			case left == chars:
				m.None++
			default:
				m.Partly++
			}
			out[k] = m
		}
	}
	return out
}

func trainDir(root string) string { return filepath.Join(root, "examples", "train-deid") }

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

// readNotes reads a JSON-lines file of notes.
func readNotes(path string) ([]Note, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var notes []Note
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		var n Note
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", errData, path, i+1, err)
		}
		notes = append(notes, n)
	}
	return notes, nil
}

// goldSpans converts each note's code-point offsets to byte offsets.
func goldSpans(notes []Note) ([]span, map[span]string, error) {
	var out []span
	fmts := map[span]string{}
	for i, n := range notes {
		byteAt := make([]int, 0, len(n.Text)+1)
		for b := range n.Text {
			byteAt = append(byteAt, b)
		}
		byteAt = append(byteAt, len(n.Text))
		for _, e := range n.Entities {
			if e.Start < 0 || e.End > len(byteAt)-1 || e.Start >= e.End {
				return nil, nil, fmt.Errorf("%w: note %s: entity [%d, %d)", errData, n.ID, e.Start, e.End)
			}
			s := span{i, e.Type, byteAt[e.Start], byteAt[e.End]}
			out = append(out, s)
			fmts[s] = e.Fmt
		}
	}
	return out, fmts, nil
}

// tag runs the model over every note and returns its entities as spans.
func tag(ctx context.Context, m *lepton.Model, notes []Note, opts ...lepton.CallOption) ([]span, error) {
	texts := make([]string, len(notes))
	for i, n := range notes {
		texts[i] = n.Text
	}
	res, err := m.Tag(ctx, texts, opts...)
	if err != nil {
		return nil, err
	}
	var out []span
	for i, ents := range res {
		for _, e := range ents {
			out = append(out, span{i, e.Label, e.Start, e.End})
		}
	}
	return out, nil
}

// Regular-expression baseline: what an engineer would write for the
// pattern-like types without seeing the test notes. Each type's
// alternatives are one leftmost-longest expression.
const months = `(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)`

var baseline = map[string]*regexp.Regexp{
	"DATE": longest(
		`\b\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})\b`,                                // 12/03/2024, 3/12/24, 12.03.2024, 12-03-2024
		`\b\d{4}-\d{1,2}-\d{1,2}\b`,                                                    // ISO 2024-03-12
		`\b(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b`,                   // 20240312 (HL7)
		`\b\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?[\s\-]+`+months+`\.?(?:,?[\s\-]+\d{4})?\b`, // 12 March 2024, 12-Mar-2024, 3rd of March
		`\b`+months+`\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b`,                        // March 12, 2024
		`\b`+months+`\s+\d{4}\b`,                                                       // March 2024
	),
	"PHONE": longest(
		`(?:\+\d{1,3}\s?)?(?:\(0\)\s?)?\(?\d{2,5}\)?[\s.\-]\d{3,4}[\s.\-]\d{3,4}\b`, // (555) 123-4567, 0113 496 0000, +44 (0)20 7946 0958
		`\b07\d{3}\s?\d{6}\b`,                   // UK mobile
		`\+\d{1,3}\s\d{3,4}\s\d{3}\s?\d{3,4}\b`, // +44 7700 900123
		`\b\d{3}-\d{4}\b`,                       // 555-1234
	),
	"ID": longest(
		`\b(?:[A-Z]{1,3}-?)?\d{6,12}\b`, // 00482913, H1234567, MRN style
		`\b\d{3}\s\d{3}\s\d{4}\b`,       // NHS number
		`\b\d{3}-\d{2}-\d{4}\b`,         // US SSN
		`\b\d{4}-\d{4}\b`,               // 4829-1303
		`\b[A-Z]{2,3}-\d{4}-\d{4,6}\b`,  // RX-2024-00123
	),
	"EMAIL": longest(`\b[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+\b`),
}

func longest(alts ...string) *regexp.Regexp {
	re := regexp.MustCompile(`(?:` + strings.Join(alts, `)|(?:`) + `)`)
	re.Longest()
	return re
}

func regexSpans(notes []Note) []span {
	var out []span
	for i, n := range notes {
		for _, t := range PatternTypes {
			for _, m := range baseline[t].FindAllStringIndex(n.Text, -1) {
				out = append(out, span{i, t, m[0], m[1]})
			}
		}
	}
	return out
}

// reference is reference/test_tokens.json.
type reference struct {
	Labels []string `json:"labels"`
	Notes  []struct {
		ID     string      `json:"id"`
		IDsSHA string      `json:"ids_sha256"`
		Argmax []int       `json:"argmax"`
		Logits [][]float64 `json:"logits"`
	} `json:"notes"`
}

// metrics is the part of metrics.json eval reads.
type metrics struct {
	TestFP32 map[string]PRF `json:"test_fp32"`
}

// idHash is train.py's hash of a note's token ids (without [CLS]/[SEP]):
// sha256 of the decimal ids joined by commas, first 16 hex digits.
func idHash(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// config is what evaluate needs besides the model.
type config struct {
	root     string
	data     string // test notes (default: data/test.jsonl)
	tok      *tokenize.Tokenizer
	actBits  int
	fp32     *lepton.Model // optional: a --keep-fp32 file of the same model
	withRefs bool          // compare with reference/ and metrics.json
	hybrid   bool          // describe the hybrid's misses and masking, not the model's
}

func evaluate(ctx context.Context, m *lepton.Model, c config) (*Report, error) {
	notes, err := readNotes(c.data)
	if err != nil {
		return nil, err
	}
	gold, fmts, err := goldSpans(notes)
	if err != nil {
		return nil, err
	}
	rep := &Report{Data: filepath.Base(c.data), Notes: len(notes), Aggregation: lepton.AggregateFirst.String(), ActBits: c.actBits}
	tmpl := map[string]bool{}
	for _, n := range notes {
		tmpl[n.Template] = true
	}
	for t := range tmpl {
		rep.Templates = append(rep.Templates, t)
	}
	slices.Sort(rep.Templates)

	pred, err := tag(ctx, m, notes, lepton.WithAggregation(lepton.AggregateFirst))
	if err != nil {
		return nil, err
	}
	rep.Int8 = score(gold, pred, Types)
	pt := score(gold, pred, PatternTypes)
	rep.Int8Pattern = pt["all"]
	rep.Regex = score(gold, regexSpans(notes), PatternTypes)
	var pats []span
	for i, n := range notes {
		for _, e := range lepton.FindPatterns(n.Text) {
			pats = append(pats, span{i, e.Label, e.Start, e.End})
		}
	}
	rep.Patterns = score(gold, pats, Types)
	rep.PatternsPattern = score(gold, pats, PatternTypes)["all"]
	hyb, err := tag(ctx, m, notes, lepton.WithAggregation(lepton.AggregateFirst), lepton.WithPatterns(true))
	if err != nil {
		return nil, err
	}
	rep.Hybrid = score(gold, hyb, Types)
	rep.HybridPattern = score(gold, hyb, PatternTypes)["all"]
	rep.HybridMasking = masking(notes, gold, hyb)
	rep.Masking = masking(notes, gold, pred)
	rep.Policies = comparePolicies(notes, gold, pred, pats)
	rep.Policies[policyShipped] = policyFigures(notes, gold, hyb)
	rep.Detail = "int8"
	if c.hybrid {
		pred, rep.Detail = hyb, "hybrid"
	}
	if c.fp32 != nil {
		fp, err := tag(ctx, c.fp32, notes, lepton.WithAggregation(lepton.AggregateFirst), lepton.WithFloat32(true))
		if err != nil {
			return nil, err
		}
		rep.Fp32Lepton = score(gold, fp, Types)
	}

	// Where it fails: recall by format, misses and false positives.
	found := map[span]bool{}
	for _, p := range pred {
		found[p] = true
	}
	isGold := map[span]bool{}
	for _, g := range gold {
		isGold[g] = true
	}
	rep.HeldOut = map[string]map[string]Recall{}
	rep.Misses = map[string]int{}
	for _, g := range gold {
		kind := "seen formats"
		if strings.Contains(fmts[g], "held-out") {
			kind = "held-out formats"
		}
		if rep.HeldOut[g.typ] == nil {
			rep.HeldOut[g.typ] = map[string]Recall{}
		}
		r := rep.HeldOut[g.typ][kind]
		r.Total++
		if found[g] {
			r.Found++
		} else {
			rep.Misses[g.typ+" / "+fmts[g]]++
		}
		rep.HeldOut[g.typ][kind] = r
	}
	rep.DetailMasking = masking(notes, gold, pred)
	rep.FalsePositives = map[string]int{}
	for _, p := range pred {
		if !isGold[p] {
			rep.FalsePositives[p.typ]++
		}
	}

	if !c.withRefs {
		return rep, nil
	}
	var ref reference
	if err := readJSON(filepath.Join(trainDir(c.root), "reference", "test_tokens.json"), &ref); err != nil {
		return nil, err
	}
	if len(ref.Notes) != len(notes) {
		return nil, fmt.Errorf("%w: reference has %d notes, data %d", errData, len(ref.Notes), len(notes))
	}
	var mt metrics
	if err := readJSON(filepath.Join(trainDir(c.root), "metrics.json"), &mt); err != nil {
		return nil, err
	}
	rep.Fp32PyTorch = mt.TestFP32
	texts := make([]string, len(notes))
	for i, n := range notes {
		texts[i] = n.Text
	}
	perTok, err := m.Tag(ctx, texts, lepton.WithAggregation(lepton.AggregateNone), lepton.WithIgnoreLabels())
	if err != nil {
		return nil, err
	}
	agree := 0
	for i, n := range notes {
		r := ref.Notes[i]
		if r.ID != n.ID {
			return nil, fmt.Errorf("%w: reference note %d is %s, data %s", errData, i, r.ID, n.ID)
		}
		enc, err := c.tok.Encode(n.Text, tokenize.EncodeOptions{})
		if err != nil {
			return nil, err
		}
		if idHash(enc.IDs[1:len(enc.IDs)-1]) == r.IDsSHA {
			rep.TokenizerMatches++
		}
		if len(perTok[i]) != len(r.Argmax) {
			return nil, fmt.Errorf("%w: note %s: %d tokens, reference %d", errData, n.ID, len(perTok[i]), len(r.Argmax))
		}
		for k, e := range perTok[i] {
			rep.Tokens++
			if e.Label == ref.Labels[r.Argmax[k]] {
				agree++
			}
		}
	}
	if rep.Tokens > 0 {
		rep.TokenAgreement = float64(agree) / float64(rep.Tokens)
	}
	return rep, nil
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

// f1Summary is "0.9123 (NAME 0.9000, DATE ..., EMAIL ...)": F1 over all
// types, then per type.
func f1Summary(m map[string]PRF) string {
	parts := make([]string, len(Types))
	for i, t := range Types {
		parts[i] = fmt.Sprintf("%s %.4f", t, m[t].F1)
	}
	return fmt.Sprintf("%.4f (%s)", m["all"].F1, strings.Join(parts, ", "))
}

// Metadata is what build.sh records in the model file (lepton info shows
// it), from this report; TestEvaluate checks the built-in model's against
// a fresh measurement.
func (r *Report) Metadata() map[string]string {
	return map[string]string{
		"test_notes":                     fmt.Sprintf("%d notes from %d note templates not used in training (examples/train-deid/data/test.jsonl)", r.Notes, len(r.Templates)),
		"test_f1_int8":                   f1Summary(r.Int8),
		"test_f1_fp32":                   f1Summary(r.Fp32PyTorch),
		"test_precision_recall_int8":     fmt.Sprintf("precision %.4f, recall %.4f", r.Int8["all"].Precision, r.Int8["all"].Recall),
		"test_f1_regex_pattern_types":    fmt.Sprintf("regular expressions %.4f, this model %.4f (DATE, PHONE, ID, EMAIL)", r.Regex["all"].F1, r.Int8Pattern.F1),
		"test_int8_fp32_token_agreement": fmt.Sprintf("%.4f", r.TokenAgreement),
		"test_masking_int8": fmt.Sprintf("%d of %d identifiers fully masked, %d partly, %d not at all; %.1f%% of their letters and digits left",
			r.Masking["all"].Full, r.Masking["all"].Identifiers, r.Masking["all"].Partly, r.Masking["all"].None, r.Masking["all"].leftPercent()),
	}
}

// detailName names the predictions the detail sections describe.
func (r *Report) detailName() string {
	if r.Detail == "hybrid" {
		return "int8 model + patterns"
	}
	return "int8"
}

// summary is "2930 (85.7%), 8.0%": fully masked and letters left.
func (m Masking) summary() string {
	if m.Identifiers == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%.1f%%), %.1f%%", m.Full, 100*float64(m.Full)/float64(m.Identifiers), m.leftPercent())
}

// leftPercent is the share of letters and digits left unmasked, in %.
func (m Masking) leftPercent() float64 {
	if m.Chars == 0 {
		return 0
	}
	return 100 * float64(m.CharsLeft) / float64(m.Chars)
}

// markdown prints the results table of README.md and where it fails.
func (r *Report) markdown(w io.Writer) error {
	f := func(p PRF) string { return fmt.Sprintf("%.3f / %.3f / %.3f", p.Precision, p.Recall, p.F1) }
	opt := func(m map[string]PRF, t string) string {
		if m == nil {
			return "-"
		}
		p, ok := m[t]
		if !ok {
			return "-"
		}
		return f(p)
	}
	fmt.Fprintf(w, "Entity-level precision / recall / F1 (exact type and span) on %d notes (%s) from %d templates not used in training (%s aggregation):\n\n",
		r.Notes, r.Data, len(r.Templates), r.Aggregation)
	fmt.Fprintln(w, "| type | entities | Lepton int8 | fp32 (PyTorch) | regular expressions |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, t := range append(slices.Clone(Types), "all") {
		rx := "-"
		if p, ok := r.Regex[t]; ok && t != "all" {
			rx = f(p)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", t, r.Int8[t].Gold, f(r.Int8[t]), opt(r.Fp32PyTorch, t), rx)
	}
	fmt.Fprintf(w, "| DATE+PHONE+ID+EMAIL | %d | %s | | %s |\n\n", r.Int8Pattern.Gold, f(r.Int8Pattern), f(r.Regex["all"]))
	fmt.Fprintln(w, "The model, lepton.FindPatterns and the two together (lepton.WithPatterns(true)), int8:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| type | entities | model | patterns | model + patterns |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, t := range append(slices.Clone(Types), "all") {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", t, r.Int8[t].Gold, f(r.Int8[t]), f(r.Patterns[t]), f(r.Hybrid[t]))
	}
	fmt.Fprintf(w, "| DATE+PHONE+ID+EMAIL | %d | %s | %s | %s |\n\n", r.Int8Pattern.Gold, f(r.Int8Pattern), f(r.PatternsPattern), f(r.HybridPattern))
	fmt.Fprintln(w, "What redaction leaves, model alone / model + patterns (fully masked; letters and digits left):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| type | identifiers | model | model + patterns |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, t := range append(slices.Clone(Types), "all") {
		a, b := r.Masking[t], r.HybridMasking[t]
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", t, b.Identifiers, a.summary(), b.summary())
	}
	fmt.Fprintln(w)
	if r.Fp32Lepton != nil {
		fmt.Fprintf(w, "Lepton's fp32 path: all %s.\n\n", f(r.Fp32Lepton["all"]))
	}
	if r.Tokens > 0 {
		fmt.Fprintf(w, "int8 and fp32 label %d tokens the same of %d (%.2f%%); Lepton's tokenizer reproduces the training ids on %d of %d notes.\n\n",
			int(r.TokenAgreement*float64(r.Tokens)+0.5), r.Tokens, 100*r.TokenAgreement, r.TokenizerMatches, r.Notes)
	}
	fmt.Fprintln(w, "Ways to merge the model's entities with the patterns' (F1 over all types and over DATE+PHONE+ID+EMAIL; what redaction leaves):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| merge | F1 all | F1 pattern types | fully masked | letters and digits left |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, name := range policyNames {
		p := r.Policies[name]
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.1f%% | %.1f%% |\n", name, p.F1, p.PatternF1, p.FullPercent, p.LeftPercent)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "What redaction leaves of the identifiers (%s; masked as any type; letters and digits):\n", r.detailName())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| type | identifiers | fully masked | partly | not at all | letters and digits left |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, t := range append(slices.Clone(Types), "all") {
		m := r.DetailMasking[t]
		fmt.Fprintf(w, "| %s | %d | %d (%.1f%%) | %d | %d | %.1f%% |\n", t, m.Identifiers, m.Full, 100*float64(m.Full)/float64(max(1, m.Identifiers)), m.Partly, m.None, m.leftPercent())
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Recall (%s) on formats seen in training / held out of it:\n", r.detailName())
	fmt.Fprintln(w)
	for _, t := range Types {
		s, h := r.HeldOut[t]["seen formats"], r.HeldOut[t]["held-out formats"]
		fmt.Fprintf(w, "- %s: %d/%d seen, %d/%d held-out\n", t, s.Found, s.Total, h.Found, h.Total)
	}
	type kv struct {
		k string
		v int
	}
	var ms []kv
	for k, v := range r.Misses {
		ms = append(ms, kv{k, v})
	}
	slices.SortFunc(ms, func(a, b kv) int { return cmp.Or(b.v-a.v, strings.Compare(a.k, b.k)) })
	fmt.Fprintf(w, "\nMost missed (%s, type / format: count):\n", r.detailName())
	fmt.Fprintln(w)
	for i, m := range ms {
		if i == 12 {
			break
		}
		fmt.Fprintf(w, "- %s: %d\n", m.k, m.v)
	}
	fmt.Fprintf(w, "\nFalse positives by type: %v\n", r.FalsePositives)
	return nil
}

// PolicyFigures sums up one way of merging model and pattern entities.
type PolicyFigures struct {
	F1          float64 `json:"f1"`
	PatternF1   float64 `json:"f1_pattern_types"`
	FullPercent float64 `json:"fully_masked_percent"`
	LeftPercent float64 `json:"chars_left_percent"`
}

// Merge policies compared on the validation notes before one was chosen
// for lepton.WithPatterns.
const (
	policyModel    = "model alone"
	policyPatterns = "patterns alone"
	policyShipped  = "pattern span and label win, model keeps its words outside (lepton.WithPatterns)"
	policyDrop     = "patterns for DATE/PHONE/ID/EMAIL, the model only for NAME/ADDRESS"
	policyUnion    = "union of overlapping spans, pattern's label"
)

var policyNames = []string{policyModel, policyPatterns, policyShipped, policyDrop, policyUnion}

func policyFigures(notes []Note, gold, pred []span) PolicyFigures {
	all, pt := score(gold, pred, Types)["all"], score(gold, pred, PatternTypes)["all"]
	m := masking(notes, gold, pred)["all"]
	return PolicyFigures{F1: all.F1, PatternF1: pt.F1, FullPercent: 100 * float64(m.Full) / float64(max(1, m.Identifiers)), LeftPercent: m.leftPercent()}
}

// comparePolicies scores the alternatives to lepton.WithPatterns' rule
// (the caller adds that one from the library's own output): model and
// pattern spans, per note, in order of position.
func comparePolicies(notes []Note, gold, model, pats []span) map[string]PolicyFigures {
	isPattern := map[string]bool{}
	for _, t := range PatternTypes {
		isPattern[t] = true
	}
	overlaps := func(a, b span) bool { return a.note == b.note && a.start < b.end && b.start < a.end }
	var drop, union []span
	for _, e := range model {
		if !isPattern[e.typ] {
			drop = append(drop, e)
		}
		hit := false
		for _, p := range pats {
			hit = hit || overlaps(e, p)
		}
		if !hit {
			union = append(union, e)
		}
	}
	drop = append(drop, pats...)
	for _, p := range pats {
		u := p
		for _, e := range model {
			if overlaps(e, p) {
				u.start, u.end = min(u.start, e.start), max(u.end, e.end)
			}
		}
		union = append(union, u)
	}
	return map[string]PolicyFigures{
		policyModel:    policyFigures(notes, gold, model),
		policyPatterns: policyFigures(notes, gold, pats),
		policyDrop:     policyFigures(notes, gold, drop),
		policyUnion:    policyFigures(notes, gold, union),
	}
}

// PatternRecord is what examples/train-deid/patterns-*.json record of a
// report (eval -patterns-json): the model, the patterns and the two
// together, per type, with what redaction leaves and the merge policies
// compared. TestPatternRecords checks the committed files against a fresh
// evaluation.
type PatternRecord struct {
	Data            string                   `json:"data"`
	Notes           int                      `json:"notes"`
	Model           map[string]PRF           `json:"model_int8"`
	Patterns        map[string]PRF           `json:"patterns"`
	Hybrid          map[string]PRF           `json:"model_int8_with_patterns"`
	ModelPattern    PRF                      `json:"model_int8_pattern_types"`
	PatternsPattern PRF                      `json:"patterns_pattern_types"`
	HybridPattern   PRF                      `json:"model_int8_with_patterns_pattern_types"`
	ModelMasking    Masking                  `json:"model_int8_masking"`
	HybridMasking   Masking                  `json:"model_int8_with_patterns_masking"`
	Policies        map[string]PolicyFigures `json:"merge_policies"`
}

// PatternRecord returns the report's PatternRecord.
func (r *Report) PatternRecord() PatternRecord {
	return PatternRecord{Data: r.Data, Notes: r.Notes, Model: r.Int8, Patterns: r.Patterns, Hybrid: r.Hybrid,
		ModelPattern: r.Int8Pattern, PatternsPattern: r.PatternsPattern, HybridPattern: r.HybridPattern,
		ModelMasking: r.Masking["all"], HybridMasking: r.HybridMasking["all"], Policies: r.Policies}
}
