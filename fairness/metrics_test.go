package fairness

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUndefinedRates(t *testing.T) {
	acc := NewAccumulator(1, 3)
	// Group "neg" has no positives: TPR and FNR are undefined, not 0.
	require.NoError(t, acc.Add("neg", 0, BinaryProbs(0.2)))
	require.NoError(t, acc.Add("neg", 0, BinaryProbs(0.7)))
	// Group "pos" never predicts positive: precision is undefined.
	require.NoError(t, acc.Add("pos", 1, BinaryProbs(0.1)))
	r := acc.Report()
	neg, ok := r.Group("neg")
	require.True(t, ok)
	require.False(t, neg.TPR.Defined)
	require.False(t, neg.FNR.Defined)
	require.True(t, neg.FPR.Defined)
	require.Equal(t, 0.5, neg.FPR.Value)
	require.True(t, neg.Small)
	pos, _ := r.Group("pos")
	require.False(t, pos.Precision.Defined)
	require.False(t, pos.FPR.Defined)
	require.Equal(t, 0.0, pos.TPR.Value)
	require.True(t, pos.TPR.Defined)
	// JSON writes null for undefined values.
	b, err := json.Marshal(neg.TPR)
	require.NoError(t, err)
	require.JSONEq(t, `{"value":null,"num":0,"den":0}`, string(b))
	var back Metric
	require.NoError(t, json.Unmarshal(b, &back))
	require.False(t, back.Defined)
	// The TPR and FPR disparities have one defined group each: no
	// between-group comparison exists, so they are undefined (null), not
	// 0 as Fairlearn's NaN-dropping max-min would report.
	seen := 0
	for _, d := range r.Disparities {
		switch d.Metric {
		case "tpr", "fpr", "fnr", "tnr", "precision":
			seen++
			require.Equal(t, 1, d.Groups, d.Metric)
			require.False(t, d.Difference.Defined, d.Metric)
			require.False(t, d.Ratio.Defined, d.Metric)
			require.False(t, d.DifferenceToOverall.Defined, d.Metric)
			require.False(t, d.RatioToOverall.Defined, d.Metric)
		case "accuracy", "selection_rate":
			require.Equal(t, 2, d.Groups, d.Metric)
			require.True(t, d.Difference.Defined, d.Metric)
		}
	}
	require.Equal(t, 5, seen)
	require.False(t, r.EqualOpportunityDifference.Defined)
	require.False(t, r.EqualizedOddsDifference.Defined)
	require.True(t, r.DemographicParityDifference.Defined)
	b, err = json.Marshal(r.EqualOpportunityDifference)
	require.NoError(t, err)
	require.Contains(t, string(b), `"value":null`)
	require.Equal(t, "undefined", neg.TPR.String())
}

func TestEmptyAndAwkwardSizes(t *testing.T) {
	acc := NewAccumulator(1, 0)
	r := acc.Report()
	require.Empty(t, r.Groups)
	require.False(t, r.Overall.Accuracy.Defined)
	require.False(t, r.DemographicParityDifference.Defined)
	require.Error(t, acc.Add("g", 0, []float64{1}))
	require.ErrorIs(t, acc.Add("g", 2, BinaryProbs(0.5)), ErrShape)
	require.ErrorIs(t, acc.Add("g", 1, []float64{math.NaN(), 0.5}), ErrInvalidScore)
	require.ErrorIs(t, acc.Add("g", 1, BinaryProbs(1.5)), ErrInvalidScore)
	require.NoError(t, acc.Add("g", 0, BinaryProbs(0.5)))
	require.ErrorIs(t, acc.Add("g", 0, []float64{0.2, 0.3, 0.5}), ErrShape)
	require.ErrorIs(t, acc.AddDecision("g", 0, BinaryProbs(0.5), 1.5), ErrUnsupported)
	r = acc.Report()
	require.EqualValues(t, 1, r.Overall.Count)
	// Score exactly 0.5 decides class 0 (argmax ties go low), score 1 bins
	// into the last bin, score 0 into the first.
	require.Equal(t, 0.0, r.Overall.SelectionRate.Value)
	require.NoError(t, acc.Add("g", 1, BinaryProbs(1)))
	require.NoError(t, acc.Add("g", 1, BinaryProbs(0)))
	r = acc.Report()
	require.Equal(t, 1.0, r.Overall.Reliability[ECEBins-1].Count)
	require.Equal(t, 1.0, r.Overall.Reliability[0].Count)
	require.Equal(t, 1.0, r.Overall.Reliability[7].Count) // 0.5*15 = 7.5
	// Log loss of a confident mistake is large but finite (clipped).
	require.False(t, math.IsInf(r.Overall.LogLoss.Value, 0))
}

func TestMergeEqualsSingle(t *testing.T) {
	ss, _ := loadGolden(t)
	whole := NewAccumulator(1, 10)
	parts := []*Accumulator{NewAccumulator(1, 10), NewAccumulator(1, 10), NewAccumulator(1, 10)}
	for i, s := range ss {
		require.NoError(t, whole.Add(s.Group, s.Label, s.Probs))
		require.NoError(t, parts[i%3].Add(s.Group, s.Label, s.Probs))
	}
	merged := NewAccumulator(1, 10)
	for _, p := range parts {
		require.NoError(t, merged.Merge(p))
	}
	a, b := whole.Report(), merged.Report()
	require.Equal(t, len(a.Groups), len(b.Groups))
	for i := range a.Groups {
		require.Equal(t, a.Groups[i].Count, b.Groups[i].Count)
		require.InDelta(t, a.Groups[i].Accuracy.Value, b.Groups[i].Accuracy.Value, 1e-12)
		require.InDelta(t, a.Groups[i].LogLoss.Value, b.Groups[i].LogLoss.Value, 1e-12)
		require.InDelta(t, a.Groups[i].ECE.Value, b.Groups[i].ECE.Value, 1e-12)
	}
	require.ErrorIs(t, merged.Merge(NewAccumulator(0, 10)), ErrShape)
}

func TestDisparityToOverall(t *testing.T) {
	acc := NewAccumulator(1, 0)
	// Group a selects 1/2, group b 1/4: overall 2/6.
	for _, s := range []struct {
		g string
		p float64
	}{{"a", 0.9}, {"a", 0.1}, {"b", 0.9}, {"b", 0.1}, {"b", 0.1}, {"b", 0.1}} {
		require.NoError(t, acc.Add(s.g, 0, BinaryProbs(s.p)))
	}
	r := acc.Report()
	d := r.Disparities[1]
	require.Equal(t, "selection_rate", d.Metric)
	require.InDelta(t, 0.25, d.Difference.Value, 1e-15)
	require.InDelta(t, 0.5, d.Ratio.Value, 1e-15)
	require.InDelta(t, 0.5-1.0/3, d.DifferenceToOverall.Value, 1e-15)
	// a is further from overall in ratio: (1/3)/(1/2) < (1/4)/(1/3).
	require.InDelta(t, (1.0/3)/0.5, d.RatioToOverall.Value, 1e-15)
	require.InDelta(t, 0.25, r.DemographicParityDifference.Value, 1e-15)
}

func TestWilson(t *testing.T) {
	// Textbook case: 0 of 10 gives [0, 0.2775].
	m := rate(0, 10)
	require.Equal(t, 0.0, m.Lo)
	require.InDelta(t, 0.27753279986288, m.Hi, 1e-10)
	m = rate(10, 10)
	require.InDelta(t, 1-0.27753279986288, m.Lo, 1e-10)
	require.Equal(t, 1.0, m.Hi)
	require.False(t, rate(0, 0).Defined)
}
