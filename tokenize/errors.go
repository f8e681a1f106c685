package tokenize

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (test with errors.Is); the wrapped message carries the detail.
var (
	// ErrUnsupported is returned when a tokenizer file describes something
	// other than a BERT WordPiece tokenizer (BPE, Unigram, other normalizers
	// or pre-tokenizers ...). The message names what was found.
	ErrUnsupported = errors.New("tokenize: unsupported tokenizer")

	// ErrInvalid is returned for malformed tokenizer files or binary blobs
	// and for inconsistent options (for example a stride that is not smaller
	// than the room left by truncation).
	ErrInvalid = errors.New("tokenize: invalid input")

	// ErrTooLong is returned when EncodeOptions.ErrorOnTruncate is set and
	// the input does not fit in MaxLength, or when a truncation strategy
	// cannot shorten the chosen sequence enough.
	ErrTooLong = errors.New("tokenize: input too long")
)
