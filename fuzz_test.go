package lepton

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

// FuzzClassify feeds arbitrary strings (invalid UTF-8, NUL, control
// characters, huge words, typed special tokens) through tokenizer, forward
// pass and heads: no panic, no error with truncation on, probabilities that
// form a distribution, finite unit-length embeddings. Seed corpus:
// testdata/fuzz/FuzzClassify.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"", " ", "fever", "[CLS] [SEP] [MASK] [PAD] [UNK]", "\x00\xff\xfe", "Café naïve 北京 🙂‍↔️",
		strings.Repeat("a", 300), strings.Repeat("cough, ", 200), "\u200d\u0301\t\r\n"} {
		f.Add(s, "second")
	}
	m := fixtureModel(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, a, b string) {
		res, err := m.Classify(ctx, []string{a, b})
		if err != nil {
			t.Fatalf("Classify(%q, %q): %v", a, b, err)
		}
		pairs, err := m.ClassifyPairs(ctx, [][2]string{{a, b}})
		if err != nil {
			t.Fatalf("ClassifyPairs(%q, %q): %v", a, b, err)
		}
		for _, r := range append(res, pairs...) {
			var sum float64
			for _, p := range r.Probs {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("probability %v", p)
				}
				sum += float64(p)
			}
			if math.Abs(sum-1) > 1e-5 || r.Label != m.labels[r.Index] {
				t.Fatalf("bad result %+v", r)
			}
		}
		vecs, err := m.Embed(ctx, []string{a}, WithPooling(PoolMean), WithNormalize(true))
		if err != nil {
			t.Fatalf("Embed(%q): %v", a, err)
		}
		var n float64
		for _, v := range vecs[0] {
			n += float64(v) * float64(v)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Fatalf("Embed(%q): squared norm %v", a, n)
		}
		// Cleaning drops invalid bytes: the text and its valid-UTF-8
		// rendering classify alike.
		if !utf8.ValidString(a) {
			clean, err := m.Classify(ctx, []string{strings.ToValidUTF8(a, "")})
			if err != nil {
				t.Fatal(err)
			}
			if clean[0].Index != res[0].Index || clean[0].Logits[0] != res[0].Logits[0] {
				t.Fatalf("%q classifies differently from its cleaned form", a)
			}
		}
	})
}

// FuzzOpenBytes feeds damaged model files to OpenBytes and runs whatever
// opens: the loader, the tokenizer and Validate must turn every defect into
// an error, and a model that opens must classify and embed without
// panicking. Seeds: a tiny valid model and cuts of it, made here so the
// corpus always matches the current format.
func FuzzOpenBytes(f *testing.F) {
	cfg := bert.Config{Architecture: "BertForSequenceClassification", Layers: 1, Hidden: 16, Heads: 2,
		Intermediate: 32, Vocab: 225, MaxPositions: 12, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu",
		Pooling: "cls", Labels: []string{"no", "yes"}}
	net, err := convert.FromFloat(cfg, convert.Random(cfg, 3), convert.Options{})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(repoRoot(f), "testdata", "golden", "random-bert", "tokenizer.json"))
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := lepfile.Write(&buf, net, tok, nil, lepfile.WithTokenizerFormat(lepfile.TokenizerHFJSON)); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good)
	for _, cut := range []int{0, 7, 64, 200, len(good) / 2, len(good) - 1} {
		f.Add(good[:cut])
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := OpenBytes(data, WithThreads(1))
		if err != nil {
			if !errors.Is(err, ErrInvalidModel) && !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("error outside the documented sentinels: %v", err)
			}
			return
		}
		defer m.Close()
		texts := []string{"fever", "", strings.Repeat("cough ", 40)}
		if _, err := m.Classify(ctx, texts); err != nil && !errors.Is(err, ErrInvalidModel) &&
			!errors.Is(err, ErrNoClassifier) && !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Classify: %v", err)
		}
		if _, err := m.Embed(ctx, texts); err != nil && !errors.Is(err, ErrInvalidModel) && !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("Embed: %v", err)
		}
	})
}

