package leptonbeam

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/stretchr/testify/require"
)

// parsed is what parseFn made of one line.
type parsed struct {
	rec    *Record
	reason string // of the dead letter
}

func parseLine(fn *parseFn, line string) (out []parsed) {
	fn.ProcessElement(bg, line,
		func(r Record) { out = append(out, parsed{rec: &r}) },
		func(d DeadLetter) {
			if d.Input != line {
				panic("dead letter does not keep its line")
			}
			out = append(out, parsed{reason: d.Reason})
		})
	return out
}

func TestParseLines(t *testing.T) {
	fn, err := newParseFn(bg, "", Format{})
	require.NoError(t, err)
	for _, tc := range []struct{ line, text string }{
		{"fever and chills", "fever and chills"},
		{"crlf line\r", "crlf line"},
		{"", ""}, // the inference checks decide about empty texts
		{"\ufeffbom stays in text lines", "\ufeffbom stays in text lines"},
		{"tab\tinside, \"quotes\"", "tab\tinside, \"quotes\""},
		{"bad \xff byte", "bad \xff byte"},
	} {
		got := parseLine(fn, tc.line)
		require.Len(t, got, 1)
		require.Equal(t, &Record{Text: tc.text}, got[0].rec, "%q", tc.line)
	}
	_, err = newParseFn(bg, "", Format{Text: "note"})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = newParseFn(bg, "", Format{Kind: "xml"})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestParseCSV(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "*.csv")
	writeFile(t, dir, "a.csv", "\ufeffid,note,site\r\n1,fever,x\r\n")
	writeFile(t, dir, "b.csv", "id,note,site\n")
	fn, err := newParseFn(bg, glob, Format{Kind: FormatCSV, Text: "note", ID: "id"})
	require.NoError(t, err)
	require.Equal(t, 1, fn.TextCol)
	require.Equal(t, 0, fn.IDCol)
	for _, tc := range []struct {
		line   string
		want   *Record
		reason string
	}{
		{"7,high fever,x", &Record{ID: "7", Text: "high fever"}, ""},
		{"7,high fever,x\r", &Record{ID: "7", Text: "high fever"}, ""},
		{`8,"fever, chills and ""aches""",y`, &Record{ID: "8", Text: `fever, chills and "aches"`}, ""},
		{"9,,z", &Record{ID: "9", Text: ""}, ""}, // empty text: the inference checks decide
		{"10,fever", &Record{ID: "10", Text: "fever"}, ""},
		{"id,note,site", nil, ""},       // a header line is skipped
		{"\ufeffid,note,site", nil, ""}, // with its BOM too
		{"11", nil, ReasonParse},        // no text column
		{`12,"fever`, nil, ReasonParse}, // a quoted field cut at a newline
		{`and chills",x`, nil, ReasonParse},
		{`13,a "b" c,x`, nil, ReasonParse}, // bare quote
		{"", nil, ReasonEmpty},
		{"   ", nil, ReasonEmpty},
	} {
		got := parseLine(fn, tc.line)
		if tc.want == nil && tc.reason == "" {
			require.Empty(t, got, "%q", tc.line)
			continue
		}
		require.Len(t, got, 1, "%q", tc.line)
		require.Equal(t, tc.want, got[0].rec, "%q", tc.line)
		require.Equal(t, tc.reason, got[0].reason, "%q", tc.line)
	}

	// By index, without a header, with another separator.
	fn, err = newParseFn(bg, glob, Format{Kind: FormatCSV, NoHeader: true, Text: "1", Comma: ';'})
	require.NoError(t, err)
	require.Equal(t, []parsed{{rec: &Record{Text: "fever, chills"}}}, parseLine(fn, "x;fever, chills"))
	fn, err = newParseFn(bg, glob, Format{Kind: FormatCSV, NoHeader: true})
	require.NoError(t, err)
	require.Equal(t, 0, fn.TextCol)

	for _, tc := range []struct {
		name string
		glob string
		f    Format
	}{
		{"no such column", glob, Format{Kind: FormatCSV, Text: "text"}},
		{"index beyond header", glob, Format{Kind: FormatCSV, Text: "3"}},
		{"name without header", glob, Format{Kind: FormatCSV, NoHeader: true, Text: "note"}},
		{"no file", filepath.Join(dir, "*.tsv"), Format{Kind: FormatCSV}},
		{"bad separator", glob, Format{Kind: FormatCSV, Comma: '"'}},
	} {
		_, err := newParseFn(bg, tc.glob, tc.f)
		require.ErrorIs(t, err, ErrInvalidConfig, tc.name)
	}
	writeFile(t, dir, "c.csv", "id,text,site\n")
	_, err = newParseFn(bg, glob, Format{Kind: FormatCSV, Text: "note"})
	require.ErrorIs(t, err, ErrInvalidConfig, "files disagree on the header")
	require.Contains(t, err.Error(), "c.csv")

	// A gzipped file's header is read through gzip.
	gzDir := t.TempDir()
	f, err := os.Create(filepath.Join(gzDir, "n.csv.gz"))
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	fmt.Fprint(zw, "note_id,note\n1,fever\n")
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	fn, err = newParseFn(bg, filepath.Join(gzDir, "*.gz"), Format{Kind: FormatCSV, Text: "note", ID: "note_id"})
	require.NoError(t, err)
	require.Equal(t, "note_id,note", fn.Header)
}

