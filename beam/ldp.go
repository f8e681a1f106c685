package leptonbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"lepton/privacy"
)

func init() {
	register.Combiner3[countAcc, Report, LabelCounts](&countFn{})
	register.DoFn3x1[[]byte, func(*LabelCounts) bool, func(LabelCounts), error](&orEmptyFn{})
	register.DoFn4x0[context.Context, string, func(Report), func(DeadLetter)](&parseReportFn{})
	register.DoFn4x0[context.Context, string, func(string, Report), func(DeadLetter)](&parseKeyedReportFn{})
	register.Iter1[LabelCounts]()
	register.Emitter1[LabelCounts]()
	register.Emitter1[Report]()
	register.Emitter2[string, Report]()
}

// Report is one device's locally differentially private report of a label,
// as a server receives it: what privacy.Releaser.Label (randomized response)
// or privacy.Releaser.LabelUnary (optimized unary encoding) released.
// Nothing in it is the device's true label.
type Report struct {
	// Mechanism is privacy.MechRandomizedResponse or
	// privacy.MechUnaryEncoding, as a string.
	Mechanism string  `json:"mechanism"`
	Epsilon   float64 `json:"epsilon"`
	// Label is the released label (randomized response).
	Label int `json:"label"`
	// Bits are the released bits, one per label (unary encoding).
	Bits []bool `json:"bits,omitempty"`
}

// ReportFromLabel is the Report of a randomized-response release.
func ReportFromLabel(r privacy.LabelRelease) Report {
	return Report{Mechanism: string(r.Cost.Mechanism), Epsilon: r.Cost.Epsilon, Label: r.Label}
}

// ReportFromUnary is the Report of an optimized-unary-encoding release.
func ReportFromUnary(r privacy.UnaryRelease) Report {
	return Report{Mechanism: string(r.Cost.Mechanism), Epsilon: r.Cost.Epsilon, Bits: r.Bits}
}

// Counting is what the server knows of a collection of reports: the
// mechanism, number of labels and epsilon every device used, and the
// confidence level wanted for the intervals.
type Counting struct {
	Mechanism  string  `json:"mechanism"`
	K          int     `json:"k"`
	Epsilon    float64 `json:"epsilon"`
	Confidence float64 `json:"confidence,omitempty"` // 0: 0.95
}

func (c Counting) confidence() float64 {
	if c.Confidence == 0 {
		return 0.95
	}
	return c.Confidence
}

