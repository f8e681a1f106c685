package fairness

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Constraint names a decision post-processing constraint.
type Constraint string

// Constraints.
const (
	// DemographicParity equalises the selection rate across groups
	// (Hardt et al. 2016; Fairlearn's ThresholdOptimizer).
	DemographicParity Constraint = "demographic_parity"
	// EqualizedOdds equalises TPR and FPR across groups (Hardt et al.).
	EqualizedOdds Constraint = "equalized_odds"
	// EqualOpportunity equalises the TPR across groups (Hardt et al.).
	EqualOpportunity Constraint = "equal_opportunity"
	// CalibratedEqualizedOdds equalises one generalised cost while keeping
	// scores calibrated, by withholding information from the cheaper
	// groups (Pleiss et al. 2017).
	CalibratedEqualizedOdds Constraint = "calibrated_equalized_odds"
)

// Cost is the cost Pleiss et al.'s method equalises.
type Cost string

// Costs.
const (
	CostWeighted Cost = "weighted" // false positive and negative costs, weighted by base rates
	CostFPR      Cost = "fpr"      // generalised false positive rate
	CostFNR      Cost = "fnr"      // generalised false negative rate
)

// Op is one deterministic threshold rule: positive when score > Threshold
// (Greater) or score < Threshold. Threshold may be ±Inf.
type Op struct {
	Greater   bool
	Threshold float64
}

// Eval applies the rule to a score.
func (o Op) Eval(s float64) bool {
	if o.Greater {
		return s > o.Threshold
	}
	return s < o.Threshold
}

// String formats the rule as Fairlearn does, e.g. "[>0.5]".
func (o Op) String() string {
	op := "<"
	if o.Greater {
		op = ">"
	}
	return "[" + op + strconv.FormatFloat(o.Threshold, 'g', -1, 64) + "]"
}

type opJSON struct {
	Op        string          `json:"op"`
	Threshold json.RawMessage `json:"threshold"`
}

// MarshalJSON writes {"op": ">", "threshold": t}, with infinities as the
// strings "inf" and "-inf" since JSON has no infinity.
func (o Op) MarshalJSON() ([]byte, error) {
	j := opJSON{Op: "<"}
	if o.Greater {
		j.Op = ">"
	}
	switch {
	case math.IsInf(o.Threshold, 1):
		j.Threshold = json.RawMessage(`"inf"`)
	case math.IsInf(o.Threshold, -1):
		j.Threshold = json.RawMessage(`"-inf"`)
	case math.IsNaN(o.Threshold):
		return nil, fmt.Errorf("%w: NaN threshold", ErrBadArtefact)
	default:
		j.Threshold = json.RawMessage(strconv.FormatFloat(o.Threshold, 'g', -1, 64))
	}
	return marshalJSON(j, "") // ">" unescaped (see Artefact.Marshal)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Op) UnmarshalJSON(b []byte) error {
	var j opJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	switch j.Op {
	case ">":
		o.Greater = true
	case "<":
		o.Greater = false
	default:
		return fmt.Errorf("%w: operator %q", ErrBadArtefact, j.Op)
	}
	switch string(j.Threshold) {
	case `"inf"`:
		o.Threshold = math.Inf(1)
		return nil
	case `"-inf"`:
		o.Threshold = math.Inf(-1)
		return nil
	}
	var t float64
	if err := json.Unmarshal(j.Threshold, &t); err != nil {
		return fmt.Errorf("%w: threshold: %v", ErrBadArtefact, err)
	}
	o.Threshold = t
	return nil
}

// Rule is one group's randomised decision rule. For the threshold
// constraints the probability of a positive decision at score s is
//
//	PIgnore*Constant + (1-PIgnore)*(P0*[Op0(s)] + P1*[Op1(s)])
//
// that is, a mix of two thresholds and, for equalized odds, of a constant
// rate. For calibrated equalized odds the score is replaced by BaseRate with
// probability MixRate and the decision is score > 0.5.
type Rule struct {
	P0       float64 `json:"p0"`
	Op0      Op      `json:"op0"`
	P1       float64 `json:"p1"`
	Op1      Op      `json:"op1"`
	PIgnore  float64 `json:"p_ignore"`
	Constant float64 `json:"constant"`
	MixRate  float64 `json:"mix_rate"`
	BaseRate float64 `json:"base_rate"`
	Count    int     `json:"count"`
}

