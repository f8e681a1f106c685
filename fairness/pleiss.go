package fairness

import (
	"fmt"
	"math"
)

// pleissCosts returns a group's generalised cost and the cost of its trivial
// classifier (which predicts the base rate for everyone), per Pleiss et al.
// 2017: fp cost = mean score of negatives, fn cost = 1 - mean score of
// positives, weighted = the average of the two weighted by (1-base rate)
// and base rate.
func pleissCosts(g groupData, cost Cost) (c, trivial, base float64, err error) {
	n := len(g.scores)
	nPos := g.nPos
	nNeg := n - nPos
	base = float64(nPos) / float64(n)
	var sumNeg, sumPos float64
	for i, s := range g.scores {
		if g.labels[i] == 1 {
			sumPos += s
		} else {
			sumNeg += s
		}
	}
	fpCost := func() float64 { return sumNeg / float64(nNeg) }
	fnCost := func() float64 { return 1 - sumPos/float64(nPos) }
	switch cost {
	case CostFPR:
		if nNeg == 0 {
			return 0, 0, 0, fmt.Errorf("%w: group %q has no negatives", ErrDegenerate, g.name)
		}
		return fpCost(), base, base, nil
	case CostFNR:
		if nPos == 0 {
			return 0, 0, 0, fmt.Errorf("%w: group %q has no positives", ErrDegenerate, g.name)
		}
		return fnCost(), 1 - base, base, nil
	case CostWeighted, "":
		if nPos == 0 || nNeg == 0 {
			return 0, 0, 0, fmt.Errorf("%w: group %q has %d positives and %d negatives", ErrDegenerate, g.name, nPos, nNeg)
		}
		c = float64(0.5*fpCost()*(1-base)) + float64(0.5*fnCost()*base)
		trivial = float64(0.5*base*(1-base)) + float64(0.5*(1-base)*base)
		return c, trivial, base, nil
	}
	return 0, 0, 0, fmt.Errorf("%w: cost %q (want weighted, fpr or fnr)", ErrUnsupported, cost)
}

// fitPleiss fits calibrated equalized odds for any number of groups: the
// group with the highest cost sets the target and every other group g
// withholds information with mixing rate
//
//	alpha_g = (target - cost_g) / (trivial_g - cost_g)
//
// (replace the score by the group's base rate with probability alpha_g),
// which makes the expected costs equal. With two groups this is Pleiss et
// al.'s rule. A rate above 1 means the trivial classifier of g is still
// cheaper than the target: the constraint cannot be met while keeping
// calibration, and the fit fails with ErrInfeasible instead of clamping.
func fitPleiss(groups []groupData, cost Cost) (*Thresholds, error) {
	if cost == "" {
		cost = CostWeighted
	}
	type gc struct{ c, triv, base float64 }
	cs := make([]gc, len(groups))
	target := math.Inf(-1)
	for i, g := range groups {
		c, triv, base, err := pleissCosts(g, cost)
		if err != nil {
			return nil, err
		}
		cs[i] = gc{c, triv, base}
		target = math.Max(target, c)
	}
	t := &Thresholds{Constraint: CalibratedEqualizedOdds, Cost: cost, Groups: map[string]Rule{}}
	for i, g := range groups {
		alpha := 0.0
		if cs[i].c < target {
			den := cs[i].triv - cs[i].c
			if den <= 0 {
				return nil, fmt.Errorf("%w: group %q: trivial cost %.6g does not exceed cost %.6g", ErrInfeasible, g.name, cs[i].triv, cs[i].c)
			}
			alpha = (target - cs[i].c) / den
			if alpha > 1 {
				return nil, &InfeasibleError{Group: g.name, MixRate: alpha, Target: target, Cost: cost}
			}
		}
		t.Groups[g.name] = Rule{MixRate: alpha, BaseRate: cs[i].base, Count: len(g.scores)}
	}
	// An unseen group keeps its own scores: there is no base rate to mix
	// towards, so the fallback is the identity.
	t.Global = &Rule{MixRate: 0, BaseRate: 0.5}
	return t, nil
}

// InfeasibleError reports a calibrated-equalized-odds fit whose mixing rate
// exceeds 1: the group would have to withhold more than all of its
// information. It wraps ErrInfeasible.
type InfeasibleError struct {
	Group   string
	MixRate float64 // the rate that would be needed, > 1
	Target  float64 // the cost to match
	Cost    Cost
}

func (e *InfeasibleError) Error() string {
	return fmt.Sprintf("%v: group %q needs mixing rate %.6f > 1 to match %s cost %.6f", ErrInfeasible, e.Group, e.MixRate, e.Cost, e.Target)
}

// Unwrap returns ErrInfeasible.
func (e *InfeasibleError) Unwrap() error { return ErrInfeasible }

// MixedScore returns the score a calibrated-equalized-odds rule outputs for
// score s given the request's coin: the group's base rate when the coin
// falls below the mixing rate, else s.
func (r Rule) MixedScore(s, coin float64) float64 {
	if coin < r.MixRate {
		return r.BaseRate
	}
	return s
}
