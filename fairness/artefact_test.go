package fairness

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestArtefactRoundTrip(t *testing.T) {
	ss, _ := loadGolden(t)
	dir := t.TempDir()
	for _, m := range []Method{Temperature, Platt, Isotonic} {
		a, err := NewCalibrationArtefact(ss, m, 30)
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b", "c"}, a.Groups)
		require.Equal(t, FitHash(ss), a.FitSHA256)
		require.Less(t, a.MetricsAfter.Overall.ECE.Value, a.MetricsBefore.Overall.ECE.Value)
		path := filepath.Join(dir, string(m)+".json")
		require.NoError(t, a.Save(path))
		back, err := LoadFile(path)
		require.NoError(t, err)
		d1, err := a.Digest()
		require.NoError(t, err)
		d2, err := back.Digest()
		require.NoError(t, err)
		require.Equal(t, d1, d2, "digest survives save and load")
		for _, s := range ss[:20] {
			p1, err := a.Calibration.ApplySample(s, UnknownError)
			require.NoError(t, err)
			p2, err := back.Calibration.ApplySample(s, UnknownError)
			require.NoError(t, err)
			require.Equal(t, p1, p2)
		}
	}
	for _, c := range []Constraint{DemographicParity, EqualizedOdds, EqualOpportunity, CalibratedEqualizedOdds} {
		a, err := NewThresholdArtefact(ss, c, ThresholdOptions{}, 30)
		if errors.Is(err, ErrInfeasible) {
			continue
		}
		require.NoError(t, err, c)
		b, err := a.Marshal()
		require.NoError(t, err)
		back, err := Load(bytes.NewReader(b))
		require.NoError(t, err, c)
		require.Equal(t, a.Thresholds, back.Thresholds, c)
		require.Equal(t, a.MetricsAfter.Overall.Accuracy.Value, back.MetricsAfter.Overall.Accuracy.Value)
		if c == EqualizedOdds {
			for _, g := range a.MetricsAfter.Groups {
				require.InDelta(t, a.Thresholds.TPR, g.TPR.Value, 1e-9)
				require.InDelta(t, a.Thresholds.FPR, g.FPR.Value, 1e-9)
			}
		}
	}
}

func TestOpJSONInfinity(t *testing.T) {
	for _, o := range []Op{{true, math.Inf(1)}, {false, math.Inf(-1)}, {true, 0.25}, {false, -3}} {
		b, err := json.Marshal(o)
		require.NoError(t, err)
		var back Op
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, o, back, string(b))
	}
	b, _ := json.Marshal(Op{true, math.Inf(-1)})
	require.JSONEq(t, `{"op":">","threshold":"-inf"}`, string(b))
	_, err := json.Marshal(Op{true, math.NaN()})
	require.Error(t, err)
}

func validCal(t *testing.T) []byte {
	ss, _ := loadGolden(t)
	a, err := NewCalibrationArtefact(ss, Platt, 30)
	require.NoError(t, err)
	b, err := a.Marshal()
	require.NoError(t, err)
	return b
}

// mutate decodes b, applies f to the generic JSON and re-encodes it.
func mutate(t *testing.T, b []byte, f func(m map[string]any)) []byte {
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	f(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func TestArtefactValidation(t *testing.T) {
	good := validCal(t)
	_, err := Load(bytes.NewReader(good))
	require.NoError(t, err)
	cal := func(m map[string]any) map[string]any { return m["calibration"].(map[string]any) }
	cases := []struct {
		name string
		f    func(m map[string]any)
		want error
	}{
		{"version", func(m map[string]any) { m["version"] = 2 }, ErrVersion},
		{"no version", func(m map[string]any) { delete(m, "version") }, ErrBadArtefact},
		{"kind", func(m map[string]any) { m["kind"] = "magic" }, ErrBadArtefact},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }, ErrBadArtefact},
		{"missing group", func(m map[string]any) { delete(cal(m)["groups"].(map[string]any), "b") }, ErrBadArtefact},
		{"extra group", func(m map[string]any) { m["groups"] = []any{"a", "b"} }, ErrBadArtefact},
		{"unsorted groups", func(m map[string]any) { m["groups"] = []any{"b", "a", "c"} }, ErrBadArtefact},
		{"no groups", func(m map[string]any) { m["groups"] = []any{} }, ErrBadArtefact},
		{"classes", func(m map[string]any) { m["classes"] = 3 }, ErrBadArtefact},
		{"hash", func(m map[string]any) { m["fit_sha256"] = "abc" }, ErrBadArtefact},
		{"method", func(m map[string]any) { cal(m)["method"] = "magic" }, ErrBadArtefact},
		{"no metrics", func(m map[string]any) { delete(m, "metrics_after") }, ErrBadArtefact},
		{"both", func(m map[string]any) { m["thresholds"] = map[string]any{} }, ErrBadArtefact},
		{"a string", func(m map[string]any) { cal(m)["global"].(map[string]any)["a"] = "NaN" }, ErrBadArtefact},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(mutate(t, good, tc.f)))
			require.ErrorIs(t, err, tc.want)
			var ae *ArtefactError
			require.ErrorAs(t, err, &ae)
		})
	}
	// NaN cannot be written as JSON, but a hand-built artefact with one
	// must not save.
	var a Artefact
	require.NoError(t, json.Unmarshal(good, &a))
	g := a.Calibration.Groups["a"]
	g.A = nanValue()
	a.Calibration.Groups["a"] = g
	_, err = a.Marshal()
	require.ErrorIs(t, err, ErrBadArtefact)

	for _, in := range []string{"", "{", "[]", "null", `{"version":1}`, `{"version":1} {}`} {
		_, err := Load(strings.NewReader(in))
		require.Error(t, err, in)
	}
}

