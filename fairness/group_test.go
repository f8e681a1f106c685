package fairness

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonicalGroup(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1.0", "1"},
		{"1", "1"},
		{"-2.00", "-2"},
		{" A ", "A"},
		{"\t1.0\n", "1"},
		{"01", "01"}, // opaque: a leading zero may matter (site codes)
		{"01.0", "01"},
		{"1.", "1."},
		{".0", ".0"},
		{"-.0", "-.0"},
		{"1.5", "1.5"},
		{"1.05", "1.05"},
		{"1e0", "1e0"},
		{"+1.0", "+1.0"},
		{"0x10", "0x10"},
		{"a.0", "a.0"},
		{"1.0.0", "1.0.0"},
		{"NaN", "NaN"},
		{"", ""},
		{"   ", ""},
	} {
		require.Equal(t, c.want, CanonicalGroup(c.in), "%q", c.in)
		require.Equal(t, c.want, CanonicalGroup(c.want), "idempotent on %q", c.in)
	}
}

// spelledSamples returns binary samples whose groups are spelled as given,
// round-robin, with scores that carry signal so every fit is well posed.
func spelledSamples(spellings []string, n int) []Sample {
	r := rand.New(rand.NewPCG(7, 11))
	ss := make([]Sample, n)
	for i := range ss {
		y := (i / len(spellings)) % 2 // both labels in every group
		s := 0.3 + 0.4*float64(y) + 0.5*(r.Float64()-0.5)
		ss[i] = Sample{Group: spellings[i%len(spellings)], Label: y, Probs: BinaryProbs(s)}
	}
	return ss
}

// TestGroupSpellingsFitAndLookup: samples built in code with "1.0" and "1"
// are one group at fit time as at lookup time; "01" stays its own group.
// Before the fix fitting kept "1.0" as given while lookups canonicalised,
// so NewCalibrationArtefact failed with ErrUnknownGroup.
func TestGroupSpellingsFitAndLookup(t *testing.T) {
	ss := spelledSamples([]string{"1.0", "1", "01", " 1 "}, 240)
	cal, err := NewCalibrationArtefact(ss, Platt, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"01", "1"}, cal.Groups)
	require.Equal(t, 180, cal.Calibration.Groups["1"].Count)
	require.Equal(t, 60, cal.Calibration.Groups["01"].Count)
	want, err := cal.Calibration.Apply("1", BinaryProbs(0.4), UnknownError)
	require.NoError(t, err)
	for _, g := range []string{"1.0", " 1", "1.00"} {
		got, err := cal.Calibration.Apply(g, BinaryProbs(0.4), UnknownError)
		require.NoError(t, err, g)
		require.Equal(t, want, got, g)
	}
	other, err := cal.Calibration.Apply("01", BinaryProbs(0.4), UnknownError)
	require.NoError(t, err)
	require.NotEqual(t, want, other, "01 is fitted on its own")
	_, err = cal.Calibration.Apply("001", BinaryProbs(0.4), UnknownError)
	require.ErrorIs(t, err, ErrUnknownGroup)
	// the metrics know the same two groups
	require.Len(t, cal.MetricsBefore.Groups, 2)
	m, ok := cal.MetricsAfter.Group("1.0")
	require.True(t, ok)
	require.Equal(t, int64(180), m.Count)
	// the fit hash does not depend on the spelling
	canon := spelledSamples([]string{"1", "1", "01", "1"}, 240)
	require.Equal(t, FitHash(canon), cal.FitSHA256)
	// the caller's samples are not modified
	require.Equal(t, "1.0", ss[0].Group)

	for _, c := range []Constraint{DemographicParity, EqualizedOdds, EqualOpportunity} {
		thr, err := NewThresholdArtefact(ss, c, ThresholdOptions{Grid: 100}, 10)
		require.NoError(t, err, c)
		require.Equal(t, []string{"01", "1"}, thr.Groups, c)
		require.Equal(t, 180, thr.Thresholds.Groups["1"].Count, c)
		_, err = thr.Thresholds.Decide("1.0", 0.5, thr.Key(), "r1", UnknownError)
		require.NoError(t, err, c)
	}

	// Accumulators merge spellings too.
	acc := NewAccumulator(1, 0)
	require.NoError(t, acc.Add("2.0", 1, BinaryProbs(0.9)))
	require.NoError(t, acc.Add("2", 0, BinaryProbs(0.1)))
	r := acc.Report()
	require.Len(t, r.Groups, 1)
	require.Equal(t, "2", r.Groups[0].Group)

	// A whitespace-only group is empty.
	_, err = FitCalibration([]Sample{{Group: "  ", Label: 0, Probs: BinaryProbs(0.2)}}, Platt, 1)
	require.ErrorIs(t, err, ErrMalformedInput)
}

// TestArtefactRejectsNonCanonicalGroups: an artefact naming a group in a
// form lookups never produce ("2.0", "c ") is refused on load and save.
func TestArtefactRejectsNonCanonicalGroups(t *testing.T) {
	ss := spelledSamples([]string{"1", "2"}, 120)
	a, err := NewCalibrationArtefact(ss, Platt, 10)
	require.NoError(t, err)
	good, err := a.Marshal()
	require.NoError(t, err)
	for _, bad := range []string{"2.0", "2 ", "2.00"} {
		b := mutate(t, good, func(m map[string]any) {
			m["groups"] = []any{"1", bad}
			gs := m["calibration"].(map[string]any)["groups"].(map[string]any)
			gs[bad] = gs["2"]
			delete(gs, "2")
		})
		_, err := Load(bytes.NewReader(b))
		require.ErrorIs(t, err, ErrBadArtefact, bad)
		require.ErrorContains(t, err, "not canonical", bad)
	}
	// Built in code: Validate refuses it as well.
	p := a.Calibration.Groups["2"]
	delete(a.Calibration.Groups, "2")
	a.Calibration.Groups["2.0"] = p
	a.Groups = []string{"1", "2.0"}
	require.ErrorIs(t, a.Validate(), ErrBadArtefact)
}

// TestArtefactJSONUnescaped: artefact files show decision operators and
// group names as written, not HTML-escaped ("\u003e"), and load back.
func TestArtefactJSONUnescaped(t *testing.T) {
	ss := spelledSamples([]string{"age<40", "age>=40 & m"}, 120)
	a, err := NewThresholdArtefact(ss, EqualizedOdds, ThresholdOptions{Grid: 100}, 10)
	require.NoError(t, err)
	b, err := a.Marshal()
	require.NoError(t, err)
	require.NotContains(t, string(b), `\u003`)
	require.NotContains(t, string(b), `\u0026`)
	require.Contains(t, string(b), `"op": ">"`)
	require.Contains(t, string(b), `"age>=40 & m"`)
	back, err := Load(bytes.NewReader(b))
	require.NoError(t, err)
	require.Equal(t, a.Thresholds, back.Thresholds)
	d1, err := a.Digest()
	require.NoError(t, err)
	d2, err := back.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2)
	// metrics.json of a report likewise: lepton/fairness/report's
	// TestMetricsJSONUnescaped.
}