// validate checks c with the privacy package's own estimators, on a
// stand-in count, so that their rules (epsilon, k, confidence) apply here
// unchanged.
func (c Counting) validate() error {
	if c.K < 2 || c.K > privacy.MaxCategories {
		return fmt.Errorf("%w: Counting.K %d: want 2 to %d labels", ErrInvalidConfig, c.K, privacy.MaxCategories)
	}
	probe := make([]int, c.K)
	probe[0] = 1
	var err error
	switch privacy.Mechanism(c.Mechanism) {
	case privacy.MechRandomizedResponse:
		_, err = privacy.EstimateRR(probe, c.Epsilon, c.confidence())
	case privacy.MechUnaryEncoding:
		_, err = privacy.EstimateOUE(probe, 1, c.Epsilon, c.confidence())
	default:
		return fmt.Errorf("%w: Counting.Mechanism %q: want %q or %q", ErrInvalidConfig, c.Mechanism,
			privacy.MechRandomizedResponse, privacy.MechUnaryEncoding)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// LabelCounts is the server's estimate of how many devices hold each label.
type LabelCounts struct {
	Mechanism  string  `json:"mechanism"`
	K          int     `json:"k"`
	Epsilon    float64 `json:"epsilon"`
	Confidence float64 `json:"confidence"`
	// Reports is the number of reports counted.
	Reports int64 `json:"reports"`
	// Rejected is the number of reports left out because they do not
	// match Counting: another mechanism or epsilon, a label outside
	// [0, K), or not K bits. Counting them would bias every estimate.
	Rejected int64 `json:"rejected"`
	// Observed is, per label, how many reports named it (randomized
	// response) or had its bit set (unary encoding).
	Observed []int64 `json:"observed"`
	// Estimates is, per label, the unbiased estimate of its count among the
	// Reports devices; nil when there are no reports.
	Estimates []CountEstimate `json:"estimates"`
}

// CountEstimate is the estimated count of one label: privacy.Estimate's
// frequency, standard error and interval, times the number of reports.
// Count is unbiased and so may be negative or above Reports by noise; it is
// not clipped, which would bias it.
type CountEstimate struct {
	Count  float64 `json:"count"`
	StdErr float64 `json:"std_err"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
}

// EstimateCounts aggregates a PCollection of Report into a PCollection of
// exactly one LabelCounts (also when there are no reports). Reports are
// counted in parallel (a Beam Combine: partial counts are merged, and
// runners may pre-combine before the shuffle); the estimates come from
// privacy.EstimateRR or privacy.EstimateOUE on the totals.
func EstimateCounts(s beam.Scope, reports beam.PCollection, c Counting) (beam.PCollection, error) {
	if err := c.validate(); err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("lepton.EstimateCounts")
	total := beam.Combine(s, &countFn{C: c}, reports)
	// Beam's global Combine emits nothing for an empty input: answer with
	// the estimate of no reports instead.
	return beam.ParDo(s, &orEmptyFn{C: c}, beam.Impulse(s), beam.SideInput{Input: total}), nil
}

// EstimateCountsPerKey is EstimateCounts for each key of a PCollection of
// KV<K, Report> (a site, a week, a model version): it returns KV<K,
// LabelCounts>, one per key that has reports.
func EstimateCountsPerKey(s beam.Scope, reports beam.PCollection, c Counting) (beam.PCollection, error) {
	if err := c.validate(); err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("lepton.EstimateCountsPerKey")
	return beam.CombinePerKey(s, &countFn{C: c}, reports), nil
}

// countAcc is a partial count.
type countAcc struct {
	Observed []int64
	Reports  int64
	Rejected int64
}

// countFn counts reports and estimates from the totals.
type countFn struct {
	C Counting `json:"c"`
}

func (f *countFn) CreateAccumulator() countAcc {
	return countAcc{Observed: make([]int64, f.C.K)}
}

func (f *countFn) AddInput(a countAcc, r Report) countAcc {
	if len(a.Observed) != f.C.K {
		a.Observed = make([]int64, f.C.K)
	}
	if r.Mechanism != f.C.Mechanism || r.Epsilon != f.C.Epsilon {
		a.Rejected++
		return a
	}
	switch privacy.Mechanism(r.Mechanism) {
	case privacy.MechRandomizedResponse:
		if r.Label < 0 || r.Label >= f.C.K || len(r.Bits) != 0 {
			a.Rejected++
			return a
		}
		a.Observed[r.Label]++
	case privacy.MechUnaryEncoding:
		if len(r.Bits) != f.C.K {
			a.Rejected++
			return a
		}
		for j, b := range r.Bits {
			if b {
				a.Observed[j]++
			}
		}
	}
	a.Reports++
	return a
}

func (f *countFn) MergeAccumulators(a, b countAcc) countAcc {
	if len(a.Observed) != f.C.K {
		a.Observed = make([]int64, f.C.K)
	}
	for j := range min(len(b.Observed), len(a.Observed)) {
		a.Observed[j] += b.Observed[j]
	}
	a.Reports += b.Reports
	a.Rejected += b.Rejected
	return a
}

func (f *countFn) ExtractOutput(a countAcc) (LabelCounts, error) {
	return estimateCounts(f.C, a)
}

// estimateCounts turns totals into LabelCounts with the privacy package's
// estimators.
func estimateCounts(c Counting, a countAcc) (LabelCounts, error) {
	out := LabelCounts{Mechanism: c.Mechanism, K: c.K, Epsilon: c.Epsilon, Confidence: c.confidence(),
		Reports: a.Reports, Rejected: a.Rejected, Observed: a.Observed}
	if len(out.Observed) != c.K {
		out.Observed = make([]int64, c.K)
	}
	if a.Reports == 0 {
		return out, nil
	}
	if int64(int(a.Reports)) != a.Reports {
		return out, fmt.Errorf("leptonbeam: %d reports do not fit an int on this platform", a.Reports)
	}
	counts := make([]int, c.K)
	for j, v := range out.Observed {
		counts[j] = int(v)
	}
	var (
		est []privacy.Estimate
		err error
	)
	if privacy.Mechanism(c.Mechanism) == privacy.MechRandomizedResponse {
		est, err = privacy.EstimateRR(counts, c.Epsilon, out.Confidence)
	} else {
		est, err = privacy.EstimateOUE(counts, int(a.Reports), c.Epsilon, out.Confidence)
	}
	if err != nil {
		return out, fmt.Errorf("leptonbeam: estimating counts: %w", err)
	}
	n := float64(a.Reports)
	out.Estimates = make([]CountEstimate, len(est))
	for j, e := range est {
		out.Estimates[j] = CountEstimate{Count: e.Freq * n, StdErr: e.StdErr * n, Lo: e.Lo * n, Hi: e.Hi * n}
	}
	return out, nil
}

// orEmptyFn passes on the combined LabelCounts, or the one of no reports.
type orEmptyFn struct {
	C Counting `json:"c"`
}

func (f *orEmptyFn) ProcessElement(_ []byte, total func(*LabelCounts) bool, emit func(LabelCounts)) error {
	var lc LabelCounts
	if total(&lc) {
		emit(lc)
		return nil
	}
	lc, err := estimateCounts(f.C, countAcc{})
	if err != nil {
		return err
	}
	emit(lc)
	return nil
}

// ReadReports reads JSON lines of reports from the files matching glob and
// returns the Reports (KV<string, Report> keyed by the string or number
// field keyField, if it is not "") and the DeadLetters of lines that are
// not reports (ReasonParse). A line may be any of:
//
//   - a line of `lepton classify --json --dp-label-epsilon E`:
//     {"label":"Malaria","index":16,"privacy":{"mechanism":"randomized_response","epsilon":1,...}}
//   - a privacy.LabelRelease or privacy.UnaryRelease as JSON:
//     {"label":16,"k":24,"cost":{...}} or {"bits":[false,true,...],"cost":{...}}
//   - a Report as JSON: {"mechanism":"...","epsilon":1,"label":16} or with "bits".
//
// Which reports count is decided by EstimateCounts (Counting), not here.
func ReadReports(s beam.Scope, glob, keyField string) (reports, dead beam.PCollection) {
	s = s.Scope("lepton.ReadReports")
	lines := textio.Read(s, glob)
	if keyField == "" {
		return beam.ParDo2(s, &parseReportFn{}, lines)
	}
	return beam.ParDo2(s, &parseKeyedReportFn{KeyField: keyField}, lines)
}

type parseReportFn struct{}

func (f *parseReportFn) ProcessElement(ctx context.Context, line string, emit func(Report), dead func(DeadLetter)) {
	_, r, err := ParseReport(line, "")
	if err != nil {
		DeadLetterCounter(ReasonParse).Inc(ctx, 1)
		dead(DeadLetter{Input: line, Reason: ReasonParse, Error: err.Error()})
		return
	}
	emit(r)
}

type parseKeyedReportFn struct {
	KeyField string `json:"key_field"`
}

func (f *parseKeyedReportFn) ProcessElement(ctx context.Context, line string, emit func(string, Report), dead func(DeadLetter)) {
	key, r, err := ParseReport(line, f.KeyField)
	if err != nil {
		DeadLetterCounter(ReasonParse).Inc(ctx, 1)
		dead(DeadLetter{Input: line, Reason: ReasonParse, Error: err.Error()})
		return
	}
	emit(key, r)
}

// ParseReport parses one JSON line of ReadReports, and its key field if
// keyField is not "".
func ParseReport(line, keyField string) (key string, r Report, err error) {
	line = cleanLine(line, true)
	if !utf8.ValidString(line) {
		return "", Report{}, errors.New("report line is not valid UTF-8")
	}
	type cost struct {
		Mechanism string   `json:"mechanism"`
		Epsilon   *float64 `json:"epsilon"`
	}
	var v struct {
		cost
		Index   *int            `json:"index"`
		Label   json.RawMessage `json:"label"`
		Bits    []bool          `json:"bits"`
		Privacy *cost           `json:"privacy"`
		Cost    *cost           `json:"cost"`
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return "", Report{}, fmt.Errorf("report: %w", err)
	}
	c := v.cost
	for _, alt := range []*cost{v.Privacy, v.Cost} {
		if c.Mechanism == "" && alt != nil {
			c = *alt
		}
	}
	if c.Mechanism == "" || c.Epsilon == nil {
		return "", Report{}, errors.New(`report has no "mechanism" and "epsilon" (top level, "privacy" or "cost")`)
	}
	r = Report{Mechanism: c.Mechanism, Epsilon: *c.Epsilon, Bits: v.Bits}
	switch {
	case v.Index != nil: // lepton classify --json: "label" is the name
		r.Label = *v.Index
	case len(v.Label) > 0:
		if err := json.Unmarshal(v.Label, &r.Label); err != nil {
			return "", Report{}, fmt.Errorf(`report "label" is not an integer: %s`, v.Label)
		}
	case v.Bits == nil:
		return "", Report{}, errors.New(`report has neither a label ("index" or "label") nor "bits"`)
	}
	if keyField != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return "", Report{}, fmt.Errorf("report: %w", err)
		}
		raw, ok := obj[keyField]
		switch {
		case !ok:
			return "", Report{}, fmt.Errorf("report has no key field %q", keyField)
		case raw[0] == '"':
			if err := json.Unmarshal(raw, &key); err != nil {
				return "", Report{}, fmt.Errorf("report key %q: %w", keyField, err)
			}
		case jsonKind(raw) == "a number":
			key = string(raw)
		default:
			return "", Report{}, fmt.Errorf("report key %q is %s, not a string or number", keyField, jsonKind(raw))
		}
	}
	return key, r, nil
}
