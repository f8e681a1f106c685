package fairness

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// ECEBins is the number of equal-width confidence bins of the expected
// calibration error and of the reliability diagrams (Guo et al. 2017).
const ECEBins = 15

// wilsonZ is the normal quantile for 95% Wilson intervals.
const wilsonZ = 1.959963984540054

// logLossEps clips probabilities in the log loss, as scikit-learn does, so
// one confident mistake gives a large but finite loss.
const logLossEps = 1e-15

// Metric is one measured value. A rate whose denominator is empty (the TPR
// of a group without positives) is undefined: Defined is false and the JSON
// value is null, never 0, so it cannot be mistaken for a perfect or a
// failing score.
type Metric struct {
	Value   float64
	Defined bool
	// Num and Den are the (expected) counts a rate was computed from; zero
	// for metrics that are not rates.
	Num, Den float64
	// Lo and Hi bound the 95% Wilson interval of a rate; HasCI is false
	// for metrics that are not rates.
	Lo, Hi float64
	HasCI  bool
}

type metricJSON struct {
	Value *float64    `json:"value"`
	Num   *float64    `json:"num,omitempty"`
	Den   *float64    `json:"den,omitempty"`
	CI95  *[2]float64 `json:"ci95,omitempty"`
}

// MarshalJSON writes {"value": v|null, "num", "den", "ci95": [lo, hi]}.
func (m Metric) MarshalJSON() ([]byte, error) {
	var j metricJSON
	if m.Defined && !math.IsNaN(m.Value) && !math.IsInf(m.Value, 0) {
		v := m.Value
		j.Value = &v
	}
	if m.HasCI {
		n, d := m.Num, m.Den
		j.Num, j.Den = &n, &d
		if m.Defined {
			j.CI95 = &[2]float64{m.Lo, m.Hi}
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metric) UnmarshalJSON(b []byte) error {
	var j metricJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = Metric{}
	if j.Value != nil {
		m.Value, m.Defined = *j.Value, true
	}
	if j.Num != nil && j.Den != nil {
		m.Num, m.Den, m.HasCI = *j.Num, *j.Den, true
	}
	if j.CI95 != nil {
		m.Lo, m.Hi = j.CI95[0], j.CI95[1]
	}
	return nil
}

// String formats the value with 4 decimals, or "undefined".
func (m Metric) String() string {
	if !m.Defined {
		return "undefined"
	}
	return fmt.Sprintf("%.4f", m.Value)
}

func value(v float64) Metric { return Metric{Value: v, Defined: !math.IsNaN(v)} }

// rate builds num/den with its Wilson interval, undefined when den is 0.
func rate(num, den float64) Metric {
	m := Metric{Num: num, Den: den, HasCI: true}
	if den <= 0 {
		return m
	}
	p := num / den
	m.Value, m.Defined = p, true
	z2 := wilsonZ * wilsonZ
	c := 1 + z2/den
	center := (p + z2/(2*den)) / c
	half := wilsonZ / c * math.Sqrt(p*(1-p)/den+z2/(4*den*den))
	m.Lo, m.Hi = math.Max(0, center-half), math.Min(1, center+half)
	return m
}

// counts are the sufficient statistics of one group. All fields are sums,
// so two accumulators merge by addition, and memory does not grow with the
// number of samples. Decision counts are expected values (a randomised
// decision with probability p of being positive adds p), which makes the
// metrics of a randomised rule exact rather than one draw.
type counts struct {
	N       float64
	Pos     float64 // label == positive class
	Sel     float64 // positive decisions
	TP      float64 // positive decisions on positive labels
	Correct float64 // decision == label
	Brier   float64
	LogLoss float64
	BinN    [ECEBins]float64
	BinConf [ECEBins]float64 // sum of confidence in the bin
	BinHit  [ECEBins]float64 // sum of hits (label == binned class)
}

func (c *counts) add(o *counts) {
	c.N += o.N
	c.Pos += o.Pos
	c.Sel += o.Sel
	c.TP += o.TP
	c.Correct += o.Correct
	c.Brier += o.Brier
	c.LogLoss += o.LogLoss
	for i := range c.BinN {
		c.BinN[i] += o.BinN[i]
		c.BinConf[i] += o.BinConf[i]
		c.BinHit[i] += o.BinHit[i]
	}
}

// Accumulator gathers per-group metrics in constant memory per group.
// Accumulators with the same classes and positive class merge, so metrics
// can be computed in shards and combined. The zero value is not usable; use
// NewAccumulator. An Accumulator is not safe for concurrent use.
type Accumulator struct {
	positive, minGroup int
	classes            int
	overall            counts
	groups             map[string]*counts
}

// NewAccumulator returns an empty accumulator. positive is the class whose
// rates (TPR, FPR, selection rate, ...) are reported, 1 for a binary model.
// Groups with fewer than minGroup samples are flagged as small in the
// report.
func NewAccumulator(positive, minGroup int) *Accumulator {
	return &Accumulator{positive: positive, minGroup: minGroup, groups: map[string]*counts{}}
}

// Add records one sample whose decision is the argmax of probs (ties go to
// the lower class, as numpy's argmax).
func (a *Accumulator) Add(group string, label int, probs []float64) error {
	d := argmax(probs)
	pPos := 0.0
	if d == a.positive {
		pPos = 1
	}
	pCorrect := 0.0
	if d == label {
		pCorrect = 1
	}
	return a.add(group, label, probs, pPos, pCorrect)
}

// AddDecision records one binary sample whose decision is positive with
// probability pPositive (0 or 1 for a deterministic rule). probs are the
// calibrated probabilities used for the calibration metrics.
func (a *Accumulator) AddDecision(group string, label int, probs []float64, pPositive float64) error {
	if len(probs) != 2 {
		return fmt.Errorf("%w: AddDecision needs 2 classes, got %d", ErrShape, len(probs))
	}
	if !(pPositive >= 0 && pPositive <= 1) {
		return fmt.Errorf("%w: decision probability %v outside [0,1]", ErrUnsupported, pPositive)
	}
	pCorrect := 1 - pPositive
	if label == a.positive {
		pCorrect = pPositive
	}
	return a.add(group, label, probs, pPositive, pCorrect)
}

func (a *Accumulator) add(group string, label int, probs []float64, pPos, pCorrect float64) error {
	if len(probs) < 2 {
		return fmt.Errorf("%w: %d classes", ErrShape, len(probs))
	}
	if a.classes == 0 {
		if a.positive < 0 || a.positive >= len(probs) {
			return fmt.Errorf("%w: positive class %d of %d", ErrShape, a.positive, len(probs))
		}
		a.classes = len(probs)
	}
	if len(probs) != a.classes {
		return fmt.Errorf("%w: %d classes, accumulator has %d", ErrShape, len(probs), a.classes)
	}
	if label < 0 || label >= a.classes {
		return fmt.Errorf("%w: label %d of %d classes", ErrShape, label, a.classes)
	}
	for i, p := range probs {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%w: probability %d = %v", ErrInvalidScore, i, p)
		}
	}
	var c counts
	c.N = 1
	isPos := label == a.positive
	if isPos {
		c.Pos = 1
		c.TP = pPos
	}
	c.Sel = pPos
	c.Correct = pCorrect
	// Brier: binary uses (p1-y)^2 as scikit-learn; multi-class the sum over
	// classes (Brier 1950).
	if a.classes == 2 {
		y := 0.0
		if label == 1 {
			y = 1
		}
		d := probs[1] - y
		c.Brier = d * d
	} else {
		for k, p := range probs {
			y := 0.0
			if k == label {
				y = 1
			}
			c.Brier += (p - y) * (p - y)
		}
	}
	c.LogLoss = -math.Log(math.Min(1, math.Max(probs[label], logLossEps)))
	conf, hit := reliabilityPoint(probs, label)
	b := binOf(conf)
	c.BinN[b] = 1
	c.BinConf[b] = conf
	c.BinHit[b] = hit
	a.overall.add(&c)
	group = CanonicalGroup(group) // one group however it is spelled, as the fits
	g := a.groups[group]
	if g == nil {
		g = &counts{}
		a.groups[group] = g
	}
	g.add(&c)
	return nil
}

// reliabilityPoint returns what the ECE bins: for two classes the
// positive-class probability and whether the label is 1 (the usual binary
// reliability diagram, which shows over- and under-estimation of risk); for
// more classes the top-label confidence and whether the argmax is right
// (Guo et al. 2017).
func reliabilityPoint(probs []float64, label int) (conf, hit float64) {
	if len(probs) == 2 {
		if label == 1 {
			hit = 1
		}
		return probs[1], hit
	}
	k := argmax(probs)
	if k == label {
		hit = 1
	}
	return probs[k], hit
}

func binOf(conf float64) int {
	b := int(conf * ECEBins)
	if b >= ECEBins {
		b = ECEBins - 1
	}
	if b < 0 {
		b = 0
	}
	return b
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// Merge adds the counts of o into a. Both must have the same positive
// class and number of classes (or be empty).
func (a *Accumulator) Merge(o *Accumulator) error {
	if a.positive != o.positive {
		return fmt.Errorf("%w: positive class %d vs %d", ErrShape, a.positive, o.positive)
	}
	if a.classes != 0 && o.classes != 0 && a.classes != o.classes {
		return fmt.Errorf("%w: %d vs %d classes", ErrShape, a.classes, o.classes)
	}
	if a.classes == 0 {
		a.classes = o.classes
	}
	a.overall.add(&o.overall)
	for g, c := range o.groups {
		mine := a.groups[g]
		if mine == nil {
			mine = &counts{}
			a.groups[g] = mine
		}
		mine.add(c)
	}
	return nil
}

// Bin is one reliability-diagram bin.
type Bin struct {
	Lo, Hi     float64 // bin edges
	Count      float64
	Confidence float64 // mean predicted probability in the bin
	Frequency  float64 // observed frequency of the binned event
}

// GroupMetrics are the metrics of one group (or of all data).
type GroupMetrics struct {
	Group string `json:"group"`
	Count int64  `json:"count"`
	// Small is set when Count is below the report's minimum group size:
	// the group's numbers are too noisy to act on.
	Small         bool   `json:"small"`
	Accuracy      Metric `json:"accuracy"`
	SelectionRate Metric `json:"selection_rate"`
	TPR           Metric `json:"tpr"`
	FPR           Metric `json:"fpr"`
	TNR           Metric `json:"tnr"`
	FNR           Metric `json:"fnr"`
	Precision     Metric `json:"precision"`
	ECE           Metric `json:"ece"`
	Brier         Metric `json:"brier"`
	LogLoss       Metric `json:"log_loss"`
	Reliability   []Bin  `json:"reliability"`
}

// Disparity compares one metric between groups, as Fairlearn's
// MetricFrame: the spread between groups and the largest gap to the overall
// value, as differences and as ratios (smaller over larger). Only groups
// where the metric is defined take part; Groups says how many did. With
// fewer than two such groups all four comparisons are undefined (JSON
// null), never 0; see the package doc for how this departs from Fairlearn.
type Disparity struct {
	Metric              string `json:"metric"`
	Groups              int    `json:"groups"`
	Difference          Metric `json:"difference"`
	Ratio               Metric `json:"ratio"`
	DifferenceToOverall Metric `json:"difference_to_overall"`
	RatioToOverall      Metric `json:"ratio_to_overall"`
}

// Report is the result of an Accumulator.
type Report struct {
	Classes      int            `json:"classes"`
	Positive     int            `json:"positive_class"`
	MinGroupSize int            `json:"min_group_size"`
	Overall      GroupMetrics   `json:"overall"`
	Groups       []GroupMetrics `json:"groups"`
	Disparities  []Disparity    `json:"disparities"`
	// DemographicParityDifference is the between-group spread of the
	// selection rate.
	DemographicParityDifference Metric `json:"demographic_parity_difference"`
	// EqualizedOddsDifference is the larger of the TPR and FPR spreads.
	EqualizedOddsDifference Metric `json:"equalized_odds_difference"`
	// EqualOpportunityDifference is the TPR spread.
	EqualOpportunityDifference Metric `json:"equal_opportunity_difference"`
}

// Group returns the metrics of group g (any spelling CanonicalGroup maps
// to the same name), or false.
func (r *Report) Group(g string) (GroupMetrics, bool) {
	g = CanonicalGroup(g)
	for _, m := range r.Groups {
		if m.Group == g {
			return m, true
		}
	}
	return GroupMetrics{}, false
}

// Report computes the metrics gathered so far.
func (a *Accumulator) Report() Report {
	r := Report{Classes: a.classes, Positive: a.positive, MinGroupSize: a.minGroup}
	r.Overall = a.groupMetrics("overall", &a.overall)
	names := make([]string, 0, len(a.groups))
	for g := range a.groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		r.Groups = append(r.Groups, a.groupMetrics(g, a.groups[g]))
	}
	type getter struct {
		name string
		get  func(*GroupMetrics) Metric
	}
	for _, gt := range []getter{
		{"accuracy", func(m *GroupMetrics) Metric { return m.Accuracy }},
		{"selection_rate", func(m *GroupMetrics) Metric { return m.SelectionRate }},
		{"tpr", func(m *GroupMetrics) Metric { return m.TPR }},
		{"fpr", func(m *GroupMetrics) Metric { return m.FPR }},
		{"tnr", func(m *GroupMetrics) Metric { return m.TNR }},
		{"fnr", func(m *GroupMetrics) Metric { return m.FNR }},
		{"precision", func(m *GroupMetrics) Metric { return m.Precision }},
		{"ece", func(m *GroupMetrics) Metric { return m.ECE }},
		{"brier", func(m *GroupMetrics) Metric { return m.Brier }},
		{"log_loss", func(m *GroupMetrics) Metric { return m.LogLoss }},
	} {
		d := Disparity{Metric: gt.name}
		overall := gt.get(&r.Overall)
		lo, hi := math.Inf(1), math.Inf(-1)
		maxDiff, minRatio := 0.0, math.Inf(1)
		ratioOK := true
		for i := range r.Groups {
			m := gt.get(&r.Groups[i])
			if !m.Defined {
				continue
			}
			d.Groups++
			lo, hi = math.Min(lo, m.Value), math.Max(hi, m.Value)
			if overall.Defined {
				maxDiff = math.Max(maxDiff, math.Abs(m.Value-overall.Value))
				big := math.Max(m.Value, overall.Value)
				if big == 0 {
					minRatio = math.Min(minRatio, 1)
				} else if m.Value < 0 || overall.Value < 0 {
					ratioOK = false
				} else {
					minRatio = math.Min(minRatio, math.Min(m.Value, overall.Value)/big)
				}
			}
		}
		// A comparison between groups needs two of them: with one, the
		// spread would be a 0 that says nothing (Fairlearn reports it,
		// dropping the NaN groups; we report undefined, as for rates).
		if d.Groups >= 2 {
			d.Difference = value(hi - lo)
			if hi > 0 && lo >= 0 {
				d.Ratio = value(lo / hi)
			} else if hi == 0 && lo == 0 {
				d.Ratio = value(1)
			}
			if overall.Defined {
				d.DifferenceToOverall = value(maxDiff)
				if ratioOK {
					d.RatioToOverall = value(minRatio)
				}
			}
		}
		r.Disparities = append(r.Disparities, d)
		switch gt.name {
		case "selection_rate":
			r.DemographicParityDifference = d.Difference
		case "tpr":
			r.EqualOpportunityDifference = d.Difference
		}
	}
	tpr, fpr := r.Disparities[2].Difference, r.Disparities[3].Difference
	if tpr.Defined && fpr.Defined {
		r.EqualizedOddsDifference = value(math.Max(tpr.Value, fpr.Value))
	}
	return r
}

func (a *Accumulator) groupMetrics(name string, c *counts) GroupMetrics {
	neg := c.N - c.Pos
	fp := c.Sel - c.TP
	fn := c.Pos - c.TP
	tn := neg - fp
	m := GroupMetrics{
		Group:         name,
		Count:         int64(math.Round(c.N)),
		Small:         c.N < float64(a.minGroup),
		Accuracy:      rate(c.Correct, c.N),
		SelectionRate: rate(c.Sel, c.N),
		TPR:           rate(c.TP, c.Pos),
		FPR:           rate(fp, neg),
		TNR:           rate(tn, neg),
		FNR:           rate(fn, c.Pos),
		Precision:     rate(c.TP, c.Sel),
	}
	if c.N > 0 {
		m.Brier = value(c.Brier / c.N)
		m.LogLoss = value(c.LogLoss / c.N)
		var ece float64
		for b := range c.BinN {
			if c.BinN[b] > 0 {
				ece += math.Abs(c.BinHit[b]-c.BinConf[b]) / c.N
			}
		}
		m.ECE = value(ece)
	}
	for b := range c.BinN {
		bin := Bin{Lo: float64(b) / ECEBins, Hi: float64(b+1) / ECEBins, Count: c.BinN[b]}
		if c.BinN[b] > 0 {
			bin.Confidence = c.BinConf[b] / c.BinN[b]
			bin.Frequency = c.BinHit[b] / c.BinN[b]
		}
		m.Reliability = append(m.Reliability, bin)
	}
	return m
}
