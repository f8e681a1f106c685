package tokenize_test

import (
	"context"
	"fmt"

	"lepton/tokenize"
)

// A tiny uncased vocabulary; real programs load tokenizer.json with
// tokenize.FromJSON or the tokenizer embedded in a .lep model.
const vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\npatient\nhas\na\nfever\n##ish\ncough\n,\n.\nno\nrash\n"

func Example() {
	tk, err := tokenize.FromVocab([]byte(vocab), tokenize.VocabOptions{Lowercase: true, HandleCJK: true})
	if err != nil {
		panic(err)
	}
	enc, err := tk.Encode("The patient has a feverish cough.", tokenize.EncodeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(enc.Tokens)
	fmt.Println(enc.IDs)
	fmt.Println(enc.Offsets[5], enc.Offsets[6]) // "fever" and "##ish": byte spans in the input
	fmt.Println(tk.Decode(enc.IDs, true))
	// Output:
	// [[CLS] the patient has a fever ##ish cough . [SEP]]
	// [2 5 6 7 8 9 10 11 13 3]
	// [18 23] [23 26]
	// the patient has a feverish cough.
}

func ExampleTokenizer_EncodePair() {
	tk, _ := tokenize.FromVocab([]byte(vocab), tokenize.VocabOptions{Lowercase: true})
	enc, _ := tk.EncodePair("fever, cough", "no rash", tokenize.EncodeOptions{MaxLength: 10, Padding: tokenize.PadFixed})
	fmt.Println(enc.Tokens)
	fmt.Println(enc.TypeIDs)
	fmt.Println(enc.AttentionMask)
	// Output:
	// [[CLS] fever , cough [SEP] no rash [SEP] [PAD] [PAD]]
	// [0 0 0 0 0 1 1 1 0 0]
	// [1 1 1 1 1 1 1 1 0 0]
}

func ExampleEncoder() {
	tk, _ := tokenize.FromVocab([]byte(vocab), tokenize.VocabOptions{Lowercase: true})
	e := tk.NewEncoder() // one per goroutine; reuses its buffers
	for _, text := range []string{"fever", "no rash, no cough"} {
		enc, err := e.Encode(text, tokenize.EncodeOptions{})
		if err != nil {
			panic(err)
		}
		fmt.Println(enc.IDs) // valid until the next call on e
	}
	// Output:
	// [2 9 3]
	// [2 14 15 12 14 11 3]
}

func ExampleTokenizer_EncodeBatch() {
	tk, _ := tokenize.FromVocab([]byte(vocab), tokenize.VocabOptions{Lowercase: true})
	batch, _ := tk.EncodeBatch(context.Background(), []string{"fever", "a cough, no rash"}, tokenize.EncodeOptions{Padding: tokenize.PadLongest}, 2)
	for _, enc := range batch {
		fmt.Println(enc.Tokens)
	}
	// Output:
	// [[CLS] fever [SEP] [PAD] [PAD] [PAD] [PAD]]
	// [[CLS] a cough , no rash [SEP]]
}

func ExampleFromBinary() {
	tk, _ := tokenize.FromVocab([]byte(vocab), tokenize.VocabOptions{Lowercase: true})
	blob, _ := tk.MarshalBinary() // what a .lep model file embeds
	tk2, err := tokenize.FromBinary(blob)
	if err != nil {
		panic(err)
	}
	id, _ := tk2.TokenID("fever")
	fmt.Println(id, tk2.VocabSize())
	// Output:
	// 9 16
}
