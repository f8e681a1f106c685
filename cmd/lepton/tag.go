package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"lepton"
	"lepton/models/deid"
)

func init() {
	register("tag", "find entities (names, dates, ...) in texts with a token-classification model", runTag)
}

// openTagModel opens the model tag and redact run: the file at path, or,
// when path is empty, the built-in de-identification model
// (lepton/models/deid).
func openTagModel(path string, opts ...lepton.Option) (*lepton.Model, error) {
	if path == "" {
		return deid.Open(opts...)
	}
	return lepton.Open(path, opts...)
}

// tagFlags are the flags tag and redact share.
type tagFlags struct {
	model       string
	threads     int
	maxLength   int
	stride      int
	fp32        bool
	actBits     int
	verify      bool
	aggregation string
	ignore      string
	batch       int
}

func (f *tagFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "m", "", "model file (.lep, a token classifier; default: the built-in de-identification model)")
	fs.IntVar(&f.threads, "threads", 0, "goroutines per call (0: all CPUs)")
	fs.IntVar(&f.maxLength, "max-length", 0, "tokens per window, [CLS] and [SEP] included (0: the model's limit); longer texts are read in overlapping windows")
	fs.IntVar(&f.stride, "stride", -1, "tokens shared by consecutive windows (-1: a quarter of a window)")
	fs.IntVar(&f.actBits, "act-bits", lepton.DefaultActivationBits, "activation precision of the int8 path: 7 (faster on AVX2) or 8")
	fs.BoolVar(&f.fp32, "fp32", false, "run the slow fp32 reference path (model converted with --keep-fp32) to compare with int8")
	fs.BoolVar(&f.verify, "verify", false, "check every weight payload before running, as 'lepton verify' does")
	fs.StringVar(&f.aggregation, "aggregation", "first", "how tokens become entities: none, simple, first, average or max (Hugging Face's strategies)")
	fs.StringVar(&f.ignore, "ignore", "O", "comma-separated labels to leave out (\"\": keep every token or group)")
	fs.IntVar(&f.batch, "batch", 32, "texts per model call when reading lines")
}