// TestHostilePayloads damages each tensor's payload (which Open does not
// scan: only `lepton verify` reads every byte) with extreme values: calls
// must return results or a sentinel error, never panic or hang.
func TestHostilePayloads(t *testing.T) {
	fixtureModel(t)
	f, err := lepfile.OpenBytes(fixtureData)
	require.NoError(t, err)
	tensors := f.Tensors
	require.NoError(t, f.Close())
	ctx := context.Background()
	texts := []string{"fever", "", strings.Repeat("cough ", 200)}
	for _, ti := range tensors {
		var patterns [][]byte
		switch ti.DType {
		case lepfile.F32:
			for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, -3e38, 1e-45} {
				patterns = append(patterns, binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
			}
		case lepfile.I8:
			patterns = [][]byte{{0x80, 0x80, 0x80, 0x80}, {0x7f, 0x7f, 0x7f, 0x7f}}
		case lepfile.I32:
			patterns = [][]byte{{0xff, 0xff, 0xff, 0x7f}, {0, 0, 0, 0x80}}
		}
		for _, p := range patterns {
			data := append([]byte(nil), fixtureData...)
			copy(data[ti.Offset:ti.Offset+ti.Length], p)
			m, err := OpenBytes(data, WithThreads(2))
			if err != nil {
				require.ErrorIs(t, err, ErrInvalidModel, "%s %x", ti.Name, p)
				continue
			}
			if _, err := m.Classify(ctx, texts); err != nil {
				require.ErrorIs(t, err, ErrInvalidModel, "%s %x", ti.Name, p)
			}
			if _, err := m.Embed(ctx, texts, WithPooling(PoolMean), WithNormalize(true)); err != nil {
				require.ErrorIs(t, err, ErrInvalidModel, "%s %x", ti.Name, p)
			}
			require.NoError(t, m.Close())
		}
	}
}

// FuzzTag feeds arbitrary strings through Tag, with every aggregation and
// short windows (so long inputs take the overlapping-window path), and the
// result through Redact: no panic and no error; entities in order, not
// overlapping, inside the text, on rune starts of valid text, Text equal
// to their span and scores in (0, 1]; Redact keeps every byte outside the
// entities and, with MaskRunes, the text's line breaks. Seed corpus:
// testdata/fuzz/FuzzTag.
func FuzzTag(f *testing.F) {
	for _, s := range []string{"", " ", "Anna Lee, London", "[CLS] [SEP] ##x [UNK]", "\x00\xff\xfe", "Zoë 北京 🙂‍↔️ e\u0301",
		strings.Repeat("Anna ", 60), "a\r\nb\nc\u2028d", strings.Repeat("x", 300)} {
		f.Add(s, uint8(0))
	}
	m := tokenFixture(f, WithThreads(1))
	ctx := context.Background()
	strategies := []Aggregation{AggregateFirst, AggregateNone, AggregateSimple, AggregateAverage, AggregateMax}
	f.Fuzz(func(t *testing.T, text string, k uint8) {
		s := strategies[int(k)%len(strategies)]
		res, err := m.Tag(ctx, []string{text}, WithAggregation(s), WithIgnoreLabels("O"), WithMaxLength(12), WithStride(int(k)%10))
		if err != nil {
			t.Fatalf("Tag(%q, %s): %v", text, s, err)
		}
		last := 0
		for _, e := range res[0] {
			if e.Start < last || e.Start >= e.End || e.End > len(text) || text[e.Start:e.End] != e.Text ||
				!(e.Score > 0 && e.Score <= 1) || (utf8.ValidString(text) && !utf8.RuneStart(text[e.Start])) {
				t.Fatalf("Tag(%q, %s): bad entity %+v", text, s, e)
			}
			last = e.End
		}
		red := Redact(text, res[0], MaskRunes('#'))
		if strings.Count(red, "\n") != strings.Count(text, "\n") {
			t.Fatalf("Redact(%q) changed the lines: %q", text, red)
		}
		kept := Redact(text, res[0], func(Entity) string { return "" })
		var want strings.Builder
		pos := 0
		for _, e := range res[0] {
			want.WriteString(text[pos:e.Start])
			pos = e.End
		}
		want.WriteString(text[pos:])
		if kept != want.String() {
			t.Fatalf("Redact(%q) did not keep the bytes outside the entities: %q", text, kept)
		}
	})
}
