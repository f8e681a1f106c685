package tokenize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyVocab is a hand-made vocabulary for self-contained tests; ids are line
// numbers.
var tinyVocab = strings.Join([]string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", // 0-4
	"un", "##aff", "##able", "hello", "world", // 5-9
	",", "!", "cafe", "中", "文", // 10-14
	"a", "b", "c", "d", "e", // 15-19
	"f", "g", "h", "i", "j", // 20-24
	"##a", "##b", ".", "'", "s", // 25-29
	"##s", "the", "x", "##x", "naive", // 30-34
}, "\n") + "\n"

func tinyTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	tk, err := FromVocab([]byte(tinyVocab), VocabOptions{Lowercase: true, HandleCJK: true})
	require.NoError(tb, err)
	return tk
}

func TestEncodeHandWorked(t *testing.T) {
	tk := tinyTokenizer(t)
	cases := []struct {
		name, text string
		tokens     []string
		offsets    [][2]int
	}{
		{"empty", "", []string{"[CLS]", "[SEP]"}, [][2]int{{}, {}}},
		{"whitespace only", " \t\n\u3000", []string{"[CLS]", "[SEP]"}, [][2]int{{}, {}}},
		{"wordpiece", "unaffable", []string{"[CLS]", "un", "##aff", "##able", "[SEP]"},
			[][2]int{{}, {0, 2}, {2, 5}, {5, 9}, {}}},
		{"punctuation and case", "Hello, WORLD!", []string{"[CLS]", "hello", ",", "world", "!", "[SEP]"},
			[][2]int{{}, {0, 5}, {5, 6}, {7, 12}, {12, 13}, {}}},
		// é is two bytes; the accent is stripped but the span keeps both.
		{"accent", "Café", []string{"[CLS]", "cafe", "[SEP]"}, [][2]int{{}, {0, 5}, {}}},
		// Decomposed input: the removed U+0301 (bytes 4-6) leaves the token
		// ending with the e it followed, as Rust's filter keeps alignments.
		{"combining mark", "cafe\u0301", []string{"[CLS]", "cafe", "[SEP]"}, [][2]int{{}, {0, 4}, {}}},
		{"cjk isolated", "a中文b", []string{"[CLS]", "a", "中", "文", "b", "[SEP]"},
			[][2]int{{}, {0, 1}, {1, 4}, {4, 7}, {7, 8}, {}}},
		{"unknown word spans whole word", "the zzz x", []string{"[CLS]", "the", "[UNK]", "x", "[SEP]"},
			[][2]int{{}, {0, 3}, {4, 7}, {8, 9}, {}}},
		{"partial match is unknown", "abz", []string{"[CLS]", "[UNK]", "[SEP]"}, [][2]int{{}, {0, 3}, {}}},
		// NUL, SOH and the zero-width space (Cf) vanish without splitting:
		// "abc" is one word and "##c" is not in the vocabulary.
		{"control chars dropped", "a\x00\x01b\u200bc", []string{"[CLS]", "[UNK]", "[SEP]"},
			[][2]int{{}, {0, 8}, {}}},
		{"control chars dropped 2", "a\x00\x01b\u200b c", []string{"[CLS]", "a", "##b", "c", "[SEP]"},
			[][2]int{{}, {0, 1}, {3, 4}, {8, 9}, {}}},
		{"typed special token", "a [MASK] b", []string{"[CLS]", "a", "[MASK]", "b", "[SEP]"},
			[][2]int{{}, {0, 1}, {2, 8}, {9, 10}, {}}},
		{"special glued to words", "a[MASK]b", []string{"[CLS]", "a", "[MASK]", "b", "[SEP]"},
			[][2]int{{}, {0, 1}, {1, 7}, {7, 8}, {}}},
		{"lowercase special is text", "[mask]", []string{"[CLS]", "[UNK]", "[UNK]", "]", "[SEP]"}, nil},
		{"invalid utf8 vanishes", "a\xffb", []string{"[CLS]", "a", "##b", "[SEP]"}, [][2]int{{}, {0, 1}, {2, 3}, {}}},
		{"contraction", "it's", []string{"[CLS]", "i", "'", "s", "[SEP]"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc, err := tk.Encode(c.text, EncodeOptions{})
			require.NoError(t, err)
			if c.name == "lowercase special is text" {
				// "[" and "]" are not in the tiny vocabulary either.
				assert.Equal(t, []string{"[CLS]", "[UNK]", "[UNK]", "[UNK]", "[SEP]"}, enc.Tokens)
				return
			}
			if c.name == "contraction" {
				assert.Equal(t, []string{"[CLS]", "[UNK]", "'", "s", "[SEP]"}, enc.Tokens) // "it" not in vocab
				return
			}
			assert.Equal(t, c.tokens, enc.Tokens)
			assert.Equal(t, c.offsets, enc.Offsets)
			assert.Len(t, enc.IDs, len(enc.Tokens))
			for i, id := range enc.IDs {
				tok, ok := tk.Token(id)
				assert.True(t, ok)
				assert.Equal(t, enc.Tokens[i], tok)
			}
		})
	}
}

