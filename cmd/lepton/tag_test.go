package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

var (
	tagFixtureOnce sync.Once
	tagFixturePath string
	tagFixtureErr  error
)

// tagFixture converts the golden random-weight token classifier (labels O
// B-PER I-PER B-LOC I-LOC MISC; 128 positions) to a .lep file shared by
// the tag and redact tests.
func tagFixture(t *testing.T) string {
	t.Helper()
	tagFixtureOnce.Do(func() {
		net, tok, meta, err := convert.FromHF(filepath.Join("..", "..", "testdata", "golden", "random-token-bert"), convert.Options{})
		if err != nil {
			tagFixtureErr = err
			return
		}
		var buf bytes.Buffer
		if tagFixtureErr = lepfile.Write(&buf, net, tok, meta); tagFixtureErr != nil {
			return
		}
		dir, err := os.MkdirTemp("", "lepton-cli-tag-test")
		if err != nil {
			tagFixtureErr = err
			return
		}
		tagFixturePath = filepath.Join(dir, "tag.lep")
		tagFixtureErr = os.WriteFile(tagFixturePath, buf.Bytes(), 0o644)
	})
	require.NoError(t, tagFixtureErr)
	return tagFixturePath
}

// apiTag is the oracle: what the library says for the same texts.
func apiTag(t *testing.T, model string, texts []string, opts ...lepton.CallOption) [][]lepton.Entity {
	t.Helper()
	m, err := lepton.Open(model)
	require.NoError(t, err)
	defer m.Close()
	res, err := m.Tag(context.Background(), texts, opts...)
	require.NoError(t, err)
	return res
}

const tagNote = "Dr Anna Lee saw John Smith in London on Monday.\r\nCall Mary Jones, Paris.\n\nZoë Müller visited Leeds"

func TestTagCLI(t *testing.T) {
	model := tagFixture(t)
	texts := []string{"John Smith lives in New York.", "Zoë Müller visited Paris; Anna Lee stayed in Leeds."}

	// Text output: one line per entity, numbered by input.
	code, out, errs := runCLI("", "tag", "-m", model, texts[0], texts[1])
	require.Equal(t, 0, code, errs)
	want := apiTag(t, model, texts)
	var lines []string
	if out != "" {
		lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	require.Len(t, lines, len(want[0])+len(want[1]))
	k := 0
	for i, ents := range want {
		for _, e := range ents {
			f := strings.Split(lines[k], "\t")
			require.Len(t, f, 6, lines[k])
			require.Equal(t, []string{itoa(i + 1), itoa(e.Start), itoa(e.End), e.Label}, f[:4])
			require.Equal(t, texts[i][e.Start:e.End], f[5])
			k++
		}
	}

	// JSON: byte and code-point offsets both right.
	code, out, errs = runCLI("", "tag", "-m", model, "--json", "--aggregation", "simple", texts[1])
	require.Equal(t, 0, code, errs)
	var r tagJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, texts[1], r.Text)
	require.NotEmpty(t, r.Entities)
	runes := []rune(texts[1])
	for _, e := range r.Entities {
		require.Equal(t, texts[1][e.Start:e.End], e.Text)
		require.Equal(t, e.Text, string(runes[e.CharStart:e.CharEnd]), "code-point offsets")
		require.Nil(t, e.Index)
	}
	code, out, errs = runCLI("", "tag", "-m", model, "--json", "--aggregation", "none", "--ignore", "", "Anna")
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Entities, 1)
	require.NotNil(t, r.Entities[0].Index)
	require.Equal(t, 1, *r.Entities[0].Index)

	// Standard input, one text per line: "line" follows the lines, and
	// blank lines are inputs without entities.
	in := "John Smith\n\nAnna Lee\r\nMary Jones\nParis"
	code, out, errs = runCLI(in, "tag", "-m", model, "--json")
	require.Equal(t, 0, code, errs)
	js := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, js, 5)
	for i, l := range js {
		r = tagJSON{}
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		require.Equal(t, []string{"John Smith", "", "Anna Lee", "Mary Jones", "Paris"}[i], r.Text, "line %d", i+1)
		require.Equal(t, i+1, r.Line)
	}
	require.Contains(t, js[1], `"entities":[],"tokens":0`)

	// --whole: one text; --in reads a file.
	code, out, errs = runCLI(tagNote, "tag", "-m", model, "--json", "--whole")
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, tagNote, r.Text)
	path := filepath.Join(t.TempDir(), "note.txt")
	require.NoError(t, os.WriteFile(path, []byte(tagNote), 0o644))
	code, out2, errs := runCLI("", "tag", "-m", model, "--json", "--whole", "--in", path)
	require.Equal(t, 0, code, errs)
	require.Equal(t, out, out2)
}

