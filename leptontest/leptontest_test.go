package leptontest

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/internal/testshared"
	"lepton/tokenize"
)

var (
	modelsOnce sync.Once
	modelFiles map[string][]byte
)

// testModels builds three small random-weight models, once per test
// binary, with the vocabulary of testdata/golden/random-bert: a 3-label
// classifier, a single-output cross-encoder (sigmoid) and an encoder with
// mean pooling and normalisation.
func testModel(t testing.TB, kind string, opts ...lepton.Option) *lepton.Model {
	t.Helper()
	modelsOnce.Do(func() {
		vocab, err := os.ReadFile(filepath.Join(testshared.RepoRoot(t), "testdata", "golden", "random-bert", "vocab.txt"))
		require.NoError(t, err)
		tok, err := tokenize.FromVocab(vocab, tokenize.VocabOptions{Lowercase: true, HandleCJK: true})
		require.NoError(t, err)
		blob, err := tok.MarshalBinary()
		require.NoError(t, err)
		modelFiles = map[string][]byte{}
		for _, k := range []string{"classifier", "reranker", "encoder"} {
			cfg := bertConfig(tok.VocabSize())
			switch k {
			case "classifier":
				cfg.Architecture, cfg.Labels, cfg.Pooling = lepfile.ArchBertClassification, []string{"flu", "cold", "allergy"}, "cls"
			case "reranker":
				cfg.Architecture, cfg.Labels, cfg.Pooling, cfg.ScoreActivation = lepfile.ArchBertClassification, []string{"LABEL_0"}, "cls", "sigmoid"
			case "encoder":
				cfg.Normalize = true
			}
			m, err := convert.FromFloat(cfg, convert.Random(cfg, 3), convert.Options{})
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, lepfile.Write(&buf, m, blob, lepfile.Metadata{"source_sha256": strings.Repeat(k[:1], 64)}))
			modelFiles[k] = buf.Bytes()
		}
	})
	m, err := lepton.OpenBytes(modelFiles[kind], opts...)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

var (
	sprintf = fmt.Sprintf
	flagSet = flag.Set
	inf     = math.Inf(1)
)

func bertConfig(vocab int) bert.Config {
	return bert.Config{Architecture: lepfile.ArchBertModel, Layers: 2, Hidden: 32, Heads: 4, Intermediate: 48,
		Vocab: vocab, MaxPositions: 64, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "mean"}
}

var testInputs = Inputs{
	Classify:      []string{"fever and chills for three days", "", "itchy red rash"},
	ClassifyPairs: [][2]string{{"sore throat", "a cough since monday"}},
	Embed:         []string{"sore throat", "high blood pressure and dizzy"},
	Rerank:        []Query{{Query: "fever", Passages: []string{"fever and chills", "the movie was boring", "", "fever and chills"}}},
}

func TestRecordWriteReadCompare(t *testing.T) {
	ctx := t.Context()
	cls, rr, enc := testModel(t, "classifier"), testModel(t, "reranker"), testModel(t, "encoder")
	var cases []Case
	for _, r := range []struct {
		m  *lepton.Model
		in Inputs
	}{{cls, Inputs{Classify: testInputs.Classify, ClassifyPairs: testInputs.ClassifyPairs}},
		{enc, Inputs{Embed: testInputs.Embed}}, {rr, Inputs{Rerank: testInputs.Rerank}}} {
		g, err := Record(ctx, r.m, r.in)
		require.NoError(t, err)
		require.Equal(t, SourceLepton, g.Source)
		cases = append(cases, g.Cases...)
	}
	g := &Golden{Version: Version, Source: SourceLepton, Cases: cases}
	require.Equal(t, testInputs, g.Inputs())

	// The file round-trips every value's bits; one case per line.
	path := filepath.Join(t.TempDir(), "sub", "x.golden.json")
	require.NoError(t, g.WriteFile(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, len(cases)+2, strings.Count(string(data), "\n"), "header line, one line per case, closing line")
	back, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, g, back)
	rep, err := Compare(g, back, Exact)
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	require.Equal(t, len(cases), rep.Cases)
	require.Equal(t, Worst{MinCosine: 1}, rep.Worst)

	// The outputs are what the model returns.
	res, err := cls.Classify(ctx, testInputs.Classify)
	require.NoError(t, err)
	require.Equal(t, res[0].Logits, back.Cases[0].Logits)
	require.Equal(t, res[0].Label, back.Cases[0].Label)
	vec, err := enc.Embed(ctx, testInputs.Embed[:1])
	require.NoError(t, err)
	require.Equal(t, vec[0], back.Cases[4].Vector)
	rk, err := rr.Rerank(ctx, "fever", testInputs.Rerank[0].Passages)
	require.NoError(t, err)
	require.Len(t, back.Cases[6].Ranking, 4)
	for i, r := range rk {
		require.Equal(t, Ranked{Index: r.Index, Score: r.Score, Logit: r.Logit}, back.Cases[6].Ranking[i])
	}
}

