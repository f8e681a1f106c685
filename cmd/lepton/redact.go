package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"lepton"
)

func init() {
	register("redact", "mask names, dates, phone numbers, ... in texts, keeping everything else byte for byte", runRedact)
}

// redactJSON is one output object of `lepton redact --json`.
type redactJSON struct {
	File     string       `json:"file,omitempty"` // the --in FILE; absent for standard input and TEXT arguments
	Line     int          `json:"line,omitempty"` // line (--lines) or argument number; absent for a whole document
	Redacted string       `json:"redacted"`
	Entities []entityJSON `json:"entities"` // offsets into the input, not the output
	Tokens   int          `json:"tokens"`
	Unknown  float64      `json:"unknown"`
}

// entityType is a label without its "B-" or "I-" prefix.
func entityType(label string) string {
	if strings.HasPrefix(label, "B-") || strings.HasPrefix(label, "I-") {
		return label[2:]
	}
	return label
}

// labelMask is redact's default mask: [TYPE], followed by the line breaks
// the entity spanned (a model can tag across a line break, "LP,\nSigrid"),
// so that a redacted document keeps its lines and line numbers.
func labelMask(e lepton.Entity) string {
	s := "[" + e.Label + "]"
	for _, r := range e.Text {
		if r == '\n' || r == '\r' {
			s += string(r)
		}
	}
	return s
}

// redactor masks the entities Tag finds in the batches of one input.
type redactor struct {
	m     *lepton.Model
	opts  []lepton.CallOption
	mask  func(lepton.Entity) string
	types map[string]bool // nil: every type
	json  bool
	file  string // the input's name for JSON output; "" for standard input
	// lineNumbers: JSON objects carry the input's number (lines, TEXT
	// arguments), not for a whole document.
	lineNumbers bool
	// eol is written after each output text when the input has no line
	// ending of its own (TEXT arguments: "\n"; documents: "").
	eol string
}

// batch redacts the texts of batch and writes each followed by its line
// ending, or one JSON object each.
func (rd *redactor) batch(ctx context.Context, batch []input, fromArgs bool, w *bufio.Writer, enc *json.Encoder) error {
	res, err := tagBatch(ctx, rd.m, batch, fromArgs, rd.opts)
	if err != nil {
		return err
	}
	for i := range batch {
		in, r := &batch[i], res[i]
		kept := r.Entities[:0]
		for _, e := range r.Entities {
			e.Label = entityType(e.Label)
			if rd.types == nil || rd.types[e.Label] {
				kept = append(kept, e)
			}
		}
		out := lepton.Redact(in.text, kept, rd.mask)
		if rd.json {
			j := redactJSON{File: rd.file, Redacted: out, Entities: toJSON(in.text, kept),
				Tokens: r.Diagnostics.Tokens, Unknown: round4(r.Diagnostics.Unknown)}
			if rd.lineNumbers {
				j.Line = in.n
			}
			if err := enc.Encode(j); err != nil {
				return err
			}
			continue
		}
		w.WriteString(out)
		if in.eol != "" {
			w.WriteString(in.eol)
		} else {
			w.WriteString(rd.eol)
		}
	}
	return nil
}

const redactUsage = `usage: lepton redact [-m MODEL] [--mask C] [--types NAME,DATE] [--patterns=false] [--lines] [--json] [-o DIR] [--in FILE]... [TEXT...]
Masks every entity a token-classification model finds (default: the built-in
de-identification model, with dates, phone numbers, record numbers and email
addresses also found by regular expressions, as in lepton tag;
--patterns=false: the model alone) as [LABEL] (followed by any line breaks the entity
spanned, so that lines are kept) or, with --mask, one character per
character; every other byte is written unchanged. Each --in FILE (repeatable;
"-" is standard input), or standard input, is one document; with --lines each
line is a text of its own, streamed as lines arrive, line endings kept. TEXT
arguments are texts of their own, written one per line. Writes to standard
output, or with -o into DIR under each FILE's name; --json prints one object
per document (or line): {"file","line","redacted","entities","tokens","unknown"}.
The model misses some identifiers: check its output before a note leaves the
device.
`