func TestMaxInputCharsPerWord(t *testing.T) {
	tk := tinyTokenizer(t)
	// A huge unbroken word is one [UNK] spanning it, without storing it.
	e := tk.NewEncoder()
	huge := strings.Repeat("é", 1<<20) + " a"
	enc0, err := e.Encode(huge, EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int32{2, 1, 15, 3}, enc0.IDs)
	assert.Equal(t, [][2]int{{}, {0, 2 << 20}, {2<<20 + 1, 2<<20 + 2}, {}}, enc0.Offsets)
	assert.Less(t, cap(e.chars), 1024, "over-long words must not be buffered")
	for _, n := range []int{1, 99, 100, 101, 200} {
		word := "a" + strings.Repeat("a", n-1)
		enc, err := tk.Encode(word, EncodeOptions{})
		require.NoError(t, err)
		if n > 100 {
			assert.Equal(t, []string{"[CLS]", "[UNK]", "[SEP]"}, enc.Tokens, "n=%d", n)
			assert.Equal(t, [2]int{0, n}, enc.Offsets[1])
		} else {
			assert.Len(t, enc.IDs, n+2, "n=%d", n) // a ##a ##a ...
		}
	}
}

// TestHuggingFaceDocExamples works through examples from the Hugging Face
// documentation with the real bert-base-uncased tokenizer, offsets computed
// by hand (byte offsets; é, ò, ô and ü are two bytes each).
func TestHuggingFaceDocExamples(t *testing.T) {
	tk := bertUncased(t)
	enc, err := tk.Encode("Héllò hôw are ü?", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"[CLS]", "hello", "how", "are", "u", "?", "[SEP]"}, enc.Tokens)
	assert.Equal(t, [][2]int{{}, {0, 7}, {8, 12}, {13, 16}, {17, 19}, {19, 20}, {}}, enc.Offsets)

	// Each ideograph is its own word (你 and 好 are not in this vocabulary).
	enc, err = tk.Encode("中国人你好", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{}, {0, 3}, {3, 6}, {6, 9}, {9, 12}, {12, 15}, {}}, enc.Offsets)
	assert.Equal(t, []string{"[CLS]", "中", "国", "人", "[UNK]", "[UNK]", "[SEP]"}, enc.Tokens)

	enc, err = tk.EncodePair("How old are you?", "I'm 6 years old", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"[CLS]", "how", "old", "are", "you", "?", "[SEP]", "i", "'", "m", "6", "years", "old", "[SEP]"}, enc.Tokens)
	assert.Equal(t, []int32{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}, enc.TypeIDs)
	assert.Equal(t, [][2]int{{}, {0, 3}, {4, 7}, {8, 11}, {12, 15}, {15, 16}, {}, {0, 1}, {1, 2}, {2, 3}, {4, 5}, {6, 11}, {12, 15}, {}}, enc.Offsets)
	assert.Equal(t, []uint8{1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, enc.SpecialTokensMask)

	ids := []int32{101, 7592, 1010, 2088, 999, 102}
	assert.Equal(t, "[CLS] hello, world! [SEP]", tk.Decode(ids, false))
	assert.Equal(t, "hello, world!", tk.Decode(ids, true))
	enc, err = tk.Encode("unaffable isn't it", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "unaffable isn ' t it", tk.Decode(enc.IDs, true)) // per-token clean-up, as in Rust
	cls, sep, pad, unk, mask := tk.SpecialIDs()
	assert.Equal(t, []int32{101, 102, 0, 100, 103}, []int32{cls, sep, pad, unk, mask})
	assert.Equal(t, 30522, tk.VocabSize())
}

// seqOf returns a text of n single-token words of the tiny vocabulary.
func seqOf(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = string(rune('a' + i%10))
	}
	return strings.Join(w, " ")
}

// TestTruncateLongestFirst uses the length table of the Rust crate's
// truncate_encodings_longest_first test: max_length 7 for the sequences
// themselves, i.e. MaxLength 10 with the three special tokens of a pair.
func TestTruncateLongestFirst(t *testing.T) {
	tk := tinyTokenizer(t)
	sizes := []int{0, 2, 4, 8}
	want := [4][4][2]int{
		{{0, 0}, {0, 2}, {0, 4}, {0, 7}},
		{{2, 0}, {2, 2}, {2, 4}, {2, 5}},
		{{4, 0}, {4, 2}, {3, 4}, {3, 4}},
		{{7, 0}, {5, 2}, {4, 3}, {3, 4}},
	}
	for i, na := range sizes {
		for j, nb := range sizes {
			enc, err := tk.EncodePair(seqOf(na), seqOf(nb), EncodeOptions{MaxLength: 10})
			require.NoError(t, err)
			var ga, gb int
			for k, typ := range enc.TypeIDs {
				if enc.SpecialTokensMask[k] == 0 {
					if typ == 0 {
						ga++
					} else {
						gb++
					}
				}
			}
			assert.Equal(t, want[i][j], [2]int{ga, gb}, "na=%d nb=%d", na, nb)
		}
	}
}

