package tokenize

// Backend is what Lepton needs from a tokenizer. *Tokenizer (pure Go) is the
// default implementation. The module lepton/tokenize/hftokenizers (in this
// repository, a module of its own so that this one never requires cgo or
// github.com/daulet/tokenizers) adds one that wraps the Rust Hugging Face
// tokenizers library, for cross-checking and for users who already ship
// that library.
type Backend interface {
	Encode(text string, opt EncodeOptions) (Encoding, error)
	EncodePair(a, b string, opt EncodeOptions) (Encoding, error)
	Decode(ids []int32, skipSpecial bool) string
	VocabSize() int
}

var _ Backend = (*Tokenizer)(nil)