func TestParseJSONL(t *testing.T) {
	fn, err := newParseFn(bg, "", Format{Kind: FormatJSONL, ID: "id"})
	require.NoError(t, err)
	for _, tc := range []struct {
		line   string
		want   *Record
		reason string
	}{
		{`{"id":"a1","text":"fever"}`, &Record{ID: "a1", Text: "fever"}, ""},
		{`{"id":17,"text":"fever","extra":[1,2]}`, &Record{ID: "17", Text: "fever"}, ""},
		{`{"id":1e3,"text":"x"}`, &Record{ID: "1e3", Text: "x"}, ""},
		{"\ufeff{\"id\":\"b\",\"text\":\"caf\\u00e9 \\ud83d\\ude37\"}\r", &Record{ID: "b", Text: "café 😷"}, ""},
		{`{"id":"c","text":""}`, &Record{ID: "c", Text: ""}, ""},
		{`  {"id":"d","text":"line\nbreak"}  `, &Record{ID: "d", Text: "line\nbreak"}, ""},
		{`{"id":"e"}`, nil, ReasonParse},
		{`{"id":"f","text":null}`, nil, ReasonParse},
		{`{"id":"g","text":42}`, nil, ReasonParse},
		{`{"text":"no id"}`, nil, ReasonParse},
		{`{"id":null,"text":"x"}`, nil, ReasonParse},
		{`{"id":["x"],"text":"x"}`, nil, ReasonParse},
		{`["text"]`, nil, ReasonParse},
		{`null`, nil, ReasonParse},
		{`{"id":"h","text":"x"} trailing`, nil, ReasonParse},
		{`{"id":"i","text":"x"`, nil, ReasonParse},
		{"{\"id\":\"j\",\"text\":\"bad \xff\"}", nil, ReasonInvalidUTF8},
		{"", nil, ReasonEmpty},
		{" \r", nil, ReasonEmpty},
	} {
		got := parseLine(fn, tc.line)
		require.Len(t, got, 1, "%q", tc.line)
		require.Equal(t, tc.want, got[0].rec, "%q", tc.line)
		require.Equal(t, tc.reason, got[0].reason, "%q", tc.line)
	}
	fn, err = newParseFn(bg, "", Format{Kind: FormatJSONL, Text: "note"})
	require.NoError(t, err)
	require.Equal(t, []parsed{{rec: &Record{Text: "x"}}}, parseLine(fn, `{"note":"x","id":5}`), "no ID field asked for")
}

// FuzzParse: no line makes parseFn panic, and every line gives exactly one
// record or dead letter (or, for CSV, is the skipped header).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"", "a,b", `"x""y",z`, `{"id":1,"text":"t"}`, "\ufeff{}", "\xff", `{"text":"\ud800"}`, "id,text"} {
		f.Add(seed)
	}
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "h.csv"), []byte("id,text\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	csvFn, err := newParseFn(bg, filepath.Join(dir, "h.csv"), Format{Kind: FormatCSV, ID: "id"})
	if err != nil {
		f.Fatal(err)
	}
	jsonFn, _ := newParseFn(bg, "", Format{Kind: FormatJSONL, ID: "id"})
	linesFn, _ := newParseFn(bg, "", Format{})
	f.Fuzz(func(t *testing.T, line string) {
		for _, fn := range []*parseFn{csvFn, jsonFn, linesFn} {
			got := parseLine(fn, line)
			if len(got) > 1 || (len(got) == 0 && (fn != csvFn || cleanLine(line, true) != fn.Header)) {
				t.Fatalf("%s: %q gave %d outputs", fn.Kind, line, len(got))
			}
			if len(got) == 1 && got[0].rec == nil && got[0].reason == "" {
				t.Fatalf("%s: %q: dead letter without a reason", fn.Kind, line)
			}
			if fn == jsonFn && len(got) == 1 && got[0].rec != nil && !utf8.ValidString(got[0].rec.Text) {
				t.Fatalf("JSON text %q is not valid UTF-8", got[0].rec.Text)
			}
		}
	})
}

