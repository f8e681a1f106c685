package lepton

import (
	"fmt"
	"math"

	"lepton/fairness"
)

// fairnessConfig is the fairness part of a call's settings (callConfig.fair).
type fairnessConfig struct {
	cal    *fairness.Calibration
	policy fairness.UnknownGroupPolicy
	groups []string
	// apply is set by WithCalibration: Classify reaches the calibration
	// code only through it, so programs that never calibrate do not link it.
	apply func(m *Model, cc *callConfig, out []Classification) error
}

// WithCalibration makes Classify and ClassifyPairs calibrate each result
// per group with a calibration artefact from package fairness (fitted
// offline, e.g. by `lepton calibrate`): Probs become the calibrated
// probabilities, and Label and Index their argmax (temperature scaling
// never moves the argmax; Platt and isotonic scaling can). Logits stay the
// model's raw scores. Each input's group comes from WithGroups; an input
// whose group the artefact does not know fails the call with
// fairness.ErrUnknownGroup under fairness.UnknownError (the default
// policy), or uses the artefact's global fit under
// fairness.UnknownFallback. The artefact must have one class per label.
// Passed to Open it applies to every call; a nil artefact turns it off.
func WithCalibration(a *fairness.Artefact, policy fairness.UnknownGroupPolicy) CallOption {
	return callOption(func(c *callConfig) error {
		if a == nil {
			c.fair.cal = nil
			return nil
		}
		if err := a.Validate(); err != nil {
			return fmt.Errorf("%w: calibration: %w", ErrInvalidOption, err)
		}
		if a.Kind != fairness.KindCalibration {
			return fmt.Errorf("%w: artefact kind %q, want calibration", ErrInvalidOption, a.Kind)
		}
		if policy != fairness.UnknownError && policy != fairness.UnknownFallback {
			return fmt.Errorf("%w: unknown-group policy %d", ErrInvalidOption, policy)
		}
		c.fair.cal, c.fair.policy = a.Calibration, policy
		c.fair.apply = (*Model).applyFairness
		return nil
	})
}

// WithGroups sets the group (age band, sex, site, ...) of each input of one
// call, in input order: one group per text or pair, or a single group for
// every input. WithCalibration uses them. It is a per-call option: passed to
// Open it is an error.
func WithGroups(groups ...string) CallOption { return groupsOption(groups) }

type groupsOption []string

func (g groupsOption) applyCall(c *callConfig) error {
	c.fair.groups = g
	return nil
}

func (g groupsOption) applyModel(*modelConfig) error {
	return fmt.Errorf("%w: WithGroups applies to one call, not to Open", ErrInvalidOption)
}

// check validates the fairness settings of a call of n inputs on a model
// with nl labels before any inference is done.
func (f *fairnessConfig) check(n, nl int) error {
	if g := len(f.groups); g > 1 && g != n {
		return fmt.Errorf("%w: %d groups for %d inputs", ErrInvalidOption, g, n)
	}
	if f.cal != nil && f.cal.Classes != nl {
		return fmt.Errorf("%w: calibration has %d classes, the model %d labels", ErrInvalidOption, f.cal.Classes, nl)
	}
	return nil
}

func (f *fairnessConfig) group(i int) string {
	switch len(f.groups) {
	case 0:
		return ""
	case 1:
		return f.groups[0]
	}
	return f.groups[i]
}

// applyFairness calibrates out in place (see WithCalibration).
func (m *Model) applyFairness(cc *callConfig, out []Classification) error {
	f := &cc.fair
	if f.cal == nil {
		return nil
	}
	z := make([]float64, len(m.labels))
	for i := range out {
		for k, v := range out[i].Logits {
			z[k] = float64(v)
		}
		p, err := f.cal.ApplyLogits(f.group(i), z, f.policy)
		if err != nil {
			return fmt.Errorf("%w: input %d: %w", ErrInvalidInput, i, err)
		}
		best := 0
		for k, v := range p {
			out[i].Probs[k] = float32(v)
			if v > p[best] {
				best = k
			}
			if math.IsNaN(v) {
				return fmt.Errorf("%w: input %d: calibration produced NaN", ErrInvalidInput, i)
			}
		}
		out[i].Index, out[i].Label = best, m.labels[best]
	}
	return nil
}

// Decide applies a fair decision rule from a thresholds artefact (fitted
// offline, e.g. by `lepton fairness threshold`) to a classification: the
// score is Probs[1] for a binary artefact, or for a one-vs-rest artefact
// (fairness.NewOneVsRestThresholdArtefact, any number of labels) the
// probability of its class, Probs[a.PositiveClass()], and the decision
// answers "is the input of that class?". The score is calibrated if the
// call used WithCalibration, which
// is what the rule should have been fitted on (the artefact's
// Thresholds.CalibrationSHA256 names the calibration artefact, by Digest,
// that its fit scores went through; empty means raw scores). The decision's coin comes
// from HMAC-SHA256(key, requestID) (see fairness.Coin), so each request is
// decided on its own and reproducibly; a nil key uses the artefact's fit
// hash. A group the artefact does not know follows policy.
func (c Classification) Decide(a *fairness.Artefact, group string, key []byte, requestID string, policy fairness.UnknownGroupPolicy) (fairness.Decision, error) {
	if a == nil || a.Kind != fairness.KindThresholds || a.Thresholds == nil {
		return fairness.Decision{}, fmt.Errorf("%w: Decide needs a thresholds artefact", ErrInvalidOption)
	}
	if len(c.Probs) != a.Classes {
		return fairness.Decision{}, fmt.Errorf("%w: the decision rules were fitted for %d labels, the classification has %d", ErrInvalidInput, a.Classes, len(c.Probs))
	}
	if key == nil {
		key = a.Key()
	}
	return a.Thresholds.Decide(group, float64(c.Probs[a.PositiveClass()]), key, requestID, policy)
}
