package main

import (
	"flag"
	"fmt"

	"lepton"
	"lepton/fairness"
)

// fairFlags are classify's fairness flags: one group for every input of the
// invocation and a calibration artefact from `lepton calibrate`.
type fairFlags struct {
	group, calibration, unknown string
}

func (f *fairFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.group, "group", "", "group of every input (age band, site, ...), used by --calibration")
	fs.StringVar(&f.calibration, "calibration", "", "calibration artefact (lepton calibrate): print per-group calibrated probabilities")
	fs.StringVar(&f.unknown, "unknown-group", "error", "a --group the artefact does not know: error or fallback (global fit)")
}

// options returns the call options the flags ask for.
func (f *fairFlags) options() ([]lepton.CallOption, error) {
	policy, err := fairness.ParseUnknownGroupPolicy(f.unknown)
	if err != nil {
		return nil, errUsage{err.Error()}
	}
	// The group and its policy only select an artefact's parameters;
	// without an artefact they would be silently ignored.
	if f.calibration == "" {
		if f.group != "" {
			return nil, errUsage{"--group needs --calibration (it selects the group's calibration)"}
		}
		if policy != fairness.UnknownError {
			return nil, errUsage{"--unknown-group needs --calibration"}
		}
	}
	var opts []lepton.CallOption
	if f.group != "" {
		opts = append(opts, lepton.WithGroups(f.group))
	}
	if f.calibration != "" {
		a, err := fairness.LoadFile(f.calibration)
		if err != nil {
			return nil, err
		}
		if a.Kind != fairness.KindCalibration {
			return nil, fmt.Errorf("%s: %w: kind %q, want calibration", f.calibration, fairness.ErrBadArtefact, a.Kind)
		}
		opts = append(opts, lepton.WithCalibration(a, policy))
	}
	return opts, nil
}