// moved returns a deep copy of g with f applied to it.
func moved(t *testing.T, g *Golden, f func(g *Golden)) *Golden {
	t.Helper()
	path := filepath.Join(t.TempDir(), "copy.json")
	require.NoError(t, g.WriteFile(path))
	c, err := Read(path)
	require.NoError(t, err)
	f(c)
	return c
}

func nextUp(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(1))) }

// TestCompare: each kind of movement is caught at the exact default,
// allowed by a tolerance just above it, refused just below, and reported
// in words.
func TestCompare(t *testing.T) {
	ctx := t.Context()
	cls, err := Record(ctx, testModel(t, "classifier"), Inputs{Classify: testInputs.Classify})
	require.NoError(t, err)
	enc, err := Record(ctx, testModel(t, "encoder"), Inputs{Embed: testInputs.Embed})
	require.NoError(t, err)
	rr, err := Record(ctx, testModel(t, "reranker"), Inputs{Rerank: testInputs.Rerank})
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		base   *Golden
		move   func(g *Golden)
		pass   Tolerance // allows the movement
		fail   Tolerance // does not
		report []string  // in the report under fail
	}{
		{"one ulp of a logit", cls, func(g *Golden) { g.Cases[0].Logits[1] = nextUp(g.Cases[0].Logits[1]) },
			Tolerance{Logits: 1e-6}, Exact, []string{`case 0, classify "fever and chills for three days"`, "logits: max |Δ|", "at [1] cold", "(allowed 0: exact)"}},
		{"a probability", cls, func(g *Golden) { g.Cases[2].Probs[0] += 0.01 },
			Tolerance{Probs: 0.011}, Tolerance{Probs: 0.009}, []string{"case 2", "probs: max |Δ| 0.01", "at [0] flu", "(allowed 0.009)"}},
		{"a label", cls, func(g *Golden) {
			i := (*g.Cases[1].Index + 1) % 3
			g.Cases[1].Index, g.Cases[1].Label = &i, []string{"flu", "cold", "allergy"}[i]
		}, Tolerance{LabelMargin: 2}, Tolerance{LabelMargin: 1e-9, Logits: inf, Probs: inf}, []string{"label", "-> "}},
		{"an embedding component", enc, func(g *Golden) { g.Cases[1].Vector[7] += 0.02 },
			Tolerance{Vector: 0.021, Cosine: 0.001}, Tolerance{Vector: 0.019, Cosine: 0.001}, []string{`embed "high blood pressure and dizzy"`, "vector: max |Δ| 0.02", "at [7]"}},
		{"an embedding's direction", enc, func(g *Golden) {
			v := g.Cases[0].Vector
			v[0], v[1] = v[1], v[0]
		}, Tolerance{Vector: inf, Cosine: 1}, Tolerance{Vector: inf, Cosine: 1e-9}, []string{"vector: cosine 0.", "1 - cos"}},
		{"a rerank score", rr, func(g *Golden) { g.Cases[0].Ranking[1].Score += 0.001 },
			Tolerance{Score: 0.002}, Tolerance{Score: 0.0005, Logits: inf}, []string{`rerank "fever" (4 passages)`, "scores (by rank now)"}},
		{"a swap of passages", rr, func(g *Golden) {
			r := g.Cases[0].Ranking // the first and the last: different scores
			r[0], r[3] = r[3], r[0]
		}, Tolerance{Score: 10, Logits: inf}, Tolerance{Score: 1e-9, Logits: inf}, []string{"rank 1: passage", "rank 4: passage", "is now where passage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := moved(t, tc.base, tc.move)
			rep, err := Compare(tc.base, got, Exact)
			require.NoError(t, err)
			require.False(t, rep.OK(), "exact comparison catches it")
			rep, err = Compare(tc.base, got, tc.pass)
			require.NoError(t, err)
			require.True(t, rep.OK(), "%s", rep)
			rep, err = Compare(tc.base, got, tc.fail)
			require.NoError(t, err)
			require.False(t, rep.OK())
			require.Len(t, rep.Moved, 1)
			s := rep.String()
			for _, w := range tc.report {
				require.Contains(t, s, w)
			}
			require.Contains(t, s, "1 of ")
		})
	}

	// A swap between passages of equal golden score is a tie: allowed with
	// any score tolerance, still a rank change in the figures.
	tie := moved(t, rr, func(g *Golden) {})
	r := tie.Cases[0].Ranking
	var a, b int = -1, -1
	for i := range r {
		for j := i + 1; j < len(r); j++ {
			if r[i].Score == r[j].Score {
				a, b = i, j
			}
		}
	}
	require.GreaterOrEqual(t, a, 0, "the duplicate passages score the same")
	r[a], r[b] = r[b], r[a]
	rep, err := Compare(rr, tie, Tolerance{Score: 1e-9, Logits: 1e-9})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%s", rep)
	require.Equal(t, 2, rep.Worst.RankChanges)

	// Changed inputs are not a comparison.
	other := moved(t, cls, func(g *Golden) { g.Cases[1].Text = "changed" })
	_, err = Compare(cls, other, Exact)
	require.ErrorIs(t, err, ErrInputsChanged)
	require.Contains(t, err.Error(), `case 1 is classify "" in the golden file but classify "changed" now`)
	short := moved(t, cls, func(g *Golden) { g.Cases = g.Cases[:1] })
	_, err = Compare(cls, short, Exact)
	require.ErrorIs(t, err, ErrInputsChanged)
}