// Thresholds are per-group decision rules for a binary score, with an
// optional global rule for groups not seen at fit time.
type Thresholds struct {
	Constraint Constraint      `json:"constraint"`
	Cost       Cost            `json:"cost,omitempty"`
	Grid       int             `json:"grid,omitempty"`
	Flip       bool            `json:"flip"`
	Groups     map[string]Rule `json:"groups"`
	// Global is the rule for unseen groups under UnknownFallback: the
	// pooled data's rule at the chosen operating point (for equalized odds
	// the pooled hull at the chosen FPR when the pooled curve cannot reach
	// the chosen TPR; identity mixing for calibrated equalized odds). An
	// unseen group's rates are not guaranteed to match anyone's: that is
	// why UnknownError is the default.
	Global *Rule `json:"global,omitempty"`
	// CalibrationSHA256 is the Digest of the calibration artefact the fit
	// scores were calibrated with, empty for raw scores. The rules are only
	// valid on scores calibrated the same way; reports check it.
	CalibrationSHA256 string `json:"calibration_sha256,omitempty"`
	// PositiveClass is set for rules fitted one-vs-rest on a model with
	// any number of classes (NewOneVsRestThresholdArtefact): the score is
	// this class's probability, and a positive decision means "this
	// class". Unset, the data were binary and the score is class 1's.
	PositiveClass *int `json:"positive_class,omitempty"`
	// Operating point chosen on the fit data.
	FPR       float64 `json:"fpr,omitempty"`
	TPR       float64 `json:"tpr,omitempty"`
	Selection float64 `json:"selection_rate,omitempty"`
}

// PPositive returns the probability that rule r decides positive at score
// s, for a Thresholds of constraint c.
func (r Rule) PPositive(c Constraint, s float64) float64 {
	if c == CalibratedEqualizedOdds {
		p := 0.0
		if r.BaseRate > 0.5 {
			p = r.MixRate
		}
		if s > 0.5 {
			p += 1 - r.MixRate
		}
		return p
	}
	var q float64
	if r.Op0.Eval(s) {
		q += r.P0
	}
	if r.Op1.Eval(s) {
		q += r.P1
	}
	// The conversions forbid fused multiply-adds, which arm64 may use and
	// amd64 does not, so an artefact gives the same probability, and with
	// the same coin the same decision, on both.
	return float64(r.PIgnore*r.Constant) + float64((1-r.PIgnore)*q)
}

// ROCPoint is one vertex of an empirical ROC curve: the false and true
// positive rates of the rule "score > Threshold".
type ROCPoint struct {
	FPR, TPR  float64
	Threshold float64
}

// ROC returns the empirical ROC curve of binary scores with labels 0 or 1:
// (0, 0) and then one point per distinct score, each threshold half-way
// between adjacent distinct scores, sorted by FPR and then TPR. Both labels
// must occur ([ErrDegenerate] otherwise); scores and labels must have the
// same length ([ErrShape]) and scores be finite ([ErrInvalidScore]).
func ROC(scores []float64, labels []int) ([]ROCPoint, error) {
	if len(scores) != len(labels) {
		return nil, fmt.Errorf("%w: %d scores and %d labels", ErrShape, len(scores), len(labels))
	}
	for i, l := range labels {
		if l != 0 && l != 1 {
			return nil, fmt.Errorf("%w: label %d is not 0 or 1", ErrShape, l)
		}
		if math.IsNaN(scores[i]) || math.IsInf(scores[i], 0) {
			return nil, fmt.Errorf("%w: score %v", ErrInvalidScore, scores[i])
		}
	}
	pts, err := rocPoints(scores, labels, false)
	if err != nil {
		return nil, err
	}
	out := make([]ROCPoint, len(pts))
	for i, p := range pts {
		out[i] = ROCPoint{FPR: p.x, TPR: p.y, Threshold: p.op.Threshold}
	}
	return out, nil
}

// rocPoint is one vertex of a group's ROC curve and the rule reaching it.
type rocPoint struct {
	x, y float64 // FPR, TPR
	op   Op
}

