package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"lepton"
)

func init() {
	register("tag", "find entities (names, dates, ...) in texts with a token-classification model", runTag)
}

// tagFlags are the flags tag and redact share besides modelFlags.
type tagFlags struct {
	aggregation string
	ignore      string
	stride      int
	patterns    optionalBool
	// usePatterns is what options decided: --patterns, or its default.
	usePatterns bool
}

// optionalBool is a boolean flag that knows whether it was given.
type optionalBool struct{ set, on bool }

func (b *optionalBool) IsBoolFlag() bool { return true }
func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return "auto"
	}
	return strconv.FormatBool(b.on)
}
func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	b.set, b.on = true, v
	return nil
}

func (f *tagFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.stride, "stride", -1, "tokens shared by consecutive windows of a long text (-1: a quarter of a window)")
	fs.StringVar(&f.aggregation, "aggregation", "first", "how tokens become entities: none, simple, first, average or max (Hugging Face's strategies)")
	fs.StringVar(&f.ignore, "ignore", "O", "comma-separated labels to leave out (\"\": keep every token or group)")
	fs.Var(&f.patterns, "patterns", "also find dates, phone numbers, record numbers (ID) and email addresses with regular expressions, merged with the model's entities (default: on for the built-in model, off with -m or --aggregation none)")
}

// options checks the flags and turns them into the options of each Tag
// call; builtIn says whether the built-in de-identification model runs
// (no -m), for --patterns' default.
func (f *tagFlags) options(builtIn bool) ([]lepton.CallOption, error) {
	agg, err := lepton.ParseAggregation(f.aggregation)
	if err != nil {
		return nil, usagef("--aggregation %q: want none, simple, first, average or max", f.aggregation)
	}
	f.usePatterns = builtIn && agg != lepton.AggregateNone
	if f.patterns.set {
		if f.patterns.on && agg == lepton.AggregateNone {
			return nil, usagef("--patterns: needs grouped entities, not --aggregation none")
		}
		f.usePatterns = f.patterns.on
	}
	if f.stride < -1 {
		return nil, usagef("--stride %d: want -1 (a quarter of a window) or a token count", f.stride)
	}
	var ignore []string
	for _, l := range strings.Split(f.ignore, ",") {
		if l = strings.TrimSpace(l); l != "" {
			ignore = append(ignore, l)
		}
	}
	call := []lepton.CallOption{lepton.WithAggregation(agg), lepton.WithIgnoreLabels(ignore...), lepton.WithPatterns(f.usePatterns)}
	if f.stride >= 0 {
		call = append(call, lepton.WithStride(f.stride))
	}
	return call, nil
}

// openTagger opens the model of tag and redact, checks that it is a token
// classifier and that --max-length and --stride leave every window room
// for new text.
func openTagger(mf *modelFlags, tf *tagFlags) (*lepton.Model, error) {
	if mf.maxLength != 0 && mf.maxLength < 3 {
		return nil, usagef("--max-length %d: want 0 (the model's limit) or at least 3 ([CLS], [SEP] and one token of text)", mf.maxLength)
	}
	m, err := mf.open()
	if err != nil {
		return nil, err
	}
	if info := m.Info(); info.Architecture != "BertForTokenClassification" {
		m.Close()
		return nil, flagError("m", fmt.Errorf("%s is not a token classifier (BertForTokenClassification)", info.Architecture))
	}
	// BERT's template puts [CLS] and [SEP] around every window.
	if window := maxTokens(m, mf.maxLength) - 2; tf.stride >= window {
		m.Close()
		return nil, usagef("--stride %d: want less than the %d tokens of text a window holds (--max-length %d)", tf.stride, window, window+2)
	}
	return m, nil
}

// entityJSON is one entity in JSON output. Offsets are given twice: in
// bytes of the UTF-8 input (what Go, Rust and byte-oriented tools index)
// and in Unicode code points (what Python's str indexes).
type entityJSON struct {
	Label     string  `json:"label"`
	Score     float32 `json:"score"`
	Start     int     `json:"start"`
	End       int     `json:"end"`
	CharStart int     `json:"char_start"`
	CharEnd   int     `json:"char_end"`
	Text      string  `json:"text"`
	Index     *int    `json:"index,omitempty"` // token position under --aggregation none
}

// tagJSON is one line of `lepton tag --json`.
type tagJSON struct {
	// Line is the input's line number (argument number for TEXT
	// arguments; 1 under --whole), as in classify.
	Line     int          `json:"line"`
	Text     string       `json:"text,omitempty"` // absent under --no-text
	Entities []entityJSON `json:"entities"`
	// Diagnostics of the input (lepton.Diagnostics; Tag reads every
	// token, so there is no "truncated").
	Tokens  int     `json:"tokens"`
	Unknown float64 `json:"unknown"`
}

// toJSON converts entities of text for JSON output, counting code points
// once along the text.
func toJSON(text string, ents []lepton.Entity) []entityJSON {
	out := make([]entityJSON, len(ents))
	pos, chars := 0, 0
	charAt := func(b int) int {
		// Entities are in order of Start, and End <= next Start, so one
		// forward walk serves both.
		if b < pos {
			pos, chars = 0, 0
		}
		chars += utf8.RuneCountInString(text[pos:b])
		pos = b
		return chars
	}
	for i, e := range ents {
		out[i] = entityJSON{Label: e.Label, Score: e.Score, Start: e.Start, End: e.End, Text: e.Text}
		out[i].CharStart = charAt(e.Start)
		out[i].CharEnd = charAt(e.End)
		if e.Index >= 0 {
			idx := e.Index
			out[i].Index = &idx
		}
	}
	return out
}

