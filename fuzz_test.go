package lepton

import (
	"context"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
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
