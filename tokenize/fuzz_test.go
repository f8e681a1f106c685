package tokenize

import (
	"fmt"
	"strings"
	"testing"
)

// checkEncoding asserts the structural invariants every encoding must hold,
// whatever the input: consistent lengths, ids in the vocabulary, special
// tokens at (0,0), and offsets of every other token inside the text it
// came from, with starts and ends non-decreasing within each sequence.
//
// Type ids cannot tell the sequences apart: in overflowing windows Hugging
// Face gives a sequence's tokens the type id the model step gave them (0
// for the first text, 1 for the second) rather than the template's, unless
// the window is that sequence's main one. So the sequence a token belongs
// to is read from its position instead: the number of special tokens
// before it tells which sequence piece of the pair template it came from
// (with BERT's [CLS] A [SEP] B [SEP], tokens after the first [SEP] are the
// second text's). Only a template with no special token between its two
// sequences leaves that ambiguous; there offsets are bounded by the longer
// text and may restart once.
func checkEncoding(t *testing.T, tk *Tokenizer, enc *Encoding, a, b string, pair bool) {
	t.Helper()
	if err := encodingError(tk, enc, a, b, pair, false); err != nil {
		t.Fatal(err)
	}
}

// encodingError is checkEncoding's check, returning the first violation;
// overflow says enc is an overflowing window.
func encodingError(tk *Tokenizer, enc *Encoding, a, b string, pair, overflow bool) error {
	n := len(enc.IDs)
	if len(enc.TypeIDs) != n || len(enc.AttentionMask) != n || len(enc.SpecialTokensMask) != n || len(enc.Offsets) != n {
		return fmt.Errorf("inconsistent lengths: ids %d type %d attn %d special %d offsets %d",
			n, len(enc.TypeIDs), len(enc.AttentionMask), len(enc.SpecialTokensMask), len(enc.Offsets))
	}
	if len(enc.Tokens) != 0 && len(enc.Tokens) != n {
		return fmt.Errorf("%d tokens for %d ids", len(enc.Tokens), n)
	}
	// seqAt[k]: the sequence (0 = a, 1 = b) whose tokens follow k special
	// tokens; typeA: the type id the template gives the first sequence.
	seqAt := map[int]int{}
	ambiguous := false
	typeA := int32(-1)
	tmpl := tk.single
	if pair {
		tmpl = tk.pair
	}
	k := 0
	for _, p := range tmpl {
		switch p.kind {
		case pieceSpecial:
			k += len(p.ids)
		case pieceA, pieceB:
			seq := 0
			if p.kind == pieceB {
				seq = 1
			} else {
				typeA = p.typeID
			}
			if old, ok := seqAt[k]; ok && old != seq {
				ambiguous = true
			}
			seqAt[k] = seq
		}
	}
	specials, restarts := 0, 0
	var prev [2][2]int // per sequence: the previous token's offsets
	for i, id := range enc.IDs {
		if id < 0 || int(id) >= tk.VocabSize() {
			return fmt.Errorf("id %d outside vocabulary of %d", id, tk.VocabSize())
		}
		off := enc.Offsets[i]
		if enc.SpecialTokensMask[i] == 1 {
			if off != [2]int{} {
				return fmt.Errorf("special token %d with offsets %v", i, off)
			}
			specials++
			continue
		}
		seq, ok := seqAt[specials]
		if !ok {
			return fmt.Errorf("token %d (offsets %v) after %d special tokens: no sequence of the template is there", i, off, specials)
		}
		text := a
		if seq == 1 {
			text = b
		}
		if ambiguous {
			seq, text = 0, a
			if len(b) > len(a) {
				text = b
			}
		}
		// In an overflowing window the first text's tokens have the
		// template's type id when the window holds the first text's main
		// part, else 0 (see assemble).
		if tid := enc.TypeIDs[i]; !ambiguous && seq == 0 && tid != typeA && !(overflow && tid == 0) {
			return fmt.Errorf("token %d of the first text has type id %d, template says %d", i, tid, typeA)
		}
		if off[0] < 0 || off[0] > off[1] || off[1] > len(text) {
			return fmt.Errorf("token %d offsets %v outside text %d (%d bytes)", i, off, seq, len(text))
		}
		if p := prev[seq]; off[0] < p[0] || off[1] < p[1] {
			if restarts++; !ambiguous || restarts > 1 {
				return fmt.Errorf("token %d offsets %v go back from the previous token's %v in text %d", i, off, p, seq)
			}
		}
		prev[seq] = off
	}
	for i := range enc.Overflowing {
		if err := encodingError(tk, &enc.Overflowing[i], a, b, pair, true); err != nil {
			return fmt.Errorf("overflowing window %d: %w", i, err)
		}
	}
	return nil
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

// TestEncodingErrorCatches feeds the fuzz invariant check encodings that
// break it, so that a check that stopped checking would be noticed.
func TestEncodingErrorCatches(t *testing.T) {
	tk := tinyTokenizer(t)
	a, b := "hello", "world, a much longer second text"
	good, err := tk.EncodePair(a, b, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := encodingError(tk, &good, a, b, true, false); err != nil {
		t.Fatalf("valid encoding rejected: %v", err)
	}
	// good: [CLS] hello [SEP] world , a ... [SEP]
	cases := []struct {
		name   string
		mutate func(e *Encoding)
		want   string
	}{
		{"first-text token beyond len(a)", func(e *Encoding) { e.Offsets[1] = [2]int{0, 9} }, "outside text 0"},
		{"end goes back", func(e *Encoding) { e.Offsets[4] = [2]int{0, 4} }, "go back"},
		{"start goes back", func(e *Encoding) { e.Offsets[5] = [2]int{0, 7} }, "go back"},
		{"type id 1 in the first text", func(e *Encoding) { e.TypeIDs[1] = 1 }, "type id"},
		{"special with offsets", func(e *Encoding) { e.Offsets[2] = [2]int{1, 2} }, "special token"},
		{"id outside vocabulary", func(e *Encoding) { e.IDs[1] = 1 << 20 }, "outside vocabulary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := good
			e.IDs = append([]int32(nil), good.IDs...)
			e.TypeIDs = append([]int32(nil), good.TypeIDs...)
			e.Offsets = append([][2]int(nil), good.Offsets...)
			c.mutate(&e)
			err := encodingError(tk, &e, a, b, true, false)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}
