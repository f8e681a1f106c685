package privacy

import (
	"fmt"
	"math"
)

// Mechanism names a release mechanism in costs and ledger entries.
type Mechanism string

// The mechanisms of this package.
const (
	MechRandomizedResponse Mechanism = "randomized_response"
	MechUnaryEncoding      Mechanism = "optimized_unary_encoding"
	MechLaplace            Mechanism = "laplace"
	MechDiscreteLaplace    Mechanism = "discrete_laplace"
	MechGaussian           Mechanism = "gaussian"
)

// Cost is what one release consumed and the facts the accountant needs to
// compose it. Every release result carries one.
type Cost struct {
	Mechanism Mechanism `json:"mechanism"`
	// Epsilon and Delta are the release's (eps, delta)-DP guarantee.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// Sensitivity is the effective sensitivity the noise was calibrated for
	// (L1 for Laplace, L2 for Gaussian, 1 for the label mechanisms), after
	// inflation by the grid.
	Sensitivity float64 `json:"sensitivity"`
	// Sigma is the Gaussian noise standard deviation (Gaussian only).
	Sigma float64 `json:"sigma,omitempty"`
	// Scale is the Laplace scale b = Sensitivity/Epsilon (Laplace kinds).
	Scale float64 `json:"scale,omitempty"`
	// GridStep is the power-of-two grid every released value lies on
	// (continuous-valued kinds); 1 for integer outputs.
	GridStep float64 `json:"grid_step,omitempty"`
}

func (c Cost) valid() error {
	switch c.Mechanism {
	case MechRandomizedResponse, MechUnaryEncoding, MechLaplace, MechDiscreteLaplace:
		if err := checkPureDelta(c.Delta); err != nil {
			return err
		}
	case MechGaussian:
		if err := checkGaussDelta(c.Delta); err != nil {
			return err
		}
		if err := checkBound("sigma", c.Sigma); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unknown mechanism %q", ErrInvalidBound, c.Mechanism)
	}
	if err := checkEpsilon(c.Epsilon); err != nil {
		return err
	}
	return checkBound("sensitivity", c.Sensitivity)
}

// Releaser adds calibrated noise to model outputs and charges every release
// to its ledger (if any) before handing it out. It is safe for concurrent
// use.
type Releaser struct {
	src    *Source
	ledger *Ledger
}

// Option configures a Releaser.
type Option func(*Releaser) error

// WithSource sets the randomness; the default is CryptoSource(). Only
// tests should pass NewTestingSource.
func WithSource(s *Source) Option {
	return func(r *Releaser) error {
		if s == nil {
			return fmt.Errorf("%w: nil source", ErrInvalidBound)
		}
		r.src = s
		return nil
	}
}

// WithLedger charges every release to l, which refuses releases past its
// budget. The default is no ledger: releases are not accounted.
func WithLedger(l *Ledger) Option {
	return func(r *Releaser) error {
		r.ledger = l
		return nil
	}
}

// New returns a Releaser.
func New(opts ...Option) (*Releaser, error) {
	r := &Releaser{}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	if r.src == nil {
		r.src = CryptoSource()
	}
	return r, nil
}

// Ledger returns the releaser's ledger, or nil.
func (r *Releaser) Ledger() *Ledger { return r.ledger }

// charge records c in the ledger; the caller releases only on nil.
func (r *Releaser) charge(c Cost) error {
	if r.ledger == nil {
		return nil
	}
	_, err := r.ledger.Charge(c)
	return err
}

// LabelRelease is a label released by randomized response.
type LabelRelease struct {
	Label int     `json:"label"`            // released label in [0, K)
	K     int     `json:"k"`                // number of labels
	P     float64 `json:"keep_probability"` // probability the true label was kept
	Cost  Cost    `json:"cost"`
}

// Label releases a predicted label in [0, k) with k-ary randomized
// response at eps: the true label with probability p = e^eps/(e^eps+k-1),
// otherwise one of the other k-1 labels uniformly. Sensitivity is not a
// parameter: any two labels are neighbours.
func (r *Releaser) Label(label, k int, eps float64) (LabelRelease, error) {
	if err := checkLabel(label, k, eps); err != nil {
		return LabelRelease{}, err
	}
	L := rrLambda(eps, k)
	out := r.src.randomizedResponse(label, k, L)
	c := Cost{Mechanism: MechRandomizedResponse, Epsilon: eps, Sensitivity: 1}
	if err := r.charge(c); err != nil {
		return LabelRelease{}, err
	}
	lam := math.Ldexp(float64(L), -rrBits)
	return LabelRelease{Label: out, K: k, P: lam + (1-lam)/float64(k), Cost: c}, nil
}

// UnaryRelease is a label released by optimized unary encoding: one bit per
// label.
type UnaryRelease struct {
	Bits []bool `json:"bits"`
	Cost Cost   `json:"cost"`
}

