package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"

	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

var (
	runFixtureOnce sync.Once
	runFixturePath string
	runFixtureErr  error
)

// runFixture converts the golden random-weight checkpoint (labels
// negative, neutral, positive; hidden 64; 128 positions) to a .lep file
// shared by the CLI tests.
func runFixture(t *testing.T) string {
	t.Helper()
	runFixtureOnce.Do(func() {
		net, tok, meta, err := convert.FromHF(filepath.Join("..", "..", "testdata", "golden", "random-bert"), convert.Options{})
		if err != nil {
			runFixtureErr = err
			return
		}
		dir, err := os.MkdirTemp("", "lepton-cli-test")
		if err != nil {
			runFixtureErr = err
			return
		}
		runFixturePath = filepath.Join(dir, "model.lep")
		var buf bytes.Buffer
		if runFixtureErr = lepfile.Write(&buf, net, tok, meta); runFixtureErr == nil {
			runFixtureErr = os.WriteFile(runFixturePath, buf.Bytes(), 0o644)
		}
	})
	require.NoError(t, runFixtureErr)
	return runFixturePath
}

// TestMain installs this test binary as the lepton command for the
// scripts in testdata/script (script_test.go) and removes the shared
// fixture after the tests.
func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"lepton": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// cleanupM runs the tests, then removes runFixture's file.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	if runFixturePath != "" {
		os.RemoveAll(filepath.Dir(runFixturePath))
	}
	if tagFixturePath != "" { // tag_test.go
		os.RemoveAll(filepath.Dir(tagFixturePath))
	}
	return code
}