func runRedact(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redact", flag.ContinueOnError)
	mf := modelFlags{tagger: true}
	mf.register(fs)
	var tf tagFlags
	tf.register(fs)
	var pf progressFlags
	pf.register(fs)
	var ins stringList
	fs.Var(&ins, "in", "read a document from this file (repeatable; \"-\": standard input)")
	mask := fs.String("mask", "", "replace every character of an entity with this one character (line breaks are kept) instead of [LABEL]")
	types := fs.String("types", "", "comma-separated entity types to mask (default: every type the model finds)")
	lines := fs.Bool("lines", false, "treat each line as a text of its own (one note per line) and stream; default: each input is one document")
	outDir := fs.String("o", "", "write each redacted --in FILE into this directory under the same name, instead of to standard output")
	pos, err := parseArgs(fs, args, stderr, redactUsage)
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
	rd := &redactor{opts: call, json: mf.json, mask: labelMask}
	if *mask != "" {
		c, size := utf8.DecodeRuneInString(*mask)
		if size != len(*mask) || c == utf8.RuneError || c == '\n' || c == '\r' {
			return usagef("--mask %q: want one character", *mask)
		}
		rd.mask = lepton.MaskRunes(c)
	}
	if *types != "" {
		rd.types = map[string]bool{}
		for _, t := range strings.Split(*types, ",") {
			if t = strings.TrimSpace(t); t != "" {
				rd.types[t] = true
			}
		}
	}
	if len(pos) > 0 && len(ins) > 0 {
		return usagef("give texts as arguments or with --in FILE, not both")
	}
	if *outDir != "" {
		if err := checkOutDir(*outDir, ins); err != nil {
			return err
		}
	}
	// Open every input first, so that a missing file fails before any
	// output.
	var srcs []*inputSource
	if len(ins) == 0 {
		src, closeIn, err := openInputs(pos, "", stdin, true)
		if err != nil {
			return err
		}
		defer closeIn()
		srcs = append(srcs, src)
	}
	for _, path := range ins {
		src, closeIn, err := openInputs(nil, path, stdin, true)
		if err != nil {
			return err
		}
		defer closeIn()
		srcs = append(srcs, src)
	}
	m, err := openTagger(&mf, &tf)
	if err != nil {
		return err
	}
	defer m.Close()
	rd.m = m
	if rd.types != nil {
		known := map[string]bool{}
		for _, l := range m.Info().Labels {
			known[entityType(l)] = true
		}
		if tf.usePatterns {
			for _, l := range []string{lepton.PatternDate, lepton.PatternPhone, lepton.PatternID, lepton.PatternEmail} {
				known[l] = true
			}
		}
		for t := range rd.types {
			if !known[t] {
				return usagef("--types: the model has no type %q (it has %s)", t, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			}
		}
	}
	ctx, cancel := interruptible()
	defer cancel()
	for i, src := range srcs {
		rd.file, rd.lineNumbers, rd.eol = "", *lines || src.fromArgs, ""
		if src.fromArgs {
			rd.eol = "\n"
		}
		if len(ins) > 0 && ins[i] != "-" {
			rd.file = ins[i]
		}
		if src.interactive() && *lines {
			fmt.Fprintln(stderr, "lepton redact: reading one text per line (Ctrl-D ends)")
		}
		if !*lines && !src.fromArgs {
			if src, err = src.whole(); err != nil {
				return flagError("in", err)
			}
		}
		if *outDir == "" {
			if err := rd.run(ctx, src, pf, stdout, stderr); err != nil {
				return err
			}
			continue
		}
		if err := rd.toFile(ctx, src, pf, filepath.Join(*outDir, filepath.Base(ins[i])), stderr); err != nil {
			return err
		}
	}
	return nil
}

// run redacts the inputs of src to w, batch by batch.
func (rd *redactor) run(ctx context.Context, src *inputSource, pf progressFlags, w, stderr io.Writer) error {
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	prog := newProgress(pf, w, stderr, src, "redact")
	err := src.stream(ctx, func(batch []input) error {
		defer prog.advance(batch)
		defer out.Flush()
		defer prog.beforeOutput()
		return rd.batch(ctx, batch, src.fromArgs, out, enc)
	})
	prog.finish()
	return err
}

// toFile redacts src into path, through a temporary file in the same
// directory renamed at the end, so that a failure leaves no half-redacted
// file under the output's name.
func (rd *redactor) toFile(ctx context.Context, src *inputSource, pf progressFlags, path string, stderr io.Writer) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return flagError("o", err)
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	err = rd.run(ctx, src, pf, f, stderr)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = flagError("o", cerr)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return flagError("o", err)
	}
	return nil
}

// checkOutDir checks -o DIR against the inputs: DIR must be a directory,
// every input a named file (not standard input) whose output would
// neither overwrite it nor another input's output.
func checkOutDir(dir string, ins []string) error {
	if len(ins) == 0 {
		return usagef("-o needs --in FILE (standard input and TEXT arguments go to standard output)")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return flagError("o", err)
	}
	if !st.IsDir() {
		return usagef("-o %s: not a directory", dir)
	}
	seen := map[string]string{}
	for _, f := range ins {
		if f == "-" {
			return usagef("-o cannot name an output for standard input (--in -)")
		}
		base := filepath.Base(f)
		if prev, ok := seen[base]; ok {
			return usagef("-o %s: %s and %s would both be written to %s", dir, prev, f, base)
		}
		seen[base] = f
		if same(f, filepath.Join(dir, base)) {
			return usagef("-o %s would overwrite the input %s", dir, f)
		}
	}
	return nil
}

// same reports whether two paths name the same existing file.
func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
