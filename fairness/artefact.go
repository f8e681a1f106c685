package fairness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
)

// Version is the artefact format version this package writes and reads.
const Version = 1

// maxArtefact bounds the size of an artefact file (64 MiB).
const maxArtefact = 64 << 20

// Kind says what an artefact holds.
type Kind string

// Kinds.
const (
	KindCalibration Kind = "calibration"
	KindThresholds  Kind = "thresholds"
)

// Artefact is the versioned JSON file fitted offline on labelled
// validation data and applied at inference time. It records which data it
// was fitted on (FitSHA256, see FitHash) and the metrics on that data
// before and after, so a deployment can show what the fit changed.
type Artefact struct {
	Version       int          `json:"version"`
	Kind          Kind         `json:"kind"`
	Groups        []string     `json:"groups"`
	Classes       int          `json:"classes"`
	FitRows       int          `json:"fit_rows"`
	FitSHA256     string       `json:"fit_sha256"`
	Calibration   *Calibration `json:"calibration,omitempty"`
	Thresholds    *Thresholds  `json:"thresholds,omitempty"`
	MetricsBefore *Report      `json:"metrics_before"`
	MetricsAfter  *Report      `json:"metrics_after"`
}

// ArtefactError is a validation failure of an artefact: which field and
// why. It wraps ErrBadArtefact or ErrVersion.
type ArtefactError struct {
	Field  string
	Reason string
	Err    error
}

func (e *ArtefactError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Reason)
}

// Unwrap returns the sentinel.
func (e *ArtefactError) Unwrap() error { return e.Err }

func bad(field, format string, args ...any) error {
	return &ArtefactError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrBadArtefact}
}

// NewCalibrationArtefact fits method on ss (see FitCalibration) and
// records metrics on ss before and after.
func NewCalibrationArtefact(ss []Sample, method Method, minGroup int) (*Artefact, error) {
	cal, err := FitCalibration(ss, method, minGroup)
	if err != nil {
		return nil, err
	}
	before := NewAccumulator(1, minGroup)
	after := NewAccumulator(1, minGroup)
	for _, s := range ss {
		if err := before.Add(s.Group, s.Label, s.Probs); err != nil {
			return nil, err
		}
		p, err := cal.ApplySample(s, UnknownError)
		if err != nil {
			return nil, err
		}
		if err := after.Add(s.Group, s.Label, p); err != nil {
			return nil, err
		}
	}
	rb, ra := before.Report(), after.Report()
	return &Artefact{
		Version: Version, Kind: KindCalibration, Groups: slices.Sorted(maps.Keys(cal.Groups)), Classes: cal.Classes,
		FitRows: len(ss), FitSHA256: FitHash(ss), Calibration: cal, MetricsBefore: &rb, MetricsAfter: &ra,
	}, nil
}

// NewThresholdArtefact fits decision rules on binary ss (see
// FitThresholds) and records metrics on ss before (argmax decisions) and
// after. After-metrics of the threshold constraints use each sample's
// expected decision, so they are exact rather than one random draw; those
// of calibrated equalized odds draw each row's coin from the fit hash and
// the row number, as a deployment would.
func NewThresholdArtefact(ss []Sample, c Constraint, o ThresholdOptions, minGroup int) (*Artefact, error) {
	t, err := FitThresholds(ss, c, o)
	if err != nil {
		return nil, err
	}
	hash := FitHash(ss)
	before := NewAccumulator(1, minGroup)
	after := NewAccumulator(1, minGroup)
	key := []byte(hash)
	for i, s := range ss {
		if err := before.Add(s.Group, s.Label, s.Probs); err != nil {
			return nil, err
		}
		probs, pPos := t.outcome(t.Groups[CanonicalGroup(s.Group)], s.Probs, key, fmt.Sprintf("fit-row-%d", i))
		err = after.AddDecision(s.Group, s.Label, probs, pPos)
		if err != nil {
			return nil, err
		}
	}
	rb, ra := before.Report(), after.Report()
	return &Artefact{
		Version: Version, Kind: KindThresholds, Groups: slices.Sorted(maps.Keys(t.Groups)), Classes: 2,
		FitRows: len(ss), FitSHA256: hash, Thresholds: t, MetricsBefore: &rb, MetricsAfter: &ra,
	}, nil
}

