package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"lepton"
)

func init() {
	register("classify", "classify texts with a .lep classifier (one result per text or stdin line)", runClassify)
}

// classifyJSON is one line of `lepton classify --json`.
type classifyJSON struct {
	// Line is the input's line number (its argument number for TEXT
	// arguments), so results can be joined back to inputs even when blank
	// lines were skipped.
	Line int    `json:"line"`
	Text string `json:"text,omitempty"` // absent under --no-text
	Pair string `json:"pair,omitempty"` // the second text under --pair
	// Label is the most probable label (calibrated under --calibration,
	// the privately released one under --dp-label-epsilon).
	Label string `json:"label"`
	Index int    `json:"index"`
	// Score is Label's probability and Top the labels by probability,
	// --top-k of them (default all); both absent under --dp-label-epsilon.
	Score *float32    `json:"score,omitempty"`
	Top   []labelProb `json:"top,omitempty"`
	// Diagnostics of the input (lepton.Diagnostics).
	Tokens    int     `json:"tokens"`
	Truncated bool    `json:"truncated"`
	Unknown   float64 `json:"unknown"`
	// Privacy is the released label's cost under --dp-label-epsilon.
	Privacy *dpCost `json:"privacy,omitempty"`
	// Decision is the fair decision under --thresholds.
	Decision *decisionJSON `json:"decision,omitempty"`
}

// labelProb is one entry of classifyJSON.Top.
type labelProb struct {
	Label string  `json:"label"`
	Prob  float32 `json:"prob"`
}

const classifyUsage = `usage: lepton classify [-m MODEL] [--json] [--top-k N] [--no-text] [--pair] [--in FILE | TEXT...]
Classifies each TEXT, or each line of --in FILE or of standard input, as
lines arrive: results are printed in input order, batch by batch.
Prints label, probability and text, tab-separated (with --top-k N, N label
and probability pairs before the text), or with --json one object per input:
{"line","text","label","index","score","top":[{"label","prob"}],"tokens","truncated","unknown"}.
Blank lines are skipped with a warning on stderr; the "line" field joins
results back to inputs. Text mode also warns about inputs that were
truncated or are mostly unknown to the model's vocabulary ([UNK]).
With --thresholds, decision=positive|negative comes before the text (JSON: "decision").
`

