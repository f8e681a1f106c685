package lepton

import "errors"

// Sentinel errors. Every error Lepton returns wraps one of them (or a
// context or file-system error) with detail; test them with errors.Is.
var (
	// ErrClosed is returned by every method of a Model after Close.
	ErrClosed = errors.New("lepton: model closed")
	// ErrInvalidModel is returned by Open for a file that is not a valid
	// .lep model: wrong magic, newer format version, truncated, corrupt
	// (checksum mismatch) or internally inconsistent. The message says what
	// was found.
	ErrInvalidModel = errors.New("lepton: invalid model file")
	// ErrInvalidOption is returned for an option value out of range, such
	// as a negative thread count or a max length beyond the model's
	// position table, and for a nil context.
	ErrInvalidOption = errors.New("lepton: invalid option")
	// ErrInvalidInput is returned for inputs the model cannot run, such as
	// token ids outside the model's vocabulary. An empty batch is not an
	// error: it returns an empty result.
	ErrInvalidInput = errors.New("lepton: invalid input")
	// ErrTooLong is returned when a text does not fit in the max length
	// and truncation was turned off with WithTruncation(false).
	ErrTooLong = errors.New("lepton: input exceeds max length")
	// ErrNoClassifier is returned by Classify and ClassifyPairs on a model
	// without a classification head (a plain BertModel encoder), and by
	// Rerank on a model without a single-output head (an encoder, or a
	// classifier with several labels).
	ErrNoClassifier = errors.New("lepton: model has no classifier head")
)