func TestDeadLetterJSON(t *testing.T) {
	for _, d := range []DeadLetter{
		{ID: "1", Input: "fine <b>text</b>", Reason: ReasonEmpty, Error: "x"},
		{ID: "2", Input: "", Reason: ReasonEmpty, Error: "empty"},
		{Input: "bad \xff\xfe bytes", Reason: ReasonInvalidUTF8, Error: "bad"},
		{ID: "id\xff", Input: "x", Reason: ReasonParse, Error: "err \xff"},
	} {
		line, err := deadLetterJSON(d)
		require.NoError(t, err)
		require.True(t, utf8.ValidString(line))
		require.NotContains(t, line, "\\u003c", "no HTML escaping, as lepton classify --json")
		var back deadJSON
		require.NoError(t, json.Unmarshal([]byte(line), &back))
		var input string
		if back.Input != nil {
			input = *back.Input
			require.Empty(t, back.InputBase64)
		} else {
			raw, err := base64.StdEncoding.DecodeString(back.InputBase64)
			require.NoError(t, err)
			input = string(raw)
		}
		require.Equal(t, d.Input, input, "the input survives byte for byte")
		require.Equal(t, d.Reason, back.Reason)
		if utf8.ValidString(d.ID) {
			require.Equal(t, d.ID, back.ID)
		} else {
			require.True(t, strings.HasPrefix(back.ID, "base64:"))
		}
	}
}

func TestShardName(t *testing.T) {
	require.Equal(t, "out/results.jsonl", ShardName("out/results.jsonl", 0, 1))
	require.Equal(t, "out/results-00002-of-00010.jsonl", ShardName("out/results.jsonl", 2, 10))
	require.Equal(t, "gs://b/r-00000-of-00002", ShardName("gs://b/r", 0, 2))
	require.Equal(t, "a.b/r-00001-of-00002", ShardName("a.b/r", 1, 2))
}

// TestReadAndWrite: Read through textio on Prism (two CSV files with their
// headers, CRLF and a broken record), Classify, and WriteLines in 5 shards
// for 3 lines: every shard file exists, and together they hold each line
// once.
func TestReadAndWrite(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "part1.csv", "note_id,note\r\n1,fever and chills\r\n2,\"itchy, red rash\"\r\n")
	writeFile(t, dir, "part2.csv", "note_id,note\n3,sore throat\n4,\"broken\nrecord\"\n")
	out := filepath.Join(t.TempDir(), "out", "results.jsonl")
	deadOut := filepath.Join(filepath.Dir(out), "dead.jsonl")
	run(t, func(s beam.Scope) {
		recs, parseDead, err := Read(s, filepath.Join(dir, "*.csv"), Format{Kind: FormatCSV, Text: "note", ID: "note_id"})
		require.NoError(t, err)
		results, dead, err := Classify(s, recs, Options{Model: Model{Embedded: testModel}})
		require.NoError(t, err)
		lines, err := FormatJSON(s, results)
		require.NoError(t, err)
		require.NoError(t, WriteLines(s, out, 5, lines))
		deadLines, err := FormatJSON(s, beam.Flatten(s, parseDead, dead))
		require.NoError(t, err)
		require.NoError(t, WriteLines(s, deadOut, 1, deadLines))
	})
	lines := readLines(t, out, 5) // fails if a shard file is missing
	require.Len(t, lines, 3)
	var ids []string
	for _, l := range lines {
		var c Classified
		require.NoError(t, json.Unmarshal([]byte(l), &c))
		ids = append(ids, c.ID)
	}
	require.ElementsMatch(t, []string{"1", "2", "3"}, ids)
	dead := readLines(t, deadOut, 1)
	require.Len(t, dead, 2) // `4,"broken` and `record"`: a quoted newline splits a record
	for _, l := range dead {
		require.Contains(t, l, `"reason":"parse"`)
	}

	p, s := beam.NewPipelineWithRoot()
	_ = p
	require.ErrorIs(t, WriteLines(s, out, 0, beam.Create(s, "x")), ErrInvalidConfig)
	_, err := FormatJSON(s, beam.Create(s, "x"))
	require.ErrorIs(t, err, ErrInvalidConfig)
}