func TestIsotonicArtefactShapes(t *testing.T) {
	ss, _ := loadGolden(t)
	a, err := NewCalibrationArtefact(ss, Isotonic, 30)
	require.NoError(t, err)
	good, err := a.Marshal()
	require.NoError(t, err)
	grp := func(m map[string]any) map[string]any {
		return m["calibration"].(map[string]any)["groups"].(map[string]any)["b"].(map[string]any)
	}
	for name, f := range map[string]func(m map[string]any){
		"short y":    func(m map[string]any) { y := grp(m)["y"].([]any); grp(m)["y"] = y[:len(y)-1] },
		"no knots":   func(m map[string]any) { delete(grp(m), "x"); delete(grp(m), "y") },
		"decreasing": func(m map[string]any) { x := grp(m)["x"].([]any); x[0], x[len(x)-1] = x[len(x)-1], x[0] },
		"y > 1":      func(m map[string]any) { grp(m)["y"].([]any)[0] = 1.5 },
	} {
		_, err := Load(bytes.NewReader(mutate(t, good, f)))
		require.ErrorIs(t, err, ErrBadArtefact, name)
	}
}

func nanValue() float64 { z := 0.0; return z / z }

func TestThresholdArtefactValidation(t *testing.T) {
	ss, _ := loadGolden(t)
	a, err := NewThresholdArtefact(ss, EqualizedOdds, ThresholdOptions{}, 1)
	require.NoError(t, err)
	good, err := a.Marshal()
	require.NoError(t, err)
	th := func(m map[string]any) map[string]any { return m["thresholds"].(map[string]any) }
	rule := func(m map[string]any) map[string]any { return th(m)["groups"].(map[string]any)["a"].(map[string]any) }
	for name, f := range map[string]func(m map[string]any){
		"p0":         func(m map[string]any) { rule(m)["p0"] = 1.5 },
		"sum":        func(m map[string]any) { rule(m)["p1"] = 0.9 },
		"op":         func(m map[string]any) { rule(m)["op0"] = map[string]any{"op": "=", "threshold": 1} },
		"threshold":  func(m map[string]any) { rule(m)["op0"] = map[string]any{"op": ">", "threshold": "x"} },
		"constraint": func(m map[string]any) { th(m)["constraint"] = "magic" },
		"grid":       func(m map[string]any) { th(m)["grid"] = 0 },
		"classes":    func(m map[string]any) { m["classes"] = 3 },
		"fpr":        func(m map[string]any) { th(m)["fpr"] = 2 },
	} {
		_, err := Load(bytes.NewReader(mutate(t, good, f)))
		require.ErrorIs(t, err, ErrBadArtefact, name)
	}
}

// smallArtefacts are minimal valid artefacts of every kind, seeds for
// FuzzLoad (TestSmallArtefactsLoad keeps them valid).
var smallArtefacts = []string{
	`{"version":1,"kind":"calibration","groups":["1","a"],"classes":2,"fit_rows":4,"fit_sha256":"` + zeroHash + `",` +
		`"calibration":{"method":"platt","classes":2,"global":{"a":1,"b":0,"count":4},"groups":{"1":{"a":2,"b":-1,"count":2},"a":{"a":1,"b":0,"count":2,"fallback":true}}},` +
		`"metrics_before":{"classes":2,"overall":{"group":"overall","count":4,"tpr":{"value":0.5,"num":1,"den":2}}},"metrics_after":{}}`,
	`{"version":1,"kind":"calibration","groups":["a"],"classes":3,"fit_rows":1,"fit_sha256":"` + zeroHash + `",` +
		`"calibration":{"method":"temperature","classes":3,"global":{"temperature":1.5,"count":1},"groups":{"a":{"temperature":0.5,"count":1}}},"metrics_before":{},"metrics_after":{}}`,
	`{"version":1,"kind":"calibration","groups":["a"],"classes":2,"fit_rows":2,"fit_sha256":"` + zeroHash + `",` +
		`"calibration":{"method":"isotonic","classes":2,"global":{"x":[0,1],"y":[0.1,0.9],"count":2},"groups":{"a":{"x":[0.5],"y":[0.5],"count":2}}},"metrics_before":{},"metrics_after":{}}`,
	`{"version":1,"kind":"thresholds","groups":["a","b"],"classes":2,"fit_rows":4,"fit_sha256":"` + zeroHash + `",` +
		`"thresholds":{"constraint":"demographic_parity","grid":10,"flip":true,"selection_rate":0.5,` +
		`"groups":{"a":{"p0":0.25,"op0":{"op":">","threshold":0.5},"p1":0.75,"op1":{"op":"<","threshold":"inf"},"p_ignore":0,"constant":0,"mix_rate":0,"base_rate":0,"count":2},` +
		`"b":{"p0":1,"op0":{"op":">","threshold":"-inf"},"p1":0,"op1":{"op":">","threshold":0.5},"p_ignore":0,"constant":0,"mix_rate":0,"base_rate":0,"count":2}},` +
		`"global":{"p0":1,"op0":{"op":">","threshold":0.5},"p1":0,"op1":{"op":">","threshold":0.5},"p_ignore":0.5,"constant":0.25,"mix_rate":0,"base_rate":0,"count":4}},"metrics_before":{},"metrics_after":{}}`,
	`{"version":1,"kind":"thresholds","groups":["a"],"classes":2,"fit_rows":2,"fit_sha256":"` + zeroHash + `",` +
		`"thresholds":{"constraint":"calibrated_equalized_odds","cost":"fnr","flip":false,"calibration_sha256":"` + zeroHash + `",` +
		`"groups":{"a":{"p0":0,"op0":{"op":"<","threshold":0},"p1":0,"op1":{"op":"<","threshold":0},"p_ignore":0,"constant":0,"mix_rate":0.5,"base_rate":0.25,"count":2}}},"metrics_before":{},"metrics_after":{}}`,
}