// runCLI runs one command line and returns exit status, stdout and stderr.
func runCLI(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// modelLabels returns the labels of the model at path.
func modelLabels(t *testing.T, path string) []string {
	t.Helper()
	m, err := openModel(path)
	require.NoError(t, err)
	defer m.Close()
	return m.Info().Labels
}

// probsOf returns the probabilities of a classify --json line in label
// order, from its "top" list (every label by default), checking that the
// list is sorted, complete and consistent with "label" and "score".
func probsOf(t *testing.T, labels []string, c classifyJSON) []float32 {
	t.Helper()
	require.Len(t, c.Top, len(labels), "top lists every label with --json")
	p := make([]float32, len(labels))
	seen := map[string]bool{}
	for i, lp := range c.Top {
		k := slices.Index(labels, lp.Label)
		require.GreaterOrEqual(t, k, 0, "unknown label %q", lp.Label)
		require.False(t, seen[lp.Label], "label %q twice", lp.Label)
		seen[lp.Label] = true
		p[k] = lp.Prob
		if i > 0 {
			require.LessOrEqual(t, lp.Prob, c.Top[i-1].Prob, "top is sorted by probability")
		}
	}
	require.Equal(t, c.Label, c.Top[0].Label)
	require.Equal(t, labels[c.Index], c.Label)
	require.NotNil(t, c.Score)
	require.Equal(t, c.Top[0].Prob, *c.Score)
	return p
}

func TestClassifyCLI(t *testing.T) {
	model := runFixture(t)
	labels := []string{"negative", "neutral", "positive"}
	require.Equal(t, labels, modelLabels(t, model))

	texts := []string{"The patient has had a high fever, chills and a headache for three days.", "😀 😷"}
	code, out, errs := runCLI("", "classify", "-m", model, "--json", texts[0], texts[1])
	require.Equal(t, 0, code, errs)
	require.Empty(t, errs, "no warnings in --json mode: the diagnostics are in the records")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for i, l := range lines {
		var r classifyJSON
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&r), l)
		require.Equal(t, i+1, r.Line)
		require.Equal(t, texts[i], r.Text)
		var sum float64
		for _, p := range probsOf(t, labels, r) {
			sum += float64(p)
		}
		require.InDelta(t, 1, sum, 1e-5)
	}
	// ONNX Runtime: neutral (testdata/golden/random_bert.json).
	require.Contains(t, lines[0], `"label":"neutral"`)
	require.Contains(t, lines[0], `"tokens":16,"truncated":false,"unknown":0}`)
	require.Contains(t, lines[1], `"tokens":2,"truncated":false,"unknown":1}`, "emoji are [UNK] in this vocabulary")

	// --top-k and --no-text.
	code, out, errs = runCLI("", "classify", "-m", model, "--json", "--top-k", "2", "--no-text", texts[0])
	require.Equal(t, 0, code, errs)
	var r classifyJSON
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Len(t, r.Top, 2)
	require.Empty(t, r.Text)
	require.NotContains(t, out, `"text"`)
	code, out, errs = runCLI("", "classify", "-m", model, "--top-k", "3", texts[0])
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^neutral\t0\.\d{4}\t(negative|positive)\t0\.\d{4}\t(negative|positive)\t0\.\d{4}\t`+regexp.QuoteMeta(texts[0])+"\n$", out)
	code, out, errs = runCLI("", "classify", "-m", model, "--no-text", texts[0])
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^neutral\t0\.\d{4}\n$`, out)

	// Stdin, one text per line (CRLF included): blank lines are skipped
	// with a warning naming the line, not classified.
	code, out, errs = runCLI("a dry cough\r\n\n   \nhigh fever", "classify", "-m", model)
	require.Equal(t, 0, code, errs)
	plain := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, plain, 2)
	require.True(t, strings.HasSuffix(plain[0], "\ta dry cough"), plain[0])
	require.True(t, strings.HasSuffix(plain[1], "\thigh fever"), plain[1])
	require.Equal(t, "lepton classify: warning: line 2: blank line, skipped\nlepton classify: warning: line 3: blank line, skipped\n", errs)
	code, out, errs = runCLI("a dry cough\n\nhigh fever\n", "classify", "-m", model, "--json")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `{"line":1,"text":"a dry cough"`)
	require.Contains(t, out, `{"line":3,"text":"high fever"`)
	require.Contains(t, errs, "line 2: blank line, skipped")
	// A blank argument is a usage error: there is nothing to answer.
	code, out, errs = runCLI("", "classify", "-m", model, "fever", " ")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errs, "argument 2 is blank")

	// Pairs.
	code, out, errs = runCLI("i feel a sore throat and a cough\tno fever since monday\n", "classify", "-m", model, "--pair", "--json")
	require.Equal(t, 0, code, errs)
	_, out2, _ := runCLI("", "classify", "-m", model, "--pair", "--json", "i feel a sore throat and a cough", "no fever since monday")
	require.Equal(t, out, out2)
	require.Contains(t, out, `"label":"negative"`) // ONNX Runtime's argmax for this pair
	require.Contains(t, out, `"text":"i feel a sore throat and a cough","pair":"no fever since monday"`)
}