// LabelUnary releases a label in [0, k) with optimized unary encoding at
// eps (Wang et al. 2017): the true label's bit is 1 with probability 1/2,
// every other bit with probability 1/(e^eps+1). Its frequency estimates
// have variance 4e^eps/(n(e^eps-1)^2), independent of k, which beats
// randomized response when k > 3e^eps + 2.
func (r *Releaser) LabelUnary(label, k int, eps float64) (UnaryRelease, error) {
	if err := checkLabel(label, k, eps); err != nil {
		return UnaryRelease{}, err
	}
	Q := oueQ(eps)
	bits := make([]bool, k)
	for j := range bits {
		u := r.src.uint64() >> (64 - rrBits)
		if j == label {
			bits[j] = u < 1<<(rrBits-1)
		} else {
			bits[j] = u < Q
		}
	}
	c := Cost{Mechanism: MechUnaryEncoding, Epsilon: eps, Sensitivity: 1}
	if err := r.charge(c); err != nil {
		return UnaryRelease{}, err
	}
	return UnaryRelease{Bits: bits, Cost: c}, nil
}

// ScalarRelease is a released real value.
type ScalarRelease struct {
	Value float64 `json:"value"`
	Cost  Cost    `json:"cost"`
}

// VectorRelease is a released real vector.
type VectorRelease struct {
	Values []float64 `json:"values"`
	Cost   Cost      `json:"cost"`
}

// IntRelease is a released integer.
type IntRelease struct {
	Value int64 `json:"value"`
	Cost  Cost  `json:"cost"`
}

// Scalar releases a score with the Laplace mechanism at eps. The value is
// clamped to the declared range, so the sensitivity is rng.Hi - rng.Lo;
// rounding to the grid inflates it by one grid step (see Cost.GridStep).
func (r *Releaser) Scalar(x float64, rng Range, eps float64) (ScalarRelease, error) {
	v, err := r.laplace([]float64{x}, rng, 1, eps)
	if err != nil {
		return ScalarRelease{}, err
	}
	return ScalarRelease{Value: v.Values[0], Cost: v.Cost}, nil
}

// Logits releases a vector of logits (or scores) with the Laplace mechanism
// at eps. Every coordinate is clamped to the declared range, so the L1
// sensitivity is len(x) * (rng.Hi - rng.Lo): the whole vector may change
// between two inputs. Rounding to the grid adds len(x) grid steps.
func (r *Releaser) Logits(x []float64, rng Range, eps float64) (VectorRelease, error) {
	return r.laplace(x, rng, len(x), eps)
}

func (r *Releaser) laplace(x []float64, rng Range, n int, eps float64) (VectorRelease, error) {
	if err := checkEpsilon(eps); err != nil {
		return VectorRelease{}, err
	}
	if err := rng.check(); err != nil {
		return VectorRelease{}, err
	}
	if err := checkLen(len(x)); err != nil {
		return VectorRelease{}, err
	}
	if err := checkFinite(x); err != nil {
		return VectorRelease{}, err
	}
	sens := roundUp((rng.Hi-rng.Lo)*float64(n), 2)
	if err := checkBound("sensitivity", sens); err != nil {
		return VectorRelease{}, err
	}
	cl := make([]float64, len(x))
	for i, v := range x {
		cl[i] = clamp(v, rng.Lo, rng.Hi)
	}
	return r.laplaceRelease(cl, sens, rng.maxAbs(), eps)
}

func (r *Releaser) laplaceRelease(x []float64, sens, maxAbs, eps float64) (VectorRelease, error) {
	p := planLaplace(sens, len(x), maxAbs, eps)
	out := make([]float64, len(x))
	p.apply(r.src, x, out)
	c := Cost{Mechanism: MechLaplace, Epsilon: eps, Sensitivity: p.sensEff, Scale: p.sensEff / eps, GridStep: p.grid}
	if err := r.charge(c); err != nil {
		return VectorRelease{}, err
	}
	return VectorRelease{Values: out, Cost: c}, nil
}

// VectorL1 releases a vector with the Laplace mechanism at eps after
// clipping it to L1 norm clip. Two clipped vectors differ by at most
// 2*clip in L1 (local DP: any two inputs are neighbours), which is the
// sensitivity; rounding to the grid adds len(x) grid steps.
func (r *Releaser) VectorL1(x []float64, clip, eps float64) (VectorRelease, error) {
	if err := checkEpsilon(eps); err != nil {
		return VectorRelease{}, err
	}
	if err := checkBound("clip", clip); err != nil {
		return VectorRelease{}, err
	}
	if err := checkLen(len(x)); err != nil {
		return VectorRelease{}, err
	}
	if err := checkFinite(x); err != nil {
		return VectorRelease{}, err
	}
	var norm float64
	for _, v := range x {
		norm += math.Abs(v)
	}
	cl := clipScale(x, norm, clip)
	// The float sum behind the clipping has relative error below
	// (n+1)*2^-53; the sensitivity covers it.
	sens := roundUp(2*clip, len(x)+4)
	if err := checkBound("sensitivity", sens); err != nil {
		return VectorRelease{}, err
	}
	return r.laplaceRelease(cl, sens, clip, eps)
}

