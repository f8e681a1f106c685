package fairness

import "errors"

// Sentinel errors. Every error returned by this package wraps one of these
// with detail, so callers can branch with errors.Is.
var (
	// ErrMalformedInput is returned when a CSV or JSONL input file has a bad
	// header, a malformed row or a value out of range. The wrapped message
	// names the line.
	ErrMalformedInput = errors.New("fairness: malformed input")

	// ErrEmpty is returned when there is nothing to fit or measure.
	ErrEmpty = errors.New("fairness: no data")

	// ErrDegenerate is returned when a group cannot be fitted, for example a
	// group whose labels are all 0 or all 1 for a threshold rule.
	ErrDegenerate = errors.New("fairness: degenerate group")

	// ErrInfeasible is returned when a fairness constraint cannot be met,
	// for example calibrated equalized odds whose mixing rate exceeds 1.
	// Other implementations clamp such rates silently; Lepton refuses.
	ErrInfeasible = errors.New("fairness: constraint infeasible")

	// ErrUnknownGroup is returned at inference time for a group that was not
	// seen at fit time, unless the global fallback was asked for.
	ErrUnknownGroup = errors.New("fairness: unknown group")

	// ErrBadArtefact is returned when an artefact fails validation on load:
	// wrong shapes, non-finite parameters, missing groups.
	ErrBadArtefact = errors.New("fairness: invalid artefact")

	// ErrVersion is returned for an artefact written by an unknown format
	// version.
	ErrVersion = errors.New("fairness: unsupported artefact version")

	// ErrShape is returned when a score vector does not have the number of
	// classes the artefact was fitted with.
	ErrShape = errors.New("fairness: wrong number of classes")

	// ErrInvalidScore is returned for a score, probability or logit that is
	// NaN, infinite or out of range.
	ErrInvalidScore = errors.New("fairness: invalid score")

	// ErrUnsupported is returned for an option or method that does not
	// apply, for example Platt scaling on a multi-class input.
	ErrUnsupported = errors.New("fairness: unsupported")
)