// TestClassifyWarnings: text mode says on stderr, with the line number,
// which answers are about less than the text: truncated, mostly [UNK],
// nothing left after normalisation, invalid UTF-8; binary data is refused
// with one error; warnings beyond maxWarnings are counted.
func TestClassifyWarnings(t *testing.T) {
	model := runFixture(t)
	long := strings.Repeat("fever and cough ", 100)
	in := "fever\n" + long + "\n😀 😷 fever\n\x01\x02\ncaf\xe9 fever\n"
	code, out, errs := runCLI(in, "classify", "-m", model)
	require.Equal(t, 0, code, errs)
	require.Len(t, strings.Split(strings.TrimSuffix(out, "\n"), "\n"), 4, "line 4 has no tokens: skipped")
	require.Contains(t, out, "\tcaf\uFFFD fever\n", "invalid bytes are echoed as U+FFFD")
	require.Equal(t, strings.Join([]string{
		"lepton classify: warning: line 2: truncated: only its first 126 tokens were read (max length 128; the text has 1600 bytes)",
		"lepton classify: warning: line 3: 2 of its 3 tokens are [UNK], unknown to the model's vocabulary: the answer says little about the text",
		"lepton classify: warning: line 4: no tokens once normalised (control characters only?), skipped",
		"lepton classify: warning: line 5: not valid UTF-8 (is the input in another encoding?); the invalid bytes were ignored",
	}, "\n")+"\n", errs)
	code, out, errs = runCLI(in, "classify", "-m", model, "--max-length", "8", "--no-text")
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "line 2: truncated: only its first 6 tokens were read (max length 8;")
	// --json: no warnings but for skipped lines; the records say it.
	code, out, errs = runCLI(in, "classify", "-m", model, "--json")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "lepton classify: warning: line 4: no tokens once normalised (control characters only?), skipped\n", errs)
	require.Contains(t, out, `"tokens":126,"truncated":true,"unknown":0}`)
	require.Contains(t, out, `"tokens":3,"truncated":false,"unknown":0.6667}`)
	// --no-truncate fails at the first long line, after printing the
	// results before it.
	code, out, errs = runCLI(in, "classify", "-m", model, "--no-truncate")
	require.Equal(t, 1, code)
	require.Equal(t, 1, strings.Count(out, "\n"), "line 1's result is printed: %q", out)
	require.Equal(t, "lepton classify: line 2: longer than the max length of 128 tokens (--no-truncate)\n", errs)

	// Binary data: one error, no answers.
	bin := "\x7fELF\x02\x01\x01\x00\x00\x00junk\nmore\x00junk\n"
	code, out, errs = runCLI(bin, "classify", "-m", model)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, "lepton classify: standard input looks like binary data (a NUL byte on line 1), not text with one input per line\n", errs)
	// A NUL byte past the first 8 KiB: that line is skipped.
	text := strings.Repeat("fever\n", 2000) + "a\x00b\nfever\n"
	code, out, errs = runCLI(text, "classify", "-m", model, "--no-text")
	require.Equal(t, 0, code, errs)
	require.Equal(t, 2001, strings.Count(out, "\n"))
	require.Equal(t, "lepton classify: warning: line 2001: NUL bytes (binary data?), line, skipped\n", errs)

	// Many warnings: the first maxWarnings, then a count.
	code, _, errs = runCLI(strings.Repeat("😀\n\n", 30), "classify", "-m", model)
	require.Equal(t, 0, code, errs)
	warnLines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	require.Len(t, warnLines, maxWarnings+2, errs)
	require.Equal(t, "lepton classify: warning: more warnings are counted, not shown (totals at the end)", warnLines[maxWarnings])
	require.Equal(t, "lepton classify: warning: in all: 30 blank lines skipped, 30 inputs mostly unknown to the vocabulary", warnLines[maxWarnings+1])
}

func TestEmbedCLI(t *testing.T) {
	model := runFixture(t)
	code, out, errs := runCLI("sore throat\n\nfever\n", "embed", "-m", model, "--json", "--pooling", "mean", "--normalize")
	require.Equal(t, 0, code, errs)
	require.Contains(t, errs, "line 2: blank line, skipped")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for i, l := range lines {
		var r embedJSON
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&r), l)
		require.Equal(t, []int{1, 3}[i], r.Line)
		require.Equal(t, []string{"sore throat", "fever"}[i], r.Text)
		require.Equal(t, []int{2, 1}[i], r.Tokens)
		require.Len(t, r.Vector, 64)
		var n float64
		for _, v := range r.Vector {
			n += float64(v) * float64(v)
		}
		require.InDelta(t, 1, math.Sqrt(n), 1e-5)
	}
	code, plain, errs := runCLI("", "embed", "-m", model, "--threads", "1", "fever")
	require.Equal(t, 0, code, errs)
	vec, text, ok := strings.Cut(strings.TrimSuffix(plain, "\n"), "\t")
	require.True(t, ok, "vector, tab, text: %q", plain)
	require.Equal(t, "fever", text)
	require.Len(t, strings.Fields(vec), 64)
	_, cls, _ := runCLI("", "embed", "-m", model, "--pooling", "cls", "fever")
	require.Equal(t, plain, cls, "the fixture's default pooling is cls")
	_, noText, _ := runCLI("", "embed", "-m", model, "--no-text", "fever")
	require.Equal(t, vec+"\n", noText)
	_, out, errs = runCLI("", "embed", "-m", model, "--max-length", "4", "fever and cough again")
	require.Contains(t, errs, "argument 1: truncated: only its first 2 tokens were read (max length 4;")
	require.NotEmpty(t, out)
}

