package leptonbeam

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn4x0[context.Context, string, func(Record), func(DeadLetter)](&parseFn{})
	register.Emitter1[Record]()
	register.Emitter1[DeadLetter]()
}

// The input formats of Format.Kind.
const (
	// FormatLines: each line is one text, as for `lepton classify`
	// (a final "\r" is dropped). Records have no ID.
	FormatLines = "lines"
	// FormatCSV: each line is one CSV record (RFC 4180, as encoding/csv
	// reads it). textio splits files at newlines, so a quoted field that
	// contains a newline arrives as broken records, which go to the dead
	// letters (ReasonParse).
	FormatCSV = "csv"
	// FormatJSONL: each line is one JSON object; the text is a string
	// field, the ID a string or number field.
	FormatJSONL = "jsonl"
)

// Format describes the input files of Read.
type Format struct {
	// Kind is FormatLines (default), FormatCSV or FormatJSONL.
	Kind string `json:"kind,omitempty"`
	// Text is the CSV column (header name, or 0-based index) or JSON field
	// holding the text. Default: "text", or column 0 for CSV without a
	// header.
	Text string `json:"text,omitempty"`
	// ID is the CSV column or JSON field holding the record's ID; "" for
	// none. A record without it goes to the dead letters.
	ID string `json:"id,omitempty"`
	// NoHeader says CSV files have no header line: columns are then
	// named by their index. With a header (the default), every file must
	// start with the same header line; lines equal to it are skipped.
	NoHeader bool `json:"no_header,omitempty"`
	// Comma is the CSV field separator (default ',').
	Comma rune `json:"comma,omitempty"`
}

// Read reads the files matching glob (on any Beam file system the program
// imports) with textio and parses each line into a Record as f says. It
// returns the Records and the DeadLetters of lines that are not records
// (ReasonParse, ReasonEmpty for blank CSV and JSON lines, ReasonInvalidUTF8
// for JSON lines that are not UTF-8). For CSV with a header it reads every
// matching file's first line now, while the pipeline is built, to find the
// columns and check that the headers agree.
func Read(s beam.Scope, glob string, f Format) (records, dead beam.PCollection, err error) {
	fn, err := newParseFn(context.Background(), glob, f)
	if err != nil {
		return beam.PCollection{}, beam.PCollection{}, err
	}
	s = s.Scope("lepton.Read")
	lines := textio.Read(s, glob)
	records, dead = beam.ParDo2(s, fn, lines)
	return records, dead, nil
}

// parseFn makes Records of lines. Its fields are resolved when the
// pipeline is built.
type parseFn struct {
	Kind      string `json:"kind"`
	TextField string `json:"text_field,omitempty"` // JSON
	IDField   string `json:"id_field,omitempty"`   // JSON
	TextCol   int    `json:"text_col"`             // CSV
	IDCol     int    `json:"id_col"`               // CSV, -1: none
	Header    string `json:"header,omitempty"`     // CSV header line, skipped
	Comma     rune   `json:"comma,omitempty"`
}

var csvHeaderLines = beam.NewCounter("lepton", "csv_header_lines")

func newParseFn(ctx context.Context, glob string, f Format) (*parseFn, error) {
	fn := &parseFn{Kind: f.Kind, IDCol: -1, Comma: f.Comma}
	if fn.Kind == "" {
		fn.Kind = FormatLines
	}
	if fn.Comma == 0 {
		fn.Comma = ','
	}
	switch fn.Kind {
	case FormatLines:
		if f.Text != "" || f.ID != "" {
			return nil, fmt.Errorf("%w: text lines have no fields: Format.Text and Format.ID must be empty", ErrInvalidConfig)
		}
		return fn, nil
	case FormatJSONL:
		fn.TextField, fn.IDField = f.Text, f.ID
		if fn.TextField == "" {
			fn.TextField = "text"
		}
		return fn, nil
	case FormatCSV:
	default:
		return nil, fmt.Errorf("%w: unknown input format %q (want %s, %s or %s)", ErrInvalidConfig, f.Kind, FormatLines, FormatCSV, FormatJSONL)
	}
	if fn.Comma == '"' || fn.Comma == '\r' || fn.Comma == '\n' || !utf8.ValidRune(fn.Comma) || fn.Comma == utf8.RuneError {
		return nil, fmt.Errorf("%w: invalid CSV separator %q", ErrInvalidConfig, fn.Comma)
	}
	var header []string
	if !f.NoHeader {
		line, err := readHeader(ctx, glob)
		if err != nil {
			return nil, err
		}
		if header, err = fn.csvFields(line); err != nil {
			return nil, fmt.Errorf("%w: the CSV header of %s: %w", ErrInvalidConfig, glob, err)
		}
		fn.Header = line
	}
	text := f.Text
	if text == "" {
		text = "text"
		if f.NoHeader {
			text = "0"
		}
	}
	var err error
	if fn.TextCol, err = column(header, text); err != nil {
		return nil, err
	}
	if f.ID != "" {
		if fn.IDCol, err = column(header, f.ID); err != nil {
			return nil, err
		}
	}
	return fn, nil
}

// column finds a CSV column by header name or, failing that, by index.
func column(header []string, name string) (int, error) {
	if i := slices.Index(header, name); i >= 0 {
		return i, nil
	}
	i, err := strconv.Atoi(name)
	if err != nil || i < 0 || (header != nil && i >= len(header)) {
		if header == nil {
			return 0, fmt.Errorf("%w: CSV column %q: without a header, columns are 0-based indices", ErrInvalidConfig, name)
		}
		return 0, fmt.Errorf("%w: CSV column %q is not in the header %q", ErrInvalidConfig, name, header)
	}
	return i, nil
}

