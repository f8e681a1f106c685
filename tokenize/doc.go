// Package tokenize is Lepton's pure-Go BERT WordPiece tokenizer. It is the
// first step of every Lepton call, and it produces exactly the token ids
// Hugging Face tokenizers produce for BERT models, so that a model sees the
// ids it was trained with. No cgo, no network, no Rust library.
//
// # Loading
//
// [FromJSON] reads a Hugging Face tokenizer.json (BertNormalizer,
// BertPreTokenizer, WordPiece model, TemplateProcessing or BertProcessing
// post-processor, added tokens); anything else (BPE, Unigram, other
// normalizers or pre-tokenizers) is refused with [ErrUnsupported] naming what
// was found. [FromVocab] reads a plain vocab.txt with explicit
// [VocabOptions]. [Tokenizer.MarshalBinary] and [FromBinary] give the
// compact form embedded in .lep model files: it is read in place (a
// read-only mmap is fine), with an FNV-1a open-addressing hash table stored
// in the blob, no per-token allocation and every index bounds-checked.
// All three parsers treat their input as untrusted and are fuzzed.
//
// # Encoding
//
// [Tokenizer.Encode], [Tokenizer.EncodePair] and [Tokenizer.EncodeBatch]
// return ids, token type ids, attention and special-tokens masks, byte
// offsets into the caller's strings and token strings, with Hugging Face's
// truncation (longest_first, only_first, only_second, stride and
// overflowing windows) and padding (longest in a batch, or fixed). [Encoder]
// is the reusable path: after warm-up it allocates nothing.
// [Tokenizer.Decode] joins tokens back, merging "##" continuations.
//
// Input is untrusted, so the cost is bounded. The Context variants
// ([Encoder.EncodeContext], [Tokenizer.EncodeContext], the batch
// functions) look at their context every [CheckInterval] units of work (an
// input byte, a byte hashed or a candidate tried by WordPiece, an added
// token tried) and return ctx.Err() when it is done. WordPiece tries, for
// each piece, only the candidates that fit in the longest vocabulary token,
// so a word of n characters costs O(n * longest token) even when
// max_input_chars_per_word allows words of 2^20 characters. A single text
// that truncation will cut (MaxLength with LongestFirst or OnlyFirst, or
// ErrorOnTruncate; not with overflowing windows) is tokenised only as far
// as MaxLength needs, with the same result, so a huge text costs what its
// first MaxLength tokens cost.
//
// The pipeline is Hugging Face's: added tokens typed in the text (such as
// "[MASK]") are matched verbatim first, leftmost-longest, honouring
// single_word/lstrip/rstrip (added tokens with normalized=true, as
// tokenizer.add_tokens creates, are matched in the normalised text
// instead, even inside words); the rest is cleaned (NUL, U+FFFD and Cc/Cf/Co
// control characters dropped, whitespace mapped to a space), CJK ideographs
// are surrounded by spaces, accents are stripped (NFD via
// golang.org/x/text/unicode/norm, then nonspacing marks dropped) when
// lowercasing unless strip_accents says otherwise, text is lowercased, split
// on whitespace and on every punctuation character (Unicode P* plus the ASCII
// symbol ranges), and each word goes through greedy longest-match-first
// WordPiece with the "##" prefix; a word longer than
// max_input_chars_per_word (100) or with an unmatched rest becomes one
// [UNK] spanning the whole word.
//
// # Parity
//
// Encodings are checked against two independent references (goldens and
// the scripts that made them in testdata): the Rust Hugging Face tokenizers
// library itself (its node binding, 0.23.2), for ids, type ids,
// special-tokens masks, offsets, decoding, added tokens of both kinds and
// 5,400 truncation/padding cases, and transformers.js for ids; on every SST-2 validation sentence,
// every Symptom2Disease text, the STS-B test pairs and an adversarial list.
// Everything matches the Rust library. Where transformers.js departs from
// Rust, this package follows Rust (what Python's tokenizers run), and the
// Rust goldens confirm it:
//
//   - Lowercasing is per character, like Rust's char::to_lowercase: a
//     word-final Σ becomes σ, not ς (JavaScript applies Final_Sigma). İ
//     becomes i + U+0307 as in Rust.
//   - CJK ideographs outside the Basic Multilingual Plane are isolated
//     (transformers.js tests UTF-16 units and never isolates them), using
//     the Rust crate's ranges, including its 0x2B920 start of the
//     extension range where the original BERT code says 0x2B820.
//   - A pair with an empty second text is still a pair ([CLS] a [SEP]
//     [SEP]); transformers.js drops an empty second text.
//
// Remaining, documented differences:
//
//   - Character categories come from Go's unicode tables. The Rust crate
//     uses an older Unicode version for Cc/Cf/Co/Mn/P*, so characters
//     assigned or recategorised since then may be treated differently.
//     None occurs in the test corpora.
//   - NFD is applied one input character at a time; it differs from
//     whole-string NFD only in the canonical reordering of combining marks
//     across characters, which matters only for non-Mn marks with a
//     non-zero combining class (a few musical symbols), as Mn marks are
//     removed anyway.
//   - Truncation and padding are always on the right and come from
//     [EncodeOptions] (pad_to_multiple_of included); the truncation/padding
//     sections of tokenizer.json are not applied implicitly
//     ([Tokenizer.FileOptions] returns them for Hugging Face's default
//     output). Overflowing
//     windows are capped at [MaxOverflowing]. A MaxLength below the
//     template's special tokens is ErrInvalid (Rust returns longer output).
//   - Overflowing windows follow tokenizers up to 0.22 and its unit tests:
//     every window, stride apart. tokenizers 0.23.1-0.23.2 return cut-short
//     windows (huggingface/tokenizers#2091, a known regression): they stop
//     tokenizing a truncated input after the first word at which MaxLength
//     tokens exist; Lepton given inputs shortened that way returns exactly
//     their windows (checked on 5,400 cases).
//   - Decode is the Rust WordPiece decoder's, clean-up token by token
//     ("isn't" decodes to "isn ' t"); transformers' optional
//     clean_up_tokenization_spaces pass over the joined text is not applied.
//   - Tokens typed in the text that match special tokens get
//     SpecialTokensMask 0; only the post-processor's tokens get 1, as in
//     Rust.
//
// # Invalid UTF-8
//
// Text is decoded the way Go decodes strings: each byte that does not start
// a valid UTF-8 sequence becomes U+FFFD with a one-byte span. With
// clean_text (the BERT default) U+FFFD is dropped, exactly as Hugging Face
// drops it, so invalid bytes vanish without splitting words; offsets still
// index the original bytes. Without clean_text, each invalid byte is a
// U+FFFD character of its own.
//
// # Backends
//
// [Backend] is the interface Lepton needs. The separate module
// lepton/tokenize/hftokenizers (built with -tags hftokenizers) implements
// it with the Rust library through github.com/daulet/tokenizers (cgo plus a
// prebuilt static library), used to cross-check this package when that
// library is available.
package tokenize
