package lepton

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/privacy"
)

func testReleaser(t *testing.T, seed uint64, b *privacy.Budget) (*privacy.Releaser, *privacy.Ledger) {
	t.Helper()
	opts := []privacy.Option{privacy.WithSource(privacy.NewTestingSource(seed))}
	var led *privacy.Ledger
	if b != nil {
		var err error
		led, err = privacy.NewMemoryLedger(*b)
		require.NoError(t, err)
		opts = append(opts, privacy.WithLedger(led))
	}
	r, err := privacy.New(opts...)
	require.NoError(t, err)
	return r, led
}

func TestClassifyPrivateLabel(t *testing.T) {
	m := fixtureModel(t)
	labels := m.Info().Labels
	ctx := context.Background()
	texts := []string{"a first text", "another one", "", "and a fourth"}
	raw, err := m.Classify(ctx, texts)
	require.NoError(t, err)

	r, led := testReleaser(t, 1, &privacy.Budget{Epsilon: 200})
	// eps = 40: the flip probability (k-1)e^-40 is ~1e-17, so the released
	// label is the true one.
	got, err := m.Classify(ctx, texts, WithPrivateLabel(40), WithPrivacy(r))
	require.NoError(t, err)
	require.Len(t, got, len(texts))
	for i, c := range got {
		require.Equal(t, raw[i].Index, c.Index)
		require.Equal(t, labels[c.Index], c.Label)
		require.Nil(t, c.Probs, "probabilities would undo the guarantee")
		require.Nil(t, c.Logits)
		require.NotNil(t, c.Privacy)
		require.Equal(t, privacy.MechRandomizedResponse, c.Privacy.Mechanism)
		require.Equal(t, 40.0, c.Privacy.Epsilon)
	}
	require.Equal(t, len(texts), led.Spent().Releases)
	require.InDelta(t, 160, led.Spent().Epsilon, 1e-9)

	// A ledger with room for 3 of the 4 releases refuses the whole call.
	r2, led2 := testReleaser(t, 2, &privacy.Budget{Epsilon: 1.5})
	_, err = m.Classify(ctx, texts, WithPrivateLabel(0.5), WithPrivacy(r2))
	require.ErrorIs(t, err, privacy.ErrBudgetExceeded)
	require.Equal(t, 0, led2.Spent().Releases, "refused up front: nothing spent")

	// Small eps: labels are randomised but stay valid.
	m2 := fixtureModel(t, WithPrivateLabel(0.01)) // Open-level default
	got, err = m2.Classify(ctx, texts)
	require.NoError(t, err)
	for _, c := range got {
		require.True(t, c.Index >= 0 && c.Index < len(labels))
		require.Equal(t, labels[c.Index], c.Label)
		require.Equal(t, 0.01, c.Privacy.Epsilon)
	}
	// and a per-call eps = 0 turns it off again
	got, err = m2.Classify(ctx, texts, WithPrivateLabel(0))
	require.NoError(t, err)
	require.Nil(t, got[0].Privacy)
	require.NotNil(t, got[0].Probs)

	// invalid epsilons
	for _, eps := range []float64{math.NaN(), math.Inf(1), -1, 1e-20} {
		_, err := m.Classify(ctx, texts, WithPrivateLabel(eps))
		require.ErrorIs(t, err, ErrInvalidOption)
		require.ErrorIs(t, err, privacy.ErrInvalidEpsilon)
	}
}

