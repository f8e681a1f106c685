package privacy

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one of these
// (usually inside one of the typed errors below), so callers can branch with
// errors.Is. When a release fails, nothing is released and nothing is
// charged to the ledger.
var (
	// ErrInvalidEpsilon is returned for an epsilon that is NaN, infinite or
	// below MinEpsilon.
	ErrInvalidEpsilon = errors.New("privacy: invalid epsilon")

	// ErrInvalidDelta is returned for a delta outside (0, 1) for the
	// Gaussian mechanism, or a delta other than 0 for a pure mechanism
	// (randomized response, unary encoding, Laplace).
	ErrInvalidDelta = errors.New("privacy: invalid delta")

	// ErrInvalidK is returned for a number of categories below 2 (or above
	// MaxCategories).
	ErrInvalidK = errors.New("privacy: invalid number of categories")

	// ErrInvalidLabel is returned for a label outside [0, k).
	ErrInvalidLabel = errors.New("privacy: label out of range")

	// ErrInvalidBound is returned for a sensitivity, clipping bound, range or
	// grid step that is non-positive, non-finite or otherwise unusable.
	ErrInvalidBound = errors.New("privacy: invalid sensitivity or clipping bound")

	// ErrNonFinite is returned when an input value is NaN or infinite.
	ErrNonFinite = errors.New("privacy: non-finite input")

	// ErrEmptyInput is returned for a zero-length vector.
	ErrEmptyInput = errors.New("privacy: empty input")

	// ErrBudgetExceeded is returned when a release would take the ledger
	// past its configured budget. The release is not made.
	ErrBudgetExceeded = errors.New("privacy: privacy budget exceeded")

	// ErrLedgerCorrupt is returned when a ledger file fails its checksum or
	// does not parse. The ledger is never silently reset: a human has to
	// look at the file.
	ErrLedgerCorrupt = errors.New("privacy: ledger file corrupt")

	// ErrLedgerMismatch is returned when an existing ledger file was
	// created with a different budget than the one asked for.
	ErrLedgerMismatch = errors.New("privacy: ledger budget mismatch")

	// ErrLedgerIO is returned when the ledger cannot be read or durably
	// written. A release whose charge could not be persisted is not made.
	ErrLedgerIO = errors.New("privacy: ledger I/O failed")

	// ErrLedgerFull is returned when a charge would grow the ledger file
	// past MaxLedgerSize, or a file is already past it: nothing is written
	// and nothing released. Compact the ledger (CompactLedger,
	// Ledger.Compact, `lepton ledger compact`) to go on; see
	// LedgerFullError.
	ErrLedgerFull = errors.New("privacy: ledger file full")

	// ErrClosed is returned for use of a closed Ledger.
	ErrClosed = errors.New("privacy: ledger closed")
)

// ParamError reports an invalid mechanism parameter: its name, its value
// and the sentinel it wraps.
type ParamError struct {
	Param string  // parameter name, e.g. "epsilon", "clip"
	Value float64 // offending value
	Err   error   // one of the sentinels above
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%v: %s = %v", e.Err, e.Param, e.Value)
}

// Unwrap returns the sentinel.
func (e *ParamError) Unwrap() error { return e.Err }

// InputError reports a bad input value at a position of the released vector
// (Index 0 for scalars).
type InputError struct {
	Index int     // position in the input vector
	Value float64 // offending value
	Err   error   // ErrNonFinite or ErrInvalidLabel
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%v: input[%d] = %v", e.Err, e.Index, e.Value)
}

// Unwrap returns the sentinel.
func (e *InputError) Unwrap() error { return e.Err }

// BudgetError reports a refused release: what it asked for, what had been
// spent and the budget. It wraps ErrBudgetExceeded.
type BudgetError struct {
	Requested Cost   // the refused release's cost
	Spent     Spent  // composed spend before the release
	Budget    Budget // the ledger's budget
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v: release of (eps=%g, delta=%g) on top of spent eps=%g delta=%g exceeds budget (eps=%g, delta=%g)",
		ErrBudgetExceeded, e.Requested.Epsilon, e.Requested.Delta, e.Spent.Epsilon, e.Spent.Delta, e.Budget.Epsilon, e.Budget.Delta)
}

// Unwrap returns ErrBudgetExceeded.
func (e *BudgetError) Unwrap() error { return ErrBudgetExceeded }

// LedgerError reports a ledger file problem: the path, what went wrong, the
// sentinel it wraps (ErrLedgerCorrupt, ErrLedgerIO, ErrLedgerMismatch) and
// the underlying cause, if any (both match errors.Is).
type LedgerError struct {
	Path   string
	Reason string
	Err    error
	Cause  error
}

func (e *LedgerError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Path, e.Reason)
}

// Unwrap returns the sentinel and the cause.
func (e *LedgerError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// LedgerFullError reports a ledger file at its size limit: a charge that
// would have written Size bytes (Charge true) or a file found that large,
// over Limit. It wraps ErrLedgerFull, and its message says how to go on.
type LedgerFullError struct {
	Path        string
	Size, Limit int64
	Charge      bool
}

func (e *LedgerFullError) Error() string {
	what := "is"
	if e.Charge {
		what = "would grow to"
	}
	return fmt.Sprintf("%v: %s %s %d bytes, over its limit of %d: compact it with `lepton ledger compact %s` "+
		"(or privacy.CompactLedger), which folds its releases into one carried total, keeping the spent budget "+
		"(--archive FILE keeps the per-release history)", ErrLedgerFull, e.Path, what, e.Size, e.Limit, e.Path)
}

// Unwrap returns ErrLedgerFull.
func (e *LedgerFullError) Unwrap() error { return ErrLedgerFull }