func TestTruncationStrategies(t *testing.T) {
	tk := tinyTokenizer(t)
	a, b := seqOf(6), seqOf(4) // 6 + 4 + 3 specials = 13
	cases := []struct {
		name string
		opt  EncodeOptions
		n    int
		err  error
		pair bool
		lenA int
		// trunc: Encoding.Truncated, set when tokens were cut (not when
		// the input fits, nor under DoNotTruncate).
		trunc bool
	}{
		{"no limit", EncodeOptions{}, 13, nil, true, 6, false},
		{"fits exactly", EncodeOptions{MaxLength: 13}, 13, nil, true, 6, false},
		{"only first", EncodeOptions{MaxLength: 10, Truncation: OnlyFirst}, 10, nil, true, 3, true},
		{"only second", EncodeOptions{MaxLength: 10, Truncation: OnlySecond}, 10, nil, true, 6, true},
		{"only second too short", EncodeOptions{MaxLength: 5, Truncation: OnlySecond}, 0, ErrTooLong, true, 0, false},
		{"do not truncate", EncodeOptions{MaxLength: 5, Truncation: DoNotTruncate}, 13, nil, true, 6, false},
		{"error on truncate", EncodeOptions{MaxLength: 12, ErrorOnTruncate: true}, 0, ErrTooLong, true, 0, false},
		{"max below specials", EncodeOptions{MaxLength: 2}, 0, ErrInvalid, true, 0, false},
		{"max equals specials", EncodeOptions{MaxLength: 3}, 3, nil, true, 0, true},
		// Hugging Face empties every sequence when only the specials fit,
		// whatever the strategy.
		{"max equals specials only first", EncodeOptions{MaxLength: 3, Truncation: OnlyFirst}, 3, nil, true, 0, true},
		{"single max equals specials only second", EncodeOptions{MaxLength: 2, Truncation: OnlySecond}, 2, nil, false, 0, true},
		{"bad strategy", EncodeOptions{Truncation: 7}, 0, ErrInvalid, false, 0, false},
		{"bad padding", EncodeOptions{Padding: -1}, 0, ErrInvalid, false, 0, false},
		{"single", EncodeOptions{MaxLength: 4}, 4, nil, false, 2, true},
		{"single only second", EncodeOptions{MaxLength: 4, Truncation: OnlySecond}, 0, ErrInvalid, false, 0, false},
		{"stride too large", EncodeOptions{MaxLength: 4, Stride: 2}, 0, ErrInvalid, false, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var enc Encoding
			var err error
			if c.pair {
				enc, err = tk.EncodePair(a, b, c.opt)
			} else {
				enc, err = tk.Encode(a, c.opt)
			}
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, enc.IDs, c.n)
			na := 0
			for k := range enc.IDs {
				if enc.SpecialTokensMask[k] == 0 && enc.TypeIDs[k] == 0 {
					na++
				}
			}
			assert.Equal(t, c.lenA, na)
			assert.Equal(t, c.trunc, enc.Truncated, "Truncated")
		})
	}
}

func TestOverflowingWindows(t *testing.T) {
	tk := tinyTokenizer(t)
	text := seqOf(10) // a b c ... j
	enc, err := tk.Encode(text, EncodeOptions{MaxLength: 6, Stride: 2, ReturnOverflowing: true})
	require.NoError(t, err)
	// 4 tokens per window, advancing by 4-2: [0,4) [2,6) [4,8) [6,10).
	want := [][]string{
		{"[CLS]", "a", "b", "c", "d", "[SEP]"},
		{"[CLS]", "c", "d", "e", "f", "[SEP]"},
		{"[CLS]", "e", "f", "g", "h", "[SEP]"},
		{"[CLS]", "g", "h", "i", "j", "[SEP]"},
	}
	require.Len(t, enc.Overflowing, 3)
	assert.Equal(t, want[0], enc.Tokens)
	for i, o := range enc.Overflowing {
		assert.Equal(t, want[i+1], o.Tokens)
		assert.Empty(t, o.Overflowing)
	}
	assert.Equal(t, [2]int{4, 5}, enc.Overflowing[0].Offsets[1], "offsets index the original text")

	// Pair: A windows x B windows in Hugging Face's merge order:
	// (A1,B0) (A1,B1) (A0,B1).
	enc, err = tk.EncodePair(seqOf(4), seqOf(4), EncodeOptions{MaxLength: 7, ReturnOverflowing: true, Padding: PadFixed, PadTo: 8})
	require.NoError(t, err)
	require.Len(t, enc.Overflowing, 3)
	assert.Equal(t, []string{"[CLS]", "a", "b", "[SEP]", "a", "b", "[SEP]", "[PAD]"}, enc.Tokens)
	assert.Equal(t, []string{"[CLS]", "c", "d", "[SEP]", "a", "b", "[SEP]", "[PAD]"}, enc.Overflowing[0].Tokens)
	assert.Equal(t, []string{"[CLS]", "c", "d", "[SEP]", "c", "d", "[SEP]", "[PAD]"}, enc.Overflowing[1].Tokens)
	assert.Equal(t, []string{"[CLS]", "a", "b", "[SEP]", "c", "d", "[SEP]", "[PAD]"}, enc.Overflowing[2].Tokens)
	for _, o := range enc.Overflowing {
		assert.Equal(t, []int32{0, 0, 0, 0, 1, 1, 1, 0}, o.TypeIDs)
	}
}

