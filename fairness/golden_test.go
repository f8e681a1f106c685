package fairness

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// skGolden mirrors testdata/golden/sklearn.json, written by make_golden.py
// with scikit-learn 1.2 / scipy 1.10 on testdata/golden/synthetic.csv.
type skGolden struct {
	Overall                     skMetrics                `json:"overall"`
	Groups                      map[string]skMetrics     `json:"groups"`
	DemographicParityDifference float64                  `json:"demographic_parity_difference"`
	EqualizedOddsDifference     float64                  `json:"equalized_odds_difference"`
	PlattB                      struct{ A, B float64 }   `json:"platt_b"`
	TemperatureB                float64                  `json:"temperature_b"`
	IsotonicB                   struct{ X, Y []float64 } `json:"isotonic_b"`
	Coins                       map[string]float64       `json:"coins"`
}

type skMetrics struct {
	Count         int        `json:"count"`
	Accuracy      float64    `json:"accuracy"`
	AccuracyCI    [2]float64 `json:"accuracy_ci"`
	SelectionRate float64    `json:"selection_rate"`
	TPR           float64    `json:"tpr"`
	TPRCI         [2]float64 `json:"tpr_ci"`
	FPR           float64    `json:"fpr"`
	Precision     float64    `json:"precision"`
	Brier         float64    `json:"brier"`
	LogLoss       float64    `json:"log_loss"`
	ECE           float64    `json:"ece"`
}

func loadGolden(t *testing.T) ([]Sample, skGolden) {
	t.Helper()
	ss, err := ReadFile(filepath.Join("testdata", "golden", "synthetic.csv"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "sklearn.json"))
	require.NoError(t, err)
	var g skGolden
	require.NoError(t, json.Unmarshal(b, &g))
	return ss, g
}

func TestMetricsMatchSklearn(t *testing.T) {
	ss, g := loadGolden(t)
	acc := NewAccumulator(1, 50)
	for _, s := range ss {
		require.NoError(t, acc.Add(s.Group, s.Label, s.Probs))
	}
	r := acc.Report()
	check := func(name string, want skMetrics, got GroupMetrics) {
		require.EqualValues(t, want.Count, got.Count, name)
		require.InDelta(t, want.Accuracy, got.Accuracy.Value, 1e-12, name)
		require.InDelta(t, want.AccuracyCI[0], got.Accuracy.Lo, 1e-12, name)
		require.InDelta(t, want.AccuracyCI[1], got.Accuracy.Hi, 1e-12, name)
		require.InDelta(t, want.SelectionRate, got.SelectionRate.Value, 1e-12, name)
		require.InDelta(t, want.TPR, got.TPR.Value, 1e-12, name)
		require.InDelta(t, want.TPRCI[0], got.TPR.Lo, 1e-12, name)
		require.InDelta(t, want.TPRCI[1], got.TPR.Hi, 1e-12, name)
		require.InDelta(t, want.FPR, got.FPR.Value, 1e-12, name)
		require.InDelta(t, 1-want.FPR, got.TNR.Value, 1e-12, name)
		require.InDelta(t, 1-want.TPR, got.FNR.Value, 1e-12, name)
		require.InDelta(t, want.Precision, got.Precision.Value, 1e-12, name)
		require.InDelta(t, want.Brier, got.Brier.Value, 1e-12, name)
		require.InDelta(t, want.LogLoss, got.LogLoss.Value, 1e-12, name)
		require.InDelta(t, want.ECE, got.ECE.Value, 1e-12, name)
	}
	check("overall", g.Overall, r.Overall)
	for _, gm := range r.Groups {
		check(gm.Group, g.Groups[gm.Group], gm)
		require.Equal(t, gm.Count < 50, gm.Small, gm.Group)
	}
	require.InDelta(t, g.DemographicParityDifference, r.DemographicParityDifference.Value, 1e-12)
	require.InDelta(t, g.EqualizedOddsDifference, r.EqualizedOddsDifference.Value, 1e-12)
}

func groupSamples(ss []Sample, g string) []Sample {
	var out []Sample
	for _, s := range ss {
		if s.Group == g {
			out = append(out, s)
		}
	}
	return out
}

func TestCalibrationMatchesSklearn(t *testing.T) {
	ss, g := loadGolden(t)
	b := groupSamples(ss, "b")
	a, bb := fitPlatt(b)
	// The ridge of 1e-6 towards (1, 0) moves the optimum by about that much.
	require.InDelta(t, g.PlattB.A, a, 1e-4)
	require.InDelta(t, g.PlattB.B, bb, 1e-4)
	require.InDelta(t, g.TemperatureB, fitTemperature(b), 1e-6)
	xs, ys := fitIsotonic(b)
	for i, x := range g.IsotonicB.X {
		require.InDelta(t, g.IsotonicB.Y[i], isotonicAt(xs, ys, x), 1e-12, "isotonic at %v", x)
	}
}