// rocPoints returns the empirical ROC points of scores/labels, one per
// distinct score plus (0,0), thresholds half-way between adjacent distinct
// scores. With flip, a point below the diagonal is mirrored by inverting its
// rule. Points are sorted by (x, y), keeping generation order on ties.
func rocPoints(scores []float64, labels []int, flip bool) ([]rocPoint, error) {
	n := len(scores)
	idx := make([]int, n)
	var nPos int
	for i := range idx {
		idx[i] = i
		nPos += labels[i]
	}
	nNeg := n - nPos
	if nPos == 0 || nNeg == 0 {
		return nil, fmt.Errorf("%w: %d positives and %d negatives", ErrDegenerate, nPos, nNeg)
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	pts := []rocPoint{{0, 0, Op{true, math.Inf(1)}}}
	var cnt [2]int
	for i := 0; i < n; {
		t := scores[idx[i]]
		for i < n && scores[idx[i]] == t {
			cnt[labels[idx[i]]]++
			i++
		}
		next := math.Inf(-1)
		if i < n {
			next = scores[idx[i]]
		}
		x, y := float64(cnt[0])/float64(nNeg), float64(cnt[1])/float64(nPos)
		op := Op{true, (t + next) / 2}
		if flip && x > y {
			x, y = 1-x, 1-y
			op.Greater = false
		}
		pts = append(pts, rocPoint{x, y, op})
	}
	sort.SliceStable(pts, func(a, b int) bool {
		if pts[a].x != pts[b].x {
			return pts[a].x < pts[b].x
		}
		return pts[a].y < pts[b].y
	})
	return pts, nil
}

// upperHull keeps the points of the upper convex hull of pts (sorted by x),
// dropping points on or below the chord of their neighbours (Andrew's
// monotone chain, one pass, since (0,0) and (1,1) are on the hull).
func upperHull(pts []rocPoint) []rocPoint {
	var h []rocPoint
	for _, r2 := range pts {
		for len(h) >= 2 {
			r1, r0 := h[len(h)-1], h[len(h)-2]
			if (r1.y-r0.y)*(r2.x-r0.x) <= (r2.y-r0.y)*(r1.x-r0.x) {
				h = h[:len(h)-1]
			} else {
				break
			}
		}
		h = append(h, r2)
	}
	return h
}

// interp is the hull interpolated at one grid value.
type interp struct {
	x, y   float64 // FPR, TPR
	p0, p1 float64
	op0    Op
	op1    Op
}

// Sums of products below are written float64(a*b) + float64(c*d) so that
// no platform fuses them into FMAs: grid ties then break the same way on
// amd64 and arm64.
//
// interpolate evaluates the hull along key (increasing along the hull) at
// each grid value, as a mix of the two hull vertices around it. Leading
// vertices with the same key as the first are skipped, so the mix at the
// start uses the last of them.
func interpolate(h []rocPoint, key func(rocPoint) float64, grid []float64) []interp {
	out := make([]interp, len(grid))
	i := 0
	k0 := key(h[0])
	for i+2 < len(h) && key(h[i+1]) == k0 {
		i++
	}
	for g, t := range grid {
		for i+2 < len(h) && t > key(h[i+1]) {
			i++
		}
		a, b := h[i], h[i+1]
		ka, kb := key(a), key(b)
		p0 := 1.0
		if kb != ka {
			p0 = (kb - t) / (kb - ka)
		}
		p1 := 1 - p0
		out[g] = interp{
			x: float64(p0*a.x) + float64(p1*b.x), y: float64(p0*a.y) + float64(p1*b.y),
			p0: p0, op0: a.op, p1: p1, op1: b.op,
		}
	}
	return out
}

// linspace returns grid+1 evenly spaced values in [0, 1], the last exactly
// 1, computed as i*(1/grid) like numpy.linspace.
func linspace(grid int) []float64 {
	out := make([]float64, grid+1)
	step := 1 / float64(grid)
	for i := range out {
		out[i] = float64(i) * step
	}
	out[grid] = 1
	return out
}

// groupData is one group's binary scores and labels.
type groupData struct {
	name   string
	scores []float64
	labels []int
	nPos   int
}

// splitBinary groups binary samples by canonical group (CanonicalGroup), in
// sorted group order.
func splitBinary(ss []Sample) ([]groupData, error) {
	m := map[string]*groupData{}
	for _, s := range ss {
		if len(s.Probs) != 2 {
			return nil, fmt.Errorf("%w: decision rules need a binary score, got %d classes", ErrShape, len(s.Probs))
		}
		if s.Label != 0 && s.Label != 1 {
			return nil, fmt.Errorf("%w: label %d is not 0 or 1", ErrShape, s.Label)
		}
		if math.IsNaN(s.Probs[1]) || math.IsInf(s.Probs[1], 0) {
			return nil, fmt.Errorf("%w: score %v", ErrInvalidScore, s.Probs[1])
		}
		name := CanonicalGroup(s.Group)
		if name == "" {
			return nil, fmt.Errorf("%w: empty group", ErrMalformedInput)
		}
		g := m[name]
		if g == nil {
			g = &groupData{name: name}
			m[name] = g
		}
		g.scores = append(g.scores, s.Probs[1])
		g.labels = append(g.labels, s.Label)
		g.nPos += s.Label
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]groupData, len(names))
	for i, k := range names {
		out[i] = *m[k]
	}
	return out, nil
}

