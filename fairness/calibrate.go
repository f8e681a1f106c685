package fairness

import (
	"fmt"
	"math"
	"sort"
)

// Method names a calibration method.
type Method string

// Calibration methods.
const (
	// Temperature divides the logits by one fitted temperature T > 0
	// (Guo et al. 2017). It works for any number of classes and never
	// changes the argmax.
	Temperature Method = "temperature"
	// Platt fits p = sigmoid(a*f + b) on the binary logit f (Platt 1999).
	// It keeps the ranking of scores when a > 0, but moves the 0.5
	// decision point.
	Platt Method = "platt"
	// Isotonic fits a non-decreasing map of the binary score by pool
	// adjacent violators, interpolated linearly between blocks as
	// scikit-learn does. A block whose labels are all 0 or all 1 maps to
	// a probability of exactly 0 or 1, which costs a lot of log loss on
	// new data: prefer Platt or temperature scaling for small groups.
	Isotonic Method = "isotonic"
)

// DefaultMinGroupSize is the group size below which fits fall back to the
// global parameters and reports flag the group as small.
const DefaultMinGroupSize = 30

// logitClip bounds binary logits, as Pleiss et al.'s code does, so scores
// of exactly 0 or 1 stay finite.
const logitClip = 100

// CalParams are the fitted parameters of one group (or the global fit).
type CalParams struct {
	// Temperature is T of temperature scaling.
	Temperature float64 `json:"temperature,omitempty"`
	// A and B are Platt's slope and intercept.
	A float64 `json:"a,omitempty"`
	B float64 `json:"b,omitempty"`
	// X and Y are the isotonic knots: X non-decreasing scores, Y
	// non-decreasing calibrated probabilities.
	X []float64 `json:"x,omitempty"`
	Y []float64 `json:"y,omitempty"`
	// Count is the number of fit samples of the group.
	Count int `json:"count"`
	// Fallback is set when the group was too small to fit on its own and
	// uses the global parameters.
	Fallback bool `json:"fallback,omitempty"`
}

// Calibration is a per-group calibration map with a global fallback.
type Calibration struct {
	Method  Method               `json:"method"`
	Classes int                  `json:"classes"`
	Global  CalParams            `json:"global"`
	Groups  map[string]CalParams `json:"groups"`
}

// UnknownGroupPolicy says what happens to an input whose group was not seen
// at fit time.
type UnknownGroupPolicy int

const (
	// UnknownError rejects the input with ErrUnknownGroup. It is the
	// default because silently treating an unseen clinic or age band like
	// everyone else hides exactly the disparity this package is for.
	UnknownError UnknownGroupPolicy = iota
	// UnknownFallback applies the global parameters.
	UnknownFallback
)

// ParseUnknownGroupPolicy parses "error" or "fallback".
func ParseUnknownGroupPolicy(s string) (UnknownGroupPolicy, error) {
	switch s {
	case "", "error":
		return UnknownError, nil
	case "fallback", "global":
		return UnknownFallback, nil
	}
	return 0, fmt.Errorf("%w: unknown-group policy %q (want error or fallback)", ErrUnsupported, s)
}