func TestPadding(t *testing.T) {
	tk := tinyTokenizer(t)
	enc, err := tk.Encode("a b", EncodeOptions{Padding: PadFixed, PadTo: 6})
	require.NoError(t, err)
	assert.Equal(t, []string{"[CLS]", "a", "b", "[SEP]", "[PAD]", "[PAD]"}, enc.Tokens)
	assert.Equal(t, []uint8{1, 1, 1, 1, 0, 0}, enc.AttentionMask)
	assert.Equal(t, []uint8{1, 0, 0, 1, 1, 1}, enc.SpecialTokensMask)
	assert.Equal(t, [2]int{}, enc.Offsets[5])

	enc, err = tk.Encode("a b c d e", EncodeOptions{MaxLength: 4, Padding: PadFixed})
	require.NoError(t, err)
	assert.Len(t, enc.IDs, 4, "PadTo 0 pads to MaxLength, truncation first")

	// pad_to_multiple_of rounds the padded length up.
	for _, c := range []struct{ padTo, multiple, want int }{{6, 4, 8}, {8, 4, 8}, {3, 4, 4}, {5, 0, 5}, {5, 1, 5}} {
		enc, err := tk.Encode("a b", EncodeOptions{Padding: PadFixed, PadTo: c.padTo, PadToMultipleOf: c.multiple})
		require.NoError(t, err)
		assert.Len(t, enc.IDs, c.want, "PadTo %d multiple %d", c.padTo, c.multiple)
	}
	enc, err = tk.Encode("a b", EncodeOptions{PadToMultipleOf: 8})
	require.NoError(t, err)
	assert.Len(t, enc.IDs, 4, "no padding strategy, no padding")
	batch, err := tk.EncodeBatch(context.Background(), []string{"a", "a b c"}, EncodeOptions{Padding: PadLongest, PadToMultipleOf: 4}, 2)
	require.NoError(t, err)
	assert.Len(t, batch[0].IDs, 8)
	assert.Len(t, batch[1].IDs, 8)

	batch, err = tk.EncodeBatch(context.Background(), []string{"a", "a b c d", "", "b c"}, EncodeOptions{Padding: PadLongest}, 3)
	require.NoError(t, err)
	for i, e := range batch {
		assert.Len(t, e.IDs, 6, "text %d", i)
		assert.Len(t, e.Tokens, 6, "text %d", i)
	}
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	tk := tinyTokenizer(t)
	texts := []string{"hello world", "", "unaffable, cafe!", "a b c", "中文", "zzz"}
	for _, workers := range []int{0, 1, 2, 7} {
		got, err := tk.EncodeBatch(context.Background(), texts, EncodeOptions{}, workers)
		require.NoError(t, err)
		for i, text := range texts {
			want, err := tk.Encode(text, EncodeOptions{})
			require.NoError(t, err)
			assert.Equal(t, want, got[i], "workers=%d text %d", workers, i)
		}
	}
	pairs := [][2]string{{"hello", "world"}, {"", "a b"}, {"unaffable", ""}}
	got, err := tk.EncodePairBatch(context.Background(), pairs, EncodeOptions{Padding: PadLongest}, 2)
	require.NoError(t, err)
	for i, p := range pairs {
		want, err := tk.EncodePair(p[0], p[1], EncodeOptions{Padding: PadFixed, PadTo: 6}) // longest: [CLS] un ##aff ##able [SEP] [SEP]
		require.NoError(t, err)
		assert.Equal(t, want, got[i], "pair %d", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tk.EncodeBatch(ctx, texts, EncodeOptions{}, 2)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = tk.EncodeBatch(context.Background(), texts, EncodeOptions{MaxLength: 1}, 2)
	assert.ErrorIs(t, err, ErrInvalid)
	// Truncated travels through the batch's carving: "unaffable, cafe!"
	// has 6 tokens, "a b c" 3; with room for 3 only the first is cut.
	got, err = tk.EncodeBatch(context.Background(), texts, EncodeOptions{MaxLength: 5}, 2)
	require.NoError(t, err)
	for i, text := range texts {
		want, err := tk.Encode(text, EncodeOptions{MaxLength: 5})
		require.NoError(t, err)
		assert.Equal(t, want, got[i], "text %d", i)
		assert.Equal(t, i == 2, got[i].Truncated, "text %d", i)
	}
}

func TestEncoderZeroAlloc(t *testing.T) {
	tk := tinyTokenizer(t)
	e := tk.NewEncoder()
	text := "Hello, world! Unaffable café 中文 [MASK] the zzz naïve"
	opt := EncodeOptions{MaxLength: 16, Padding: PadFixed}
	_, err := e.Encode(text, opt)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := e.Encode(text, opt); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
	got, err := e.Encode(text, opt)
	require.NoError(t, err)
	want, err := tk.Encode(text, opt)
	require.NoError(t, err)
	assert.Equal(t, want.IDs, got.IDs)
	assert.Equal(t, want.Offsets, got.Offsets)
	assert.Empty(t, got.Tokens)
}

func TestBinaryRoundTrip(t *testing.T) {
	tk := tinyTokenizer(t)
	blob, err := tk.MarshalBinary()
	require.NoError(t, err)
	tk2, err := FromBinary(blob)
	require.NoError(t, err)
	for _, text := range []string{"hello, world", "unaffable", "a [MASK] 中", "zzz"} {
		a, err := tk.Encode(text, EncodeOptions{})
		require.NoError(t, err)
		b, err := tk2.Encode(text, EncodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, a, b)
	}
	for id := int32(-1); id < 40; id++ {
		s1, ok1 := tk.Token(id)
		s2, ok2 := tk2.Token(id)
		assert.Equal(t, ok1, ok2)
		assert.Equal(t, s1, s2)
		if ok1 {
			got, ok := tk2.TokenID(s1)
			assert.True(t, ok)
			assert.Equal(t, id, got)
		}
	}
	// Every truncation and a sweep of single-byte corruptions must fail
	// cleanly or load a tokenizer that still encodes without panicking.
	for n := range len(blob) {
		_, err := FromBinary(blob[:n])
		require.ErrorIs(t, err, ErrInvalid, "truncated to %d bytes", n)
	}
	for i := range len(blob) {
		bad := bytes.Clone(blob)
		bad[i] ^= 0xA5
		if tk3, err := FromBinary(bad); err == nil {
			_, _ = tk3.EncodePair("hello [MASK] unaffable", "world 中", EncodeOptions{MaxLength: 9, ReturnOverflowing: true})
			_ = tk3.Decode([]int32{0, 5, 6, 7, 100}, true)
		}
	}
}

// TestBinaryWithoutHashTags checks that blobs written before hash tags
// existed (no flagHashTags) still load and encode identically.
func TestBinaryWithoutHashTags(t *testing.T) {
	tk := tinyTokenizer(t)
	var tokens []string
	for id := range int32(tk.n) {
		s, _ := tk.Token(id)
		tokens = append(tokens, s)
	}
	sp := &spec{tokens: tokens, flags: tk.flags &^ flagHashTags, maxChars: tk.maxChars, unk: tk.unk, cls: tk.cls,
		sep: tk.sep, pad: tk.pad, mask: tk.mask, prefix: tk.prefix, added: tk.added, single: tk.single, pair: tk.pair, noTags: true}
	old, err := sp.load()
	require.NoError(t, err)
	require.Zero(t, old.flags&flagHashTags)
	require.NotZero(t, tk.flags&flagHashTags)
	for _, text := range []string{"hello, world", "unaffable naive", "a [MASK] 中 zzz"} {
		a, err := tk.Encode(text, EncodeOptions{})
		require.NoError(t, err)
		b, err := old.Encode(text, EncodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, a, b)
	}
}

func TestBinaryRealVocab(t *testing.T) {
	tk := bertUncased(t)
	blob, err := tk.MarshalBinary()
	require.NoError(t, err)
	tk2, err := FromBinary(blob)
	require.NoError(t, err)
	for text := range strings.SplitSeq("Hello, World! The capital of France is [MASK]. naïve 中文 😀", " ") {
		a, _ := tk.Encode(text, EncodeOptions{})
		b, _ := tk2.Encode(text, EncodeOptions{})
		assert.Equal(t, a, b)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := FromBinary(blob); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 20.0, "FromBinary must not allocate per token")
	t.Logf("binary form: %d bytes, FromBinary allocs %.0f", len(blob), allocs)
}

func TestFromJSONRefusals(t *testing.T) {
	base := `{"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3}},
	"post_processor":{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[CLS]",1]}}`
	_, err := FromJSON([]byte(base))
	require.NoError(t, err)
	cases := []struct {
		name, from, to string
		err            error
		mention        string
	}{
		{"bpe", `"type":"WordPiece"`, `"type":"BPE"`, ErrUnsupported, "BPE"},
		{"unigram", `"type":"WordPiece"`, `"type":"Unigram"`, ErrUnsupported, "Unigram"},
		{"normalizer", `"type":"BertNormalizer"`, `"type":"NFKC"`, ErrUnsupported, "NFKC"},
		{"pre-tokenizer", `"type":"BertPreTokenizer"`, `"type":"ByteLevel"`, ErrUnsupported, "ByteLevel"},
		{"post-processor", `"type":"BertProcessing"`, `"type":"RobertaProcessing"`, ErrUnsupported, "RobertaProcessing"},
		{"no unk", `"unk_token":"[UNK]"`, `"unk_token":"<unk>"`, ErrInvalid, "<unk>"},
		{"negative id", `"a":3`, `"a":-3`, ErrInvalid, "out of range"},
		{"huge id", `"a":3`, `"a":99999999`, ErrInvalid, "out of range"},
		{"not json", `{`, `[`, ErrInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromJSON([]byte(strings.Replace(base, c.from, c.to, 1)))
			require.ErrorIs(t, err, c.err)
			assert.Contains(t, err.Error(), c.mention)
		})
	}
}

func TestFromVocabOptions(t *testing.T) {
	no := false
	cased, err := FromVocab([]byte(tinyVocab+"Cafe\nCafé\n"), VocabOptions{StripAccents: &no})
	require.NoError(t, err)
	enc, err := cased.Encode("Café Cafe", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"[CLS]", "Café", "Cafe", "[SEP]"}, enc.Tokens)

	// Without CJK handling the ideographs stay glued to the word.
	tk, err := FromVocab([]byte(tinyVocab), VocabOptions{Lowercase: true})
	require.NoError(t, err)
	enc, err = tk.Encode("a中", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"[CLS]", "[UNK]", "[SEP]"}, enc.Tokens)

	// Trailing whitespace (CRLF, spaces) on a line is not part of the token.
	crlf, err := FromVocab([]byte("[UNK]\r\n[CLS] \r\n[SEP]\t\nhello  \r\n"), VocabOptions{})
	require.NoError(t, err)
	enc, err = crlf.Encode("hello", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 3, 2}, enc.IDs)

	// No [PAD] in the vocabulary: encoding works, padding is refused.
	nopad, err := FromVocab([]byte("[UNK]\n[CLS]\n[SEP]\na\n"), VocabOptions{})
	require.NoError(t, err)
	_, err = nopad.Encode("a", EncodeOptions{})
	require.NoError(t, err)
	_, err = nopad.Encode("a", EncodeOptions{Padding: PadFixed, PadTo: 8})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = nopad.EncodeBatch(context.Background(), []string{"a"}, EncodeOptions{Padding: PadLongest}, 1)
	assert.ErrorIs(t, err, ErrInvalid)

	_, err = FromVocab([]byte("a\nb\n"), VocabOptions{})
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = FromVocab([]byte("[UNK]\n\xff\n"), VocabOptions{})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestDecodeTiny(t *testing.T) {
	tk := tinyTokenizer(t)
	cases := []struct {
		ids  []int32
		skip bool
		want string
	}{
		{nil, false, ""},
		{[]int32{2, 5, 6, 7, 10, 9, 11, 3}, false, "[CLS] unaffable, world! [SEP]"},
		{[]int32{2, 5, 6, 7, 10, 9, 11, 3, 0, 0}, true, "unaffable, world!"},
		{[]int32{6, 15}, false, "##aff a"}, // the first token keeps its prefix, as in Rust
		{[]int32{-1, 15, 9999, 16}, false, "a b"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, tk.Decode(c.ids, c.skip), "%v", c.ids)
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	for _, err := range []error{ErrUnsupported, ErrInvalid, ErrTooLong} {
		assert.True(t, strings.HasPrefix(err.Error(), "tokenize: "))
		assert.False(t, errors.Is(err, ErrInvalid) && err != ErrInvalid)
	}
}

// TestNormalizePathsAgree runs the buffered normaliser (used when added
// tokens are matched after normalisation) against the fused fast path on
// the adversarial inputs: with no such tokens the results must be equal.
func TestNormalizePathsAgree(t *testing.T) {
	for _, name := range []string{"tiny", "bert"} {
		var tk *Tokenizer
		if name == "tiny" {
			tk = tinyTokenizer(t)
		} else {
			tk = bertUncased(t)
		}
		blob, err := tk.MarshalBinary()
		require.NoError(t, err)
		buffered, err := FromBinary(blob)
		require.NoError(t, err)
		buffered.hasNormAdded = true
		for _, c := range loadAdversarial(t).Texts {
			for _, text := range []string{c.Text, "X\x00\x01\v\fY\xff" + c.Text} {
				want, err := tk.Encode(text, EncodeOptions{})
				require.NoError(t, err)
				got, err := buffered.Encode(text, EncodeOptions{})
				require.NoError(t, err)
				assert.Equal(t, want, got, "%s: %q", name, text)
			}
		}
	}
}

// TestFromJSONLegacyModel checks that a model without "type" is chosen as
// Hugging Face tokenizers 0.23.2 chooses it (checked with its node binding):
// WordPiece with all four WordPiece fields, WordLevel when
// continuing_subword_prefix or max_input_chars_per_word is missing, BPE with
// merges.
func TestFromJSONLegacyModel(t *testing.T) {
	const wp = `"unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"un":3,"##aff":4,"##able":5}`
	doc := func(model string) []byte {
		return []byte(`{"normalizer":{"type":"BertNormalizer","lowercase":true},"pre_tokenizer":{"type":"BertPreTokenizer"},
		"model":{` + model + `},
		"post_processor":{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[CLS]",1]}}`)
	}
	tk, err := FromJSON(doc(wp))
	require.NoError(t, err)
	enc, err := tk.Encode("Unaffable", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 3, 4, 5, 2}, enc.IDs)

	// A different prefix is honoured, as for a typed model.
	tk, err = FromJSON(doc(strings.ReplaceAll(wp, `"##`, `"@@`)))
	require.NoError(t, err)
	enc, err = tk.Encode("unaffable", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 3, 4, 5, 2}, enc.IDs)

	for _, c := range []struct {
		name, model string
		err         error
		mention     string
	}{
		{"no prefix", strings.Replace(wp, `"continuing_subword_prefix":"##",`, "", 1), ErrUnsupported, "WordLevel"},
		{"no max chars", strings.Replace(wp, `"max_input_chars_per_word":100,`, "", 1), ErrUnsupported, "WordLevel"},
		{"merges", wp + `,"merges":[]`, ErrUnsupported, "BPE"},
		{"unigram", `"unk_id":0,"vocab":[["[UNK]",0]]`, ErrUnsupported, "Unigram"},
		{"vocab only", `"vocab":{"[UNK]":0}`, ErrInvalid, "no model kind"},
		{"empty", ``, ErrInvalid, "no model kind"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromJSON(doc(c.model))
			require.ErrorIs(t, err, c.err)
			assert.Contains(t, err.Error(), c.mention)
		})
	}
}

