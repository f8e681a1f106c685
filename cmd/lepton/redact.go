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

// redactor masks the entities Tag finds: the per-batch step shared by the
// whole-document and the line-by-line readers.
type redactor struct {
	m     *lepton.Model
	opts  []lepton.CallOption
	mask  func(lepton.Entity) string
	types map[string]bool // nil: every type
	json  bool
	file  string // the input's name for JSON output; "" for standard input
}

// redactJSON is one output object of `lepton redact --json`.
type redactJSON struct {
	File     string       `json:"file,omitempty"`
	Line     int          `json:"line,omitempty"`
	Redacted string       `json:"redacted"`
	Entities []entityJSON `json:"entities"` // offsets into the input, not the output
}

// entityType is a label without its "B-" or "I-" prefix.
func entityType(label string) string {
	if strings.HasPrefix(label, "B-") || strings.HasPrefix(label, "I-") {
		return label[2:]
	}
	return label
}

// batch redacts texts and writes each followed by its terminator in ends
// (nil: none), or one JSON object each; line numbers count from first
// (0: the texts are whole documents).
func (rd *redactor) batch(ctx context.Context, texts, ends []string, first int, w io.Writer) error {
	res, err := rd.m.Tag(ctx, texts, rd.opts...)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i, ents := range res {
		kept := ents[:0]
		for _, e := range ents {
			e.Label = entityType(e.Label)
			if rd.types == nil || rd.types[e.Label] {
				kept = append(kept, e)
			}
		}
		out := lepton.Redact(texts[i], kept, rd.mask)
		if rd.json {
			line := 0
			if first > 0 {
				line = first + i
			}
			if err := enc.Encode(redactJSON{File: rd.file, Line: line, Redacted: out, Entities: toJSON(texts[i], kept)}); err != nil {
				return err
			}
			continue
		}
		bw.WriteString(out)
		if ends != nil {
			bw.WriteString(ends[i])
		}
	}
	return bw.Flush()
}

func runRedact(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("redact", flag.ContinueOnError)
	var tf tagFlags
	tf.register(fs)
	mask := fs.String("mask", "", "replace every character of an entity with this one character (line breaks are kept) instead of [LABEL]")
	types := fs.String("types", "", "comma-separated entity types to mask (default: every type the model finds)")
	lines := fs.Bool("lines", false, "treat each line as a separate text (one note per line) and stream; default: each input is one document")
	outDir := fs.String("o", "", "write each redacted FILE into this directory under the same name, instead of to standard output")
	asJSON := fs.Bool("json", false, "print one JSON object per document (or line): {\"file\", \"line\", \"redacted\", \"entities\"}")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton redact [-m MODEL] [--mask C] [--types NAME,DATE] [--lines] [-o DIR] [--json] [FILE...]
Masks every entity a token-classification model finds (default: the built-in
de-identification model) as [LABEL] or, with --mask, one character per
character; every other byte is written unchanged. Reads each FILE (or standard
input; "-" names it) as one document, or with --lines as one text per line.
Writes to standard output, or with -o into DIR. The model misses some
identifiers: check its output before a note leaves the device.
Exit status: 0 success, 1 runtime error, 2 usage error.
`)
	if err != nil {
		return err
	}
	open, call, err := tf.options()
	if err != nil {
		return err
	}
	rd := &redactor{opts: call, json: *asJSON, mask: func(e lepton.Entity) string { return "[" + e.Label + "]" }}
	if *mask != "" {
		c, size := utf8.DecodeRuneInString(*mask)
		if size != len(*mask) || c == utf8.RuneError || c == '\n' || c == '\r' {
			return errUsage{fmt.Sprintf("--mask %q: want one character", *mask)}
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
	if *outDir != "" {
		if len(pos) == 0 {
			return errUsage{"-o needs FILE arguments (standard input goes to standard output)"}
		}
		if st, err := os.Stat(*outDir); err != nil || !st.IsDir() {
			return errUsage{fmt.Sprintf("-o %s: not a directory", *outDir)}
		}
		for _, f := range pos {
			if f == "-" {
				return errUsage{"-o cannot name an output for standard input (\"-\")"}
			}
			if same(f, filepath.Join(*outDir, filepath.Base(f))) {
				return errUsage{fmt.Sprintf("-o %s would overwrite the input %s", *outDir, f)}
			}
		}
	}
	m, err := openTagModel(tf.model, open...)
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
		for t := range rd.types {
			if !known[t] {
				return errUsage{fmt.Sprintf("--types: the model has no type %q (it has %s)", t, strings.Join(slices.Sorted(maps.Keys(known)), ", "))}
			}
		}
	}
	ctx, cancel := interruptible()
	defer cancel()
	return eachInput(pos, stdin, func(name string, r io.Reader) error {
		rd.file = ""
		if name != "standard input" {
			rd.file = name
		}
		if *outDir == "" {
			return rd.input(ctx, name, r, *lines, tf.batch, stdout)
		}
		f, err := os.Create(filepath.Join(*outDir, filepath.Base(name)))
		if err != nil {
			return err
		}
		if err := rd.input(ctx, name, r, *lines, tf.batch, f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// input redacts one input: as one document, or line by line.
func (rd *redactor) input(ctx context.Context, name string, r io.Reader, lines bool, batch int, w io.Writer) error {
	if lines {
		return streamLines(r, name, batch, func(texts, ends []string, first int) error {
			return rd.batch(ctx, texts, ends, first, w)
		})
	}
	text, err := readAll(name, r)
	if err != nil {
		return err
	}
	return rd.batch(ctx, []string{text}, nil, 0, w)
}

// same reports whether two paths name the same existing file.
func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