const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// TestSmallArtefactsLoad keeps the small FuzzLoad seeds valid and small,
// so they exercise the paths behind validation rather than its first
// refusal.
func TestSmallArtefactsLoad(t *testing.T) {
	for i, s := range smallArtefacts {
		require.Less(t, len(s), 1200, "seed %d", i)
		a, err := Load(strings.NewReader(s))
		require.NoError(t, err, "seed %d", i)
		if a.Thresholds != nil {
			for _, g := range a.Groups {
				_, err := a.Thresholds.Decide(g, 0.5, a.Key(), "seed", UnknownError)
				require.NoError(t, err)
			}
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the artefact loader: it must return
// an artefact that validates, or an error, never panic.
func FuzzLoad(f *testing.F) {
	// Full calibration and threshold artefacts (27-48 KB, mostly metrics)
	// are in testdata/fuzz/FuzzLoad. The small valid ones below reach the
	// same validation paths in a few hundred bytes, so the fuzzer spends
	// its time mutating structure instead of copying kilobytes.
	for _, s := range smallArtefacts {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"version":1,"kind":"calibration"}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Load(bytes.NewReader(b))
		if err != nil {
			return
		}
		require.NoError(t, a.Validate())
		if a.Calibration != nil {
			for _, g := range a.Groups {
				_, err := a.Calibration.Apply(g, make([]float64, a.Classes), UnknownError)
				require.NoError(t, err)
			}
		}
		if a.Thresholds != nil {
			for _, g := range a.Groups {
				_, err := a.Thresholds.Decide(g, 0.5, a.Key(), "fuzz", UnknownError)
				require.NoError(t, err)
			}
		}
	})
}

// FuzzReadCSV and FuzzReadJSONL: any input gives samples that satisfy the
// reader's invariants, or an error wrapping a sentinel.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("group,label,score\na,1,0.5\n"))
	f.Add([]byte(",label,group,prediction\n0,1.0,0.0,0.44\n"))
	f.Add([]byte("group,label,prob_0,prob_1,prob_2\na,2,0.1,0.2,0.7\n"))
	f.Add([]byte("group,label,logit_0,logit_1\n\"x,y\",0,1e308,-1e308\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := ReadCSV(bytes.NewReader(b))
		checkRead(t, ss, err)
	})
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"group":"a","label":1,"score":0.9}`))
	f.Add([]byte(`{"group":3,"label":0,"probs":[0.6,0.4]}` + "\n" + `{"group":"c","label":1.0,"logits":[0,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := ReadJSONL(bytes.NewReader(b))
		checkRead(t, ss, err)
	})
}

func checkRead(t *testing.T, ss []Sample, err error) {
	if err != nil {
		require.True(t, errors.Is(err, ErrMalformedInput) || errors.Is(err, ErrEmpty), err.Error())
		return
	}
	for _, s := range ss {
		require.NotEmpty(t, s.Group)
		require.GreaterOrEqual(t, len(s.Probs), 2)
		require.True(t, s.Label >= 0 && s.Label < len(s.Probs))
		var sum float64
		for _, p := range s.Probs {
			require.True(t, p >= 0 && p <= 1, "prob %v", p)
			sum += p
		}
		require.InDelta(t, 1, sum, 1e-6)
	}
	// Metrics and calibration must accept whatever the reader accepts.
	acc := NewAccumulator(1, 0)
	for _, s := range ss {
		require.NoError(t, acc.Add(s.Group, s.Label, s.Probs))
	}
	_ = acc.Report()
	_, err = FitCalibration(ss, Temperature, 1)
	require.NoError(t, err)
}