func runClassify(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	var ff fairFlags // classify_fairness.go
	ff.register(fs)
	var df dpFlags // privacy_flags.go
	df.registerClassify(fs)
	var pf progressFlags
	pf.register(fs)
	pair := fs.Bool("pair", false, "classify text pairs: two TEXT arguments, or two tab-separated texts per line")
	inPath := fs.String("in", "", "read texts from this file, one per line (\"-\": standard input)")
	topK := fs.Int("top-k", 0, "labels to show per input, most probable first (0: 1 in text mode, all with --json)")
	noText := fs.Bool("no-text", false, "leave the input text out of the output")
	pos, err := parseArgs(fs, args, stderr, classifyUsage)
	if err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	df.parsed(fs)
	if *topK < 0 {
		return usagef("--top-k %d: want 0 (the default) or more", *topK)
	}
	if *topK > 0 && df.set["dp-label-epsilon"] {
		return usagef("--top-k cannot be combined with --dp-label-epsilon (the private release hides the probabilities)")
	}
	fopts, err := ff.options(df.set["dp-label-epsilon"])
	if err != nil {
		return err
	}
	dopts, err := df.classifyOptions()
	if err != nil {
		return err
	}
	if *pair && len(pos) > 0 && len(pos) != 2 {
		return usagef("--pair takes two TEXT arguments, got %d", len(pos))
	}
	src, closeIn, err := openInputs(pos, *inPath, stdin, false)
	if err != nil {
		return err
	}
	defer closeIn()
	if *pair && src.fromArgs {
		// One input, "a<TAB>b" as on a line (a tab is white space to the
		// tokenizer, so one inside a text changes nothing but the split).
		tab := strings.NewReplacer("\t", " ")
		src.args = []string{tab.Replace(pos[0]) + "\t" + tab.Replace(pos[1])}
	}
	m, err := mf.open()
	if err != nil {
		return err
	}
	defer m.Close()
	if err := ff.checkModel(m.Info().Labels); err != nil { // classify_fairness.go
		return err
	}
	// Truncation stays on in the library so that a batch never fails as a
	// whole; --no-truncate is enforced below, naming the line.
	callOpts := append(append(fopts, dopts...), lepton.WithTruncation(true))
	ctx, cancel := interruptible()
	defer cancel()

	prog := newProgress(pf, stdout, stderr, src, "classify")
	warn := newWarnings(stderr, "classify", prog)
	if src.interactive() {
		fmt.Fprintln(stderr, "lepton classify: reading one text per line (Ctrl-D ends)")
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	labels := m.Info().Labels
	k := *topK
	if k == 0 {
		k = 1
		if mf.json {
			k = len(labels)
		}
	}
	k = min(k, len(labels))

	err = src.stream(ctx, func(batch []input) error {
		res, err := classifyBatch(ctx, m, batch, src.fromArgs, *pair, callOpts)
		if err != nil {
			return err
		}
		ids := ff.requestIDs(batch, src.fromArgs, len(src.args))
		decs, err := ff.decide(res, ids, labels)
		if err != nil {
			return err
		}
		// Deferred in reverse: erase the bar, flush this batch's results
		// (those before a failing input too), redraw the bar.
		defer prog.advance(batch)
		defer out.Flush()
		defer prog.beforeOutput()
		for i := range batch {
			in := &batch[i]
			r := res[i]
			d := r.Diagnostics
			where, ok, err := mf.admit(warn, in, src.fromArgs, d, m)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if !mf.json {
				warnDiagnostics(warn, in, where, d, m, mf.maxLength)
			}
			text, second := in.text, ""
			if *pair {
				text, second, _ = strings.Cut(in.text, "\t")
			}
			if mf.json {
				j := classifyJSON{Line: in.n, Label: r.Label, Index: r.Index, Privacy: r.Privacy, Decision: decisionAt(decs, i),
					Tokens: d.Tokens, Truncated: d.Truncated, Unknown: round4(d.Unknown)}
				if !*noText {
					j.Text, j.Pair = text, second
				}
				if r.Probs != nil {
					s := r.Probs[r.Index]
					j.Score = &s
					j.Top = topLabels(labels, r.Probs, k)
				}
				if err := enc.Encode(j); err != nil {
					return err
				}
				continue
			}
			if r.Privacy != nil { // no probabilities under DP: print the epsilon spent
				fmt.Fprintf(out, "%s\teps=%g", r.Label, r.Privacy.Epsilon)
			} else {
				for j, t := range topLabels(labels, r.Probs, k) {
					if j > 0 {
						out.WriteByte('\t')
					}
					fmt.Fprintf(out, "%s\t%.4f", t.Label, t.Prob)
				}
			}
			if dec := decisionAt(decs, i); dec != nil { // --thresholds: the decision before the text
				out.WriteString("\t" + dec.word())
			}
			if !*noText {
				out.WriteByte('\t')
				out.WriteString(echo(in.text))
			}
			out.WriteByte('\n')
		}
		return nil
	})
	prog.finish()
	warn.summary()
	return err
}

// classifyBatch classifies the inputs of batch that are not skipped and
// returns one result per batch entry (zero for skipped ones). A failure
// names the lines of the batch.
func classifyBatch(ctx context.Context, m *lepton.Model, batch []input, fromArgs, pair bool, opts []lepton.CallOption) ([]lepton.Classification, error) {
	var (
		texts []string
		pairs [][2]string
		at    []int // batch index of each text
	)
	for i := range batch {
		in := &batch[i]
		if in.skip != "" {
			continue
		}
		if pair {
			a, b, ok := strings.Cut(in.text, "\t")
			if !ok {
				return nil, fmt.Errorf("%s: --pair wants two tab-separated texts", in.where(fromArgs))
			}
			pairs = append(pairs, [2]string{a, b})
		} else {
			texts = append(texts, in.text)
		}
		at = append(at, i)
	}
	out := make([]lepton.Classification, len(batch))
	if len(at) == 0 {
		return out, nil
	}
	var (
		res []lepton.Classification
		err error
	)
	if pair {
		res, err = m.ClassifyPairs(ctx, pairs, opts...)
	} else {
		res, err = m.Classify(ctx, texts, opts...)
	}
	if err != nil {
		return nil, batchError(err, batch, fromArgs)
	}
	for j, i := range at {
		out[i] = res[j]
	}
	return out, nil
}

// batchError names the lines of a batch whose call failed (the library
// numbers inputs within the call). Option errors are usage errors.
func batchError(err error, batch []input, fromArgs bool) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, lepton.ErrInvalidOption) {
		return optionError(err)
	}
	first, last := batch[0].where(fromArgs), batch[len(batch)-1].n
	if len(batch) == 1 {
		return fmt.Errorf("%s: %w", first, err)
	}
	return fmt.Errorf("%s to %d: %w", first, last, err)
}

