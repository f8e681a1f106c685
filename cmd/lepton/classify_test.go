package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

func TestMain(m *testing.M) {
	code := m.Run()
	if runFixturePath != "" {
		os.RemoveAll(filepath.Dir(runFixturePath))
	}
	if tagFixturePath != "" { // tag_test.go
		os.RemoveAll(filepath.Dir(tagFixturePath))
	}
	os.Exit(code)
}

// runCLI runs one command line and returns exit status, stdout and stderr.
func runCLI(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestClassifyCLI(t *testing.T) {
	model := runFixture(t)
	labels := map[string]int{"negative": 0, "neutral": 1, "positive": 2}

	code, out, errs := runCLI("", "classify", "-m", model, "--json", "The patient has had a high fever, chills and a headache for three days.", "")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var r struct {
			Label string    `json:"label"`
			Index *int      `json:"index"`
			Probs []float32 `json:"probs"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&r), l)
		require.NotNil(t, r.Index)
		require.Equal(t, labels[r.Label], *r.Index)
		require.Len(t, r.Probs, 3)
		var sum float64
		for _, p := range r.Probs {
			sum += float64(p)
		}
		require.InDelta(t, 1, sum, 1e-5)
	}
	// ONNX Runtime: neutral for both (testdata/golden/random_bert.json).
	require.Contains(t, lines[0], `"label":"neutral"`)

	// Stdin, one text per line (CRLF and a blank line included), plain output.
	code, out, errs = runCLI("a dry cough\r\n\nhigh fever", "classify", "-m", model)
	require.Equal(t, 0, code, errs)
	plain := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, plain, 3)
	require.True(t, strings.HasSuffix(plain[0], "\ta dry cough"), plain[0])
	require.True(t, strings.HasSuffix(plain[2], "\thigh fever"), plain[2])
	// The blank line is the empty text, like the second argument above.
	_, again, _ := runCLI("", "classify", "-m", model, "")
	require.Equal(t, again, plain[1]+"\n")

	// Pairs.
	code, out, errs = runCLI("i feel a sore throat and a cough\tno fever since monday\n", "classify", "-m", model, "--pair", "--json")
	require.Equal(t, 0, code, errs)
	_, out2, _ := runCLI("", "classify", "-m", model, "--pair", "--json", "i feel a sore throat and a cough", "no fever since monday")
	require.Equal(t, out, out2)
	require.Contains(t, out, `"label":"negative"`) // ONNX Runtime's argmax for this pair
}

func TestEmbedCLI(t *testing.T) {
	model := runFixture(t)
	code, out, errs := runCLI("sore throat\nfever\n", "embed", "-m", model, "--json", "--pooling", "mean", "--normalize")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var r struct {
			Vector []float32 `json:"vector"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		require.Len(t, r.Vector, 64)
		var n float64
		for _, v := range r.Vector {
			n += float64(v) * float64(v)
		}
		require.InDelta(t, 1, math.Sqrt(n), 1e-5)
	}
	code, plain, errs := runCLI("", "embed", "-m", model, "--threads", "1", "fever")
	require.Equal(t, 0, code, errs)
	require.Len(t, strings.Fields(plain), 64)
	_, cls, _ := runCLI("", "embed", "-m", model, "--pooling", "cls", "fever")
	require.Equal(t, plain, cls, "the fixture's default pooling is cls")
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
		{"missing file", 1, "", []string{"classify", "-m", "/nonexistent/model.lep", "x"}, "no such file"},
		{"not a model", 1, "", []string{"embed", "-m", notModel, "x"}, "invalid model file"},
		{"bad pooling", 2, "", []string{"embed", "-m", model, "--pooling", "max", "x"}, "pooling"},
		{"bad flag", 2, "", []string{"classify", "-m", model, "--bogus", "x"}, "bogus"},
		{"too long", 1, "", []string{"classify", "-m", model, "--no-truncate", "ok", long}, "exceeds max length"},
		{"too long from stdin", 1, "ok\n" + long + "\n", []string{"embed", "-m", model, "--no-truncate"}, "input 1"},
		{"max length beyond model", 1, "", []string{"classify", "-m", model, "--max-length", "4096", "x"}, "positions"},
		{"bad threads", 1, "", []string{"classify", "-m", model, "--threads", "-2", "x"}, "threads"},
		{"pair needs two", 2, "", []string{"classify", "-m", model, "--pair", "a"}, "two TEXT"},
		{"fp32 without float weights", 1, "", []string{"classify", "-m", model, "--fp32", "x"}, "keep-fp32"},
		{"pair line without tab", 1, "a b\n", []string{"classify", "-m", model, "--pair"}, "tab-separated"},
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
