package lepton

import (
	"context"
	"fmt"
	"sync"

	"lepton/privacy"
)

// PrivacyCost is what one private release consumed (mechanism, epsilon,
// delta, sensitivity, noise, grid); see package privacy.
type PrivacyCost = privacy.Cost

// privacyConfig is the privacy part of a call's settings (callConfig.priv).
type privacyConfig struct {
	rel *privacy.Releaser // nil: defaultReleaser()

	labelEps float64 // randomized response on Classify's label; 0: off

	embedEps, embedDelta, embedClip float64 // Gaussian on Embed's vectors; eps 0: off

	// sink receives each embedding's cost (EmbedPrivate); nil otherwise.
	sink func(i int, c PrivacyCost)

	// applyLabel and applyEmbed are set by WithPrivateLabel and
	// WithPrivateEmbedding. Classify and Embed reach the privacy code
	// (randomized response, the Gaussian sampler, the ledger, crypto/rand)
	// only through them, so a program that never asks for private outputs
	// does not link it.
	applyLabel func(m *Model, cc *callConfig, out []Classification) error
	applyEmbed func(m *Model, cc *callConfig, out [][]float32) error
}

var (
	defaultRelOnce sync.Once
	defaultRel     *privacy.Releaser
)

// defaultReleaser is the releaser used when WithPrivacy was not given:
// crypto/rand noise and no ledger.
func defaultReleaser() *privacy.Releaser {
	defaultRelOnce.Do(func() {
		defaultRel, _ = privacy.New() // cannot fail without options
	})
	return defaultRel
}

func (p *privacyConfig) releaser() *privacy.Releaser {
	if p.rel != nil {
		return p.rel
	}
	return defaultReleaser()
}

// WithPrivacy sets the releaser used by WithPrivateLabel and
// WithPrivateEmbedding: its randomness and the ledger every release is
// charged to (privacy.New(privacy.WithLedger(...))). Without it, releases
// use crypto/rand and are not accounted. nil restores that default.
func WithPrivacy(r *privacy.Releaser) CallOption {
	return callOption(func(c *callConfig) error {
		c.priv.rel = r
		return nil
	})
}

// WithPrivateLabel makes Classify and ClassifyPairs release each result's
// label under eps-local differential privacy by k-ary randomized response
// (k = number of labels): the true argmax (after calibration, if any) is
// kept with probability e^eps/(e^eps+k-1), otherwise replaced by another
// label chosen uniformly. Label and Index are then the released label,
// Privacy reports the cost, and Probs and Logits are nil: publishing them
// would undo the guarantee. Each result is charged to the WithPrivacy
// ledger; a call whose results do not all fit the budget fails before
// releasing anything, with an error wrapping privacy.ErrBudgetExceeded.
// eps = 0 turns it off (the default); an eps that privacy rejects (NaN,
// infinite, below 2^-50) is an error.
func WithPrivateLabel(eps float64) CallOption {
	return callOption(func(c *callConfig) error {
		if eps != 0 {
			if err := privacy.ValidateEpsilon(eps); err != nil {
				return fmt.Errorf("%w: private label: %w", ErrInvalidOption, err)
			}
		}
		c.priv.labelEps = eps
		c.priv.applyLabel = (*Model).applyPrivacy
		return nil
	})
}

// WithPrivateEmbedding makes Embed release each vector under (eps,
// delta)-local differential privacy: the vector is clipped to L2 norm clip
// (so any two vectors differ by at most 2*clip) and the Gaussian mechanism
// adds noise with sigma from the analytic Gaussian mechanism, drawn exactly
// on a fine power-of-two grid (package privacy). Each vector is charged to
// the WithPrivacy ledger as in WithPrivateLabel; EmbedPrivate also returns
// the cost. Normalisation (WithNormalize) happens before clipping and
// noise, so released vectors are not unit length. eps = 0 turns it off
// (the default).
func WithPrivateEmbedding(eps, delta, clip float64) CallOption {
	return callOption(func(c *callConfig) error {
		if eps != 0 {
			// clip first under its own name: a bad clip must not be
			// reported as the sensitivity 2*clip derived from it.
			if err := privacy.ValidateEmbedding(clip, eps, delta); err != nil {
				return fmt.Errorf("%w: private embedding: %w", ErrInvalidOption, err)
			}
			if _, err := privacy.AnalyticGaussianSigma(eps, delta, 2*clip); err != nil {
				return fmt.Errorf("%w: private embedding: %w", ErrInvalidOption, err)
			}
		}
		c.priv.embedEps, c.priv.embedDelta, c.priv.embedClip = eps, delta, clip
		c.priv.applyEmbed = (*Model).applyEmbedPrivacy
		return nil
	})
}