// TestOverflowingIssue2091 is the repro of huggingface/tokenizers#2091 (50
// one-token words, no special tokens, max_length 10, stride 2), whose answer
// in tokenizers 0.22 is 5 overflowing windows; 0.23.1-0.23.2 return none.
// Worked by hand from Encoding::truncate: windows of 10 tokens start every
// 10-2 = 8 tokens until one reaches the end: [0,10) is the encoding, then
// [8,18) [16,26) [24,34) [32,42) [40,50).
func TestOverflowingIssue2091(t *testing.T) {
	vocab := `"[UNK]":0`
	words := make([]string, 50)
	for i := range 100 {
		vocab += fmt.Sprintf(`,"%d":%d`, i, i+1)
	}
	for i := range words {
		words[i] = strconv.Itoa(i)
	}
	tk, err := FromJSON([]byte(`{"normalizer":null,"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":null,
	"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":{` + vocab + `}}}`))
	require.NoError(t, err)
	enc, err := tk.Encode(strings.Join(words, " "), EncodeOptions{MaxLength: 10, Stride: 2, ReturnOverflowing: true})
	require.NoError(t, err)
	window := func(from, to int) []string { return words[from:to] }
	assert.Equal(t, window(0, 10), enc.Tokens)
	require.Len(t, enc.Overflowing, 5)
	for i, o := range enc.Overflowing {
		assert.Equal(t, window(8*(i+1), min(8*(i+1)+10, 50)), o.Tokens, "window %d", i+1)
	}
	// Offsets still index the original text: "8" starts at byte 16.
	assert.Equal(t, [2]int{16, 17}, enc.Overflowing[0].Offsets[0])
}

