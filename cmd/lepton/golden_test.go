package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/leptontest"
)

// goldenFixture returns testdata/golden/NAME at the repository root.
func goldenFixture(name string) string {
	return filepath.Join("..", "..", "testdata", "golden", name)
}

// quantizeCLI converts dir with `lepton quantize` into a temporary file.
func quantizeCLI(t *testing.T, dir string, extra ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "model.lep")
	code, stdout, errs := runCLI("", append([]string{"quantize", dir, "-o", out, "--no-progress"}, extra...)...)
	require.Equal(t, 0, code, errs)
	return out, stdout
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestGoldenCLI(t *testing.T) {
	model := runFixture(t) // 3-label classifier
	dir := t.TempDir()
	classify := writeFile(t, dir, "classify.txt", "fever and chills\n\nitchy red rash\r\n")
	pairs := writeFile(t, dir, "pairs.txt", "sore throat\ta cough\n")
	embed := writeFile(t, dir, "embed.txt", "sore throat\n")
	golden := filepath.Join(dir, "out", "model.golden.json")

	code, out, errs := runCLI("", "golden", "record", "-m", model, "--classify", classify, "--pairs", pairs,
		"--embed", embed, "--act-bits", "8", "--pooling", "mean", "-o", golden)
	require.Equal(t, 0, code, errs)
	require.Equal(t, "wrote "+golden+": 5 cases\n", out)
	g, err := leptontest.Read(golden)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"act-bits": "8", "pooling": "mean"}, g.Options)
	require.Equal(t, []string{"fever and chills", "", "itchy red rash"}, g.Inputs().Classify)
	require.Equal(t, 8, g.Model.ActBits)

	// check reuses the recorded settings: exact, status 0.
	code, out, errs = runCLI("", "golden", "check", "-m", model, golden)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "5 cases within the tolerance (exact)")

	// Overriding a recorded setting moves the outputs: a report and status 1.
	code, out, errs = runCLI("", "golden", "check", "-m", model, "--act-bits", "7", golden)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "note: --act-bits 7 (the file says 8)")
	require.Contains(t, errs, "lepton golden: outputs moved beyond the tolerance")
	require.Contains(t, out, "cases moved beyond the tolerance (exact)")
	require.Contains(t, out, "recorded with 8-bit activations, this run used 7")
	// ... unless the tolerances allow it.
	code, out, errs = runCLI("", "golden", "check", "-m", model, "--act-bits", "7", "--logits", "0.5", "--probs", "0.5",
		"--vector", "0.5", "--cosine", "0.01", "--label-margin", "1", golden)
	require.Equal(t, 0, code, errs+out)
	// --json: the report as JSON.
	code, out, _ = runCLI("", "golden", "check", "-m", model, "--json", "--act-bits", "7", "--vector", "inf", golden)
	require.Equal(t, 1, code)
	var rep struct {
		OK        bool              `json:"ok"`
		Cases     int               `json:"cases"`
		Moved     []leptontest.Diff `json:"moved"`
		Tolerance map[string]any    `json:"tolerance"`
		Worst     leptontest.Worst  `json:"worst"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.False(t, rep.OK)
	require.Equal(t, 5, rep.Cases)
	require.NotEmpty(t, rep.Moved)
	require.Equal(t, "inf", rep.Tolerance["vector"])
	require.Equal(t, 0.0, rep.Tolerance["logits"])
	require.Greater(t, rep.Worst.Logits, 0.0)

	// --inputs and rerank files on a cross-encoder.
	ce, _ := quantizeCLI(t, goldenFixture("cross-encoder"))
	rr := writeFile(t, dir, "rerank.jsonl", `{"query": "fever", "passages": ["fever and chills", "", "a sore throat"]}`+"\n\n")
	inputs := writeFile(t, dir, "inputs.json", `{"pairs": [["fever", "chills"]], "rerank": [{"query": "cough", "passages": ["a dry cough"]}]}`)
	golden2 := filepath.Join(dir, "ce.golden.json")
	code, out, errs = runCLI("", "golden", "record", "-m", ce, "--rerank", rr, "--inputs", inputs, "-o", golden2)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "3 cases")
	code, _, errs = runCLI("", "golden", "check", "-m", ce, golden2)
	require.Equal(t, 0, code, errs)

	// The committed reference goldens can be checked from the command line too.
	code, out, errs = runCLI("", "golden", "check", "-m", ce, "--fp32", goldenFixture("cross-encoder.golden.json"))
	require.Equal(t, 2, code, "a file without --keep-fp32 weights: a flag the model cannot take: %s", errs)
	require.Contains(t, errs, "--fp32: the model has no fp32 weights")
	code, out, errs = runCLI("", "golden", "check", "-m", ce, "--logits", "0.3", "--probs", "0.05", "--score", "0.05",
		goldenFixture("cross-encoder.golden.json"))
	require.Equal(t, 0, code, errs+out)

	// Usage errors (status 2) and bad files (1).
	for _, tc := range []struct {
		code int
		args []string
		want string
	}{
		{2, []string{"golden", "replay"}, `unknown golden command "replay"`},
		{2, []string{"golden", "record", "-m", model, "--classify", classify}, "-o GOLDEN.json is required"},
		{2, []string{"golden", "record", "-m", model, "-o", golden}, "no inputs"},
		{2, []string{"golden", "record", "-m", model, "-o", golden, "--classify", classify, "extra"}, "unexpected arguments"},
		{2, []string{"golden", "check", "-m", model}, "want exactly one golden file"},
		{2, []string{"golden", "check", "-m", model, "--logits", "-1", golden}, "want a number >= 0 or inf"},
		{1, []string{"golden", "check", "-m", model, embed}, "not a golden file"},
		{1, []string{"golden", "record", "-m", model, "--rerank", classify, "-o", golden}, "line 1: want {\"query\""},
		{1, []string{"golden", "record", "-m", model, "--pairs", classify, "-o", golden}, "tab-separated"},
		{1, []string{"golden", "record", "-m", model, "--classify", filepath.Join(dir, "missing.txt"), "-o", golden}, "no such file"},
		{1, []string{"golden", "record", "-m", model, "--rerank", rr, "-o", golden}, "Rerank needs a cross-encoder"},
	} {
		code, _, errs := runCLI("", tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
		require.Contains(t, errs, tc.want, "%v", tc.args)
		require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	}
	// A golden file that records a setting this version does not know.
	g.Options["temperature"] = "2"
	// 'lepton golden' alone: its usage, readable on several lines, as
	// 'lepton fairness' alone, and exit status 2.
	code, out, errs = runCLI("", "golden")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.True(t, strings.HasPrefix(errs, "usage: lepton golden record"), errs)
	bad := filepath.Join(dir, "bad.golden.json")
	require.NoError(t, g.WriteFile(bad))
	code, _, errs = runCLI("", "golden", "check", "-m", model, bad)
	require.Equal(t, 1, code)
	require.Contains(t, errs, `unknown setting "temperature"`)
	code, _, errs = runCLI("", "golden", "-h")
	require.Equal(t, 0, code)
	require.Contains(t, errs, "lepton golden record")
}

func TestRerankCLI(t *testing.T) {
	ce, summary := quantizeCLI(t, goldenFixture("cross-encoder"))
	require.Contains(t, summary, "a single-output head scored with sigmoid (lepton rerank)")
	code, out, errs := runCLI("", "rerank", "-m", ce, "what causes a high fever and chills",
		"a high fever with chills can be a sign of an infection", "the movie was boring and too long", "a headache", "fever and chills")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 4)
	prev := 2.0
	seen := map[string]bool{}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		require.Len(t, f, 4, l)
		require.Equal(t, strconv.Itoa(i+1), f[0])
		s, err := strconv.ParseFloat(f[1], 64)
		require.NoError(t, err)
		require.LessOrEqual(t, s, prev)
		prev = s
		seen[f[2]] = true
	}
	require.Len(t, seen, 4)

	// Passages from standard input, --top, --json.
	code, out, errs = runCLI("fever and chills\nthe plot was charming\na sore throat\n", "rerank", "-m", ce, "--json", "--top", "2", "fever")
	require.Equal(t, 0, code, errs)
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	var r rerankJSON
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &r))
	require.Equal(t, 1, r.Rank)
	require.Contains(t, []string{"fever and chills", "the plot was charming", "a sore throat"}, r.Text)
	require.InDelta(t, 1/(1+exp(-float64(r.Logit))), float64(r.Score), 1e-6)

	for _, tc := range []struct {
		code int
		args []string
		want string
	}{
		{2, []string{"rerank", "fever", "a"}, "-m MODEL is required"},
		{2, []string{"rerank", "-m", ce}, "want a QUERY"},
		{2, []string{"rerank", "-m", ce, "--top", "-1", "q", "p"}, "--top -1"},
		{2, []string{"rerank", "-m", ce, "q", "p", " "}, "passage 1 (argument 3) is blank"},
		{2, []string{"rerank", "-m", ce, " ", "p"}, "the QUERY is blank"},
		{1, []string{"rerank", "-m", ce, "--in", filepath.Join(t.TempDir(), "none.txt"), "q"}, "--in: open "},
		{1, []string{"rerank", "-m", runFixture(t), "q", "p"}, "Rerank needs a cross-encoder with one output; this BertForSequenceClassification has a classifier with 3 outputs"},
	} {
		code, _, errs := runCLI("", tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
		require.Contains(t, errs, tc.want)
	}
}

// TestQuantizeEncoders: the model kinds of issue 15 through the command
// line, and what `lepton info` and `lepton embed` make of them.
func TestQuantizeEncoders(t *testing.T) {
	st, summary := quantizeCLI(t, goldenFixture("st-minilm"))
	require.Contains(t, summary, "sentence-transformers pooling mean, normalize true")
	code, out, errs := runCLI("", "info", st)
	require.Equal(t, 0, code, errs)
	for _, w := range []string{"format 1.1", "pooling         mean", "normalize       yes", `prompts         passage="passage: ", query="query: " (default none)`, "max length      24 tokens"} {
		require.Contains(t, out, w)
	}
	// embed: unit vectors by default; --normalize=false, --prompt.
	norm := func(out string) float64 {
		var s float64
		for _, f := range strings.Fields(out) {
			v, err := strconv.ParseFloat(f, 64)
			require.NoError(t, err)
			s += v * v
		}
		return s
	}
	code, out, errs = runCLI("", "embed", "-m", st, "--no-text", "sore throat")
	require.Equal(t, 0, code, errs)
	require.InDelta(t, 1, norm(out), 1e-5)
	code, raw, errs := runCLI("", "embed", "-m", st, "--no-text", "--normalize=false", "sore throat")
	require.Equal(t, 0, code, errs)
	require.Greater(t, abs(norm(raw)-1), 1e-3)
	code, q, errs := runCLI("", "embed", "-m", st, "--no-text", "--prompt", "query", "sore throat")
	require.Equal(t, 0, code, errs)
	code, q2, errs := runCLI("", "embed", "-m", st, "--no-text", "query: sore throat")
	require.Equal(t, 0, code, errs)
	require.Equal(t, q2, q)
	require.NotEqual(t, out, q)

	// DistilBERT classifies; its info names the architecture.
	db, summary := quantizeCLI(t, goldenFixture("distilbert"))
	require.Contains(t, summary, "DistilBertForSequenceClassification, 2 layers, hidden 64")
	code, out, errs = runCLI("", "classify", "-m", db, "sore throat")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^(negative|neutral|positive)\t0\.\d{4}\tsore throat\n$`, out)

	// --score-activation overrides config.json; --pooling takes several modes.
	ce, _ := quantizeCLI(t, goldenFixture("cross-encoder"), "--score-activation", "identity")
	code, out, _ = runCLI("", "info", "--json", ce)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"score_activation": "identity"`)
	multi, _ := quantizeCLI(t, goldenFixture("st-minilm"), "--pooling", "mean+cls")
	code, out, _ = runCLI("", "info", multi)
	require.Equal(t, 0, code)
	require.Contains(t, out, "pooling         cls+mean")

	// An unsupported architecture is refused, naming the supported ones.
	dir := t.TempDir()
	copyDir(t, goldenFixture("distilbert"), dir)
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"),
		[]byte(strings.Replace(string(cfg), "DistilBertForSequenceClassification", "DistilBertForQuestionAnswering", 1)), 0o644))
	code, _, errs = runCLI("", "quantize", dir, "-o", filepath.Join(dir, "x.lep"))
	require.Equal(t, 1, code)
	require.Contains(t, errs, `architectures ["DistilBertForQuestionAnswering"] (supported: bert (BertModel, BertForSequenceClassification, BertForTokenClassification), distilbert (DistilBertModel, DistilBertForSequenceClassification))`)
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range ents {
		if e.IsDir() {
			require.NoError(t, os.MkdirAll(filepath.Join(dst, e.Name()), 0o755))
			copyDir(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func exp(x float64) float64 { return math.Exp(x) }

// TestBenchConcatenatedPooling: bench pools with the model's own pooling,
// which may concatenate several modes (it sized its buffer for one).
func TestBenchConcatenatedPooling(t *testing.T) {
	multi, _ := quantizeCLI(t, goldenFixture("st-minilm"), "--pooling", "cls+max+mean")
	code, out, errs := runCLI("", "bench", "-m", multi, "--seq", "8", "--runs", "1", "--warmup", "0")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "median")
}