// FitCalibration fits method on samples per group, falling back to the
// global fit for groups with fewer than minGroup samples. Platt and
// isotonic need two classes.
func FitCalibration(ss []Sample, method Method, minGroup int) (*Calibration, error) {
	if err := validateSamples(ss); err != nil {
		return nil, err
	}
	k := len(ss[0].Probs)
	if method != Temperature && k != 2 {
		return nil, fmt.Errorf("%w: %s scaling needs 2 classes, data has %d (use temperature)", ErrUnsupported, method, k)
	}
	fit := func(sub []Sample) (CalParams, error) {
		switch method {
		case Temperature:
			return CalParams{Temperature: fitTemperature(sub), Count: len(sub)}, nil
		case Platt:
			a, b := fitPlatt(sub)
			return CalParams{A: a, B: b, Count: len(sub)}, nil
		case Isotonic:
			x, y := fitIsotonic(sub)
			return CalParams{X: x, Y: y, Count: len(sub)}, nil
		}
		return CalParams{}, fmt.Errorf("%w: calibration method %q", ErrUnsupported, method)
	}
	c := &Calibration{Method: method, Classes: k, Groups: map[string]CalParams{}}
	var err error
	if c.Global, err = fit(ss); err != nil {
		return nil, err
	}
	for g, sub := range byGroup(ss) {
		if len(sub) < minGroup {
			p := c.Global
			p.Count, p.Fallback = len(sub), true
			c.Groups[g] = p
			continue
		}
		if c.Groups[g], err = fit(sub); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// byGroup splits ss by canonical group (CanonicalGroup), the key every
// lookup uses.
func byGroup(ss []Sample) map[string][]Sample {
	m := map[string][]Sample{}
	for _, s := range ss {
		g := CanonicalGroup(s.Group)
		m[g] = append(m[g], s)
	}
	return m
}

// params returns the parameters for group under policy.
func (c *Calibration) params(group string, policy UnknownGroupPolicy) (CalParams, error) {
	if p, ok := c.Groups[CanonicalGroup(group)]; ok {
		return p, nil
	}
	if policy == UnknownFallback {
		return c.Global, nil
	}
	return CalParams{}, fmt.Errorf("%w: %q", ErrUnknownGroup, group)
}

// Apply returns the calibrated probabilities of probs for group. A binary
// score s is passed as [1-s, s] (see BinaryProbs).
func (c *Calibration) Apply(group string, probs []float64, policy UnknownGroupPolicy) ([]float64, error) {
	if len(probs) != c.Classes {
		return nil, fmt.Errorf("%w: %d scores, calibration has %d classes", ErrShape, len(probs), c.Classes)
	}
	for i, v := range probs {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("%w: probability %d = %v", ErrInvalidScore, i, v)
		}
	}
	p, err := c.params(group, policy)
	if err != nil {
		return nil, err
	}
	return c.applyParams(p, probs, nil), nil
}

// ApplyLogits is Apply for raw logits; temperature scaling then divides the
// logits themselves, which is exact where log(softmax) would round.
func (c *Calibration) ApplyLogits(group string, logits []float64, policy UnknownGroupPolicy) ([]float64, error) {
	if len(logits) != c.Classes {
		return nil, fmt.Errorf("%w: %d logits, calibration has %d classes", ErrShape, len(logits), c.Classes)
	}
	for i, v := range logits {
		if !finite(v) {
			return nil, fmt.Errorf("%w: logit %d = %v", ErrInvalidScore, i, v)
		}
	}
	p, err := c.params(group, policy)
	if err != nil {
		return nil, err
	}
	return c.applyParams(p, Softmax(logits), logits), nil
}

// ApplySample calibrates one sample, using its logits when it has them.
func (c *Calibration) ApplySample(s Sample, policy UnknownGroupPolicy) ([]float64, error) {
	if s.Logits != nil {
		return c.ApplyLogits(s.Group, s.Logits, policy)
	}
	return c.Apply(s.Group, s.Probs, policy)
}

func (c *Calibration) applyParams(p CalParams, probs, logits []float64) []float64 {
	switch c.Method {
	case Temperature:
		z := logits
		if z == nil {
			z = logProbs(probs)
		}
		return softmaxScaled(z, 1/p.Temperature)
	case Platt:
		f := binaryLogit(probs, logits)
		// No FMA: the same score on amd64 and arm64.
		return BinaryProbs(sigmoid(float64(p.A*f) + p.B))
	case Isotonic:
		return BinaryProbs(isotonicAt(p.X, p.Y, probs[1]))
	}
	return append([]float64(nil), probs...)
}

// logProbs returns log p with zeros mapped to a very negative finite value,
// so that softmax(log p) == p and temperature scaling stays finite.
func logProbs(p []float64) []float64 {
	z := make([]float64, len(p))
	for i, v := range p {
		z[i] = math.Log(math.Max(v, 1e-300))
	}
	return z
}

func softmaxScaled(z []float64, beta float64) []float64 {
	s := make([]float64, len(z))
	for i, v := range z {
		s[i] = beta * v
	}
	return Softmax(s)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// binaryLogit returns the log-odds of class 1.
func binaryLogit(probs, logits []float64) float64 {
	var f float64
	if logits != nil {
		f = logits[1] - logits[0]
	} else {
		f = math.Log(probs[1]) - math.Log(probs[0])
	}
	if math.IsNaN(f) {
		f = 0
	}
	return math.Max(-logitClip, math.Min(logitClip, f))
}

// fitTemperature minimises the mean negative log-likelihood of
// softmax(beta*z) over beta = 1/T. The NLL is convex in beta (its second
// derivative is a variance), so its derivative mean(E_p[z] - z_label) is
// non-decreasing and bisection on it finds the minimum without tuning.
// beta is searched in [1e-3, 1e3]; separable data pins it to a bound.
func fitTemperature(ss []Sample) float64 {
	zs := make([][]float64, len(ss))
	for i, s := range ss {
		if s.Logits != nil {
			zs[i] = s.Logits
		} else {
			zs[i] = logProbs(s.Probs)
		}
	}
	grad := func(beta float64) float64 {
		var g float64
		for i, z := range zs {
			p := softmaxScaled(z, beta)
			var ez float64
			for k, v := range z {
				ez += p[k] * v
			}
			g += ez - z[ss[i].Label]
		}
		return g / float64(len(zs))
	}
	lo, hi := math.Log(1e-3), math.Log(1e3)
	if grad(math.Exp(lo)) >= 0 {
		return 1 / math.Exp(lo)
	}
	if grad(math.Exp(hi)) <= 0 {
		return 1 / math.Exp(hi)
	}
	for range 100 {
		mid := (lo + hi) / 2
		if grad(math.Exp(mid)) < 0 {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-13 {
			break
		}
	}
	return 1 / math.Exp((lo+hi)/2)
}

// plattRidge pulls (a, b) towards the identity (1, 0). It keeps Newton's
// method finite on separable groups, and because the identity is in the
// family, the fitted log loss on the fit data can never exceed the
// uncalibrated one.
const plattRidge = 1e-6

// fitPlatt fits sigmoid(a*f+b) by damped Newton steps on the mean log loss
// plus a small ridge towards (1, 0).
func fitPlatt(ss []Sample) (a, b float64) {
	f := make([]float64, len(ss))
	y := make([]float64, len(ss))
	for i, s := range ss {
		f[i] = binaryLogit(s.Probs, s.Logits)
		if s.Label == 1 {
			y[i] = 1
		}
	}
	n := float64(len(ss))
	obj := func(a, b float64) float64 {
		var l float64
		for i := range f {
			t := a*f[i] + b
			// log(1+exp(t)) - y*t, computed stably
			l += softplus(t) - y[i]*t
		}
		return l/n + plattRidge/2*((a-1)*(a-1)+b*b)
	}
	a, b = 1, 0
	cur := obj(a, b)
	for range 200 {
		var ga, gb, haa, hab, hbb float64
		for i := range f {
			p := sigmoid(a*f[i] + b)
			r := p - y[i]
			w := p * (1 - p)
			ga += r * f[i]
			gb += r
			haa += w * f[i] * f[i]
			hab += w * f[i]
			hbb += w
		}
		ga = ga/n + plattRidge*(a-1)
		gb = gb/n + plattRidge*b
		haa = haa/n + plattRidge
		hab /= n
		hbb = hbb/n + plattRidge
		det := haa*hbb - hab*hab
		if det <= 0 || math.IsNaN(det) {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		step := 1.0
		improved := false
		for range 50 {
			na, nb := a-step*da, b-step*db
			if v := obj(na, nb); v <= cur {
				a, b, cur, improved = na, nb, v, true
				break
			}
			step /= 2
		}
		if !improved || math.Abs(step*da)+math.Abs(step*db) < 1e-12 {
			break
		}
	}
	return a, b
}

func softplus(t float64) float64 {
	if t > 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}

// fitIsotonic runs pool adjacent violators on (score, label) sorted by
// score, ties pooled first, and returns each block's first and last score
// with the block mean, so prediction interpolates linearly between blocks.
func fitIsotonic(ss []Sample) (xs, ys []float64) {
	type pt struct{ x, y float64 }
	pts := make([]pt, len(ss))
	for i, s := range ss {
		v := 0.0
		if s.Label == 1 {
			v = 1
		}
		pts[i] = pt{s.Probs[1], v}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
	type block struct{ lo, hi, sum, w float64 }
	var bs []block
	for i := 0; i < len(pts); {
		j := i
		b := block{lo: pts[i].x, hi: pts[i].x}
		for j < len(pts) && pts[j].x == pts[i].x {
			b.sum += pts[j].y
			b.w++
			j++
		}
		i = j
		bs = append(bs, b)
		for len(bs) >= 2 {
			p, q := bs[len(bs)-2], bs[len(bs)-1]
			if p.sum/p.w < q.sum/q.w {
				break
			}
			bs = bs[:len(bs)-2]
			bs = append(bs, block{lo: p.lo, hi: q.hi, sum: p.sum + q.sum, w: p.w + q.w})
		}
	}
	for _, b := range bs {
		m := b.sum / b.w
		xs = append(xs, b.lo)
		ys = append(ys, m)
		if b.hi != b.lo {
			xs = append(xs, b.hi)
			ys = append(ys, m)
		}
	}
	return xs, ys
}

// isotonicAt interpolates the knots at s, clipping outside their range.
func isotonicAt(xs, ys []float64, s float64) float64 {
	if len(xs) == 0 {
		return s
	}
	if s <= xs[0] {
		return ys[0]
	}
	if s >= xs[len(xs)-1] {
		return ys[len(ys)-1]
	}
	j := sort.SearchFloat64s(xs, s) // first xs[j] >= s, 1 <= j < len
	if xs[j] == s {
		return ys[j]
	}
	x0, x1 := xs[j-1], xs[j]
	t := (s - x0) / (x1 - x0)
	return ys[j-1] + float64(t*(ys[j]-ys[j-1]))
}