// TestFileOptions: the truncation/padding sections of a tokenizer.json map
// onto EncodeOptions; malformed ones are refused at load, left-side ones are
// reported by FileOptions.
func TestFileOptions(t *testing.T) {
	const body = `"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"a":4}},
	"post_processor":{"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]}`
	for _, c := range []struct {
		name, extra string
		want        EncodeOptions
		loadErr     error
		optErr      error
	}{
		{"none", ``, EncodeOptions{Truncation: DoNotTruncate}, nil, nil},
		{"nulls", `,"truncation":null,"padding":null`, EncodeOptions{Truncation: DoNotTruncate}, nil, nil},
		{"bert", `,"truncation":{"direction":"Right","max_length":128,"strategy":"LongestFirst","stride":0},
			"padding":{"strategy":{"Fixed":128},"direction":"Right","pad_to_multiple_of":null,"pad_id":0,"pad_type_id":0,"pad_token":"[PAD]"}`,
			EncodeOptions{MaxLength: 128, Truncation: LongestFirst, Padding: PadFixed, PadTo: 128}, nil, nil},
		{"batch longest", `,"truncation":{"max_length":7,"strategy":"OnlySecond","stride":2},
			"padding":{"strategy":"BatchLongest","pad_to_multiple_of":8,"pad_id":0,"pad_token":"[PAD]"}`,
			EncodeOptions{MaxLength: 7, Stride: 2, Truncation: OnlySecond, Padding: PadLongest, PadToMultipleOf: 8}, nil, nil},
		{"left truncation", `,"truncation":{"direction":"Left","max_length":9,"strategy":"OnlyFirst","stride":0}`,
			EncodeOptions{MaxLength: 9, Truncation: OnlyFirst}, nil, ErrUnsupported},
		{"left padding", `,"padding":{"strategy":"BatchLongest","direction":"Left","pad_id":0,"pad_token":"[PAD]"}`,
			EncodeOptions{Truncation: DoNotTruncate, Padding: PadLongest}, nil, ErrUnsupported},
		{"bad strategy", `,"truncation":{"max_length":9,"strategy":"Middle","stride":0}`, EncodeOptions{}, ErrInvalid, nil},
		{"bad max", `,"truncation":{"max_length":-1,"strategy":"OnlyFirst","stride":0}`, EncodeOptions{}, ErrInvalid, nil},
		{"bad padding", `,"padding":{"strategy":{"Fixed":-4},"pad_id":0}`, EncodeOptions{}, ErrInvalid, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			tk, err := FromJSON([]byte("{" + body + c.extra + "}"))
			if c.loadErr != nil {
				require.ErrorIs(t, err, c.loadErr)
				return
			}
			require.NoError(t, err)
			opt, err := tk.FileOptions()
			if c.optErr != nil {
				require.ErrorIs(t, err, c.optErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, c.want, opt)
		})
	}
	_, err := tinyTokenizer(t).FileOptions()
	require.ErrorIs(t, err, ErrInvalid, "a vocab.txt tokenizer has no file settings")
}

