package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"

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

	policy        fairness.UnknownGroupPolicy
	calDigest     string             // Digest of --calibration, "" without
	calClasses    int                // classes of --calibration
	thr           *fairness.Artefact // --thresholds, nil without
	positiveLabel string             // the label one-vs-rest --thresholds decide on, "" for binary rules
}

func (f *fairFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.group, "group", "", "group of every input (age band, site, ...), used by --calibration and --thresholds")
	fs.StringVar(&f.calibration, "calibration", "", "calibration artefact (lepton calibrate): print per-group calibrated probabilities")
	fs.StringVar(&f.unknown, "unknown-group", "error", "a --group the artefacts do not know: error or fallback (global fit)")
	fs.StringVar(&f.thresholds, "thresholds", "", "thresholds artefact (lepton fairness threshold): decide each input with the group's fair rule (binary, or one-vs-rest for one label)")
	fs.StringVar(&f.requestID, "request-id", "", "request id whose HMAC is the decision's coin (--thresholds); argument N of several and line N of a stream use ID#N")
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
		a, err := loadArtefact("calibration", f.calibration, fairness.KindCalibration) // fairness.go
		if err != nil {
			return nil, err
		}
		if err := f.knownGroup(a, "calibration"); err != nil {
			return nil, err
		}
		if f.calDigest, err = a.Digest(); err != nil {
			return nil, err
		}
		f.calClasses = a.Classes
		opts = append(opts, lepton.WithCalibration(a, policy))
	}
	if f.thresholds != "" {
		a, err := loadArtefact("thresholds", f.thresholds, fairness.KindThresholds)
		if err != nil {
			return nil, err
		}
		// Rules fitted on calibrated scores are wrong on raw ones and
		// vice versa: the artefact names the calibration it expects.
		if want := a.Thresholds.CalibrationSHA256; want != f.calDigest {
			return nil, usagef("--thresholds %s: the rules were fitted on scores calibrated by artefact %q, this run applies %q (--calibration)",
				f.thresholds, orNone(want), orNone(f.calDigest))
		}
		if err := f.knownGroup(a, "thresholds"); err != nil {
			return nil, err
		}
		f.thr = a
	}
	return opts, nil
}

// knownGroup refuses a --group the artefact of flag name does not know,
// unless --unknown-group fallback asks for its global fit: the group is a
// flag value, so this is a usage error found before any text is run.
func (f *fairFlags) knownGroup(a *fairness.Artefact, name string) error {
	if f.group == "" || f.policy == fairness.UnknownFallback || slices.Contains(a.Groups, fairness.CanonicalGroup(f.group)) {
		return nil
	}
	return usagef("--group %q: unknown group: the --%s artefact has groups %s (--unknown-group fallback uses its global fit)",
		f.group, name, strings.Join(a.Groups, ", "))
}

// checkModel refuses artefacts whose shape does not fit the model's
// labels, before any text is run: a calibration needs one class per
// label, binary decision rules a 2-label model, and one-vs-rest rules a
// model with as many labels as they were fitted on.
func (f *fairFlags) checkModel(labels []string) error {
	if f.calibration != "" && f.calClasses != len(labels) {
		return usagef("--calibration %s has %d classes, the model %d labels", f.calibration, f.calClasses, len(labels))
	}
	if f.thr == nil {
		return nil
	}
	switch {
	case f.thr.Thresholds.PositiveClass == nil && len(labels) != 2:
		return usagef("--thresholds %s holds binary decision rules and the model has %d labels: fit one-vs-rest rules for the label to decide on, with 'lepton fairness threshold --positive K' on scores with one column per label (lepton eval --out-scores)",
			f.thresholds, len(labels))
	case f.thr.Classes != len(labels):
		return usagef("--thresholds %s was fitted on scores of %d classes, the model has %d labels", f.thresholds, f.thr.Classes, len(labels))
	}
	f.positiveLabel = ""
	if f.thr.Thresholds.PositiveClass != nil {
		f.positiveLabel = labels[*f.thr.Thresholds.PositiveClass]
	}
	return nil
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
	// Label is the label one-vs-rest rules decide on ("is the input
	// Malaria?"); absent for binary rules.
	Label string `json:"label,omitempty"`
	fairness.Decision
}

// word is the decision in text output: decision=positive, or for
// one-vs-rest rules decision[LABEL]=positive.
func (d *decisionJSON) word() string {
	w := "negative"
	if d.Positive {
		w = "positive"
	}
	if d.Label != "" {
		return "decision[" + d.Label + "]=" + w
	}
	return "decision=" + w
}

// decisionAt returns decs[i], or nil without --thresholds.
func decisionAt(decs []*decisionJSON, i int) *decisionJSON {
	if decs == nil {
		return nil
	}
	return decs[i]
}

// decide returns the --thresholds decision of each classification (nil
// without --thresholds; nil entries for skipped inputs), with the request
// ids of requestIDs (classify.go).
func (f *fairFlags) decide(cs []lepton.Classification, ids []string, labels []string) ([]*decisionJSON, error) {
	if f.thr == nil {
		return nil, nil
	}
	out := make([]*decisionJSON, len(cs))
	for i, c := range cs {
		if c.Probs == nil {
			continue // skipped input
		}
		d, err := c.Decide(f.thr, f.group, nil, ids[i], f.policy)
		if err != nil {
			return nil, fmt.Errorf("request %s: %w", ids[i], err)
		}
		out[i] = &decisionJSON{RequestID: ids[i], Label: f.positiveLabel, Decision: d}
	}
	return out, nil
}
