package privacy

import (
	"math"
)

// MinEpsilon is the smallest epsilon a release accepts (2^-50). Below it the
// noise scale overflows any useful range and the request is almost surely a
// unit mistake.
const MinEpsilon = 0x1p-50

// MaxCategories bounds k for randomized response and unary encoding, so that
// a bad argument cannot make a release allocate without limit.
const MaxCategories = 1 << 24

// MaxVector bounds the length of a released vector, for the same reason.
const MaxVector = 1 << 24

// ValidateEpsilon returns the error a release would return for eps (a
// *ParamError wrapping ErrInvalidEpsilon), or nil. Callers that take
// epsilon from users (flags, configuration) use it to refuse a bad value
// before any model work, with the same message a release would give.
func ValidateEpsilon(eps float64) error { return checkEpsilon(eps) }

// ValidateEmbedding returns the error Embedding would return for these
// parameters, or nil: epsilon, then delta, then the clip bound, each
// reported under its own name. The clip is checked before the sensitivity
// 2*clip is derived from it, so a bad clip is never reported as a bad
// sensitivity the caller did not give.
func ValidateEmbedding(clip, eps, delta float64) error {
	if err := checkEpsilon(eps); err != nil {
		return err
	}
	if err := checkGaussDelta(delta); err != nil {
		return err
	}
	return checkBound("clip", clip)
}

// checkLabel validates the arguments shared by the label mechanisms
// (Label, LabelUnary): epsilon, the number of labels k and the label.
func checkLabel(label, k int, eps float64) error {
	if err := checkEpsilon(eps); err != nil {
		return err
	}
	if err := checkK(k); err != nil {
		return err
	}
	if label < 0 || label >= k {
		return &InputError{Index: 0, Value: float64(label), Err: ErrInvalidLabel}
	}
	return nil
}

func checkEpsilon(eps float64) error {
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < MinEpsilon {
		return &ParamError{Param: "epsilon", Value: eps, Err: ErrInvalidEpsilon}
	}
	return nil
}

// checkPureDelta rejects a delta other than 0 for pure mechanisms.
func checkPureDelta(delta float64) error {
	if delta != 0 {
		return &ParamError{Param: "delta", Value: delta, Err: ErrInvalidDelta}
	}
	return nil
}

func checkGaussDelta(delta float64) error {
	if !(delta > 0 && delta < 1) { // also rejects NaN
		return &ParamError{Param: "delta", Value: delta, Err: ErrInvalidDelta}
	}
	return nil
}

func checkK(k int) error {
	if k < 2 || k > MaxCategories {
		return &ParamError{Param: "k", Value: float64(k), Err: ErrInvalidK}
	}
	return nil
}

// checkBound rejects a non-positive or non-finite sensitivity, clip bound
// or range width.
func checkBound(name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return &ParamError{Param: name, Value: v, Err: ErrInvalidBound}
	}
	return nil
}

func checkFinite(xs []float64) error {
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &InputError{Index: i, Value: x, Err: ErrNonFinite}
		}
	}
	return nil
}

func checkLen(n int) error {
	if n == 0 {
		return &ParamError{Param: "len", Value: 0, Err: ErrEmptyInput}
	}
	if n > MaxVector {
		return &ParamError{Param: "len", Value: float64(n), Err: ErrInvalidBound}
	}
	return nil
}

// pow2Ceil returns the smallest power of two >= v, v > 0 finite, and at
// least the smallest normal float64 so that divisions by it stay exact.
func pow2Ceil(v float64) float64 {
	if v <= 0x1p-1022 {
		return 0x1p-1022
	}
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	if frac == 0.5 {
		return v
	}
	return math.Ldexp(1, exp)
}

// isPow2 reports whether g is a positive normal power of two.
func isPow2(g float64) bool {
	if !(g >= 0x1p-1022) || math.IsInf(g, 0) {
		return false
	}
	frac, _ := math.Frexp(g)
	return frac == 0.5
}

// roundUp returns a float64 >= the exact real value that v approximates
// with at most n roundings of relative size 2^-53 each; used to keep
// derived sensitivities upper bounds.
func roundUp(v float64, n int) float64 {
	return v * (1 + float64(n+1)*0x1p-52)
}