// NewOneVsRestThresholdArtefact fits decision rules for one class of a
// classifier with any number of classes, one-vs-rest: each sample becomes
// binary (OneVsRest), the score being the probability of class positive
// and the label whether the true class is positive; the rules are fitted
// on that as NewThresholdArtefact does. The artefact records the class
// (Thresholds.PositiveClass) and the original number of classes
// (Classes), so it applies only to outputs of that shape, and its
// decisions answer "is this input of class positive?". One artefact per
// class of interest.
func NewOneVsRestThresholdArtefact(ss []Sample, positive int, c Constraint, o ThresholdOptions, minGroup int) (*Artefact, error) {
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w: no samples", ErrEmpty)
	}
	classes := len(ss[0].Probs)
	bin, err := OneVsRest(ss, positive)
	if err != nil {
		return nil, err
	}
	a, err := NewThresholdArtefact(bin, c, o, minGroup)
	if err != nil {
		return nil, err
	}
	a.Classes = classes
	a.Thresholds.PositiveClass = &positive
	return a, nil
}

// OneVsRest turns samples of any number of classes into binary ones for
// class positive: probabilities [1-p, p] with p the class's probability,
// label 1 when the true class is positive. Logits are dropped (the binary
// probabilities are exact); group and line are kept.
func OneVsRest(ss []Sample, positive int) ([]Sample, error) {
	out := make([]Sample, len(ss))
	for i, s := range ss {
		if positive < 0 || positive >= len(s.Probs) {
			return nil, fmt.Errorf("%w: line %d: positive class %d of %d classes", ErrShape, s.Line, positive, len(s.Probs))
		}
		y := 0
		if s.Label == positive {
			y = 1
		}
		out[i] = Sample{Group: s.Group, Label: y, Probs: BinaryProbs(s.Probs[positive]), Line: s.Line}
	}
	return out, nil
}

// PositiveClass returns the class whose probability a thresholds
// artefact's rules take as the score: Thresholds.PositiveClass for a
// one-vs-rest artefact, 1 for a binary one.
func (a *Artefact) PositiveClass() int {
	if a.Thresholds != nil && a.Thresholds.PositiveClass != nil {
		return *a.Thresholds.PositiveClass
	}
	return 1
}

// outcome returns what a rule does to one sample for the after-metrics:
// the scores and the probability of a positive decision. Threshold rules
// keep the scores and give the exact expected decision; calibrated
// equalized odds draws the row's coin, since its mixing changes the score
// itself.
func (t *Thresholds) outcome(r Rule, probs []float64, key []byte, id string) ([]float64, float64) {
	if t.Constraint != CalibratedEqualizedOdds {
		return probs, r.PPositive(t.Constraint, probs[1])
	}
	score := r.MixedScore(probs[1], Coin(key, id))
	pos := 0.0
	if score > 0.5 {
		pos = 1
	}
	return BinaryProbs(score), pos
}

// Key returns the default coin key of a threshold artefact: its fit hash.
// Anyone holding the artefact can then recompute every decision; pass a
// secret key instead when clients must not predict their coins.
func (a *Artefact) Key() []byte { return []byte(a.FitSHA256) }

// Marshal validates a and returns its indented JSON.
func (a *Artefact) Marshal() ([]byte, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return marshalJSON(a, "  ")
}

