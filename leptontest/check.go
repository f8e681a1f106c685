package leptontest

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"strings"
	"testing"

	"lepton"
)

// update is -leptontest.update, namespaced like -test.* and
// -httptest.serve so that it cannot clash with a test binary's own flags.
var update = flag.Bool("leptontest.update", false, "rewrite leptontest golden files with this run's outputs")

// UpdateEnv is the environment variable that, set to 1 or true, makes
// Check rewrite golden files, for build systems that cannot pass flags.
const UpdateEnv = "LEPTON_UPDATE_GOLDEN"

// updating reports whether this run rewrites golden files: the
// -leptontest.update flag, a boolean -update flag defined by the test
// binary (the go-cmp convention) set to true, or UpdateEnv.
func updating() bool {
	if *update {
		return true
	}
	if f := flag.Lookup("update"); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			if b, ok := g.Get().(bool); ok && b {
				return true
			}
		}
	}
	switch strings.ToLower(os.Getenv(UpdateEnv)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// Option configures Check.
type Option func(*config)

type config struct {
	tol      Tolerance
	callOpts []lepton.CallOption
	update   *bool
}

// WithTolerance sets the tolerance of the comparison (default Exact).
func WithTolerance(t Tolerance) Option { return func(c *config) { c.tol = t } }

// WithCallOptions passes opts to every call that produces the outputs
// (Classify, ClassifyPairs, Embed, Rerank), such as lepton.WithMaxLength or
// lepton.WithFloat32. They are not recorded in the golden file: pass the
// same ones on every run.
func WithCallOptions(opts ...lepton.CallOption) Option {
	return func(c *config) { c.callOpts = append(c.callOpts, opts...) }
}

// WithUpdate forces (true) or forbids (false) rewriting the golden file,
// whatever the flags and environment say.
func WithUpdate(on bool) Option { return func(c *config) { c.update = &on } }

// Check runs in through m and compares the outputs with the golden file at
// path, failing t with a report of every case that moved beyond the
// tolerance. When updating (-leptontest.update, the test binary's own
// -update flag, LEPTON_UPDATE_GOLDEN=1, or WithUpdate(true)) it writes the
// outputs to path instead and logs that it did; an existing golden file
// made by an independent reference (any Source but SourceLepton) is never
// overwritten. A golden file that does not exist fails the test, unless
// updating: a file never committed must not pass by being written.
//
// in may be empty to run the golden file's own inputs again; otherwise it
// must be what the golden file holds (a change of inputs fails, naming the
// first difference, until the file is updated). Check returns the report
// (nil after writing the file, or when it failed t before comparing), so a
// test can log or assert the measured deviations.
func Check(t testing.TB, m *lepton.Model, path string, in Inputs, opts ...Option) *Report {
	t.Helper()
	cfg := config{}
	for _, o := range opts {
		o(&cfg)
	}
	upd := updating()
	if cfg.update != nil {
		upd = *cfg.update
	}
	want, err := Read(path)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case err != nil && !missing:
		t.Fatalf("leptontest: %v", err)
		return nil
	case missing && in.IsZero():
		t.Fatalf("leptontest: %s does not exist and there are no inputs to record", path)
		return nil
	case missing && !upd:
		// A golden file that was never committed must not pass by being
		// written on the spot, in CI least of all.
		t.Fatalf("leptontest: %s does not exist: record it with -leptontest.update (or %s=1) and commit it", path, UpdateEnv)
		return nil
	}
	if in.IsZero() {
		in = want.Inputs()
	}
	got, err := Record(t.Context(), m, in, cfg.callOpts...)
	if err != nil {
		t.Fatalf("leptontest: %s: %v", path, err)
		return nil
	}
	if upd {
		if want != nil && want.Source != SourceLepton {
			t.Fatalf("leptontest: %s was made by %q, an independent reference, not recorded by Lepton: regenerate it with that tool, never from Lepton's own outputs", path, want.Source)
			return nil
		}
		if want != nil {
			got.Options = want.Options
		}
		if err := got.WriteFile(path); err != nil {
			t.Fatalf("leptontest: %v", err)
			return nil
		}
		t.Logf("leptontest: wrote %s (%d cases); check it in", path, len(got.Cases))
		return nil
	}
	rep, err := Compare(want, got, cfg.tol)
	if err != nil {
		t.Fatalf("%v\n  golden file: %s (rerun with -leptontest.update to record the new inputs)", err, path)
		return nil
	}
	rep.Path = path
	if !rep.OK() {
		hint := "to accept the new outputs, rerun with -leptontest.update (or " + UpdateEnv + "=1) and commit the file"
		if want.Source != SourceLepton {
			hint = "the golden file comes from " + want.Source
		}
		t.Errorf("leptontest: %s\n  %s", rep, hint)
	}
	return rep
}
