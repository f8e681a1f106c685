package tokenize

// Backend is what Lepton needs from a tokenizer. *Tokenizer (pure Go) is the
// default implementation; building with -tags hftokenizers adds
// *HFTokenizer, which wraps the Rust Hugging Face tokenizers library through
// github.com/daulet/tokenizers (cgo and a prebuilt static library), for
// cross-checking and for users who already ship that library.
type Backend interface {
	Encode(text string, opt EncodeOptions) (Encoding, error)
	EncodePair(a, b string, opt EncodeOptions) (Encoding, error)
	Decode(ids []int32, skipSpecial bool) string
	VocabSize() int
}

var _ Backend = (*Tokenizer)(nil)
