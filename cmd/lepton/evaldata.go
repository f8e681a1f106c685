package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// evalRow is one labelled input of `lepton eval`.
type evalRow struct {
	line  int    // 1-based line of the file where the row starts
	text  string // the text (the first text of a pair)
	pair  string // the second text, with --pair-col
	label string // the true label as written in the file
	group string // the --group-col value, "" without
}

// evalColumns names the columns (CSV, TSV) or fields (JSONL) eval reads.
type evalColumns struct{ text, label, group, pair string }

// rowReader yields the rows of a labelled data file one at a time.
type rowReader interface {
	next() (evalRow, error) // io.EOF after the last row
}

// openEvalData opens a labelled data file by its extension: .jsonl or
// .ndjson (one JSON object per line), .tsv (tab-separated, no quoting, as
// GLUE's files), anything else CSV (RFC 4180, as pandas writes it). CSV
// and TSV need a header row. A column the flags name that the file lacks
// is a usage error that lists the columns there are.
//
// read reports how many bytes of the file have been read so far (ahead of
// the rows returned by up to a buffer's worth), for a progress bar.
func openEvalData(path string, cols evalColumns) (r rowReader, read func() int64, close func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, func() {}, flagError("in", err)
	}
	cf := &countingReader{r: f}
	low := strings.ToLower(path)
	switch {
	case strings.HasSuffix(low, ".jsonl") || strings.HasSuffix(low, ".ndjson"):
		r = &jsonlRows{br: bufio.NewReaderSize(cf, 64<<10), cols: cols, path: path}
	case strings.HasSuffix(low, ".tsv"):
		r, err = newTableRows(&tsvReader{br: bufio.NewReaderSize(cf, 64<<10)}, cols, path)
	default:
		cr := csv.NewReader(cf)
		cr.FieldsPerRecord = -1 // checked with a better message
		r, err = newTableRows(&csvReader{cr: cr}, cols, path)
	}
	if err != nil {
		f.Close()
		return nil, nil, func() {}, err
	}
	return r, func() int64 { return cf.n }, func() { f.Close() }, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// records is a source of table records with the line each starts on.
type records interface {
	read() ([]string, int, error)
}

type csvReader struct{ cr *csv.Reader }

func (c *csvReader) read() ([]string, int, error) {
	rec, err := c.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, fmt.Errorf("line %d: %v", pe.StartLine, pe.Err)
		}
		return nil, 0, err
	}
	line, _ := c.cr.FieldPos(0)
	return rec, line, nil
}

// tsvReader splits lines on tabs, without quoting.
type tsvReader struct {
	br   *bufio.Reader
	line int
}

func (t *tsvReader) read() ([]string, int, error) {
	for {
		l, err := readLine(t.br)
		if err != nil {
			return nil, 0, err
		}
		t.line++
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		return strings.Split(string(l), "\t"), t.line, nil
	}
}

// readLine reads one line without its line ending, refusing lines over
// maxLineBytes; io.EOF when there is none.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineBytes {
			return nil, fmt.Errorf("a line is longer than %d MiB", maxLineBytes>>20)
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil && (err != io.EOF || len(buf) == 0) {
			return nil, err
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		return bytes.TrimSuffix(buf, []byte("\r")), nil
	}
}

// tableRows reads CSV or TSV records by header.
type tableRows struct {
	src                      records
	path                     string
	width                    int
	text, label, group, pair int // column indices, -1 when not read
}