// TestRunModelErrors: failures print one line on stderr, nothing on
// stdout, and exit non-zero (2 for usage errors).
func TestRunModelErrors(t *testing.T) {
	model := runFixture(t)
	notModel := filepath.Join(t.TempDir(), "notes.lep")
	require.NoError(t, os.WriteFile(notModel, []byte("hello"), 0o644))
	long := strings.Repeat("fever ", 300)
	for _, tc := range []struct {
		name string
		code int
		in   string
		args []string
		want string
	}{
		{"missing file", 1, "", []string{"classify", "-m", "/nonexistent/model.lep", "x"}, "-m: open model: open /nonexistent/model.lep: no such file"},
		{"not a model", 1, "", []string{"embed", "-m", notModel, "x"}, "-m: invalid model file"},
		{"bad pooling", 2, "", []string{"embed", "-m", model, "--pooling", "median", "x"}, `--pooling "median": want cls, mean or max`},
		{"unknown prompt", 2, "", []string{"embed", "-m", model, "--prompt", "query", "x"}, `--prompt "query": the model has no such prompt (its prompts: none)`},
		{"bad flag", 2, "", []string{"classify", "-m", model, "--bogus", "x"}, "bogus"},
		{"too long", 1, "", []string{"classify", "-m", model, "--no-truncate", long, "ok"}, "argument 1: longer than the max length of 128 tokens (--no-truncate)"},
		{"too long from stdin", 1, long + "\n", []string{"embed", "-m", model, "--no-truncate"}, "line 1: longer than the max length"},
		{"max length beyond model", 2, "", []string{"classify", "-m", model, "--max-length", "4096", "x"}, "--max-length 4096: the model has 128 positions"},
		{"bad max length", 2, "", []string{"embed", "-m", model, "--max-length", "-1", "x"}, "--max-length -1"},
		{"bad threads", 2, "", []string{"classify", "-m", model, "--threads", "-2", "x"}, "--threads -2"},
		{"bad act bits", 2, "", []string{"embed", "-m", model, "--act-bits", "6", "x"}, "--act-bits 6: want 7 or 8"},
		{"bad top-k", 2, "", []string{"classify", "-m", model, "--top-k", "-1", "x"}, "--top-k -1"},
		{"pair needs two", 2, "", []string{"classify", "-m", model, "--pair", "a"}, "two TEXT"},
		{"fp32 without float weights", 2, "", []string{"classify", "-m", model, "--fp32", "x"}, "--fp32: the model has no fp32 weights"},
		{"pair line without tab", 1, "a b\n", []string{"classify", "-m", model, "--pair"}, "line 1: --pair wants two tab-separated texts"},
		{"texts and --in", 2, "", []string{"classify", "-m", model, "--in", "f.txt", "x"}, "not both"},
		{"missing --in", 1, "", []string{"embed", "-m", model, "--in", "/nonexistent/texts.txt"}, "--in: open /nonexistent/texts.txt: no such file"},
		{"progress both ways", 2, "", []string{"classify", "-m", model, "--progress", "--no-progress", "x"}, "contradict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(tc.in, tc.args...)
			require.Equal(t, tc.code, code, errs)
			require.Empty(t, out, "nothing half-written on stdout")
			require.Equal(t, 1, strings.Count(errs, "\n"), "one line on stderr: %q", errs)
			require.Contains(t, errs, tc.want)
		})
	}
	// Truncation is the default: the same long text succeeds.
	code, out, errs := runCLI("", "classify", "-m", model, long)
	require.Equal(t, 0, code, errs)
	require.NotEmpty(t, out)
}