// clipScale returns x scaled by min(1, clip/norm).
func clipScale(x []float64, norm, clip float64) []float64 {
	out := make([]float64, len(x))
	f := 1.0
	if norm > clip {
		f = clip / norm
	}
	for i, v := range x {
		out[i] = v * f
	}
	return out
}

// Embedding releases a vector (typically an embedding) with the Gaussian
// mechanism at (eps, delta) after clipping it to L2 norm clip. The L2
// sensitivity is 2*clip (any two inputs are neighbours), inflated by
// sqrt(len(x)) grid steps for the rounding; sigma is the analytic Gaussian
// mechanism's (Balle & Wang 2018) for that sensitivity, and the noise is
// the exact discrete Gaussian on the grid.
func (r *Releaser) Embedding(x []float64, clip, eps, delta float64) (VectorRelease, error) {
	if err := ValidateEmbedding(clip, eps, delta); err != nil {
		return VectorRelease{}, err
	}
	if err := checkLen(len(x)); err != nil {
		return VectorRelease{}, err
	}
	if err := checkFinite(x); err != nil {
		return VectorRelease{}, err
	}
	// Scale first so that huge finite inputs cannot overflow the squares.
	var mx float64
	for _, v := range x {
		mx = math.Max(mx, math.Abs(v))
	}
	var norm float64
	if mx > 0 {
		var ss float64
		for _, v := range x {
			ss += (v / mx) * (v / mx)
		}
		norm = mx * math.Sqrt(ss)
	}
	cl := clipScale(x, norm, clip)
	sens := roundUp(2*clip, len(x)+8)
	if err := checkBound("sensitivity", sens); err != nil {
		return VectorRelease{}, err
	}
	p, err := planGaussian(sens, len(x), clip, eps, delta)
	if err != nil {
		return VectorRelease{}, err
	}
	out := make([]float64, len(x))
	p.apply(r.src, cl, out)
	c := Cost{Mechanism: MechGaussian, Epsilon: eps, Delta: delta, Sensitivity: p.sensEff, Sigma: p.sigma, GridStep: p.grid}
	if err := r.charge(c); err != nil {
		return VectorRelease{}, err
	}
	return VectorRelease{Values: out, Cost: c}, nil
}

// EmbeddingFloat32 is Embedding for float32 vectors (what lepton's Embed
// returns); the released values are rounded to float32, which is
// post-processing and costs no privacy.
func (r *Releaser) EmbeddingFloat32(x []float32, clip, eps, delta float64) ([]float32, Cost, error) {
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	rel, err := r.Embedding(x64, clip, eps, delta)
	if err != nil {
		return nil, Cost{}, err
	}
	out := make([]float32, len(x))
	for i, v := range rel.Values {
		out[i] = float32(v)
	}
	return out, rel.Cost, nil
}

// Integer releases an integer output (a count, a rank) with the discrete
// Laplace mechanism at eps: x is clamped to [lo, hi], the sensitivity is
// hi - lo, and the noise is exact: P(z) proportional to
// exp(-eps |z| / (hi-lo)). No grid is needed.
func (r *Releaser) Integer(x, lo, hi int64, eps float64) (IntRelease, error) {
	if err := checkEpsilon(eps); err != nil {
		return IntRelease{}, err
	}
	if hi <= lo || hi-lo <= 0 || hi-lo > 1<<53 { // hi-lo <= 0 catches overflow
		return IntRelease{}, &ParamError{Param: "range width", Value: float64(hi) - float64(lo), Err: ErrInvalidBound}
	}
	x = min(max(x, lo), hi)
	sens := hi - lo
	scale := newRatFloats(float64(sens), eps)
	z := r.src.discreteLaplace(scale)
	z.Add(z, bigInt(x))
	if !z.IsInt64() {
		// beyond int64: saturate (post-processing, no privacy cost)
		if z.Sign() > 0 {
			z.SetInt64(math.MaxInt64)
		} else {
			z.SetInt64(math.MinInt64)
		}
	}
	c := Cost{Mechanism: MechDiscreteLaplace, Epsilon: eps, Sensitivity: float64(sens), Scale: float64(sens) / eps, GridStep: 1}
	if err := r.charge(c); err != nil {
		return IntRelease{}, err
	}
	return IntRelease{Value: z.Int64(), Cost: c}, nil
}
