package lepton

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
)

// tempArtefact fits temperature scaling for groups "a" and "b" on
// synthetic nl-class logits: "a" over-confident, "b" under-confident.
func tempArtefact(t *testing.T, nl int) *fairness.Artefact {
	t.Helper()
	var ss []fairness.Sample
	seed := uint64(3)
	next := func() float64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / (1 << 53)
	}
	for i := range 400 {
		g, scale := "a", 4.0
		if i%2 == 1 {
			g, scale = "b", 0.3
		}
		label := int(next() * float64(nl))
		z := make([]float64, nl)
		for k := range z {
			z[k] = next() - 0.5
		}
		if next() < 0.75 {
			z[label] += 1.5
		}
		for k := range z {
			z[k] *= scale
		}
		ss = append(ss, fairness.Sample{Group: g, Label: label, Logits: z, Probs: fairness.Softmax(z)})
	}
	a, err := fairness.NewCalibrationArtefact(ss, fairness.Temperature, 30)
	require.NoError(t, err)
	require.Greater(t, a.Calibration.Groups["a"].Temperature, 1.0)
	require.Less(t, a.Calibration.Groups["b"].Temperature, 1.0)
	return a
}

func TestClassifyWithCalibration(t *testing.T) {
	m := fixtureModel(t)
	nl := len(m.Info().Labels)
	art := tempArtefact(t, nl)
	ctx := context.Background()
	texts := []string{"a first text", "another one", ""}
	raw, err := m.Classify(ctx, texts)
	require.NoError(t, err)
	groups := []string{"a", "b", "a"}
	cal, err := m.Classify(ctx, texts, WithCalibration(art, fairness.UnknownError), WithGroups(groups...))
	require.NoError(t, err)
	for i := range texts {
		require.Equal(t, raw[i].Logits, cal[i].Logits, "logits stay raw")
		temp := art.Calibration.Groups[groups[i]].Temperature
		var sum float64
		want := make([]float64, nl)
		for k, z := range raw[i].Logits {
			want[k] = math.Exp(float64(z) / temp)
			sum += want[k]
		}
		for k := range want {
			require.InDelta(t, want[k]/sum, float64(cal[i].Probs[k]), 1e-6, "input %d class %d", i, k)
		}
		require.Equal(t, raw[i].Index, cal[i].Index, "temperature keeps the argmax")
		require.Equal(t, raw[i].Label, cal[i].Label)
	}

	// One group for every input.
	one, err := m.Classify(ctx, texts, WithCalibration(art, fairness.UnknownError), WithGroups("b"))
	require.NoError(t, err)
	require.Equal(t, cal[1].Probs, one[1].Probs)

	// Unknown groups: an error by default, the global fit when asked.
	_, err = m.Classify(ctx, texts, WithCalibration(art, fairness.UnknownError), WithGroups("a", "zz", "a"))
	require.ErrorIs(t, err, fairness.ErrUnknownGroup)
	require.ErrorIs(t, err, ErrInvalidInput)
	_, err = m.Classify(ctx, texts, WithCalibration(art, fairness.UnknownError))
	require.ErrorIs(t, err, fairness.ErrUnknownGroup, "no group at all is unknown too")
	fb, err := m.Classify(ctx, texts, WithCalibration(art, fairness.UnknownFallback), WithGroups("zz"))
	require.NoError(t, err)
	require.NotEqual(t, raw[0].Probs, fb[0].Probs)

	// Bad settings fail before inference.
	_, err = m.Classify(ctx, texts, WithGroups("a", "b"))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = m.Classify(ctx, texts, WithCalibration(tempArtefact(t, nl+1), fairness.UnknownError), WithGroups("a"))
	require.ErrorIs(t, err, ErrInvalidOption)
	bad := *art
	bad.Version = 9
	_, err = m.Classify(ctx, texts, WithCalibration(&bad, fairness.UnknownError))
	require.ErrorIs(t, err, ErrInvalidOption)
	require.ErrorIs(t, err, fairness.ErrVersion)
	_, err = OpenBytes(fixtureData, WithGroups("a"))
	require.ErrorIs(t, err, ErrInvalidOption)

	// At Open, calibration becomes the default of every call; nil turns
	// it off for one call.
	m2 := fixtureModel(t, WithCalibration(art, fairness.UnknownError))
	def, err := m2.Classify(ctx, texts, WithGroups(groups...))
	require.NoError(t, err)
	require.Equal(t, cal[0].Probs, def[0].Probs)
	off, err := m2.Classify(ctx, texts, WithCalibration(nil, fairness.UnknownError))
	require.NoError(t, err)
	require.Equal(t, raw[2].Probs, off[2].Probs)
	pairs, err := m2.ClassifyPairs(ctx, [][2]string{{"x", "y"}}, WithGroups("b"))
	require.NoError(t, err)
	require.Len(t, pairs, 1)
	require.False(t, errors.Is(err, ErrInvalidInput))
}