// admit decides what becomes of one input of a batch before its result
// is printed, the same way for every command that prints one result per
// input: a skipped line (blank, binary) and a text with no tokens once
// normalised are warned about and left out (ok false); a truncated text is
// an error with --no-truncate. where names the input for messages.
func (mf *modelFlags) admit(w *warnings, in *input, fromArgs bool, d lepton.Diagnostics, m *lepton.Model) (where string, ok bool, err error) {
	if in.skip != "" {
		w.skipped(in, fromArgs)
		return "", false, nil
	}
	where = in.where(fromArgs)
	if d.Tokens == 0 {
		w.warn(warnNoTokens, "%s: no tokens once normalised (control characters only?), skipped", where)
		return where, false, nil
	}
	if d.Truncated && mf.noTruncate {
		return where, false, fmt.Errorf("%s: longer than the max length of %d tokens (--no-truncate)", where, maxTokens(m, mf.maxLength))
	}
	return where, true, nil
}

// mostlyUnknown is the share of [UNK] tokens from which an input is
// reported as mostly unreadable by the model.
const mostlyUnknown = 0.5

// warnDiagnostics prints text mode's warnings about one input's
// diagnostics.
func warnDiagnostics(w *warnings, in *input, where string, d lepton.Diagnostics, m *lepton.Model, maxLength int) {
	if in.badUTF8 {
		w.warn(warnUTF8, "%s: not valid UTF-8 (is the input in another encoding?); the invalid bytes were ignored", where)
	}
	if d.Truncated {
		w.warn(warnTruncated, "%s: truncated: only its first %d tokens were read (max length %d; the text has %d bytes)",
			where, d.Tokens, maxTokens(m, maxLength), len(in.text))
	}
	if d.Unknown >= mostlyUnknown {
		unk := int(math.Round(d.Unknown * float64(d.Tokens)))
		what := fmt.Sprintf("%d of its %d tokens are", unk, d.Tokens)
		switch {
		case d.Tokens == 1:
			what = "its only token is"
		case unk == d.Tokens:
			what = fmt.Sprintf("all %d of its tokens are", unk)
		}
		w.warn(warnUnknown, "%s: %s [UNK], unknown to the model's vocabulary: the answer says little about the text", where, what)
	}
}

// maxTokens is the max length in force: --max-length, else the model's.
func maxTokens(m *lepton.Model, maxLength int) int {
	if maxLength > 0 {
		return maxLength
	}
	return m.Info().MaxLength
}

// topLabels returns the k most probable labels, ties in label order.
func topLabels(labels []string, probs []float32, k int) []labelProb {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	out := make([]labelProb, 0, k)
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, labelProb{labels[i], probs[i]})
	}
	return out
}

// round4 rounds a share to 4 decimals for printing.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// echo makes an input text safe to print as the last column of a line:
// line breaks become spaces, invalid UTF-8 and control characters other
// than tab become U+FFFD (so a text cannot move the cursor or recolour a
// terminal), and output lines stay aligned with inputs.
func echo(s string) string {
	s = oneLine.Replace(s)
	clean := true
	for _, r := range s {
		if r == unicode.ReplacementChar || (unicode.IsControl(r) && r != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s { // ranging decodes invalid bytes as U+FFFD
		if unicode.IsControl(r) && r != '\t' {
			r = unicode.ReplacementChar
		}
		b.WriteRune(r)
	}
	return b.String()
}

// oneLine turns line breaks into spaces in echoed texts.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// requestIDs returns the --thresholds request id of each batch entry (nil
// without --thresholds): the id itself for a single TEXT argument, ID#N
// for argument N of several, and ID#LINE for lines of a stream, so every
// input has its own coin and can be re-decided alone.
func (f *fairFlags) requestIDs(batch []input, fromArgs bool, nargs int) []string {
	if f.thr == nil {
		return nil
	}
	ids := make([]string, len(batch))
	for i, in := range batch {
		if fromArgs && nargs == 1 {
			ids[i] = f.requestID
		} else {
			ids[i] = f.requestID + "#" + strconv.Itoa(in.n)
		}
	}
	return ids
}
