package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"lepton"
	"lepton/privacy"
)

// dpCost is a release's privacy cost as printed in --json output.
type dpCost = lepton.PrivacyCost

// dpFlags are the local differential privacy flags of classify and embed:
// the mechanism's parameters and the budget ledger every release is charged
// to (package privacy).
type dpFlags struct {
	labelEps                        float64
	embedEps, embedDelta, embedClip float64
	ledger                          string
	budget, budgetDelta             float64
	set                             map[string]bool // flags given on the command line
}

func (f *dpFlags) registerLedger(fs *flag.FlagSet) {
	fs.StringVar(&f.ledger, "dp-ledger", "", "privacy budget ledger file: every release is charged to it and refused past the budget")
	fs.Float64Var(&f.budget, "dp-budget", 0, "total epsilon budget (required to create a --dp-ledger; without --dp-ledger it bounds this run)")
	fs.Float64Var(&f.budgetDelta, "dp-budget-delta", 1e-5, "total delta budget when creating a ledger (Gaussian releases)")
}

func (f *dpFlags) registerClassify(fs *flag.FlagSet) {
	fs.Float64Var(&f.labelEps, "dp-label-epsilon", 0, "release each label by randomized response at this local-DP epsilon (hides probabilities)")
	f.registerLedger(fs)
}

func (f *dpFlags) registerEmbed(fs *flag.FlagSet) {
	fs.Float64Var(&f.embedEps, "dp-embed-epsilon", 0, "release each vector by the Gaussian mechanism at this local-DP epsilon")
	fs.Float64Var(&f.embedDelta, "dp-embed-delta", 0, "delta of --dp-embed-epsilon, in (0,1)")
	fs.Float64Var(&f.embedClip, "dp-embed-clip", 0, "L2 norm each vector is clipped to before noise (sensitivity 2*clip)")
	f.registerLedger(fs)
}

// parsed records which flags were given; call after parsing.
func (f *dpFlags) parsed(fs *flag.FlagSet) {
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
}

// releaser returns the releaser behind the DP options, with the ledger the
// flags ask for (nil when no ledger or budget was given).
func (f *dpFlags) releaser(active bool) (*privacy.Releaser, error) {
	if !active {
		for _, n := range []string{"dp-ledger", "dp-budget", "dp-budget-delta"} {
			if f.set[n] {
				return nil, errUsage{fmt.Sprintf("--%s needs a DP release flag (--dp-label-epsilon or --dp-embed-epsilon)", n)}
			}
		}
		return nil, nil
	}
	var led *privacy.Ledger
	var err error
	switch {
	case f.ledger != "":
		led, err = f.openLedger()
	case f.set["dp-budget"]:
		led, err = privacy.NewMemoryLedger(privacy.Budget{Epsilon: f.budget, Delta: f.budgetDelta})
	}
	if err != nil {
		return nil, err
	}
	if led == nil {
		return privacy.New()
	}
	return privacy.New(privacy.WithLedger(led))
}

// openLedger opens --dp-ledger: an existing file keeps its own budget (a
// --dp-budget or --dp-budget-delta given must match it), a new one needs
// --dp-budget.
func (f *dpFlags) openLedger() (*privacy.Ledger, error) {
	if _, err := os.Stat(f.ledger); errors.Is(err, fs.ErrNotExist) {
		if !f.set["dp-budget"] {
			return nil, errUsage{fmt.Sprintf("--dp-ledger %s does not exist: give --dp-budget to create it", f.ledger)}
		}
		led, err := privacy.OpenLedger(f.ledger, privacy.Budget{Epsilon: f.budget, Delta: f.budgetDelta})
		return led, flagError("dp-ledger", err)
	}
	led, err := privacy.LoadLedger(f.ledger)
	if err != nil {
		return nil, flagError("dp-ledger", err)
	}
	b := led.Budget()
	if (f.set["dp-budget"] && f.budget != b.Epsilon) || (f.set["dp-budget-delta"] && f.budgetDelta != b.Delta) {
		return nil, usagef("--dp-budget %g, --dp-budget-delta %g: %v: %s has budget epsilon %g, delta %g", f.budget, f.budgetDelta, privacy.ErrLedgerMismatch, f.ledger, b.Epsilon, b.Delta)
	}
	return led, nil
}

// checkValues refuses, as usage errors (exit 2), every DP flag value given
// on the command line that the privacy package would reject: one rule for
// 0, negative, NaN, infinite and too-small values alike, checked before a
// ledger is opened or a model loaded. The messages are privacy's own.
func (f *dpFlags) checkValues() error {
	bad := func(name string, v float64, err error) error {
		return errUsage{fmt.Sprintf("--%s %v: %v", name, v, err)}
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"dp-label-epsilon", f.labelEps}, {"dp-embed-epsilon", f.embedEps}} {
		if f.set[c.name] {
			if err := privacy.ValidateEpsilon(c.v); err != nil {
				return bad(c.name, c.v, err)
			}
		}
	}
	if f.set["dp-embed-delta"] {
		if err := privacy.ValidateEmbedding(1, 1, f.embedDelta); err != nil {
			return bad("dp-embed-delta", f.embedDelta, err)
		}
	}
	if f.set["dp-embed-clip"] {
		if err := privacy.ValidateEmbedding(f.embedClip, 1, 0.5); err != nil {
			return bad("dp-embed-clip", f.embedClip, err)
		}
	}
	if f.set["dp-budget"] {
		if err := (privacy.Budget{Epsilon: f.budget}).Validate(); err != nil {
			return bad("dp-budget", f.budget, err)
		}
	}
	if f.set["dp-budget-delta"] {
		if err := (privacy.Budget{Epsilon: 1, Delta: f.budgetDelta}).Validate(); err != nil {
			return bad("dp-budget-delta", f.budgetDelta, err)
		}
	}
	return nil
}

// classifyOptions returns classify's DP call options.
func (f *dpFlags) classifyOptions() ([]lepton.CallOption, error) {
	if err := f.checkValues(); err != nil {
		return nil, err
	}
	active := f.set["dp-label-epsilon"]
	r, err := f.releaser(active)
	if err != nil || !active {
		return nil, err
	}
	return []lepton.CallOption{lepton.WithPrivateLabel(f.labelEps), lepton.WithPrivacy(r)}, nil
}

// embedOptions returns embed's DP call options.
func (f *dpFlags) embedOptions() ([]lepton.CallOption, error) {
	if err := f.checkValues(); err != nil {
		return nil, err
	}
	active := f.set["dp-embed-epsilon"]
	if !active && (f.set["dp-embed-delta"] || f.set["dp-embed-clip"]) {
		return nil, errUsage{"--dp-embed-delta and --dp-embed-clip need --dp-embed-epsilon"}
	}
	if active && (!f.set["dp-embed-delta"] || !f.set["dp-embed-clip"]) {
		return nil, errUsage{"--dp-embed-epsilon needs --dp-embed-delta and --dp-embed-clip"}
	}
	r, err := f.releaser(active)
	if err != nil || !active {
		return nil, err
	}
	return []lepton.CallOption{lepton.WithPrivateEmbedding(f.embedEps, f.embedDelta, f.embedClip), lepton.WithPrivacy(r)}, nil
}
