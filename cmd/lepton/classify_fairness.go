package main

import (
	"flag"
	"fmt"
	"strconv"

	"lepton"
	"lepton/fairness"
)

// fairFlags are classify's fairness flags: one group for every input of the
// invocation, a calibration artefact from `lepton calibrate`, and a
// thresholds artefact from `lepton fairness threshold` turned into one
// auditable decision per input.
type fairFlags struct {
	group, calibration, unknown string
	thresholds, requestID       string

	policy    fairness.UnknownGroupPolicy
	calDigest string             // Digest of --calibration, "" without
	thr       *fairness.Artefact // --thresholds, nil without
}

func (f *fairFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.group, "group", "", "group of every input (age band, site, ...), used by --calibration and --thresholds")
	fs.StringVar(&f.calibration, "calibration", "", "calibration artefact (lepton calibrate): print per-group calibrated probabilities")
	fs.StringVar(&f.unknown, "unknown-group", "error", "a --group the artefacts do not know: error or fallback (global fit)")
	fs.StringVar(&f.thresholds, "thresholds", "", "thresholds artefact (lepton fairness threshold): decide each input with the group's fair rule (binary models)")
	fs.StringVar(&f.requestID, "request-id", "", "request id whose HMAC is the decision's coin (--thresholds); input i of several uses ID#i")
}

// options returns the call options the flags ask for and loads the
// artefacts. private is set when the label is released under local DP,
// which hides the probabilities a decision needs.
func (f *fairFlags) options(private bool) ([]lepton.CallOption, error) {
	policy, err := fairness.ParseUnknownGroupPolicy(f.unknown)
	if err != nil {
		return nil, errUsage{err.Error()}
	}
	f.policy = policy
	// The group and its policy only select an artefact's parameters;
	// without an artefact they would be silently ignored.
	if f.calibration == "" && f.thresholds == "" {
		if f.group != "" {
			return nil, errUsage{"--group needs --calibration or --thresholds (it selects the group's parameters)"}
		}
		if policy != fairness.UnknownError {
			return nil, errUsage{"--unknown-group needs --calibration or --thresholds"}
		}
	}
	if f.thresholds == "" && f.requestID != "" {
		return nil, errUsage{"--request-id needs --thresholds"}
	}
	if f.thresholds != "" {
		switch {
		case f.group == "":
			return nil, errUsage{"--thresholds needs --group (rules are per group)"}
		case f.requestID == "":
			return nil, errUsage{"--thresholds needs --request-id (the decision's coin comes from it, so it can be audited)"}
		case private:
			return nil, errUsage{"--thresholds cannot be combined with --dp-label-epsilon (the private release hides the score)"}
		}
	}
	var opts []lepton.CallOption
	if f.group != "" && f.calibration != "" {
		opts = append(opts, lepton.WithGroups(f.group))
	}
	if f.calibration != "" {
		a, err := loadArtefact(f.calibration, fairness.KindCalibration) // fairness.go
		if err != nil {
			return nil, err
		}
		if f.calDigest, err = a.Digest(); err != nil {
			return nil, err
		}
		opts = append(opts, lepton.WithCalibration(a, policy))
	}
	if f.thresholds != "" {
		a, err := loadArtefact(f.thresholds, fairness.KindThresholds)
		if err != nil {
			return nil, err
		}
		// Rules fitted on calibrated scores are wrong on raw ones and
		// vice versa: the artefact names the calibration it expects.
		if want := a.Thresholds.CalibrationSHA256; want != f.calDigest {
			return nil, fmt.Errorf("%s: %w: the rules were fitted on scores calibrated by artefact %q, this run applies %q (--calibration)",
				f.thresholds, fairness.ErrUnsupported, orNone(want), orNone(f.calDigest))
		}
		f.thr = a
	}
	return opts, nil
}

func orNone(digest string) string {
	if digest == "" {
		return "none"
	}
	return digest
}

// decisionJSON is a --thresholds decision as printed: the request id its
// coin came from and everything needed to audit it (fairness.Decision).
type decisionJSON struct {
	RequestID string `json:"request_id"`
	fairness.Decision
}

// word is the decision in text output.
func (d *decisionJSON) word() string {
	if d.Positive {
		return "positive"
	}
	return "negative"
}

// decisionAt returns decs[i], or nil without --thresholds.
func decisionAt(decs []*decisionJSON, i int) *decisionJSON {
	if decs == nil {
		return nil
	}
	return decs[i]
}

// decide returns the --thresholds decision of each classification (nil
// without --thresholds). Input i of n > 1 uses request id ID#i (1-based),
// so that every input has its own coin and one input can be re-decided
// alone.
func (f *fairFlags) decide(cs []lepton.Classification) ([]*decisionJSON, error) {
	if f.thr == nil {
		return nil, nil
	}
	out := make([]*decisionJSON, len(cs))
	for i, c := range cs {
		id := f.requestID
		if len(cs) > 1 {
			id += "#" + strconv.Itoa(i+1)
		}
		d, err := c.Decide(f.thr, f.group, nil, id, f.policy)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i+1, err)
		}
		out[i] = &decisionJSON{RequestID: id, Decision: d}
	}
	return out, nil
}