const tagUsage = `usage: lepton tag [-m MODEL] [--json] [--no-text] [--aggregation first] [--ignore O] [--patterns=false] [--whole] [--in FILE | TEXT...]
Finds entities with a token-classification model (default: the built-in
de-identification model: NAME, DATE, PHONE, ID, ADDRESS, EMAIL). With the
built-in model, dates, phone numbers, record numbers (ID) and email
addresses are also found by regular expressions (score 1) and merged with
the model's entities: a pattern's span and label win, the model's words
outside it are kept (--patterns=false: the model alone; --patterns with -m:
add them to another model's entities). Texts come
from the arguments, or one per line from --in FILE or standard input, as
lines arrive (--whole: all of the input is one text). Long texts are read
whole, in overlapping windows. Prints one line per entity: line number,
start and end (byte offsets into that line), label, score and the entity's
text, tab-separated; with --json one object per input:
{"line","text","entities":[{"label","score","start","end","char_start","char_end","text"}],"tokens","unknown"},
offsets in bytes ("start", "end") and in Unicode code points ("char_start",
"char_end"). Blank lines have no entities. Text mode warns about inputs that
are mostly unknown to the model's vocabulary ([UNK]) or not valid UTF-8.
`

func runTag(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tag", flag.ContinueOnError)
	mf := modelFlags{tagger: true}
	mf.register(fs)
	var tf tagFlags
	tf.register(fs)
	var pf progressFlags
	pf.register(fs)
	inPath := fs.String("in", "", "read texts from this file, one per line (\"-\": standard input)")
	whole := fs.Bool("whole", false, "read all of --in FILE or standard input as one text instead of one text per line")
	noText := fs.Bool("no-text", false, "leave the input text out of --json output")
	pos, err := parseArgs(fs, args, stderr, tagUsage)
	if err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	call, err := tf.options(mf.model == "")
	if err != nil {
		return err
	}
	if *whole && len(pos) > 0 {
		return usagef("--whole reads --in FILE or standard input: give TEXT arguments or --whole, not both")
	}
	src, closeIn, err := openInputs(pos, *inPath, stdin, true)
	if err != nil {
		return err
	}
	defer closeIn()
	m, err := openTagger(&mf, &tf)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()
	if *whole {
		if src, err = src.whole(); err != nil {
			return err
		}
	}

	prog := newProgress(pf, stdout, stderr, src, "tag")
	warn := newWarnings(stderr, "tag", prog)
	if src.interactive() {
		fmt.Fprintln(stderr, "lepton tag: reading one text per line (Ctrl-D ends)")
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	err = src.stream(ctx, func(batch []input) error {
		res, err := tagBatch(ctx, m, batch, src.fromArgs, call)
		if err != nil {
			return err
		}
		defer prog.advance(batch)
		defer out.Flush()
		defer prog.beforeOutput()
		for i := range batch {
			in, r := &batch[i], res[i]
			if !mf.json {
				warnDiagnostics(warn, in, in.where(src.fromArgs), r.Diagnostics, m, mf.maxLength)
				for _, e := range r.Entities {
					fmt.Fprintf(out, "%d\t%d\t%d\t%s\t%.4f\t%s\n", in.n, e.Start, e.End, e.Label, e.Score, echo(e.Text))
				}
				continue
			}
			j := tagJSON{Line: in.n, Entities: toJSON(in.text, r.Entities), Tokens: r.Diagnostics.Tokens, Unknown: round4(r.Diagnostics.Unknown)}
			if !*noText {
				j.Text = in.text
			}
			if err := enc.Encode(j); err != nil {
				return err
			}
		}
		return nil
	})
	prog.finish()
	warn.summary()
	return err
}

// tagBatch tags the texts of a batch, one result per entry; a failure
// names the lines of the batch.
func tagBatch(ctx context.Context, m *lepton.Model, batch []input, fromArgs bool, opts []lepton.CallOption) ([]lepton.Tagged, error) {
	texts := make([]string, len(batch))
	for i := range batch {
		texts[i] = batch[i].text
	}
	res, err := m.TagDetailed(ctx, texts, opts...)
	if err != nil {
		return nil, batchError(err, batch, fromArgs)
	}
	return res, nil
}

// maxDocBytes bounds one whole-document input (tag --whole, redact).
const maxDocBytes = 64 << 20

// whole returns a source whose one input is all of s's stream (tag
// --whole, redact's documents): a text of at most maxDocBytes, which must
// not look like binary data.
func (s *inputSource) whole() (*inputSource, error) {
	b, err := io.ReadAll(io.LimitReader(s.r, maxDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.name, err)
	}
	if len(b) > maxDocBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", s.name, maxDocBytes>>20)
	}
	if i := strings.IndexByte(string(b[:min(len(b), binaryProbe)]), 0); i >= 0 {
		return nil, fmt.Errorf("%s looks like binary data (a NUL byte at offset %d), not text", s.name, i)
	}
	text := string(b)
	return &inputSource{args: []string{text}, fromArgs: false, size: -1, keepBlank: true, name: s.name, doc: true}, nil
}
