package tokenize

import (
	"testing"
)

// checkEncoding asserts the structural invariants every encoding must hold,
// whatever the input: consistent lengths, ids in the vocabulary, offsets
// inside the input they index and non-decreasing per sequence.
func checkEncoding(t *testing.T, tk *Tokenizer, enc *Encoding, a, b string, pair bool) {
	t.Helper()
	n := len(enc.IDs)
	if len(enc.TypeIDs) != n || len(enc.AttentionMask) != n || len(enc.SpecialTokensMask) != n || len(enc.Offsets) != n {
		t.Fatalf("inconsistent lengths: ids %d type %d attn %d special %d offsets %d",
			n, len(enc.TypeIDs), len(enc.AttentionMask), len(enc.SpecialTokensMask), len(enc.Offsets))
	}
	if len(enc.Tokens) != 0 && len(enc.Tokens) != n {
		t.Fatalf("%d tokens for %d ids", len(enc.Tokens), n)
	}
	// Tokens of overflowing windows of the second sequence keep type id 0
	// (Hugging Face behaviour), so the sequence a token belongs to cannot
	// always be read from its type id: offsets must be non-decreasing within
	// each sequence, allowing one restart for pairs.
	limit := max(len(a), len(b))
	restarts, prev := 0, -1
	for i, id := range enc.IDs {
		if id < 0 || int(id) >= tk.VocabSize() {
			t.Fatalf("id %d outside vocabulary of %d", id, tk.VocabSize())
		}
		off := enc.Offsets[i]
		if enc.SpecialTokensMask[i] == 1 {
			if off != [2]int{} {
				t.Fatalf("special token %d with offsets %v", i, off)
			}
			continue
		}
		end := limit
		if enc.TypeIDs[i] == 1 {
			end = len(b)
		}
		if off[0] < 0 || off[0] > off[1] || off[1] > end {
			t.Fatalf("token %d offsets %v outside input of %d bytes", i, off, end)
		}
		if off[0] < prev {
			restarts++
			if restarts > 1 || !pair {
				t.Fatalf("token %d offsets %v start before the previous token's start %d", i, off, prev)
			}
		}
		prev = off[0]
	}
	for i := range enc.Overflowing {
		checkEncoding(t, tk, &enc.Overflowing[i], a, b, pair)
	}
}

func fuzzOptions(maxLen, stride, strat, pad uint8) EncodeOptions {
	return EncodeOptions{
		MaxLength:         int(maxLen % 40),
		Stride:            int(stride % 8),
		Truncation:        TruncationStrategy(strat % 4),
		ReturnOverflowing: strat&4 != 0,
		Padding:           PaddingStrategy(pad % 3),
		PadTo:             int(pad / 3 % 50),
	}
}

var fuzzTexts = []string{"", " ", "Hello, World!", "unaffable café 中文", "a[MASK]b [SEP]", "\x00\xff\xfe e\u0301",
	"👨‍👩‍👧‍👦 ΣΟΦΟΣ İ", "zzz " + string(make([]byte, 120))}

func FuzzEncode(f *testing.F) {
	for i, s := range fuzzTexts {
		f.Add(s, uint8(i*7), uint8(i), uint8(i), uint8(i*5))
	}
	tk := tinyTokenizer(f)
	f.Fuzz(func(t *testing.T, text string, maxLen, stride, strat, pad uint8) {
		opt := fuzzOptions(maxLen, stride, strat, pad)
		enc, err := tk.Encode(text, opt)
		if err != nil {
			return // invalid option combinations are reported, not panicked on
		}
		checkEncoding(t, tk, &enc, text, "", false)
		e := tk.NewEncoder()
		got, err := e.Encode(text, opt)
		if err != nil {
			t.Fatalf("Encoder failed where Tokenizer succeeded: %v", err)
		}
		if !equalIDs(got.IDs, enc.IDs) {
			t.Fatalf("Encoder and Tokenizer disagree")
		}
		_ = tk.Decode(enc.IDs, strat&1 == 0)
	})
}

func FuzzEncodePair(f *testing.F) {
	for i, s := range fuzzTexts {
		f.Add(s, fuzzTexts[(i+3)%len(fuzzTexts)], uint8(i*5), uint8(i), uint8(i), uint8(i*3))
	}
	tk := tinyTokenizer(f)
	f.Fuzz(func(t *testing.T, a, b string, maxLen, stride, strat, pad uint8) {
		enc, err := tk.EncodePair(a, b, fuzzOptions(maxLen, stride, strat, pad))
		if err != nil {
			return
		}
		checkEncoding(t, tk, &enc, a, b, true)
	})
}

func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(`{"normalizer":{"type":"BertNormalizer","lowercase":false},"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3,"##b":4}},
	"added_tokens":[{"id":5,"content":"<x>","lstrip":true,"rstrip":true,"single_word":true,"special":true}],
	"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
	"pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
	"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[1],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[2],"tokens":["[SEP]"]}}}}`))
	f.Add([]byte(`{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"WordPiece","vocab":{"[UNK]":0}},
	"post_processor":{"type":"BertProcessing","sep":["[SEP]",0],"cls":["[CLS]",0]}}`))
	f.Add([]byte(`{"normalizer":{"type":"BertNormalizer"},"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2}},
	"added_tokens":[{"id":3,"content":"A b","normalized":true,"lstrip":true,"rstrip":true},{"id":4,"content":"中","normalized":true,"single_word":true}],
	"post_processor":null}`))
	f.Add([]byte(`{"model":{"type":"BPE"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromJSON(data)
		if err != nil {
			return
		}
		for _, s := range fuzzTexts {
			enc, err := tk.EncodePair(s, "a <x> b", EncodeOptions{MaxLength: 9, ReturnOverflowing: true})
			if err == nil {
				checkEncoding(t, tk, &enc, s, "a <x> b", true)
			}
		}
		blob, _ := tk.MarshalBinary()
		if _, err := FromBinary(blob); err != nil {
			t.Fatalf("binary form of a loaded tokenizer does not load: %v", err)
		}
	})
}

func FuzzFromVocab(f *testing.F) {
	f.Add([]byte(tinyVocab), uint8(3))
	f.Add([]byte("[UNK]\n[CLS]\n[SEP]\n\n\n##\na\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		strip := flags&8 != 0
		tk, err := FromVocab(data, VocabOptions{Lowercase: flags&1 != 0, HandleCJK: flags&2 != 0, NoCleanText: flags&4 != 0, StripAccents: &strip})
		if err != nil {
			return
		}
		for _, s := range fuzzTexts {
			enc, err := tk.Encode(s, EncodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkEncoding(t, tk, &enc, s, "", false)
		}
	})
}

func FuzzFromBinary(f *testing.F) {
	tk := tinyTokenizer(f)
	blob, err := tk.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:len(blob)/2])
	f.Add([]byte("LTOK\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromBinary(data)
		if err != nil {
			return
		}
		for _, s := range fuzzTexts {
			enc, err := tk.EncodePair(s, s, EncodeOptions{MaxLength: 12, ReturnOverflowing: true, Padding: PadFixed})
			if err == nil {
				checkEncoding(t, tk, &enc, s, s, true)
			}
		}
		_ = tk.Decode([]int32{-1, 0, 1, 2, 3, 1 << 30}, true)
		_, _ = tk.TokenID("a")
	})
}