// options checks the flags and turns them into lepton options: those for
// Open and those for each Tag call.
func (f *tagFlags) options() ([]lepton.Option, []lepton.CallOption, error) {
	agg, err := lepton.ParseAggregation(f.aggregation)
	if err != nil {
		return nil, nil, errUsage{"--aggregation: " + strings.TrimPrefix(err.Error(), "lepton: ")}
	}
	if f.batch < 1 {
		return nil, nil, errUsage{fmt.Sprintf("--batch %d: want at least 1", f.batch)}
	}
	if f.stride < -1 {
		return nil, nil, errUsage{fmt.Sprintf("--stride %d: want -1 (default) or a token count", f.stride)}
	}
	if f.threads < 0 {
		return nil, nil, errUsage{fmt.Sprintf("--threads %d: want 0 (all CPUs) or more", f.threads)}
	}
	if f.actBits != 7 && f.actBits != 8 {
		return nil, nil, errUsage{fmt.Sprintf("--act-bits %d: want 7 or 8", f.actBits)}
	}
	if f.maxLength != 0 && f.maxLength < 3 {
		return nil, nil, errUsage{fmt.Sprintf("--max-length %d: want 0 (the model's limit) or at least 3", f.maxLength)}
	}
	open := []lepton.Option{lepton.WithThreads(f.threads), lepton.WithActivationBits(f.actBits), lepton.WithVerify(f.verify)}
	var ignore []string
	for _, l := range strings.Split(f.ignore, ",") {
		if l = strings.TrimSpace(l); l != "" {
			ignore = append(ignore, l)
		}
	}
	call := []lepton.CallOption{lepton.WithAggregation(agg), lepton.WithIgnoreLabels(ignore...), lepton.WithFloat32(f.fp32)}
	if f.maxLength != 0 {
		call = append(call, lepton.WithMaxLength(f.maxLength))
	}
	if f.stride >= 0 {
		call = append(call, lepton.WithStride(f.stride))
	}
	return open, call, nil
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
	Text     string       `json:"text"`
	Entities []entityJSON `json:"entities"`
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

// tagger runs one batch of texts through Tag and writes their results:
// the per-batch step that a streaming reader feeds.
type tagger struct {
	m    *lepton.Model
	opts []lepton.CallOption
	json bool
}

// batch tags texts, numbered from first (1-based input number), and
// writes their results to w.
func (tg *tagger) batch(ctx context.Context, texts []string, first int, w io.Writer) error {
	res, err := tg.m.Tag(ctx, texts, tg.opts...)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i, ents := range res {
		if tg.json {
			if err := enc.Encode(tagJSON{Text: texts[i], Entities: toJSON(texts[i], ents)}); err != nil {
				return err
			}
			continue
		}
		for _, e := range ents {
			fmt.Fprintf(bw, "%d\t%d\t%d\t%s\t%.4f\t%s\n", first+i, e.Start, e.End, e.Label, e.Score, oneLine.Replace(e.Text))
		}
	}
	return bw.Flush()
}

func runTag(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tag", flag.ContinueOnError)
	var tf tagFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON object per input: {\"text\", \"entities\": [{\"label\", \"score\", \"start\", \"end\", \"char_start\", \"char_end\", \"text\"}]}")
	whole := fs.Bool("whole", false, "read all of standard input (or each FILE of --file) as one text instead of one text per line")
	var files stringList
	fs.Var(&files, "file", "read texts from this file instead of standard input (repeatable)")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton tag [-m MODEL] [--json] [--aggregation first] [--whole] [--file F] [TEXT...]
Finds entities with a token-classification model (default: the built-in
de-identification model: NAME, DATE, PHONE, ID, ADDRESS, EMAIL). Texts come
from the arguments, else from standard input or --file, one per line (--whole:
the whole input is one text). Prints one line per entity: input number, start
and end (byte offsets into that input), label, score and the entity's text,
tab-separated; with --json one object per input, offsets in bytes ("start",
"end") and in Unicode code points ("char_start", "char_end").
Exit status: 0 success, 1 runtime error, 2 usage error.
`)
	if err != nil {
		return err
	}
	open, call, err := tf.options()
	if err != nil {
		return err
	}
	if len(pos) > 0 && (len(files) > 0 || *whole) {
		return errUsage{"give TEXT arguments, or --file/--whole, not both"}
	}
	m, err := openTagModel(tf.model, open...)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()
	tg := &tagger{m: m, opts: call, json: *asJSON}
	if len(pos) > 0 {
		return tg.batch(ctx, pos, 1, stdout)
	}
	return eachInput(files, stdin, func(name string, r io.Reader) error {
		if *whole {
			text, err := readAll(name, r)
			if err != nil {
				return err
			}
			return tg.batch(ctx, []string{text}, 1, stdout)
		}
		return streamLines(r, name, tf.batch, func(lines, _ []string, first int) error {
			return tg.batch(ctx, lines, first, stdout)
		})
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// eachInput calls fn with each named file, or with standard input when
// there are none ("-" also names standard input). A file that cannot be
// opened is a runtime error naming it.
func eachInput(files []string, stdin io.Reader, fn func(name string, r io.Reader) error) error {
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if name == "-" {
			if stdin == nil {
				return errUsage{"no input: give TEXT or a file, or pipe text to standard input"}
			}
			if err := fn("standard input", stdin); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = fn(name, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// maxDocBytes bounds one whole-document input.
const maxDocBytes = 64 << 20

// readAll reads one whole document.
func readAll(name string, r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDocBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxDocBytes {
		return "", fmt.Errorf("reading %s: larger than %d MiB", name, maxDocBytes>>20)
	}
	return string(b), nil
}

// streamLines reads r line by line and hands the lines to fn in batches of
// up to size, numbered from 1, as soon as each batch is full (and the rest
// at the end), so output starts before the input ends and memory stays
// bounded. Each line comes without its terminator; ends[i] is that
// terminator ("\n", "\r\n", or "" for a last line without one), so that
// a caller can write the input back byte for byte.
func streamLines(r io.Reader, name string, size int, fn func(lines, ends []string, first int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var lines, ends []string
	first := 1
	for {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			if errors.Is(err, bufio.ErrTooLong) {
				return fmt.Errorf("reading %s: line %d is longer than %d MiB", name, first+len(lines), maxLineBytes>>20)
			}
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if line != "" || err == nil {
			end := ""
			switch {
			case strings.HasSuffix(line, "\r\n"):
				end = "\r\n"
			case strings.HasSuffix(line, "\n"):
				end = "\n"
			}
			lines = append(lines, line[:len(line)-len(end)])
			ends = append(ends, end)
		}
		if len(lines) == size || (errors.Is(err, io.EOF) && len(lines) > 0) {
			if ferr := fn(lines, ends, first); ferr != nil {
				return ferr
			}
			first += len(lines)
			lines, ends = lines[:0], ends[:0]
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine returns the next line with its "\n" (none at the end of the
// input, with io.EOF), refusing lines longer than maxLineBytes.
func readLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineBytes {
			return "", bufio.ErrTooLong
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return string(buf), err
	}
}