// privacySink is the per-call option EmbedPrivate uses to collect costs.
type privacySink func(i int, c PrivacyCost)

func (s privacySink) applyCall(c *callConfig) error {
	c.priv.sink = s
	return nil
}

func (s privacySink) applyModel(*modelConfig) error {
	return fmt.Errorf("%w: privacy sink applies to one call", ErrInvalidOption)
}

// precheck refuses up front a batch whose releases cannot all fit the
// ledger's budget, so a failing call does not spend part of it.
func precheck(r *privacy.Releaser, c PrivacyCost, n int) error {
	led := r.Ledger()
	if led == nil {
		return nil
	}
	costs := make([]PrivacyCost, n)
	for i := range costs {
		costs[i] = c
	}
	return led.Check(costs...)
}

// check validates the privacy settings of a call once its options are
// resolved, before the input is looked at: a misconfigured call must fail
// the same way for every input, an empty batch included.
func (p *privacyConfig) check() error {
	if p.sink != nil && p.embedEps == 0 {
		return fmt.Errorf("%w: EmbedPrivate needs WithPrivateEmbedding", ErrInvalidOption)
	}
	return nil
}

// applyPrivacy replaces each classification by its private release (see
// WithPrivateLabel).
func (m *Model) applyPrivacy(cc *callConfig, out []Classification) error {
	p := &cc.priv
	if p.labelEps == 0 || len(out) == 0 {
		return nil
	}
	k := len(m.labels)
	r := p.releaser()
	if err := precheck(r, PrivacyCost{Mechanism: privacy.MechRandomizedResponse, Epsilon: p.labelEps, Sensitivity: 1}, len(out)); err != nil {
		return fmt.Errorf("private label: %w", err)
	}
	for i := range out {
		rel, err := r.Label(out[i].Index, k, p.labelEps)
		if err != nil {
			return fmt.Errorf("private label of input %d: %w", i, err)
		}
		cost := rel.Cost
		out[i] = Classification{Label: m.labels[rel.Label], Index: rel.Label, Privacy: &cost, Diagnostics: out[i].Diagnostics}
	}
	return nil
}

// applyEmbedPrivacy replaces each vector in place by its private release
// (see WithPrivateEmbedding).
func (m *Model) applyEmbedPrivacy(cc *callConfig, out [][]float32) error {
	p := &cc.priv
	if p.embedEps == 0 || len(out) == 0 {
		return nil
	}
	r := p.releaser()
	sigma, err := privacy.AnalyticGaussianSigma(p.embedEps, p.embedDelta, 2*p.embedClip)
	if err != nil {
		return fmt.Errorf("%w: private embedding: %w", ErrInvalidOption, err)
	}
	// The ledger's composition needs sigma and sensitivity; the grid
	// inflates both by about 2^-20, which this estimate ignores. Charge
	// still checks each release exactly.
	est := PrivacyCost{Mechanism: privacy.MechGaussian, Epsilon: p.embedEps, Delta: p.embedDelta, Sensitivity: 2 * p.embedClip, Sigma: sigma}
	if err := precheck(r, est, len(out)); err != nil {
		return fmt.Errorf("private embedding: %w", err)
	}
	for i, v := range out {
		noisy, cost, err := r.EmbeddingFloat32(v, p.embedClip, p.embedEps, p.embedDelta)
		if err != nil {
			return fmt.Errorf("private embedding of input %d: %w", i, err)
		}
		copy(v, noisy)
		if p.sink != nil {
			p.sink(i, cost)
		}
	}
	return nil
}

// PrivateEmbedding is one vector released by EmbedPrivate with its cost.
type PrivateEmbedding struct {
	Vector []float32
	Cost   PrivacyCost
	// Diagnostics say how much of the input the model read (exact, not
	// privatised: see Diagnostics).
	Diagnostics Diagnostics
}

// EmbedPrivate is Embed for callers that need each vector's privacy cost:
// it requires WithPrivateEmbedding (given here or at Open), and fails
// without it even on empty input, and returns every released vector with
// what it consumed.
func (m *Model) EmbedPrivate(ctx context.Context, texts []string, opts ...CallOption) ([]PrivateEmbedding, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	costs := make([]PrivacyCost, len(texts))
	all := make([]CallOption, 0, len(opts)+1)
	all = append(all, opts...)
	all = append(all, privacySink(func(i int, c PrivacyCost) { costs[i] = c }))
	diag := make([]Diagnostics, len(texts))
	vecs, err := m.embed(ctx, texts, all, diag, nil)
	if err != nil {
		return nil, err
	}
	out := make([]PrivateEmbedding, len(vecs))
	for i, v := range vecs {
		out[i] = PrivateEmbedding{Vector: v, Cost: costs[i], Diagnostics: diag[i]}
	}
	return out, nil
}