func TestEmbedPrivate(t *testing.T) {
	m := fixtureModel(t)
	ctx := context.Background()
	texts := []string{"one", "two words", ""}
	raw, err := m.Embed(ctx, texts, WithNormalize(true))
	require.NoError(t, err)

	_, err = m.EmbedPrivate(ctx, texts)
	require.ErrorIs(t, err, ErrInvalidOption)

	r, led := testReleaser(t, 3, &privacy.Budget{Epsilon: 10, Delta: 1e-4})
	got, err := m.EmbedPrivate(ctx, texts, WithNormalize(true), WithPrivateEmbedding(1, 1e-5, 1), WithPrivacy(r))
	require.NoError(t, err)
	require.Len(t, got, len(texts))
	sigma, err := privacy.AnalyticGaussianSigma(1, 1e-5, 2)
	require.NoError(t, err)
	var diffs []float64
	for i, e := range got {
		require.Len(t, e.Vector, len(raw[i]))
		require.Equal(t, privacy.MechGaussian, e.Cost.Mechanism)
		require.Equal(t, 1e-5, e.Cost.Delta)
		require.InEpsilon(t, sigma, e.Cost.Sigma, 1e-5)
		for j, v := range e.Vector {
			diffs = append(diffs, float64(v)-float64(raw[i][j]))
		}
	}
	require.Equal(t, len(texts), led.Spent().Releases)
	// The noise has sd sigma (~7.5): its mean and sd are each within 4.89
	// standard errors (alpha 1e-6 each; SE of the sd is sigma/sqrt(2n)).
	var mean, ss float64
	for _, d := range diffs {
		mean += d
	}
	mean /= float64(len(diffs))
	for _, d := range diffs {
		ss += (d - mean) * (d - mean)
	}
	sd := math.Sqrt(ss / float64(len(diffs)-1))
	require.InDelta(t, 0, mean, 4.89*sigma/math.Sqrt(float64(len(diffs))))
	require.InDelta(t, sigma, sd, 4.89*sigma/math.Sqrt(2*float64(len(diffs))))

	// Plain Embed with the option also releases privately.
	vecs, err := m.Embed(ctx, texts, WithPrivateEmbedding(1, 1e-5, 1), WithPrivacy(r))
	require.NoError(t, err)
	require.NotEqual(t, raw[0], vecs[0])

	// invalid parameters
	for _, c := range [][3]float64{{1, 0, 1}, {1, 1e-5, 0}, {math.NaN(), 1e-5, 1}, {1, 1e-5, math.Inf(1)}} {
		_, err := m.Embed(ctx, texts, WithPrivateEmbedding(c[0], c[1], c[2]))
		require.ErrorIs(t, err, ErrInvalidOption, "%v", c)
	}
}

// TestPrivateEmbeddingClipNamed: a bad clip is reported as the clip the
// caller gave, not as the sensitivity 2*clip derived from it ("sensitivity
// = -2" for --dp-embed-clip -1 was the bug).
func TestPrivateEmbeddingClipNamed(t *testing.T) {
	for _, clip := range []float64{-1, 0, math.NaN(), math.Inf(1), math.Inf(-1)} {
		var cc callConfig
		err := WithPrivateEmbedding(1, 1e-5, clip).applyCall(&cc)
		require.ErrorIs(t, err, ErrInvalidOption, "clip %v", clip)
		require.ErrorIs(t, err, privacy.ErrInvalidBound, "clip %v", clip)
		var pe *privacy.ParamError
		require.ErrorAs(t, err, &pe, "clip %v", clip)
		require.Equal(t, "clip", pe.Param)
		require.NotContains(t, err.Error(), "sensitivity =")
		require.Zero(t, cc.priv.embedEps, "option not applied")
	}
	// epsilon and delta keep precedence over the clip, as in Embedding.
	var cc callConfig
	err := WithPrivateEmbedding(math.NaN(), 1e-5, -1).applyCall(&cc)
	require.ErrorIs(t, err, privacy.ErrInvalidEpsilon)
	err = WithPrivateEmbedding(1, 2, -1).applyCall(&cc)
	require.ErrorIs(t, err, privacy.ErrInvalidDelta)
	require.NoError(t, WithPrivateEmbedding(1, 1e-5, 0.5).applyCall(&cc))
	require.Equal(t, 0.5, cc.priv.embedClip)
}