func TestClassificationDecide(t *testing.T) {
	// A binary classification and a demographic-parity artefact fitted on
	// synthetic scores.
	var ss []fairness.Sample
	for i := range 200 {
		g := []string{"a", "b"}[i%2]
		s := float64(i%50)/50 + 0.01
		label := 0
		if (i*7)%10 < int(10*s) {
			label = 1
		}
		ss = append(ss, fairness.Sample{Group: g, Label: label, Probs: fairness.BinaryProbs(s)})
	}
	art, err := fairness.NewThresholdArtefact(ss, fairness.DemographicParity, fairness.ThresholdOptions{}, 30)
	require.NoError(t, err)
	c := Classification{Label: "pos", Index: 1, Probs: []float32{0.3, 0.7}}
	d, err := c.Decide(art, "a", []byte("k"), "req-1", fairness.UnknownError)
	require.NoError(t, err)
	want, err := art.Thresholds.Decide("a", float64(float32(0.7)), []byte("k"), "req-1", fairness.UnknownError)
	require.NoError(t, err)
	require.Equal(t, want, d)
	d2, err := c.Decide(art, "a", nil, "req-1", fairness.UnknownError)
	require.NoError(t, err)
	require.Equal(t, fairness.Coin(art.Key(), "req-1"), d2.Coin)

	_, err = c.Decide(art, "z", nil, "r", fairness.UnknownError)
	require.ErrorIs(t, err, fairness.ErrUnknownGroup)
	_, err = c.Decide(nil, "a", nil, "r", fairness.UnknownError)
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = Classification{Probs: []float32{0.2, 0.3, 0.5}}.Decide(art, "a", nil, "r", fairness.UnknownError)
	require.ErrorIs(t, err, ErrInvalidInput)

	// One-vs-rest rules for class 2 of a 3-label model decide on
	// Probs[2], as the binary rules fitted on "class 2 or not" do.
	var ss3 []fairness.Sample
	for _, s := range ss {
		p := s.Probs[1]
		label := 2 * s.Label // class 2 when positive, else class 0
		ss3 = append(ss3, fairness.Sample{Group: s.Group, Label: label, Probs: []float64{(1 - p) / 2, (1 - p) / 2, p}})
	}
	ovr, err := fairness.NewOneVsRestThresholdArtefact(ss3, 2, fairness.DemographicParity, fairness.ThresholdOptions{}, 30)
	require.NoError(t, err)
	c3 := Classification{Label: "c", Index: 2, Probs: []float32{0.15, 0.15, 0.7}}
	d3, err := c3.Decide(ovr, "a", []byte("k"), "req-1", fairness.UnknownError)
	require.NoError(t, err)
	want, err = ovr.Thresholds.Decide("a", float64(float32(0.7)), []byte("k"), "req-1", fairness.UnknownError)
	require.NoError(t, err)
	require.Equal(t, want, d3)
	_, err = c.Decide(ovr, "a", nil, "r", fairness.UnknownError) // 2 labels, rules for 3
	require.ErrorIs(t, err, ErrInvalidInput)
}
