package tokenize

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// longWordTokenizer is tinyVocab with max_input_chars_per_word at the
// largest value a tokenizer file may set (2^20), so one word of tens of
// thousands of letters goes through WordPiece instead of becoming [UNK].
func longWordTokenizer(t testing.TB, extra ...string) *Tokenizer {
	t.Helper()
	vocab := tinyVocab + strings.Join(extra, "\n")
	tk, err := FromVocab([]byte(vocab), VocabOptions{Lowercase: true, HandleCJK: true, MaxInputCharsPerWord: 1 << 20})
	require.NoError(t, err)
	return tk
}

// TestWordPieceLongWordLinear is the regression test for finding 3 of issue
// 13: a word of n characters cost O(n^2) (10k chars 0.2 s, 40k 2.7 s, 80k
// 11.6 s). WordPiece now tries, for each piece, only the candidates that
// fit in the longest vocabulary token, so its work (bytes hashed plus
// candidates tried, as counted for the context checks) is at most a
// constant times n: at most 2*maxTokLen+1 units per character.
func TestWordPieceLongWordLinear(t *testing.T) {
	tk := longWordTokenizer(t)
	e := tk.NewEncoder()
	perChar := 2*tk.maxTokLen + 1
	for _, n := range []int{1, 99, 100, 101, 10_000, 40_000, 80_000} {
		word := strings.Repeat("a", n)
		start := time.Now()
		enc, err := e.Encode(word, EncodeOptions{})
		elapsed := time.Since(start)
		require.NoError(t, err)
		require.Len(t, enc.IDs, n+2, "n=%d: a ##a ##a ... between [CLS] and [SEP]", n)
		require.Equal(t, int32(15), enc.IDs[1])
		if n > 1 {
			require.Equal(t, int32(25), enc.IDs[n])
			require.Equal(t, [2]int{n - 1, n}, enc.Offsets[n])
		}
		require.LessOrEqual(t, e.spent, perChar*n, "n=%d: work must grow linearly", n)
		t.Logf("word of %6d chars: %d units of work, %v", n, e.spent, elapsed)
	}
	// Longer pieces, and a word that turns out to have an unmatched rest
	// (no "##u" in the vocabulary) and becomes one [UNK].
	long := "un" + strings.Repeat("aff", 30_000) + "able"
	enc, err := e.Encode(long, EncodeOptions{})
	require.NoError(t, err)
	require.LessOrEqual(t, e.spent, perChar*len(long))
	require.Len(t, enc.IDs, 30_004, "un ##aff ... ##able")
	require.Equal(t, []int32{5, 6, 6}, enc.IDs[1:4])
	enc, err = e.Encode(long+"u", EncodeOptions{})
	require.NoError(t, err)
	require.LessOrEqual(t, e.spent, perChar*len(long))
	require.Equal(t, []int32{2, 1, 3}, enc.IDs, "the whole word is [UNK]")
}

// TestEncodeContextCancels is the regression test for finding 3's second
// half: the context was not looked at while tokenising (a 100 ms deadline
// returned after 4.9 s; a 10 MiB text with a 50 ms deadline after 2.2 s).
// The deadline is a tenth of the uncancelled run on this machine, so the
// test means the same on a fast or a loaded machine; the call must return
// ctx.Err(), not a result, and well before the uncancelled run would end.
func TestEncodeContextCancels(t *testing.T) {
	tk := tinyTokenizer(t)
	text := strings.Repeat("Hello, world! The unaffable café 中文 naive x 12345 ", 10<<20/52)
	e := tk.NewEncoder()
	start := time.Now()
	full, err := e.EncodeContext(context.Background(), text, EncodeOptions{})
	require.NoError(t, err)
	uncancelled := time.Since(start)
	require.Greater(t, full.Len(), 1_000_000)

	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"Encoder", func(ctx context.Context) error { _, err := e.EncodeContext(ctx, text, EncodeOptions{}); return err }},
		{"pair", func(ctx context.Context) error {
			_, err := e.EncodePairContext(ctx, "a question", text, EncodeOptions{MaxLength: 512})
			return err
		}},
		{"Tokenizer", func(ctx context.Context) error { _, err := tk.EncodeContext(ctx, text, EncodeOptions{}); return err }},
		{"batch", func(ctx context.Context) error {
			_, err := tk.EncodeBatch(ctx, []string{"short", text, "short"}, EncodeOptions{}, 2)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deadline := uncancelled / 10
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err := tc.run(ctx)
			elapsed := time.Since(start)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, elapsed, uncancelled/2, "returned %v after a %v deadline; uncancelled run %v", elapsed, deadline, uncancelled)
			t.Logf("10 MiB text: deadline %v, returned after %v (%v late); uncancelled %v", deadline, elapsed, elapsed-deadline, uncancelled)
		})
	}

	// The Encoder is usable after a cancelled call.
	got, err := e.Encode("hello world", EncodeOptions{})
	require.NoError(t, err)
	require.Equal(t, []int32{2, 8, 9, 3}, got.IDs)

	// A context that is already done fails before any work.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.EncodeContext(ctx, "hello", EncodeOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