// TestPrivateMethodsConfigFirst: every method that can release privately
// checks its privacy configuration before it looks at the input, so nil,
// empty and non-empty input fail (or succeed) alike. EmbedPrivate without
// WithPrivateEmbedding used to succeed on nil and empty input because the
// empty-input early return came before the check.
func TestPrivateMethodsConfigFirst(t *testing.T) {
	ctx := context.Background()
	embedOK := WithPrivateEmbedding(1, 1e-5, 1)
	labelOK := WithPrivateLabel(40)
	plain := fixtureModel(t)
	atOpen := fixtureModel(t, embedOK, labelOK)
	// Each call returns how many results it gave, whether the result slice
	// is non-nil, and how many of them carry a privacy cost.
	type call func(m *Model, texts []string, opts ...CallOption) (n int, nonNil bool, private int, err error)
	embed := func(m *Model, texts []string, opts ...CallOption) (int, bool, int, error) {
		out, err := m.EmbedPrivate(ctx, texts, opts...)
		priv := 0
		for _, e := range out {
			if e.Cost.Mechanism == privacy.MechGaussian {
				priv++
			}
		}
		return len(out), out != nil, priv, err
	}
	classified := func(out []Classification, err error) (int, bool, int, error) {
		priv := 0
		for _, c := range out {
			if c.Privacy != nil {
				priv++
			}
		}
		return len(out), out != nil, priv, err
	}
	classify := func(m *Model, texts []string, opts ...CallOption) (int, bool, int, error) {
		return classified(m.Classify(ctx, texts, opts...))
	}
	classifyPairs := func(m *Model, texts []string, opts ...CallOption) (int, bool, int, error) {
		var pairs [][2]string
		if texts != nil {
			pairs = make([][2]string, len(texts))
			for i, s := range texts {
				pairs[i] = [2]string{s, "and a second text"}
			}
		}
		return classified(m.ClassifyPairs(ctx, pairs, opts...))
	}
	methods := []struct {
		name     string
		call     call
		need     CallOption // the configuration that makes it release privately
		bad      CallOption // an invalid form of that configuration
		required bool       // without need the call is an error
	}{
		{"EmbedPrivate", embed, embedOK, WithPrivateEmbedding(math.NaN(), 1e-5, 1), true},
		{"Classify", classify, labelOK, WithPrivateLabel(math.NaN()), false},
		{"ClassifyPairs", classifyPairs, labelOK, WithPrivateLabel(-1), false},
	}
	inputs := []struct {
		name  string
		texts []string
	}{{"nil", nil}, {"empty", []string{}}, {"one", []string{"one text"}}}
	for _, mt := range methods {
		for _, in := range inputs {
			t.Run(mt.name+"/"+in.name, func(t *testing.T) {
				_, _, _, err := mt.call(plain, in.texts, mt.bad)
				require.ErrorIs(t, err, ErrInvalidOption, "invalid configuration")
				_, _, _, err = mt.call(atOpen, in.texts, mt.bad)
				require.ErrorIs(t, err, ErrInvalidOption, "invalid per-call configuration over a valid Open one")

				_, _, _, err = mt.call(plain, in.texts)
				if mt.required {
					require.ErrorIs(t, err, ErrInvalidOption, "unconfigured")
				} else {
					require.NoError(t, err, "unconfigured")
				}

				for _, c := range []struct {
					name string
					m    *Model
					opts []CallOption
				}{{"per call", plain, []CallOption{mt.need}}, {"at Open", atOpen, nil}} {
					n, nonNil, priv, err := mt.call(c.m, in.texts, c.opts...)
					require.NoError(t, err, c.name)
					require.Equal(t, len(in.texts), n, c.name)
					require.True(t, nonNil, "%s: a successful call returns a non-nil slice", c.name)
					require.Equal(t, n, priv, "%s: every result is a private release", c.name)
				}
			})
		}
	}
}