func TestRedactCLI(t *testing.T) {
	model := tagFixture(t)
	label := func(e lepton.Entity) string { e.Label = entityType(e.Label); return labelMask(e) }

	// A document: exactly the library's Redact of the library's Tag.
	code, out, errs := runCLI(tagNote, "redact", "-m", model)
	require.Equal(t, 0, code, errs)
	want := lepton.Redact(tagNote, apiTag(t, model, []string{tagNote})[0], label)
	require.Equal(t, want, out)
	require.NotEqual(t, tagNote, out, "the random model finds something to mask")
	require.Equal(t, strings.Count(tagNote, "\n"), strings.Count(out, "\n"), "lines are kept")
	require.Equal(t, "[NAME]\r\n", labelMask(lepton.Entity{Label: "NAME", Text: "LP,\r\nSigrid"}))
	require.Equal(t, "[DATE]", labelMask(lepton.Entity{Label: "DATE", Text: "1 May"}))

	// Line by line: each line on its own, terminators kept ("\r\n", "\n",
	// a blank line, no newline at the end).
	code, out, errs = runCLI(tagNote, "redact", "-m", model, "--lines")
	require.Equal(t, 0, code, errs)
	parts := []string{"Dr Anna Lee saw John Smith in London on Monday.", "Call Mary Jones, Paris.", "", "Zoë Müller visited Leeds"}
	res := apiTag(t, model, parts)
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(lepton.Redact(p, res[i], label))
		b.WriteString([]string{"\r\n", "\n", "\n", ""}[i])
	}
	require.Equal(t, b.String(), out)

	// --mask: one character per character, line breaks kept: same number
	// of runes and lines, and every unmasked byte in place.
	code, out, errs = runCLI(tagNote, "redact", "-m", model, "--mask", "█")
	require.Equal(t, 0, code, errs)
	require.Equal(t, utf8.RuneCountInString(tagNote), utf8.RuneCountInString(out))
	require.Equal(t, strings.Count(tagNote, "\n"), strings.Count(out, "\n"))
	or, ir := []rune(out), []rune(tagNote)
	masked := 0
	for i := range ir {
		if or[i] != ir[i] {
			require.Equal(t, '█', or[i])
			masked++
		}
	}
	require.Positive(t, masked)

	// --types: only those types.
	code, out, errs = runCLI(tagNote, "redact", "-m", model, "--types", "LOC")
	require.Equal(t, 0, code, errs)
	require.NotContains(t, out, "[PER]")
	require.NotContains(t, out, "[MISC]")

	// --json: redacted text and the entities with offsets into the input.
	code, out, errs = runCLI(tagNote, "redact", "-m", model, "--json")
	require.Equal(t, 0, code, errs)
	var rj redactJSON
	require.NoError(t, json.Unmarshal([]byte(out), &rj))
	require.Equal(t, want, rj.Redacted)
	for _, e := range rj.Entities {
		require.Equal(t, tagNote[e.Start:e.End], e.Text)
	}

	// Files into a directory, under the same names.
	dir, outDir := t.TempDir(), t.TempDir()
	a, c := filepath.Join(dir, "a.txt"), filepath.Join(dir, "c.txt")
	require.NoError(t, os.WriteFile(a, []byte(tagNote), 0o644))
	require.NoError(t, os.WriteFile(c, []byte("Anna Lee\n"), 0o644))
	code, out, errs = runCLI("", "redact", "-m", model, "-o", outDir, "--in", a, "--in", c)
	require.Equal(t, 0, code, errs)
	require.Empty(t, out)
	got, err := os.ReadFile(filepath.Join(outDir, "a.txt"))
	require.NoError(t, err)
	require.Equal(t, want, string(got))
	_, err = os.Stat(filepath.Join(outDir, "c.txt"))
	require.NoError(t, err)
	entries, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary files left")
	code, _, errs = runCLI("", "redact", "-m", model, "-o", dir, "--in", a)
	require.Equal(t, 2, code)
	require.Contains(t, errs, "overwrite")
	code, _, errs = runCLI("", "redact", "-m", model, "-o", outDir, "--in", a, "--in", filepath.Join(outDir, "a.txt"))
	require.Equal(t, 2, code)
	require.Contains(t, errs, "would both be written to a.txt")

	// TEXT arguments: one text each, one per line; --json numbers them.
	code, out, errs = runCLI("", "redact", "-m", model, parts[0], parts[1])
	require.Equal(t, 0, code, errs)
	res = apiTag(t, model, parts[:2])
	require.Equal(t, lepton.Redact(parts[0], res[0], label)+"\n"+lepton.Redact(parts[1], res[1], label)+"\n", out)
}