func TestCalibrationProperties(t *testing.T) {
	ss, _ := loadGolden(t)
	for _, m := range []Method{Temperature, Platt, Isotonic} {
		t.Run(string(m), func(t *testing.T) {
			cal, err := FitCalibration(ss, m, 30)
			require.NoError(t, err)
			for _, grp := range []string{"a", "b", "c"} {
				sub := groupSamples(ss, grp)
				before, after := NewAccumulator(1, 0), NewAccumulator(1, 0)
				prev, prevOut := -1.0, -1.0
				sorted := append([]Sample(nil), sub...)
				sortByScore(sorted)
				for _, s := range sorted {
					p, err := cal.Apply(grp, s.Probs, UnknownError)
					require.NoError(t, err)
					require.InDelta(t, 1, p[0]+p[1], 1e-12)
					require.NoError(t, before.Add(grp, s.Label, s.Probs))
					require.NoError(t, after.Add(grp, s.Label, p))
					// Monotone: calibration keeps the ranking.
					if s.Probs[1] > prev {
						require.GreaterOrEqual(t, p[1], prevOut-1e-12)
					}
					if m == Temperature {
						require.Equal(t, argmax(s.Probs), argmax(p), "temperature changed the argmax")
					}
					prev, prevOut = s.Probs[1], p[1]
				}
				rb, ra := before.Report(), after.Report()
				if m == Isotonic {
					require.Less(t, ra.Overall.Brier.Value, rb.Overall.Brier.Value, grp)
				} else {
					require.Less(t, ra.Overall.LogLoss.Value, rb.Overall.LogLoss.Value, grp)
				}
			}
		})
	}
}

func sortByScore(ss []Sample) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j].Probs[1] < ss[j-1].Probs[1]; j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

func TestTemperatureIdentityAndArgmax(t *testing.T) {
	c := &Calibration{Method: Temperature, Classes: 4, Global: CalParams{Temperature: 1}, Groups: map[string]CalParams{"g": {Temperature: 1}}}
	logits := []float64{2.5, -1, 0.25, 7}
	p, err := c.ApplyLogits("g", logits, UnknownError)
	require.NoError(t, err)
	require.Equal(t, Softmax(logits), p)
	probs := Softmax(logits)
	q, err := c.Apply("g", probs, UnknownError)
	require.NoError(t, err)
	require.InDeltaSlice(t, probs, q, 1e-15)
	for _, temp := range []float64{0.01, 0.5, 3, 1000} {
		c.Groups["g"] = CalParams{Temperature: temp}
		q, err := c.ApplyLogits("g", logits, UnknownError)
		require.NoError(t, err)
		require.Equal(t, 3, argmax(q), "T=%v", temp)
	}
	_, err = c.Apply("h", probs, UnknownError)
	require.ErrorIs(t, err, ErrUnknownGroup)
	_, err = c.Apply("h", probs, UnknownFallback)
	require.NoError(t, err)
	_, err = c.Apply("g", probs[:3], UnknownError)
	require.ErrorIs(t, err, ErrShape)
	_, err = c.Apply("g", []float64{math.NaN(), 0, 0, 1}, UnknownError)
	require.ErrorIs(t, err, ErrInvalidScore)
	_, err = c.ApplyLogits("g", []float64{math.Inf(1), 0, 0, 1}, UnknownError)
	require.ErrorIs(t, err, ErrInvalidScore)
}

func TestTemperatureMultiClassLowersLogLoss(t *testing.T) {
	// Over-confident 3-class logits: temperature fitting must raise T above
	// 1 and lower each group's log loss on its fit data.
	var ss []Sample
	seed := uint64(1)
	next := func() float64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / (1 << 53)
	}
	for i := range 600 {
		g := []string{"x", "y"}[i%2]
		label := int(next() * 3)
		z := make([]float64, 3)
		for k := range z {
			z[k] = 4 * (next() - 0.5)
		}
		if next() < 0.7 {
			z[label] += 3
		}
		for k := range z {
			z[k] *= 3 // over-confident
		}
		ss = append(ss, Sample{Group: g, Label: label, Logits: z, Probs: Softmax(z)})
	}
	cal, err := FitCalibration(ss, Temperature, 30)
	require.NoError(t, err)
	for g, p := range cal.Groups {
		require.Greater(t, p.Temperature, 1.0, g)
		var before, after float64
		for _, s := range groupSamples(ss, g) {
			q, err := cal.ApplySample(s, UnknownError)
			require.NoError(t, err)
			require.Equal(t, argmax(s.Probs), argmax(q))
			before -= math.Log(s.Probs[s.Label])
			after -= math.Log(q[s.Label])
		}
		require.Less(t, after, before, g)
	}
	_, err = FitCalibration(ss, Platt, 30)
	require.ErrorIs(t, err, ErrUnsupported)
}

func TestSmallGroupFallsBack(t *testing.T) {
	ss, _ := loadGolden(t)
	cal, err := FitCalibration(ss, Platt, 50) // c has 41 rows
	require.NoError(t, err)
	require.True(t, cal.Groups["c"].Fallback)
	require.Equal(t, cal.Global.A, cal.Groups["c"].A)
	require.False(t, cal.Groups["a"].Fallback)
	require.Equal(t, 41, cal.Groups["c"].Count)
}

// TestCoinMatchesPython checks Coin against Python's hmac/hashlib, bit for
// bit: an auditor can recompute any decision's coin outside Lepton.
func TestCoinMatchesPython(t *testing.T) {
	_, g := loadGolden(t)
	require.Len(t, g.Coins, 5)
	for id, want := range g.Coins {
		require.Equal(t, want, Coin([]byte("audit-key"), id), "request %q", id)
	}
}