// ThresholdOptions tune FitThresholds.
type ThresholdOptions struct {
	// Grid is the number of grid steps for the operating point search;
	// 0 means 1000, Fairlearn's default.
	Grid int
	// NoFlip forbids inverted rules for points below the ROC diagonal.
	NoFlip bool
	// Cost is the cost equalised by CalibratedEqualizedOdds; "" means
	// weighted.
	Cost Cost
}

// FitThresholds fits per-group decision rules on binary samples (score =
// probability of class 1). The threshold constraints follow Hardt et al.
// 2016 as Fairlearn's ThresholdOptimizer does: per group the upper convex
// hull of the ROC curve, evaluated on a grid of operating points; the
// operating point with the least overall expected error that every group
// can reach is chosen, and each group reaches it by randomising between the
// two hull vertices around it.
func FitThresholds(ss []Sample, c Constraint, o ThresholdOptions) (*Thresholds, error) {
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w: nothing to fit", ErrEmpty)
	}
	if o.Grid == 0 {
		o.Grid = 1000
	}
	if o.Grid < 1 || o.Grid > 1e7 {
		return nil, fmt.Errorf("%w: grid %d", ErrUnsupported, o.Grid)
	}
	groups, err := splitBinary(ss)
	if err != nil {
		return nil, err
	}
	switch c {
	case DemographicParity, EqualizedOdds, EqualOpportunity:
		return fitHardt(groups, c, o)
	case CalibratedEqualizedOdds:
		return fitPleiss(groups, o.Cost)
	}
	return nil, fmt.Errorf("%w: constraint %q", ErrUnsupported, c)
}

type hullGroup struct {
	groupData
	hull []rocPoint
}

func fitHardt(groups []groupData, c Constraint, o ThresholdOptions) (*Thresholds, error) {
	flip := !o.NoFlip
	var hs []hullGroup
	var all groupData
	n, nPos := 0, 0
	for _, g := range groups {
		pts, err := rocPoints(g.scores, g.labels, flip)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", g.name, err)
		}
		hs = append(hs, hullGroup{g, upperHull(pts)})
		n += len(g.scores)
		nPos += g.nPos
		all.scores = append(all.scores, g.scores...)
		all.labels = append(all.labels, g.labels...)
	}
	all.nPos = nPos
	pooled, err := rocPoints(all.scores, all.labels, flip)
	if err != nil {
		return nil, err
	}
	poolHull := upperHull(pooled)
	grid := linspace(o.Grid)
	t := &Thresholds{Constraint: c, Grid: o.Grid, Flip: flip, Groups: map[string]Rule{}}
	switch c {
	case DemographicParity:
		// Selection rate of a hull vertex: P(yhat=1) = neg/n*FPR + pos/n*TPR.
		selKey := func(ng, np int) func(rocPoint) float64 {
			fn, fp := float64(ng-np)/float64(ng), float64(np)/float64(ng)
			return func(r rocPoint) float64 { return float64(fn*r.x) + float64(fp*r.y) }
		}
		curves, errGiven := weightedError(hs, n, func(h hullGroup) []interp {
			return interpolate(h.hull, selKey(len(h.scores), h.nPos), grid)
		})
		best := argminFirst(errGiven)
		t.Selection = grid[best]
		for gi, h := range hs {
			t.Groups[h.name] = mixRule(curves[gi][best], len(h.scores))
		}
		t.Global = new(mixRule(interpolate(poolHull, selKey(n, nPos), grid)[best], n))
	case EqualizedOdds:
		xKey := func(r rocPoint) float64 { return r.x }
		curves := make([][]interp, len(hs))
		yMin := make([]float64, len(grid))
		for i := range yMin {
			yMin[i] = math.Inf(1)
		}
		for gi, h := range hs {
			curves[gi] = interpolate(h.hull, xKey, grid)
			for i, p := range curves[gi] {
				yMin[i] = math.Min(yMin[i], p.y)
			}
		}
		errGiven := make([]float64, len(grid))
		fn, fp := float64(n-nPos)/float64(n), float64(nPos)/float64(n)
		for i, x := range grid {
			errGiven[i] = float64(fn*x) + float64(fp*(1-yMin[i]))
		}
		best := argminFirst(errGiven)
		xBest, yBest := grid[best], yMin[best]
		t.FPR, t.TPR = xBest, yBest
		eoRule := func(p interp, count int) Rule {
			// Mixing with the constant rate xBest moves the point along
			// the line to the diagonal until its TPR is yBest.
			pIgnore := 0.0
			if p.y != p.x {
				pIgnore = (p.y - yBest) / (p.y - p.x)
			}
			r := mixRule(p, count)
			r.PIgnore, r.Constant = pIgnore, xBest
			return r
		}
		for gi, h := range hs {
			t.Groups[h.name] = eoRule(curves[gi][best], len(h.scores))
		}
		g := eoRule(interpolate(poolHull, xKey, grid)[best], n)
		// The pooled hull may lie below the chosen point; then no mix
		// reaches it and the fallback is the pooled hull at the same FPR.
		g.PIgnore = math.Max(0, math.Min(1, g.PIgnore))
		t.Global = &g
	case EqualOpportunity:
		// For a common TPR each group takes the least FPR its hull
		// reaches; the TPR with the least overall error wins.
		curves, errGiven := weightedError(hs, n, func(h hullGroup) []interp { return atTPR(h.hull, grid) })
		best := argminFirst(errGiven)
		t.TPR = grid[best]
		for gi, h := range hs {
			t.Groups[h.name] = mixRule(curves[gi][best], len(h.scores))
		}
		t.Global = new(mixRule(atTPR(poolHull, grid)[best], n))
	}
	return t, nil
}