// TestReportListsAndNotes: a long report is cut after a dozen cases and
// explains how the models differ.
func TestReportListsAndNotes(t *testing.T) {
	ctx := t.Context()
	var texts []string
	for i := range 20 {
		texts = append(texts, strings.Repeat("fever ", i+1))
	}
	g8, err := Record(ctx, testModel(t, "classifier", lepton.WithActivationBits(8)), Inputs{Classify: texts})
	require.NoError(t, err)
	g7, err := Record(ctx, testModel(t, "classifier", lepton.WithActivationBits(7)), Inputs{Classify: texts})
	require.NoError(t, err)
	rep, err := Compare(g8, g7, Exact)
	require.NoError(t, err)
	require.False(t, rep.OK())
	s := rep.String()
	require.Contains(t, s, "the golden file was recorded with 8-bit activations, this run used 7")
	if len(rep.Moved) > maxListed {
		require.Contains(t, s, "... and ")
	}
	require.Greater(t, rep.Worst.Logits, 0.0)

	other := *g8
	other.Model.SourceSHA256 = strings.Repeat("f", 64)
	other.Model.Kernel = "elsewhere"
	rep, err = Compare(&other, g8, Exact)
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.Contains(t, rep.String(), "converted from another checkpoint")
	require.Contains(t, rep.String(), "this alone moves nothing")
}

// fakeTB records what Check reports; Fatalf ends the goroutine as
// testing's does.
type fakeTB struct {
	testing.TB
	errs, logs []string
	fatal      bool
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Errorf(format string, a ...any) { f.errs = append(f.errs, sprintf(format, a...)) }
func (f *fakeTB) Logf(format string, a ...any)   { f.logs = append(f.logs, sprintf(format, a...)) }
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.errs, f.fatal = append(f.errs, sprintf(format, a...)), true
	runtime.Goexit()
}

// check runs Check with a fake TB on its own goroutine.
func check(t *testing.T, m *lepton.Model, path string, in Inputs, opts ...Option) (*fakeTB, *Report) {
	f := &fakeTB{TB: t}
	var rep *Report
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep = Check(f, m, path, in, opts...)
	}()
	<-done
	return f, rep
}

