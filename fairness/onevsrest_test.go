package fairness

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// threeClassSamples are deterministic 3-class outputs for groups a and b,
// with class 2 as likely as its score says.
func threeClassSamples() []Sample {
	var ss []Sample
	for i := range 300 {
		g := "a"
		if i%3 == 0 {
			g = "b"
		}
		p2 := 0.5 + 0.45*math.Sin(float64(i)*0.77)
		if g == "b" {
			p2 *= 0.8
		}
		rest := 1 - p2
		p0 := rest * (0.5 + 0.4*math.Cos(float64(i)*1.3))
		label := i % 2 // 0 or 1 ...
		if math.Mod(float64(i)*0.61803, 1) < p2 {
			label = 2 // ... or 2, about as often as p2 says
		}
		ss = append(ss, Sample{Group: g, Label: label, Probs: []float64{p0, rest - p0, p2}, Line: i + 2})
	}
	return ss
}

// TestOneVsRest: rules for one class of a 3-class model are the rules
// fitted on the hand-made binary problem "class 2 or not", recorded with
// the class and the original number of classes, and they round-trip and
// validate.
func TestOneVsRest(t *testing.T) {
	ss := threeClassSamples()
	a, err := NewOneVsRestThresholdArtefact(ss, 2, DemographicParity, ThresholdOptions{Grid: 100}, 10)
	require.NoError(t, err)
	require.Equal(t, 3, a.Classes)
	require.Equal(t, 2, a.PositiveClass())
	require.NotNil(t, a.Thresholds.PositiveClass)

	bin := make([]Sample, len(ss))
	for i, s := range ss {
		y := 0
		if s.Label == 2 {
			y = 1
		}
		bin[i] = Sample{Group: s.Group, Label: y, Probs: []float64{1 - s.Probs[2], s.Probs[2]}, Line: s.Line}
	}
	got, err := OneVsRest(ss, 2)
	require.NoError(t, err)
	require.Equal(t, bin, got)
	want, err := NewThresholdArtefact(bin, DemographicParity, ThresholdOptions{Grid: 100}, 10)
	require.NoError(t, err)
	require.Equal(t, want.Thresholds.Groups, a.Thresholds.Groups)
	require.Equal(t, want.FitSHA256, a.FitSHA256)
	require.Equal(t, 1, want.PositiveClass(), "a binary artefact decides on class 1")

	// Round trip; a class out of range or a multi-class artefact without
	// one is refused.
	b, err := a.Marshal()
	require.NoError(t, err)
	back, err := Load(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, 2, *back.Thresholds.PositiveClass)
	for name, f := range map[string]func(m map[string]any){
		"class too large":   func(m map[string]any) { m["thresholds"].(map[string]any)["positive_class"] = 3 },
		"class negative":    func(m map[string]any) { m["thresholds"].(map[string]any)["positive_class"] = -1 },
		"no positive class": func(m map[string]any) { delete(m["thresholds"].(map[string]any), "positive_class") },
	} {
		_, err := Load(bytes.NewReader(mutate(t, b, f)))
		require.ErrorIs(t, err, ErrBadArtefact, name)
	}
	_, err = OneVsRest(ss, 3)
	require.ErrorIs(t, err, ErrShape)
	_, err = NewOneVsRestThresholdArtefact(nil, 0, DemographicParity, ThresholdOptions{}, 1)
	require.ErrorIs(t, err, ErrEmpty)

	// A report applies them to the 3-class samples: the decision stage is
	// the binary one of the hand-made problem.
	fr, _, err := BuildReport(ReportInput{Samples: ss, Thresholds: a.Thresholds})
	require.NoError(t, err)
	frBin, _, err := BuildReport(ReportInput{Samples: bin, Thresholds: want.Thresholds})
	require.NoError(t, err)
	last := fr.Stages[len(fr.Stages)-1].Report
	require.Equal(t, 2, last.Classes)
	require.Equal(t, frBin.Stages[len(frBin.Stages)-1].Report.Overall.SelectionRate, last.Overall.SelectionRate)
}
