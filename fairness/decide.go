package fairness

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Coin returns the request's random draw in [0, 1): the first 8 bytes of
// HMAC-SHA256(key, requestID) as a big-endian integer, top 53 bits scaled
// by 2^-53. Randomised decisions compare it with their probability, so a
// decision depends only on the request itself, not on what else is in the
// batch or on a process-wide generator, and an auditor holding the key can
// recompute every decision.
func Coin(key []byte, requestID string) float64 {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(requestID))
	sum := m.Sum(nil)
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) * (1.0 / (1 << 53))
}

// Decision is the outcome of one randomised decision, with what is needed
// to audit it.
type Decision struct {
	// Positive is the decision.
	Positive bool `json:"positive"`
	// PPositive is the probability of a positive decision for this score
	// and group before the coin.
	PPositive float64 `json:"p_positive"`
	// Coin is the request's draw; Positive = Coin < PPositive for the
	// threshold constraints.
	Coin float64 `json:"coin"`
	// Score is the score the decision used: the input score, or for
	// calibrated equalized odds the mixed score.
	Score float64 `json:"score"`
	// Fallback is set when the group was unseen and the global rule was
	// used.
	Fallback bool `json:"fallback,omitempty"`
}

// rule returns the rule for group under policy.
func (t *Thresholds) rule(group string, policy UnknownGroupPolicy) (Rule, bool, error) {
	if r, ok := t.Groups[CanonicalGroup(group)]; ok {
		return r, false, nil
	}
	if policy == UnknownFallback {
		if t.Global != nil {
			return *t.Global, true, nil
		}
		return Rule{}, false, fmt.Errorf("%w: %q and the artefact has no global rule", ErrUnknownGroup, group)
	}
	return Rule{}, false, fmt.Errorf("%w: %q", ErrUnknownGroup, group)
}

// Decide makes the decision for one request: score is the (calibrated)
// positive-class probability (any real score for the threshold constraints,
// which only compare it; a probability for calibrated equalized odds), key and requestID give the coin (see Coin).
// The decision is correct one request at a time: over many requests with
// distinct ids, the share of positives at a score converges to the rule's
// probability, whatever the batch size.
func (t *Thresholds) Decide(group string, score float64, key []byte, requestID string, policy UnknownGroupPolicy) (Decision, error) {
	if math.IsNaN(score) || (t.Constraint == CalibratedEqualizedOdds && (score < 0 || score > 1)) {
		return Decision{}, fmt.Errorf("%w: score %v", ErrShape, score)
	}
	r, fb, err := t.rule(group, policy)
	if err != nil {
		return Decision{}, err
	}
	c := Coin(key, requestID)
	d := Decision{Coin: c, Score: score, Fallback: fb, PPositive: r.PPositive(t.Constraint, score)}
	if t.Constraint == CalibratedEqualizedOdds {
		d.Score = r.MixedScore(score, c)
		d.Positive = d.Score > 0.5
		return d, nil
	}
	d.Positive = c < d.PPositive
	return d, nil
}

// PPositive returns the probability of a positive decision for group at
// score, without drawing a coin.
func (t *Thresholds) PPositive(group string, score float64, policy UnknownGroupPolicy) (float64, error) {
	r, _, err := t.rule(group, policy)
	if err != nil {
		return 0, err
	}
	return r.PPositive(t.Constraint, score), nil
}
