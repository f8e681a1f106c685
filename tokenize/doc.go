// Package tokenize is Lepton's pure-Go BERT WordPiece tokenizer. It is the
// first step of every Lepton call, and it produces token ids identical to
// Hugging Face tokenizers for BERT models, so that a model sees exactly the
// ids it was trained with.
//
// # Loading
//
// [FromJSON] reads a Hugging Face tokenizer.json (BertNormalizer,
// BertPreTokenizer, WordPiece model, TemplateProcessing or BertProcessing
// post-processor, added tokens); anything else (BPE, Unigram, other
// normalizers) is refused with [ErrUnsupported]. [FromVocab] reads a plain
// vocab.txt with explicit [VocabOptions]. [Tokenizer.MarshalBinary] and
// [FromBinary] give the compact form embedded in .lep model files; it is read
// in place, bounds-checked, without per-token allocation.
//
// # Encoding
//
// [Tokenizer.Encode], [Tokenizer.EncodePair] and [Tokenizer.EncodeBatch]
// return ids, token type ids, attention and special-tokens masks, byte
// offsets into the caller's strings and token strings, with Hugging Face's
// truncation (longest_first, only_first, only_second, stride and overflowing
// windows) and padding. [Encoder] is the reusable, allocation-free path.
//
// # Invalid UTF-8
//
// Text is decoded the way Go decodes strings: each byte that is not part of
// a valid UTF-8 sequence becomes U+FFFD with a one-byte span. With
// clean_text (the BERT default) U+FFFD is dropped, exactly as Hugging Face
// drops it, so invalid bytes simply vanish; offsets still index the original
// bytes. Without clean_text, each invalid byte is a U+FFFD character.
package tokenize