// marshalJSON is json.Marshal (json.MarshalIndent with indent) without
// HTML escaping, so that decision operators (">") and group names stay
// readable in the file instead of "\u003e". JSON readers decode both
// forms alike.
func marshalJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Digest returns the hex SHA-256 of a's canonical JSON (Marshal), which
// identifies an artefact across save and load.
func (a *Artefact) Digest() (string, error) {
	b, err := a.Marshal()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// Save writes a to path.
func (a *Artefact) Save(path string) error {
	b, err := a.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// LoadFile reads and validates an artefact file.
func LoadFile(path string) (*Artefact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Load(f)
}

// Load reads and validates an artefact. Unknown fields, an unknown
// version, non-finite or out-of-range parameters, wrong shapes and groups
// without parameters are rejected with an *ArtefactError.
func Load(r io.Reader) (*Artefact, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxArtefact+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxArtefact {
		return nil, bad("file", "larger than %d bytes", maxArtefact)
	}
	// The version is checked first so that a newer file gets ErrVersion,
	// not a confusing unknown-field error.
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, bad("json", "%v", err)
	}
	if head.Version == nil {
		return nil, bad("version", "missing")
	}
	if *head.Version != Version {
		return nil, &ArtefactError{Field: "version", Reason: fmt.Sprintf("%d (this build reads %d)", *head.Version, Version), Err: ErrVersion}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var a Artefact
	if err := dec.Decode(&a); err != nil {
		if errors.Is(err, ErrBadArtefact) {
			return nil, bad("json", "%v", err)
		}
		return nil, bad("json", "%v", err)
	}
	if dec.More() {
		return nil, bad("json", "trailing data")
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func prob(v float64) bool { return v >= 0 && v <= 1 }

// Validate checks the artefact's invariants; Load and Save call it.
func (a *Artefact) Validate() error {
	if a.Version != Version {
		return &ArtefactError{Field: "version", Reason: fmt.Sprintf("%d", a.Version), Err: ErrVersion}
	}
	if len(a.Groups) == 0 {
		return bad("groups", "empty")
	}
	for i, g := range a.Groups {
		if g == "" {
			return bad("groups", "empty group name")
		}
		// Lookups canonicalise; a non-canonical name could never be
		// found, and two spellings of one group ("1", "1.0") would
		// collide. Canonical names cannot collide, so this covers both.
		if c := CanonicalGroup(g); c != g {
			return bad("groups", "group %q is not canonical (want %q)", g, c)
		}
		if i > 0 && a.Groups[i-1] >= g {
			return bad("groups", "not sorted and unique at %q", g)
		}
	}
	if a.Classes < 2 || a.Classes > MaxClasses {
		return bad("classes", "%d", a.Classes)
	}
	if a.FitRows < 1 {
		return bad("fit_rows", "%d", a.FitRows)
	}
	if h, err := hex.DecodeString(a.FitSHA256); err != nil || len(h) != 32 {
		return bad("fit_sha256", "not a hex SHA-256")
	}
	if a.MetricsBefore == nil || a.MetricsAfter == nil {
		return bad("metrics", "missing before/after")
	}
	sameGroups := func(field string, keys []string) error {
		if len(keys) != len(a.Groups) {
			return bad(field, "%d groups, artefact lists %d", len(keys), len(a.Groups))
		}
		for i := range keys {
			if keys[i] != a.Groups[i] {
				return bad(field, "group %q not in groups list", keys[i])
			}
		}
		return nil
	}
	switch a.Kind {
	case KindCalibration:
		c := a.Calibration
		if c == nil || a.Thresholds != nil {
			return bad("calibration", "a calibration artefact needs exactly a calibration section")
		}
		if c.Classes != a.Classes {
			return bad("calibration.classes", "%d, artefact has %d", c.Classes, a.Classes)
		}
		if c.Method != Temperature && c.Classes != 2 {
			return bad("calibration.method", "%s with %d classes", c.Method, c.Classes)
		}
		if err := sameGroups("calibration.groups", slices.Sorted(maps.Keys(c.Groups))); err != nil {
			return err
		}
		if err := checkCal(c.Method, "calibration.global", c.Global); err != nil {
			return err
		}
		for g, p := range c.Groups {
			if err := checkCal(c.Method, "calibration.groups."+g, p); err != nil {
				return err
			}
		}
	case KindThresholds:
		t := a.Thresholds
		if t == nil || a.Calibration != nil {
			return bad("thresholds", "a thresholds artefact needs exactly a thresholds section")
		}
		if p := t.PositiveClass; p != nil {
			if *p < 0 || *p >= a.Classes {
				return bad("thresholds.positive_class", "%d of %d classes", *p, a.Classes)
			}
		} else if a.Classes != 2 {
			return bad("classes", "decision rules need 2 classes (or a positive_class, one-vs-rest), got %d", a.Classes)
		}
		switch t.Constraint {
		case DemographicParity, EqualizedOdds, EqualOpportunity:
			if t.Grid < 1 {
				return bad("thresholds.grid", "%d", t.Grid)
			}
		case CalibratedEqualizedOdds:
			if t.Cost != CostWeighted && t.Cost != CostFPR && t.Cost != CostFNR {
				return bad("thresholds.cost", "%q", t.Cost)
			}
		default:
			return bad("thresholds.constraint", "%q", t.Constraint)
		}
		if err := sameGroups("thresholds.groups", slices.Sorted(maps.Keys(t.Groups))); err != nil {
			return err
		}
		if t.CalibrationSHA256 != "" {
			if h, err := hex.DecodeString(t.CalibrationSHA256); err != nil || len(h) != 32 {
				return bad("thresholds.calibration_sha256", "not a hex SHA-256")
			}
		}
		for _, v := range []float64{t.FPR, t.TPR, t.Selection} {
			if !prob(v) {
				return bad("thresholds", "operating point %v outside [0,1]", v)
			}
		}
		if t.Global != nil {
			if err := checkRule(t.Constraint, "thresholds.global", *t.Global); err != nil {
				return err
			}
		}
		for g, r := range t.Groups {
			if err := checkRule(t.Constraint, "thresholds.groups."+g, r); err != nil {
				return err
			}
		}
	default:
		return bad("kind", "%q", a.Kind)
	}
	return nil
}

func checkCal(m Method, field string, p CalParams) error {
	if p.Count < 0 {
		return bad(field, "negative count")
	}
	switch m {
	case Temperature:
		if !finite(p.Temperature) || p.Temperature <= 0 {
			return bad(field, "temperature %v", p.Temperature)
		}
	case Platt:
		if !finite(p.A) || !finite(p.B) {
			return bad(field, "platt a=%v b=%v", p.A, p.B)
		}
	case Isotonic:
		if len(p.X) == 0 || len(p.X) != len(p.Y) {
			return bad(field, "isotonic knots: %d x, %d y", len(p.X), len(p.Y))
		}
		for i := range p.X {
			if !finite(p.X[i]) || !prob(p.Y[i]) {
				return bad(field, "isotonic knot %d (%v, %v)", i, p.X[i], p.Y[i])
			}
			if i > 0 && (p.X[i] < p.X[i-1] || p.Y[i] < p.Y[i-1]) {
				return bad(field, "isotonic knots decrease at %d", i)
			}
		}
	default:
		return bad(field, "method %q", m)
	}
	return nil
}

func checkRule(c Constraint, field string, r Rule) error {
	if r.Count < 0 {
		return bad(field, "negative count")
	}
	if c == CalibratedEqualizedOdds {
		if !prob(r.MixRate) || !prob(r.BaseRate) {
			return bad(field, "mix_rate %v, base_rate %v", r.MixRate, r.BaseRate)
		}
		return nil
	}
	for _, v := range []float64{r.P0, r.P1, r.PIgnore, r.Constant} {
		if !prob(v) {
			return bad(field, "probability %v outside [0,1]", v)
		}
	}
	if math.Abs(r.P0+r.P1-1) > 1e-9 {
		return bad(field, "p0+p1 = %v", r.P0+r.P1)
	}
	if math.IsNaN(r.Op0.Threshold) || math.IsNaN(r.Op1.Threshold) {
		return bad(field, "NaN threshold")
	}
	return nil
}