// maxHeaderBytes bounds the CSV header line read at construction.
const maxHeaderBytes = 1 << 20

// readHeader returns the first line of every file matching glob, which must
// be the same.
func readHeader(ctx context.Context, glob string) (string, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	defer fs.Close()
	files, err := fs.List(ctx, glob)
	if err != nil {
		return "", fmt.Errorf("%w: listing %s: %w", ErrInvalidConfig, glob, err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%w: no file matches %s (a CSV header is needed to find the columns)", ErrInvalidConfig, glob)
	}
	slices.Sort(files)
	var header string
	for i, name := range files {
		line, err := firstLine(ctx, fs, name)
		if err != nil {
			return "", fmt.Errorf("%w: reading the CSV header of %s: %w", ErrInvalidConfig, name, err)
		}
		if i == 0 {
			header = line
		} else if line != header {
			return "", fmt.Errorf("%w: CSV files disagree on the header: %s has %q, %s has %q", ErrInvalidConfig, files[0], header, name, line)
		}
	}
	return header, nil
}

func firstLine(ctx context.Context, fs filesystem.Interface, name string) (string, error) {
	r, err := fs.OpenRead(ctx, name)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var src io.Reader = r
	if strings.HasSuffix(name, ".gz") { // as textio's automatic compression does
		gz, err := gzip.NewReader(r)
		if err != nil {
			return "", err
		}
		defer gz.Close()
		src = gz
	}
	line, err := bufio.NewReader(io.LimitReader(src, maxHeaderBytes)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	if !strings.HasSuffix(line, "\n") && len(line) == maxHeaderBytes {
		return "", fmt.Errorf("first line is longer than %d bytes", maxHeaderBytes)
	}
	return cleanLine(strings.TrimSuffix(line, "\n"), true), nil
}

// cleanLine drops the "\r" of a CRLF line end and, for CSV and JSON, a
// UTF-8 byte order mark.
func cleanLine(line string, bom bool) string {
	line = strings.TrimSuffix(line, "\r")
	if bom {
		line = strings.TrimPrefix(line, "\ufeff")
	}
	return line
}

func (f *parseFn) ProcessElement(ctx context.Context, line string, emit func(Record), dead func(DeadLetter)) {
	parseDead := func(reason, detail string) {
		DeadLetterCounter(reason).Inc(ctx, 1)
		dead(DeadLetter{Input: line, Reason: reason, Error: detail})
	}
	switch f.Kind {
	case FormatLines:
		emit(Record{Text: cleanLine(line, false)})
	case FormatCSV:
		l := cleanLine(line, true)
		if f.Header != "" && l == f.Header {
			csvHeaderLines.Inc(ctx, 1)
			return
		}
		if strings.TrimSpace(l) == "" {
			parseDead(ReasonEmpty, "blank CSV line")
			return
		}
		fields, err := f.csvFields(l)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) { // its line number is always 1: the record is one line
				err = fmt.Errorf("column %d: %w", pe.Column, pe.Err)
			}
			parseDead(ReasonParse, "CSV: "+err.Error())
			return
		}
		if f.TextCol >= len(fields) || f.IDCol >= len(fields) {
			parseDead(ReasonParse, fmt.Sprintf("CSV record has %d fields; the text is column %d, the ID column %d", len(fields), f.TextCol, f.IDCol))
			return
		}
		r := Record{Text: fields[f.TextCol]}
		if f.IDCol >= 0 {
			r.ID = fields[f.IDCol]
		}
		emit(r)
	case FormatJSONL:
		l := cleanLine(line, true)
		if strings.TrimSpace(l) == "" {
			parseDead(ReasonEmpty, "blank JSON line")
			return
		}
		if !utf8.ValidString(l) { // encoding/json would turn bad bytes into U+FFFD silently
			parseDead(ReasonInvalidUTF8, fmt.Sprintf("JSON line is not valid UTF-8 (first bad byte at offset %d)", firstInvalid(l)))
			return
		}
		r, err := f.jsonRecord(l)
		if err != nil {
			parseDead(ReasonParse, err.Error())
			return
		}
		emit(r)
	}
}

func (f *parseFn) csvFields(line string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = f.Comma
	r.FieldsPerRecord = -1
	fields, err := r.Read()
	if err != nil {
		return nil, err
	}
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one record on the line")
	}
	return fields, nil
}

func (f *parseFn) jsonRecord(line string) (Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &obj); err != nil {
		return Record{}, fmt.Errorf("JSON: %w", err)
	}
	if obj == nil {
		return Record{}, errors.New("JSON line is null, not an object")
	}
	var r Record
	raw, ok := obj[f.TextField]
	if !ok {
		return Record{}, fmt.Errorf("JSON object has no field %q", f.TextField)
	}
	if raw[0] != '"' {
		return Record{}, fmt.Errorf("JSON field %q is %s, not a string", f.TextField, jsonKind(raw))
	}
	if err := json.Unmarshal(raw, &r.Text); err != nil {
		return Record{}, fmt.Errorf("JSON field %q is %s, not a string", f.TextField, jsonKind(raw))
	}
	if f.IDField != "" {
		raw, ok := obj[f.IDField]
		if !ok {
			return Record{}, fmt.Errorf("JSON object has no ID field %q", f.IDField)
		}
		switch {
		case raw[0] == '"':
			if err := json.Unmarshal(raw, &r.ID); err != nil {
				return Record{}, fmt.Errorf("JSON field %q: %w", f.IDField, err)
			}
		case jsonKind(raw) == "a number":
			r.ID = string(raw) // the literal as written: 1e3 and 1000 stay distinct
		default:
			return Record{}, fmt.Errorf("JSON ID field %q is %s, not a string or number", f.IDField, jsonKind(raw))
		}
	}
	return r, nil
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