// weightedError evaluates curve for every group and returns the curves and
// the overall expected error at each grid point: the sum over groups of
// n_g/n * (P(neg|g) FPR + P(pos|g) (1-TPR)). The products are rounded as
// written (explicit float64 conversions, no FMA), so amd64 and arm64 pick
// the same grid point.
func weightedError(hs []hullGroup, n int, curve func(hullGroup) []interp) ([][]interp, []float64) {
	curves := make([][]interp, len(hs))
	var errGiven []float64
	for gi, h := range hs {
		ng := len(h.scores)
		curves[gi] = curve(h)
		if errGiven == nil {
			errGiven = make([]float64, len(curves[gi]))
		}
		fn, fp := float64(ng-h.nPos)/float64(ng), float64(h.nPos)/float64(ng)
		w := float64(ng) / float64(n)
		for i, p := range curves[gi] {
			errGiven[i] += float64(w * (float64(fn*p.x) + float64(fp*(1-p.y))))
		}
	}
	return curves, errGiven
}

// mixRule is the rule that randomises between the two thresholds of an
// interpolated operating point.
func mixRule(p interp, count int) Rule {
	return Rule{P0: p.p0, Op0: p.op0, P1: p.p1, Op1: p.op1, Count: count}
}

// atTPR evaluates the hull at each TPR in grid with the least FPR: the mix
// of the first vertex reaching the TPR and the vertex before it.
func atTPR(h []rocPoint, grid []float64) []interp {
	out := make([]interp, len(grid))
	for g, t := range grid {
		j := sort.Search(len(h), func(k int) bool { return h[k].y >= t })
		if j == len(h) {
			j = len(h) - 1
		}
		if j == 0 || h[j].y == t {
			out[g] = interp{x: h[j].x, y: h[j].y, p0: 0, op0: h[j].op, p1: 1, op1: h[j].op}
			if j > 0 {
				out[g].op0 = h[j-1].op
			}
			continue
		}
		a, b := h[j-1], h[j]
		p0 := (b.y - t) / (b.y - a.y)
		p1 := 1 - p0
		out[g] = interp{x: float64(p0*a.x) + float64(p1*b.x), y: float64(p0*a.y) + float64(p1*b.y), p0: p0, op0: a.op, p1: p1, op1: b.op}
	}
	return out
}

// argminFirst returns the index of the first minimum, as numpy's argmin.
func argminFirst(v []float64) int {
	best := 0
	for i, x := range v {
		if x < v[best] {
			best = i
		}
	}
	return best
}