// TestTagRedactErrors: usage errors exit 2, runtime errors 1, each with one
// line on stderr.
func TestTagRedactErrors(t *testing.T) {
	model := tagFixture(t)
	for _, c := range []struct {
		code int
		args []string
		msg  string
	}{
		{2, []string{"tag", "-m", model, "--aggregation", "mean", "x"}, "--aggregation"},
		{2, []string{"tag", "-m", model, "--act-bits", "6", "x"}, "--act-bits"},
		{2, []string{"tag", "-m", model, "--max-length", "2", "x"}, "--max-length 2"},
		{2, []string{"tag", "-m", model, "--max-length", "500", "x"}, "--max-length 500: the model has 128 positions"},
		{2, []string{"tag", "-m", model, "--stride", "-2", "x"}, "--stride -2"},
		{2, []string{"tag", "-m", model, "--max-length", "10", "--stride", "8", "x"}, "--stride 8: want less than the 8 tokens"},
		{2, []string{"tag", "-m", model, "--whole", "x"}, "not both"},
		{2, []string{"tag", "-m", model, "--fp32", "x"}, "--fp32: the model has no fp32 weights"},
		{2, []string{"tag", "--no-such-flag"}, "no-such-flag"},
		{2, []string{"redact", "-m", model, "--mask", "ab"}, "--mask"},
		{2, []string{"redact", "-m", model, "--types", "NAME"}, "no type \"NAME\""},
		{2, []string{"redact", "-m", model, "-o", t.TempDir()}, "-o needs --in FILE"},
		{2, []string{"redact", "-m", model, "--in", "f", "x"}, "not both"},
		{1, []string{"redact", "-m", model, "-o", "/nonexistent/dir", "--in", "f"}, "-o: stat /nonexistent/dir"},
		{1, []string{"redact", "-m", model, "--in", filepath.Join(t.TempDir(), "missing.txt")}, "--in: open "},
		{1, []string{"tag", "-m", runFixture(t), "x"}, "-m: BertForSequenceClassification is not a token classifier"},
		{1, []string{"redact", "-m", filepath.Join(t.TempDir(), "none.lep")}, "-m: "},
	} {
		code, _, errs := runCLI("Anna\n", c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.True(t, strings.HasPrefix(errs, "lepton "+c.args[0]+": "), "%v: %q", c.args, errs)
		require.Contains(t, errs, c.msg, "%v", c.args)
		require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestDefaultTagModel: without -m, tag and redact run the built-in
// de-identification model.
func TestDefaultTagModel(t *testing.T) {
	note := "Referral for Mrs Okafor, DOB 14/02/1961. Please call her on 0113 496 0000."
	code, out, errs := runCLI("", "tag", "--json", note)
	require.Equal(t, 0, code, errs)
	var r tagJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	found := map[string]string{}
	for _, e := range r.Entities {
		found[e.Text] = e.Label
	}
	require.Equal(t, "DATE", found["14/02/1961"], out)
	require.Equal(t, "PHONE", found["0113 496 0000"], out)
	code, out, errs = runCLI(note, "redact")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "DOB [DATE]. Please call her on [PHONE].")
}