// TestEncodeBatchSizes: batches of awkward sizes (0, 1, the claim chunk and
// one past it, several chunks), with and without padding to the longest and
// overflowing windows, on 1-3 workers, equal one Encode per text padded to
// the batch's longest; results do not share capacity.
func TestEncodeBatchSizes(t *testing.T) {
	tk := tinyTokenizer(t)
	words := []string{"hello", "world", ",", "unaffable", "cafe!", "中文", "zzz", "a", "b.c", "naive"}
	for _, n := range []int{0, 1, batchChunk, batchChunk + 1, 3*batchChunk + 5} {
		texts := make([]string, n)
		for i := range texts {
			var sb strings.Builder
			for j := range (i*7)%11 + 1 {
				sb.WriteString(words[(i+j*3)%len(words)] + " ")
			}
			texts[i] = sb.String()
		}
		for _, opt := range []EncodeOptions{
			{},
			{Padding: PadLongest},
			{Padding: PadLongest, PadToMultipleOf: 8},
			{MaxLength: 6, Stride: 1, ReturnOverflowing: true, Padding: PadLongest},
			{MaxLength: 9, Padding: PadFixed},
		} {
			for _, workers := range []int{1, 2, 3} {
				name := fmt.Sprintf("n=%d opt=%+v workers=%d", n, opt, workers)
				got, err := tk.EncodeBatch(context.Background(), texts, opt, workers)
				require.NoError(t, err, name)
				require.Len(t, got, n, name)
				ref := opt
				if opt.Padding == PadLongest {
					ref.Padding = NoPadding
					longest := 0
					for _, s := range texts {
						e, err := tk.Encode(s, ref)
						require.NoError(t, err)
						longest = max(longest, e.Len())
					}
					ref.Padding, ref.PadTo, ref.PadToMultipleOf = PadFixed, roundUp(longest, opt.PadToMultipleOf), 0
				}
				for i, s := range texts {
					want, err := tk.Encode(s, ref)
					require.NoError(t, err)
					require.Equal(t, want, got[i], "%s text %d", name, i)
				}
				if n >= 2 {
					before := append([]int32(nil), got[1].IDs...)
					got[0].IDs = append(got[0].IDs, 999)
					got[0].Tokens = append(got[0].Tokens, "x")
					require.Equal(t, before, got[1].IDs, "%s: results share capacity", name)
				}
			}
		}
	}
}