func TestCheck(t *testing.T) {
	m7 := testModel(t, "classifier")
	m8 := testModel(t, "classifier", lepton.WithActivationBits(8))
	in := Inputs{Classify: testInputs.Classify}
	path := filepath.Join(t.TempDir(), "testdata", "clf.golden.json")

	// Missing: fails, and says how to record it.
	f, _ := check(t, m7, path, in)
	require.True(t, f.fatal)
	require.Contains(t, f.errs[0], "does not exist: record it with -leptontest.update")
	require.NoFileExists(t, path)

	// Recording, by environment variable.
	t.Setenv(UpdateEnv, "1")
	f, rep := check(t, m7, path, in)
	require.Empty(t, f.errs)
	require.Nil(t, rep)
	require.Contains(t, f.logs[0], "wrote "+path+" (3 cases)")
	require.FileExists(t, path)
	t.Setenv(UpdateEnv, "")

	// Same model: passes exactly; no inputs means the file's own.
	for _, again := range []Inputs{in, {}} {
		f, rep = check(t, m7, path, again)
		require.Empty(t, f.errs)
		require.True(t, rep.OK())
		require.Equal(t, 3, rep.Cases)
	}
	// Another activation precision moves the outputs: a readable failure
	// that is not fatal, with the hint to update.
	f, rep = check(t, m8, path, in)
	require.False(t, f.fatal)
	require.Len(t, f.errs, 1)
	require.Contains(t, f.errs[0], "cases moved beyond the tolerance (exact)")
	require.Contains(t, f.errs[0], "-leptontest.update")
	require.False(t, rep.OK())
	// ... within a tolerance it passes.
	f, _ = check(t, m8, path, in, WithTolerance(Tolerance{Logits: 0.5, Probs: 0.5, LabelMargin: 1}))
	require.Empty(t, f.errs)
	// Call options reach the model: a max length that truncates.
	f, _ = check(t, m7, path, in, WithCallOptions(lepton.WithMaxLength(3)))
	require.Len(t, f.errs, 1)
	// Changed inputs: fatal, naming the difference.
	f, _ = check(t, m7, path, Inputs{Classify: []string{"other"}})
	require.True(t, f.fatal)
	require.Contains(t, f.errs[0], "inputs differ")
	// WithUpdate(true) rewrites it even without flags.
	f, _ = check(t, m8, path, in, WithUpdate(true))
	require.Empty(t, f.errs)
	f, rep = check(t, m8, path, in)
	require.Empty(t, f.errs)
	require.True(t, rep.OK())
	g, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, 8, g.Model.ActBits)

	// A golden file made by a reference is never overwritten.
	g.Source = "PyTorch"
	require.NoError(t, g.WriteFile(path))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	f, _ = check(t, m7, path, in, WithUpdate(true))
	require.True(t, f.fatal)
	require.Contains(t, f.errs[0], `made by "PyTorch", an independent reference`)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	// ... and its failures name it.
	f, _ = check(t, m7, path, in)
	require.Contains(t, f.errs[0], "the golden file comes from PyTorch")

	// Not a golden file.
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"leptontest":2,"cases":[]}`), 0o644))
	f, _ = check(t, m7, bad, in)
	require.True(t, f.fatal)
	require.Contains(t, f.errs[0], "version 2")
	require.NoError(t, os.WriteFile(bad, []byte(`{"leptontest":1,"cases":[{"kind":"translate"}]}`), 0o644))
	_, err = Read(bad)
	require.ErrorIs(t, err, ErrFormat)
	require.NoError(t, os.WriteFile(bad, []byte(`{"leptontest":1,"extra":true}`), 0o644))
	_, err = Read(bad)
	require.ErrorIs(t, err, ErrFormat)

	// A model that cannot run the inputs: fatal with the model's error.
	f, _ = check(t, testModel(t, "encoder"), path, in, WithUpdate(false))
	require.True(t, f.fatal)
	require.Contains(t, f.errs[0], "model has no classifier head")
}

func TestUpdateFlags(t *testing.T) {
	require.False(t, updating())
	t.Setenv(UpdateEnv, "true")
	require.True(t, updating())
	t.Setenv(UpdateEnv, "no")
	require.False(t, updating())
	require.NoError(t, flagSet("leptontest.update", "true"))
	require.True(t, updating())
	require.NoError(t, flagSet("leptontest.update", "false"))
	require.False(t, updating())
}

func TestToleranceString(t *testing.T) {
	require.Equal(t, "exact", Exact.String())
	require.Equal(t, "logits 0.001, probs exact, 1-cos 0.001, score exact, labels may change at ties under 0.05",
		Tolerance{Logits: 1e-3, Vector: inf, Cosine: 1e-3, LabelMargin: 0.05}.String())
}

// ownUpdate is the -update flag a test binary may define (the go-cmp
// convention); Check honours it too.
var ownUpdate = flag.Bool("update", false, "rewrite golden files (leptontest's own tests define it to test that Check honours it)")

func TestOwnUpdateFlag(t *testing.T) {
	require.False(t, updating())
	require.NoError(t, flagSet("update", "true"))
	defer flagSet("update", "false")
	require.True(t, *ownUpdate)
	require.True(t, updating())
}