// TestEncodeContextInsideWordPiece cancels a call whose time goes into
// WordPiece itself: a vocabulary with a 64 KiB token makes every piece of a
// long word try up to 64Ki candidates, hours of work for a word of 10^6
// letters. The call must stop at its deadline (the checks count WordPiece
// work, not only input bytes).
func TestEncodeContextInsideWordPiece(t *testing.T) {
	tk := longWordTokenizer(t, strings.Repeat("b", 64<<10))
	require.Equal(t, 64<<10, tk.maxTokLen)
	word := strings.Repeat("a", 1<<20-1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := tk.NewEncoder().EncodeContext(ctx, word, EncodeOptions{})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, elapsed, 5*time.Second, "a 100 ms deadline")
	t.Logf("1 Mi-letter word, 64 KiB longest token: 100 ms deadline, returned after %v", elapsed)
}

// TestTruncationStopsEarly: a single text cut to MaxLength is tokenised
// only as far as MaxLength needs, with the same result as tokenising it
// whole, so a huge text costs what its first MaxLength tokens cost.
func TestTruncationStopsEarly(t *testing.T) {
	tk := tinyTokenizer(t)
	e := tk.NewEncoder()
	unit := "Hello, world! The unaffable café 中文 naive [MASK] x "
	small := strings.Repeat(unit, 200)
	whole, err := tk.Encode(small, EncodeOptions{})
	require.NoError(t, err)
	for _, maxLen := range []int{2, 3, 4, 17, 128, whole.Len() - 1, whole.Len(), whole.Len() + 1} {
		for _, strat := range []TruncationStrategy{LongestFirst, OnlyFirst} {
			opt := EncodeOptions{MaxLength: maxLen, Truncation: strat}
			got, err := tk.Encode(small, opt)
			require.NoError(t, err)
			n := min(maxLen, whole.Len())
			want := append(append([]int32(nil), whole.IDs[:n-1]...), 3) // cut, then [SEP]
			require.Equal(t, want, got.IDs, "max %d strategy %d", maxLen, strat)
			require.Equal(t, append(append([][2]int(nil), whole.Offsets[:n-1]...), [2]int{}), got.Offsets)
		}
	}
	huge := strings.Repeat(unit, 10<<20/len(unit))
	enc, err := e.Encode(huge, EncodeOptions{MaxLength: 128})
	require.NoError(t, err)
	require.Equal(t, 128, enc.Len())
	require.Less(t, e.spent, 64<<10, "a 10 MiB text cut to 128 tokens reads only its start")
	_, err = e.Encode(huge, EncodeOptions{MaxLength: 128, ErrorOnTruncate: true})
	require.ErrorIs(t, err, ErrTooLong)
	require.Contains(t, err.Error(), "more than 128 tokens")
	// Overflowing windows need every token: no early stop.
	enc, err = e.Encode(small, EncodeOptions{MaxLength: 128, ReturnOverflowing: true})
	require.NoError(t, err)
	require.Greater(t, len(enc.Overflowing), 5)
}

// TestFuzzFromBinaryTemplateTypeIDs is the regression test for finding 5
// of issue 13: FuzzFromBinary failed on a tokenizer whose pair template
// gives the first sequence type id 12336. Tokens of the first text in
// overflowing windows then carry type id 0, as in Hugging Face (the type
// id the model step gave them; only main windows get the template's), and
// the fuzz invariant check wrongly demanded 12336. The saved input is in
// testdata/fuzz/FuzzFromBinary/issue13-template-type-id.
func TestFuzzFromBinaryTemplateTypeIDs(t *testing.T) {
	post := `{"type":"TemplateProcessing",
	"single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":12336}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
	"pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":12336}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
	"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}`
	tk := jsonTokenizer(t, bertNorm, "", specials, post)
	blob, err := tk.MarshalBinary()
	require.NoError(t, err)
	tk2, err := FromBinary(blob)
	require.NoError(t, err)
	s := "hello hello hello a a a ab ab x x"
	enc, err := tk2.EncodePair(s, s, EncodeOptions{MaxLength: 12, ReturnOverflowing: true, Padding: PadFixed})
	require.NoError(t, err)
	require.NotEmpty(t, enc.Overflowing)
	require.Equal(t, int32(12336), enc.TypeIDs[1], "main window: the template's type id")
	sawZero := false
	for _, o := range enc.Overflowing {
		for i, id := range o.TypeIDs {
			sawZero = sawZero || (id == 0 && o.SpecialTokensMask[i] == 0)
		}
	}
	require.True(t, sawZero, "some overflowing window holds first-text tokens with type id 0")
	checkEncoding(t, tk2, &enc, s, s, true)
	// The check still catches a first-text token with a wrong type id in
	// the main encoding.
	bad := enc.clone()
	bad.TypeIDs[1] = 0
	require.Error(t, encodingError(tk2, &bad, s, s, true, false))
}

// TestMaxTokLenClamped: a binary tokenizer cannot make WordPiece try
// candidates longer than its whole string table.
func TestMaxTokLenClamped(t *testing.T) {
	blob, err := tinyTokenizer(t).MarshalBinary()
	require.NoError(t, err)
	tk, err := FromBinary(blob)
	require.NoError(t, err)
	assert.LessOrEqual(t, tk.maxTokLen, len(tk.strs))
	assert.Equal(t, len("##able"), tk.maxTokLen)
}