func newTableRows(src records, cols evalColumns, path string) (*tableRows, error) {
	header, _, err := src.read()
	if err == io.EOF {
		return nil, fileError("in", path, errors.New("empty file (a header row is needed)"))
	}
	if err != nil {
		return nil, fileError("in", path, err)
	}
	idx := map[string]int{}
	var names []string
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := idx[h]; !dup {
			idx[h] = i
		}
		names = append(names, fmt.Sprintf("%q", h))
	}
	find := func(flag, name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := idx[name]
		if !ok {
			return 0, usagef("--%s %q: %s has no such column (it has %s)", flag, name, path, strings.Join(names, ", "))
		}
		return i, nil
	}
	t := &tableRows{src: src, path: path, width: len(header)}
	if t.text, err = find("text-col", cols.text); err != nil {
		return nil, err
	}
	if t.label, err = find("label-col", cols.label); err != nil {
		return nil, err
	}
	if t.group, err = find("group-col", cols.group); err != nil {
		return nil, err
	}
	if t.pair, err = find("pair-col", cols.pair); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tableRows) next() (evalRow, error) {
	rec, line, err := t.src.read()
	if err == io.EOF {
		return evalRow{}, io.EOF
	}
	if err != nil {
		return evalRow{}, fileError("in", t.path, err)
	}
	if len(rec) != t.width {
		return evalRow{}, fileError("in", t.path, fmt.Errorf("line %d: %d fields, the header has %d", line, len(rec), t.width))
	}
	r := evalRow{line: line, text: rec[t.text], label: strings.TrimSpace(rec[t.label])}
	if t.group >= 0 {
		r.group = strings.TrimSpace(rec[t.group])
	}
	if t.pair >= 0 {
		r.pair = rec[t.pair]
	}
	return r, nil
}

// jsonlRows reads one JSON object per line; blank lines are skipped.
type jsonlRows struct {
	br   *bufio.Reader
	cols evalColumns
	path string
	line int
}

func (j *jsonlRows) next() (evalRow, error) {
	for {
		l, err := readLine(j.br)
		if err == io.EOF {
			return evalRow{}, io.EOF
		}
		j.line++
		if err != nil {
			return evalRow{}, fileError("in", j.path, fmt.Errorf("line %d: %w", j.line, err))
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(l, &obj); err != nil {
			return evalRow{}, fileError("in", j.path, fmt.Errorf("line %d: %v", j.line, err))
		}
		r := evalRow{line: j.line}
		field := func(flag, name string, dst *string, text bool) error {
			if name == "" {
				return nil
			}
			raw, ok := obj[name]
			if !ok {
				return fileError("in", j.path, fmt.Errorf("line %d: no field %q (--%s)", j.line, name, flag))
			}
			if err := json.Unmarshal(raw, dst); err == nil {
				return nil
			}
			var n json.Number
			if !text {
				if err := json.Unmarshal(raw, &n); err == nil {
					*dst = n.String()
					return nil
				}
			}
			return fileError("in", j.path, fmt.Errorf("line %d: field %q (--%s) is not a string", j.line, name, flag))
		}
		for _, f := range []struct {
			flag, name string
			dst        *string
			text       bool
		}{{"text-col", j.cols.text, &r.text, true}, {"label-col", j.cols.label, &r.label, false},
			{"group-col", j.cols.group, &r.group, false}, {"pair-col", j.cols.pair, &r.pair, true}} {
			if err := field(f.flag, f.name, f.dst, f.text); err != nil {
				return evalRow{}, err
			}
		}
		r.label = strings.TrimSpace(r.label)
		r.group = strings.TrimSpace(r.group)
		return r, nil
	}
}

// labelIndex maps the labels written in a data file to the model's label
// indices: the label's name exactly, else its name ignoring case when that
// is unambiguous, else, when no label is spelled like it, a class index
// ("0".."K-1", as GLUE's files write them).
type labelIndex struct {
	exact  map[string]int
	folded map[string]int // -1: two labels fold to the same
	k      int
}

func newLabelIndex(labels []string) *labelIndex {
	li := &labelIndex{exact: map[string]int{}, folded: map[string]int{}, k: len(labels)}
	for i, l := range labels {
		li.exact[l] = i
		f := strings.ToLower(l)
		if _, dup := li.folded[f]; dup {
			li.folded[f] = -1
		} else {
			li.folded[f] = i
		}
	}
	return li
}

func (li *labelIndex) lookup(s string) (int, bool) {
	if i, ok := li.exact[s]; ok {
		return i, true
	}
	if i, ok := li.folded[strings.ToLower(s)]; ok && i >= 0 {
		return i, true
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < li.k {
		return n, true
	}
	return 0, false
}
