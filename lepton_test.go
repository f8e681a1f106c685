package lepton

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/internal/testshared"
	"lepton/tokenize"
)

// repoRoot is the directory holding go.mod (testshared.RepoRoot).
func repoRoot(t testing.TB) string { return testshared.RepoRoot(t) }

// convertToLep converts a Hugging Face directory into a .lep file in a
// temporary directory, like `lepton quantize`.
func convertToLep(t testing.TB, hfDir string, opts convert.Options) string {
	t.Helper()
	net, tok, meta, err := convert.FromHF(hfDir, opts)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "model.lep")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, lepfile.Write(f, net, tok, meta))
	require.NoError(t, f.Close())
	return path
}

var (
	fixtureOnce sync.Once
	fixtureData []byte
)

// fixtureModel opens the random-weight golden fixture, converted once per
// test binary and kept in memory.
func fixtureModel(t testing.TB, opts ...Option) *Model {
	t.Helper()
	fixtureOnce.Do(func() {
		path := convertToLep(t, filepath.Join(repoRoot(t), "testdata", "golden", "random-bert"), convert.Options{})
		var err error
		fixtureData, err = os.ReadFile(path)
		require.NoError(t, err)
	})
	m, err := OpenBytes(fixtureData, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

type goldenCase struct {
	Name    string    `json:"name"`
	Text    *string   `json:"text"`
	Pair    *string   `json:"pair"`
	IDs     []int32   `json:"ids"`
	TypeIDs []int32   `json:"type_ids"`
	Logits  []float32 `json:"logits"`
}

func loadGolden(t testing.TB) []goldenCase {
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "golden", "random_bert.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &g))
	return g.Cases
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestGoldenTexts runs the golden text cases end to end (tokenizer, int8
// forward pass, softmax) at both activation precisions and compares with
// Hugging Face's tokenizer and ONNX Runtime's fp32 logits.
func TestGoldenTexts(t *testing.T) {
	for _, bits := range []int{8, 7} {
		t.Run(fmt.Sprintf("bits%d", bits), func(t *testing.T) { testGoldenTexts(t, bits) })
	}
}

// nearTie is the fp32 margin between the two largest logits below which
// TestGoldenTexts does not require 7-bit activations to keep the argmax:
// the random fixture's "empty" case is a 0.03 tie between two labels that
// 7-bit rounding tips (8-bit keeps every argmax).
const nearTie = 0.1

func testGoldenTexts(t *testing.T, bits int) {
	m := fixtureModel(t, WithActivationBits(bits))
	require.Equal(t, bits, m.Info().ActBits)
	ctx := context.Background()
	n := 0
	for _, c := range loadGolden(t) {
		if c.Text == nil {
			continue
		}
		n++
		var (
			res []Classification
			err error
		)
		if c.Pair != nil {
			enc, err := m.tok.EncodePair(*c.Text, *c.Pair, tokenizeOpts(512, true))
			require.NoError(t, err)
			require.Equal(t, c.IDs, enc.IDs, "%s: ids vs transformers.js", c.Name)
			require.Equal(t, c.TypeIDs, enc.TypeIDs, "%s: type ids", c.Name)
			res, err = m.ClassifyPairs(ctx, [][2]string{{*c.Text, *c.Pair}})
			require.NoError(t, err)
		} else {
			enc, err := m.tok.Encode(*c.Text, tokenizeOpts(512, true))
			require.NoError(t, err)
			require.Equal(t, c.IDs, enc.IDs, "%s: ids vs transformers.js", c.Name)
			res, err = m.Classify(ctx, []string{*c.Text})
		}
		require.NoError(t, err)
		require.Len(t, res, 1)
		r := res[0]
		var d float64
		for i := range r.Logits {
			d = math.Max(d, math.Abs(float64(r.Logits[i]-c.Logits[i])))
		}
		t.Logf("%-22s int8 logits %v, ONNX Runtime %v (max diff %.4f)", c.Name, r.Logits, c.Logits, d)
		require.Less(t, d, 0.15, c.Name)
		if bits == 8 || topMargin(c.Logits) > nearTie {
			require.Equal(t, argmax(c.Logits), r.Index, c.Name)
		}
		require.Equal(t, m.labels[r.Index], r.Label)
		var sum float64
		for _, p := range r.Probs {
			require.True(t, p >= 0 && p <= 1)
			sum += float64(p)
		}
		require.InDelta(t, 1, sum, 1e-5)
	}
	require.Equal(t, 4, n, "golden text cases")
}

// topMargin is the gap between the largest and second-largest value.
func topMargin(x []float32) float32 {
	first, second := float32(math.Inf(-1)), float32(math.Inf(-1))
	for _, v := range x {
		if v > first {
			first, second = v, first
		} else if v > second {
			second = v
		}
	}
	return first - second
}

func tokenizeOpts(max int, truncate bool) (o tokenize.EncodeOptions) {
	o.MaxLength, o.ErrorOnTruncate = max, !truncate
	return o
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "missing.lep"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte("this is not a model\n"), 0o644))
	_, err = Open(text)
	require.ErrorIs(t, err, ErrInvalidModel)

	empty := filepath.Join(dir, "empty.lep")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = Open(empty)
	require.ErrorIs(t, err, ErrInvalidModel)

	fixtureModel(t) // makes fixtureData
	for _, cut := range []int{8, 64, len(fixtureData) / 2, len(fixtureData) - 1} {
		p := filepath.Join(dir, "cut"+strconv.Itoa(cut)+".lep")
		require.NoError(t, os.WriteFile(p, fixtureData[:cut], 0o644))
		_, err = Open(p)
		require.ErrorIs(t, err, ErrInvalidModel, "truncated at %d", cut)
	}
	flipped := append([]byte(nil), fixtureData...)
	flipped[70] ^= 0x10 // inside the section table: caught by its CRC at open
	_, err = OpenBytes(flipped)
	require.ErrorIs(t, err, ErrInvalidModel)

	_, err = OpenBytes(fixtureData, WithThreads(-1))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = OpenBytes(fixtureData, WithMaxLength(2))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = OpenBytes(fixtureData, WithMaxLength(129)) // the fixture has 128 positions
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = OpenBytes(fixtureData, WithPooling(Pooling(7)))
	require.ErrorIs(t, err, ErrInvalidOption)

	// Through Open the path is named once, after the one "lepton: "
	// prefix, and the sentinel stays in the chain.
	good := filepath.Join(dir, "good.lep")
	require.NoError(t, os.WriteFile(good, fixtureData, 0o644))
	_, err = Open(good, WithMaxLength(129))
	require.ErrorIs(t, err, ErrInvalidOption)
	require.True(t, strings.HasPrefix(err.Error(), "lepton: "+good+": invalid option: max length 129"), err.Error())
	require.Equal(t, 1, strings.Count(err.Error(), "lepton: "), err.Error())

	m, err := OpenBytes(fixtureData, WithMaxLength(128), WithThreads(1), nil)
	require.NoError(t, err)
	require.Equal(t, 128, m.Info().MaxLength)
	require.Equal(t, 1, m.Info().Threads)
	require.NoError(t, m.Close())
}

// TestAwkwardInputs: empty texts, invalid UTF-8, NUL bytes and texts far
// beyond the position table never panic and behave as documented.
func TestAwkwardInputs(t *testing.T) {
	m := fixtureModel(t)
	ctx := context.Background()
	long := strings.Repeat("fever and cough ", 400) // ~1200 tokens, the model has 128 positions
	texts := []string{"", "   ", "\xff\xfe bad \xc3 utf8", "nul\x00byte\x00", long, "ok"}
	res, err := m.Classify(ctx, texts)
	require.NoError(t, err)
	require.Len(t, res, len(texts))

	// Empty and whitespace-only texts are [CLS] [SEP]; invalid bytes and NUL
	// are dropped by the normaliser, so they classify like the clean text.
	clean, err := m.Classify(ctx, []string{"bad utf8", "nulbyte"})
	require.NoError(t, err)
	require.Equal(t, res[0].Logits, res[1].Logits)
	require.Equal(t, clean[0].Logits, res[2].Logits)
	require.Equal(t, clean[1].Logits, res[3].Logits)

	_, err = m.Classify(ctx, []string{"ok", long}, WithTruncation(false))
	require.ErrorIs(t, err, ErrTooLong)
	require.Contains(t, err.Error(), "input 1")
	_, err = m.Embed(ctx, []string{long}, WithTruncation(false))
	require.ErrorIs(t, err, ErrTooLong)
	_, err = m.Classify(ctx, []string{"fever and cough fever"}, WithMaxLength(4), WithTruncation(false))
	require.ErrorIs(t, err, ErrTooLong)
	_, err = m.Classify(ctx, []string{"x"}, WithMaxLength(1000))
	require.ErrorIs(t, err, ErrInvalidOption)

	// Truncation to a shorter max length equals classifying the truncated
	// ids: the first 9 tokens of the text's encoding closed by [SEP], run
	// through the forward pass directly, give the same logits bit for bit.
	short, err := m.Classify(ctx, []string{long}, WithMaxLength(10))
	require.NoError(t, err)
	enc, err := m.tok.Encode(long, tokenizeOpts(10, true))
	require.NoError(t, err)
	require.Len(t, enc.IDs, 10)
	full, err := m.tok.Encode(long, tokenizeOpts(0, true))
	require.NoError(t, err)
	require.Greater(t, len(full.IDs), 128)
	require.Equal(t, full.IDs[:9], enc.IDs[:9], "truncation keeps the head of the text")
	require.Equal(t, full.IDs[len(full.IDs)-1], enc.IDs[9], "and closes it with [SEP]")
	ws := bert.Workspace{Pool: m.pool, ActBits: DefaultActivationBits}
	require.NoError(t, m.net.Forward(ctx, &ws, []bert.Sequence{{IDs: enc.IDs, TypeIDs: enc.TypeIDs}}))
	logits, err := m.net.Logits(&ws)
	require.NoError(t, err)
	require.Equal(t, logits, short[0].Logits, "Classify(long, WithMaxLength(10)) = forward pass on the truncated ids")

	pairs, err := m.ClassifyPairs(ctx, [][2]string{{"", ""}, {long, "cough"}, {"a", long}})
	require.NoError(t, err)
	require.Len(t, pairs, 3)
	require.NotEqual(t, short[0].Logits, res[4].Logits)

	empty, err := m.Classify(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, empty)
	vecs, err := m.Embed(ctx, []string{})
	require.NoError(t, err)
	require.Empty(t, vecs)
}

// TestBatching: results do not depend on batch-mates or on how a large call
// is split into forward passes (bit for bit), nor on the thread count.
func TestBatching(t *testing.T) {
	ctx := context.Background()
	words := strings.Fields("the patient has a high fever and a dry cough since monday with chills rash and fatigue")
	var texts []string
	for i := 0; i < 150; i++ { // more than maxBatchSeqs
		n := 1 + (i*7)%len(words)
		texts = append(texts, strings.Join(words[(i*3)%5:min(len(words), (i*3)%5+n)], " "))
	}
	texts = append(texts, strings.Repeat("fever ", 200)) // truncated to 128 tokens

	serial := fixtureModel(t, WithThreads(1))
	par := fixtureModel(t, WithThreads(3))
	all, err := serial.Classify(ctx, texts)
	require.NoError(t, err)
	allPar, err := par.Classify(ctx, texts)
	require.NoError(t, err)
	require.Equal(t, all, allPar)
	emb, err := par.Embed(ctx, texts, WithPooling(PoolMean))
	require.NoError(t, err)
	for _, i := range []int{0, 1, 63, 64, 65, 149, 150} {
		one, err := serial.Classify(ctx, texts[i:i+1])
		require.NoError(t, err)
		require.Equal(t, all[i], one[0], "text %d", i)
		e, err := serial.Embed(ctx, texts[i:i+1], WithPooling(PoolMean))
		require.NoError(t, err)
		require.Equal(t, emb[i], e[0], "text %d", i)
	}

	// Long texts: the token budget, not the sequence count, splits the call.
	var long []string
	for i := 0; i < 40; i++ {
		long = append(long, strings.Repeat(words[i%len(words)]+" "+words[(i*5)%len(words)]+" ", 70))
	}
	require.Greater(t, 40*128, maxBatchTokens)
	lr, err := par.Classify(ctx, long)
	require.NoError(t, err)
	for _, i := range []int{0, 15, 16, 17, 39} {
		one, err := serial.Classify(ctx, long[i:i+1])
		require.NoError(t, err)
		require.Equal(t, lr[i], one[0], "long text %d", i)
	}
}

func TestEmbedPooling(t *testing.T) {
	m := fixtureModel(t)
	ctx := context.Background()
	texts := []string{"sore throat", "high blood pressure and dizzy"}
	cls, err := m.Embed(ctx, texts, WithPooling(PoolCLS))
	require.NoError(t, err)
	def, err := m.Embed(ctx, texts)
	require.NoError(t, err)
	require.Equal(t, "cls", m.Info().Pooling)
	require.Equal(t, cls, def, "the fixture's default pooling is cls")
	mean, err := m.Embed(ctx, texts, WithPooling(PoolMean))
	require.NoError(t, err)
	norm, err := m.Embed(ctx, texts, WithPooling(PoolMean), WithNormalize(true))
	require.NoError(t, err)

	// Check against the hidden states of the int8 forward pass.
	st := m.getState()
	cc, err := m.callConfig(st, nil)
	require.NoError(t, err)
	require.NoError(t, m.encode(ctx, st, texts, nil, cc))
	h := m.Info().Hidden
	require.NoError(t, m.run(ctx, st, func(first int, ws *bert.Workspace) error {
		for i := 0; i < ws.Seqs(); i++ {
			hs := ws.Hidden(i)
			require.Equal(t, hs[:h], cls[first+i])
			var n2 float64
			for d := 0; d < h; d++ {
				var s float64
				for r := 0; r < ws.Len(i); r++ {
					s += float64(hs[r*h+d])
				}
				require.InDelta(t, s/float64(ws.Len(i)), mean[first+i][d], 1e-5)
				n2 += float64(norm[first+i][d]) * float64(norm[first+i][d])
			}
			require.InDelta(t, 1, n2, 1e-5)
		}
		return nil
	}))
	m.states.Put(st)

	mm := fixtureModel(t, WithPooling(PoolMean), WithNormalize(true))
	def2, err := mm.Embed(ctx, texts)
	require.NoError(t, err)
	require.Equal(t, norm, def2, "Open options set call defaults")

	p, err := ParsePooling("mean")
	require.NoError(t, err)
	require.Equal(t, PoolMean, p)
	require.Equal(t, "mean", p.String())
	p, err = ParsePooling("max")
	require.NoError(t, err)
	require.Equal(t, PoolMax, p)
	require.Equal(t, "max", p.String())
	_, err = ParsePooling("median")
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = mm.Embed(ctx, texts, WithPooling(PoolMax+1))
	require.ErrorIs(t, err, ErrInvalidOption)

	// Max pooling against the int8 forward pass's hidden states.
	mx, err := m.Embed(ctx, texts, WithPooling(PoolMax))
	require.NoError(t, err)
	st = m.getState()
	require.NoError(t, m.encode(ctx, st, texts, nil, cc))
	require.NoError(t, m.run(ctx, st, func(first int, ws *bert.Workspace) error {
		for i := 0; i < ws.Seqs(); i++ {
			hs := ws.Hidden(i)
			for d := 0; d < h; d++ {
				best := hs[d]
				for r := 1; r < ws.Len(i); r++ {
					best = max(best, hs[r*h+d])
				}
				require.Equal(t, best, mx[first+i][d])
			}
		}
		return nil
	}))
	m.states.Put(st)
}

func TestCloseAndCancel(t *testing.T) {
	m := fixtureModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Classify(ctx, []string{"a"})
	require.ErrorIs(t, err, context.Canceled)
	_, err = m.Embed(ctx, []string{"a"})
	require.ErrorIs(t, err, context.Canceled)

	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	_, err = m.Classify(context.Background(), []string{"a"})
	require.ErrorIs(t, err, ErrClosed)
	_, err = m.ClassifyPairs(context.Background(), [][2]string{{"a", "b"}})
	require.ErrorIs(t, err, ErrClosed)
	_, err = m.Embed(context.Background(), []string{"a"})
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, 2, m.Info().Layers, "Info works after Close")
}

// TestNilContext: every method that takes a context refuses a nil one with
// ErrInvalidOption instead of panicking, on an open and on a closed model,
// for empty and non-empty input.
func TestNilContext(t *testing.T) {
	m := fixtureModel(t)
	closed := fixtureModel(t)
	require.NoError(t, closed.Close())
	var nilCtx context.Context // a typed nil would not be a nil interface
	calls := map[string]func(*Model, []string) error{
		"Classify": func(m *Model, texts []string) error { _, err := m.Classify(nilCtx, texts); return err },
		"ClassifyPairs": func(m *Model, texts []string) error {
			pairs := make([][2]string, len(texts))
			for i, s := range texts {
				pairs[i] = [2]string{s, s}
			}
			_, err := m.ClassifyPairs(nilCtx, pairs)
			return err
		},
		"Embed": func(m *Model, texts []string) error { _, err := m.Embed(nilCtx, texts); return err },
		"EmbedPrivate": func(m *Model, texts []string) error {
			_, err := m.EmbedPrivate(nilCtx, texts, WithPrivateEmbedding(1, 1e-6, 1))
			return err
		},
	}
	for name, call := range calls {
		for _, texts := range [][]string{nil, {"fever"}, {"a", "b", ""}} {
			err := call(m, texts)
			require.ErrorIs(t, err, ErrInvalidOption, "%s(%d texts)", name, len(texts))
			require.Contains(t, err.Error(), "nil context", name)
			require.ErrorIs(t, call(closed, texts), ErrInvalidOption, "%s on a closed model", name)
		}
	}
	// The model is still usable afterwards.
	_, err := m.Classify(context.Background(), []string{"fever"})
	require.NoError(t, err)
}

// TestConcurrent: many goroutines share one Model (run with -race).
func TestConcurrent(t *testing.T) {
	m := fixtureModel(t, WithThreads(2))
	ctx := context.Background()
	texts := []string{"fever", "a dry cough and chills", "", "the movie was great fun"}
	want, err := m.Classify(ctx, texts)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				got, err := m.Classify(ctx, texts)
				if err != nil {
					errs <- err
					return
				}
				for k := range got {
					if got[k].Index != want[k].Index || got[k].Logits[0] != want[k].Logits[0] {
						errs <- errors.New("concurrent result differs")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNoClassifier(t *testing.T) {
	cfg := bert.Config{Architecture: "BertModel", Layers: 1, Hidden: 32, Heads: 2, Intermediate: 64, Vocab: 225,
		MaxPositions: 16, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "mean"}
	net, err := convert.FromFloat(cfg, convert.Random(cfg, 1), convert.Options{})
	require.NoError(t, err)
	tokData, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "golden", "random-bert", "tokenizer.json"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "enc.lep")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, lepfile.Write(f, net, tokData, nil, lepfile.WithTokenizerFormat(lepfile.TokenizerHFJSON)))
	require.NoError(t, f.Close())

	m, err := Open(path)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Classify(context.Background(), []string{"fever"})
	require.ErrorIs(t, err, ErrNoClassifier)

	// A tokenizer larger than the embedding table is refused at Open.
	small := cfg
	small.Vocab = 100
	net2, err := convert.FromFloat(small, convert.Random(small, 2), convert.Options{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, lepfile.Write(&buf, net2, tokData, nil, lepfile.WithTokenizerFormat(lepfile.TokenizerHFJSON)))
	_, err = OpenBytes(buf.Bytes())
	require.ErrorIs(t, err, ErrInvalidModel)
	require.Contains(t, err.Error(), "tokenizer has 225 tokens")

	// docs/FORMAT.md: a file without TOKN is structurally valid (the
	// file reader behind info and verify accepts it) but cannot be run.
	buf.Reset()
	require.NoError(t, lepfile.Write(&buf, net, nil, nil))
	lf, err := lepfile.OpenBytes(buf.Bytes())
	require.NoError(t, err)
	require.Empty(t, lf.Tokenizer)
	require.NoError(t, lf.Verify())
	require.NoError(t, lf.Close())
	_, err = OpenBytes(buf.Bytes())
	require.ErrorIs(t, err, ErrInvalidModel)
	require.Contains(t, err.Error(), "no tokenizer section")

	info := m.Info()
	require.Empty(t, info.Labels)
	require.Equal(t, "mean", info.Pooling)
	vecs, err := m.Embed(context.Background(), []string{"fever", strings.Repeat("cough ", 50)})
	require.NoError(t, err)
	require.Len(t, vecs, 2)
	require.Len(t, vecs[0], 32)
}

// TestSST2Accuracy is the product-level accuracy test: ../shared's trained
// classifier converted by the real converter, opened from a .lep file and
// run on the 872 SST-2 validation sentences through the public API with
// Lepton's own tokenizer.
func TestSST2Accuracy(t *testing.T) {
	root := repoRoot(t)
	modelDir := testshared.Path(t, "models/sst2-bert-tiny-scratch")
	texts, labels := testshared.ReadSST2(t, testshared.Path(t, "data/sst2/validation.tsv"))
	var golden struct {
		Cases []struct {
			Line   int       `json:"line"`
			IDsSHA string    `json:"ids_sha256"`
			Logits []float32 `json:"logits"`
		} `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join(root, "testdata", "golden", "sst2_logits.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &golden))
	require.Len(t, golden.Cases, len(texts))

	m, err := Open(convertToLep(t, modelDir, convert.Options{}))
	require.NoError(t, err)
	defer m.Close()
	res, err := m.Classify(context.Background(), texts)
	require.NoError(t, err)
	// The golden keeps only a SHA-256 of the reference (Hugging Face) ids,
	// since the ids would decode back to ../shared's sentences.
	correct, agree, idsSame := 0, 0, 0
	var idsDiff []string
	for i, r := range res {
		if r.Index == labels[i] {
			correct++
		}
		if r.Index == argmax(golden.Cases[i].Logits) {
			agree++
		}
		enc, err := m.tok.Encode(texts[i], tokenizeOpts(512, true))
		require.NoError(t, err)
		if sst2IDsSHA256(enc.IDs) == golden.Cases[i].IDsSHA {
			idsSame++
		} else if len(idsDiff) < 5 {
			idsDiff = append(idsDiff, fmt.Sprintf("line %d: Lepton's ids %s", golden.Cases[i].Line, sst2IDsCanon(enc.IDs)))
		}
	}
	n := float64(len(texts))
	acc, agr := float64(correct)/n, float64(agree)/n
	t.Logf("SST-2 via lepton.Open/Classify: int8 accuracy %.4f (fp32 reference 0.8016), argmax agreement with ONNX Runtime fp32 %.4f, token ids identical to HF for %d/%d",
		acc, agr, idsSame, len(texts))
	require.Equal(t, len(texts), idsSame,
		"tokenizer parity with Hugging Face: the SHA-256 of Lepton's token ids differs from the golden's ids_sha256 "+
			"(validation.tsv lines, first few: %s; ./tokenize tests the tokenizer's own parity)", strings.Join(idsDiff, "; "))
	require.GreaterOrEqual(t, agr, 0.995)
	require.InDelta(t, 0.8016, acc, 0.005)
}

// sst2IDsCanon is the canonical form of a token id list that
// testdata/golden/sst2_logits.json hashes: "ids=101,2023,...,102"
// (scripts/golden/sst2_reference.py, ids_sha256).
func sst2IDsCanon(ids []int32) string {
	var b strings.Builder
	b.WriteString("ids=")
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}

// sst2IDsSHA256 is the hex SHA-256 of sst2IDsCanon(ids).
func sst2IDsSHA256(ids []int32) string {
	sum := sha256.Sum256([]byte(sst2IDsCanon(ids)))
	return hex.EncodeToString(sum[:])
}

// BenchmarkClassifyFixture measures the whole call (tokenizer, forward
// pass, heads) on the small golden fixture; bench_test.go has the
// model-size ladder.
func BenchmarkClassifyFixture(b *testing.B) {
	m := fixtureModel(b)
	ctx := context.Background()
	texts := []string{"the patient has a high fever and a dry cough", "great movie", ""}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Classify(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "texts/s")
}

// TestFloat32Path: a --keep-fp32 file runs the float reference path through
// the public API and reproduces ONNX Runtime's logits to 1e-4, text to
// logits; a file without float weights refuses it.
func TestFloat32Path(t *testing.T) {
	ctx := context.Background()
	plain := fixtureModel(t)
	require.False(t, plain.Info().HasFloat32)
	_, err := plain.Classify(ctx, []string{"fever"}, WithFloat32(true))
	require.ErrorIs(t, err, ErrInvalidOption)

	m, err := Open(convertToLep(t, filepath.Join(repoRoot(t), "testdata", "golden", "random-bert"), convert.Options{KeepF32: true}))
	require.NoError(t, err)
	defer m.Close()
	require.True(t, m.Info().HasFloat32)
	for _, c := range loadGolden(t) {
		if c.Text == nil {
			continue
		}
		var res []Classification
		if c.Pair != nil {
			res, err = m.ClassifyPairs(ctx, [][2]string{{*c.Text, *c.Pair}}, WithFloat32(true))
		} else {
			res, err = m.Classify(ctx, []string{*c.Text}, WithFloat32(true))
		}
		require.NoError(t, err)
		for i := range c.Logits {
			require.InDelta(t, c.Logits[i], res[0].Logits[i], 1e-4, "%s: fp32 logits vs ONNX Runtime", c.Name)
		}
	}
	texts := []string{"sore throat", "", "a high fever with chills and a cough"}
	f32, err := m.Embed(ctx, texts, WithFloat32(true), WithPooling(PoolMean), WithNormalize(true))
	require.NoError(t, err)
	q, err := m.Embed(ctx, texts, WithPooling(PoolMean), WithNormalize(true))
	require.NoError(t, err)
	for i := range texts {
		var dot float64
		for d := range q[i] {
			dot += float64(q[i][d]) * float64(f32[i][d])
		}
		require.Greater(t, dot, 0.99, "text %d: int8 vs fp32 embedding cosine", i)
	}
}

// TestDamagedWeights: Open validates structure and the small float
// tensors, not every payload (that would cost O(size); `lepton verify`
// does it). A bit-rotted bias that turns into NaN is refused at open
// (issue 13); a scale damaged into a huge finite value makes the outputs
// overflow, which the call reports as ErrInvalidModel rather than
// returning garbage probabilities.
func TestDamagedWeights(t *testing.T) {
	fixtureModel(t)
	f, err := lepfile.OpenBytes(fixtureData)
	require.NoError(t, err)
	offs := map[string]int64{}
	for _, ti := range f.Tensors {
		offs[ti.Name] = ti.Offset
	}
	require.NoError(t, f.Close())

	data := append([]byte(nil), fixtureData...)
	copy(data[offs["classifier.bias"]:], []byte{0x00, 0x00, 0xc0, 0x7f}) // float32 NaN
	_, err = OpenBytes(data)
	require.ErrorIs(t, err, ErrInvalidModel)
	require.Contains(t, err.Error(), "classifier.bias")

	data = append([]byte(nil), fixtureData...)
	binary.LittleEndian.PutUint32(data[offs["classifier.scales"]:], math.Float32bits(3e38))
	m, err := OpenBytes(data)
	require.NoError(t, err, "a finite scale is not visible at open")
	defer m.Close()
	_, err = m.Classify(context.Background(), []string{"fever"})
	require.ErrorIs(t, err, ErrInvalidModel)
	require.Contains(t, err.Error(), "lepton verify")
	vecs, err := m.Embed(context.Background(), []string{"fever"})
	require.NoError(t, err, "the encoder itself is intact")
	require.Len(t, vecs, 1)
}

// flipByte returns a copy of the fixture with one bit flipped in a payload
// byte of the named tensor: the kind of damage a bad copy or flash cell
// does, invisible to Open.
func flipByte(t *testing.T, tensor string, at int64) []byte {
	t.Helper()
	fixtureModel(t)
	data := append([]byte(nil), fixtureData...)
	f, err := lepfile.OpenBytes(data)
	require.NoError(t, err)
	defer f.Close()
	for _, ti := range f.Tensors {
		if ti.Name == tensor {
			require.Less(t, at, ti.Length, tensor)
			data[ti.Offset+at] ^= 0x01
			return data
		}
	}
	t.Fatalf("no tensor %s", tensor)
	return nil
}

// TestVerify: a flipped bit in a weight payload opens and runs without an
// error and changes the answers; Model.Verify and WithVerify catch it, as
// `lepton verify` does, and pass an intact file.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	texts := []string{"fever and chills", "the movie was great fun", "a dry cough", ""}
	intact := fixtureModel(t)
	require.NoError(t, intact.Verify(ctx))
	cls, _, _, _, _ := intact.tok.SpecialIDs()
	want, err := intact.Classify(ctx, texts)
	require.NoError(t, err)
	m, err := OpenBytes(fixtureData, WithVerify(true))
	require.NoError(t, err, "an intact file passes WithVerify")
	require.NoError(t, m.Close())

	for _, tc := range []struct {
		tensor string
		at     int64
	}{
		{"layer.0.qkv.weight", 3},    // packed int8 weights
		{"layer.1.output.weight", 1}, // last layer
		{"embeddings.word.weight", int64(cls)*int64(intact.net.Config.Hidden) + 5}, // [CLS]'s row
		{"classifier.bias", 1}, // fp32: a low mantissa bit
	} {
		data := flipByte(t, tc.tensor, tc.at)
		m, err := OpenBytes(data)
		require.NoError(t, err, "%s: payload damage is not visible at open", tc.tensor)
		got, err := m.Classify(ctx, texts)
		require.NoError(t, err, "%s: an unverified damaged file runs", tc.tensor)
		changed := false
		for i := range got {
			for j := range got[i].Logits {
				changed = changed || got[i].Logits[j] != want[i].Logits[j]
			}
		}
		require.True(t, changed, "%s: the flipped bit changes the answers", tc.tensor)

		err = m.Verify(ctx)
		require.ErrorIs(t, err, ErrInvalidModel, tc.tensor)
		require.Contains(t, err.Error(), tc.tensor)
		require.Contains(t, err.Error(), "checksum mismatch")
		require.NotContains(t, err.Error(), "\n", "one line")
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, m.Verify(cancelled), context.Canceled)
		require.NotErrorIs(t, m.Verify(cancelled), ErrInvalidModel)
		require.NoError(t, m.Close())
		require.ErrorIs(t, m.Verify(ctx), ErrClosed)

		m, err = OpenBytes(data, WithVerify(true))
		require.ErrorIs(t, err, ErrInvalidModel, "%s: WithVerify refuses it", tc.tensor)
		require.Nil(t, m)
		require.Contains(t, err.Error(), tc.tensor)
	}

	// Open from a file: the error names the file; WithVerify(false) is the
	// default.
	path := filepath.Join(t.TempDir(), "damaged.lep")
	require.NoError(t, os.WriteFile(path, flipByte(t, "layer.0.qkv.weight", 3), 0o644))
	m, err = Open(path, WithVerify(true))
	require.ErrorIs(t, err, ErrInvalidModel)
	require.Nil(t, m)
	require.Contains(t, err.Error(), path)
	m, err = Open(path, WithVerify(false))
	require.NoError(t, err)
	require.ErrorIs(t, m.Verify(ctx), ErrInvalidModel)
	var nilCtx context.Context
	require.ErrorIs(t, m.Verify(nilCtx), ErrInvalidOption)
	require.NoError(t, m.Close())
}

// TestDiagnostics: every result says how much of its input the model read.
// The fixture's vocabulary (testdata/golden/random-bert/vocab.txt, 225
// pieces) has "fever", "and", "cough" but no emoji or Chinese, which
// become [UNK].
func TestDiagnostics(t *testing.T) {
	m := fixtureModel(t)
	ctx := context.Background()
	long := strings.Repeat("fever and cough ", 400) // 1200 tokens, 128 positions
	cases := []struct {
		text string
		want Diagnostics
	}{
		{"", Diagnostics{}},
		{"   \t ", Diagnostics{}},
		{"\x01\x02\x00", Diagnostics{}}, // control characters only: normalised away
		{"fever and cough", Diagnostics{Tokens: 3}},
		{"😀 😷", Diagnostics{Tokens: 2, Unknown: 1}},
		{"中文", Diagnostics{Tokens: 2, Unknown: 1}},
		{"fever 😀 and cough", Diagnostics{Tokens: 4, Unknown: 0.25}},
		{long, Diagnostics{Tokens: 126, Truncated: true}},
		{strings.Repeat("fever ", 126), Diagnostics{Tokens: 126}}, // fits exactly: not truncated
		{strings.Repeat("fever ", 127), Diagnostics{Tokens: 126, Truncated: true}},
	}
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.text
	}
	res, err := m.Classify(ctx, texts)
	require.NoError(t, err)
	embs, err := m.EmbedDetailed(ctx, texts)
	require.NoError(t, err)
	vecs, err := m.Embed(ctx, texts)
	require.NoError(t, err)
	for i, c := range cases {
		require.Equal(t, c.want, res[i].Diagnostics, "Classify, case %d", i)
		require.Equal(t, c.want, embs[i].Diagnostics, "EmbedDetailed, case %d", i)
		require.Equal(t, vecs[i], embs[i].Vector, "EmbedDetailed's vector is Embed's, case %d", i)
		require.Nil(t, embs[i].Privacy)
	}

	// A shorter max length: the truncation point moves with it.
	res, err = m.Classify(ctx, []string{"fever and cough", "fever and cough fever"}, WithMaxLength(5))
	require.NoError(t, err)
	require.Equal(t, Diagnostics{Tokens: 3}, res[0].Diagnostics)
	require.Equal(t, Diagnostics{Tokens: 3, Truncated: true}, res[1].Diagnostics)

	// Pairs count both texts' tokens.
	res, err = m.ClassifyPairs(ctx, [][2]string{{"fever", "😀 cough"}, {"", ""}})
	require.NoError(t, err)
	require.Equal(t, Diagnostics{Tokens: 3, Unknown: 1.0 / 3}, res[0].Diagnostics)
	require.Equal(t, Diagnostics{}, res[1].Diagnostics)

	// Private releases keep the (exact) diagnostics of their inputs.
	res, err = m.Classify(ctx, []string{"😀", long}, WithPrivateLabel(1))
	require.NoError(t, err)
	require.NotNil(t, res[0].Privacy)
	require.Equal(t, Diagnostics{Tokens: 1, Unknown: 1}, res[0].Diagnostics)
	require.Equal(t, Diagnostics{Tokens: 126, Truncated: true}, res[1].Diagnostics)
	priv, err := m.EmbedPrivate(ctx, []string{"fever", "中"}, WithPrivateEmbedding(1, 1e-5, 1))
	require.NoError(t, err)
	require.Equal(t, Diagnostics{Tokens: 1}, priv[0].Diagnostics)
	require.Equal(t, Diagnostics{Tokens: 1, Unknown: 1}, priv[1].Diagnostics)
	embs, err = m.EmbedDetailed(ctx, []string{"fever", "中"}, WithPrivateEmbedding(1, 1e-5, 1))
	require.NoError(t, err)
	for i, e := range embs {
		require.NotNil(t, e.Privacy, "input %d", i)
		require.Equal(t, priv[i].Cost.Epsilon, e.Privacy.Epsilon)
		require.Equal(t, priv[i].Diagnostics, e.Diagnostics)
	}
	empty, err := m.EmbedDetailed(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, empty)
}
