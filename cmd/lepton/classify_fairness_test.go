package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/quant"
)

func TestClassifyCalibrationCLI(t *testing.T) {
	model := runFixture(t)
	code, out, errs := runCLI("", "classify", "-m", model, "--json", "a clinic note")
	require.Equal(t, 0, code, errs)
	var raw classifyJSON
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	labels := modelLabels(t, model)
	rawProbs := probsOf(t, labels, raw)
	nl := len(rawProbs)

	// A temperature artefact for nl classes with groups "night" (T>1)
	// and "day".
	var ss []fairness.Sample
	for i := range 300 {
		g, scale := "night", 5.0
		if i%2 == 1 {
			g, scale = "day", 1.0
		}
		label := i % nl
		z := make([]float64, nl)
		for k := range z {
			z[k] = math.Sin(float64(i*7+k*3)) * scale
		}
		if i%4 != 0 {
			z[label] += 1.2 * scale
		}
		ss = append(ss, fairness.Sample{Group: g, Label: label, Logits: z, Probs: fairness.Softmax(z)})
	}
	art, err := fairness.NewCalibrationArtefact(ss, fairness.Temperature, 30)
	require.NoError(t, err)
	cal := filepath.Join(t.TempDir(), "cal.json")
	require.NoError(t, art.Save(cal))
	temp := art.Calibration.Groups["night"].Temperature
	require.Greater(t, temp, 1.0)

	code, out, errs = runCLI("", "classify", "-m", model, "--json", "--group", "night", "--calibration", cal, "a clinic note")
	require.Equal(t, 0, code, errs)
	var got classifyJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	// Calibrated p_k is proportional to raw p_k^(1/T).
	want := make([]float64, nl)
	var sum float64
	for k, p := range rawProbs {
		want[k] = math.Pow(float64(p), 1/temp)
		sum += want[k]
	}
	gotProbs := probsOf(t, labels, got)
	for k := range want {
		require.InDelta(t, want[k]/sum, float64(gotProbs[k]), 1e-5)
	}
	require.Equal(t, gotProbs[got.Index], *got.Score)
	require.Equal(t, raw.Index, got.Index)

	// A --group the artefact does not know is a bad flag value, found
	// before any text runs.
	code, _, errs = runCLI("", "classify", "-m", model, "--group", "weekend", "--calibration", cal, "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, `--group "weekend": unknown group: the --calibration artefact has groups day, night`)
	code, _, errs = runCLI("", "classify", "-m", model, "--group", "weekend", "--calibration", cal, "--unknown-group", "fallback", "x")
	require.Equal(t, 0, code, errs)
	code, _, errs = runCLI("", "classify", "-m", model, "--unknown-group", "maybe", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "unknown-group policy")
	// A group without an artefact to apply it to is a usage error, not
	// silently ignored.
	code, out, errs = runCLI("", "classify", "-m", model, "--group", "night", "x")
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errs, "--group needs --calibration")
	code, _, errs = runCLI("", "classify", "-m", model, "--unknown-group", "fallback", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "--unknown-group needs --calibration")
	code, _, errs = runCLI("", "classify", "-m", model, "--calibration", filepath.Join(t.TempDir(), "none.json"), "x")
	require.Equal(t, 1, code)
	require.True(t, strings.Contains(errs, "--calibration: open "), errs)
	require.True(t, strings.Contains(errs, "no such file"), errs)
}

// binaryFixture is the golden random checkpoint with its 3-label head
// replaced by a 2-label one (weights from a fixed sine pattern), written
// to a .lep file: decision rules need a binary model.
func binaryFixture(t *testing.T) string {
	t.Helper()
	net, tok, meta, err := convert.FromHF(filepath.Join("..", "..", "testdata", "golden", "random-bert"), convert.Options{})
	require.NoError(t, err)
	h := net.Config.Hidden
	w := make([]float32, 2*h)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*0.37)) * 0.5
	}
	packed, err := quant.QuantizePack(w, 2, h)
	require.NoError(t, err)
	net.Classifier = &bert.Linear{W: packed, Bias: []float32{0.1, -0.1}}
	net.Config.Labels = []string{"negative", "positive"}
	var buf bytes.Buffer
	require.NoError(t, lepfile.Write(&buf, net, tok, meta))
	path := filepath.Join(t.TempDir(), "binary.lep")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// TestClassifyThresholdsCLI: --thresholds decides each input with the
// group's rule, reproducibly from --request-id, exactly as the library's
// Classification.Decide would.
func TestClassifyThresholdsCLI(t *testing.T) {
	model := binaryFixture(t)
	texts := []string{"a clinic note", "fever and cough", "routine check", "chest pain at night"}
	code, out, errs := runCLI("", append([]string{"classify", "-m", model, "--json"}, texts...)...)
	require.Equal(t, 0, code, errs)
	var raw [][]float32
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var c classifyJSON
		require.NoError(t, json.Unmarshal([]byte(l), &c))
		raw = append(raw, probsOf(t, []string{"negative", "positive"}, c))
	}

	// A demographic parity artefact on synthetic scores for sites a and b.
	var ss []fairness.Sample
	for i := range 400 {
		g := "a"
		if i%2 == 1 {
			g = "b"
		}
		y := (i / 2) % 2
		s := 0.5 + 0.3*math.Sin(float64(i)*1.7) + 0.15*float64(2*y-1)
		if g == "b" {
			s -= 0.1
		}
		ss = append(ss, fairness.Sample{Group: g, Label: y, Probs: fairness.BinaryProbs(math.Min(1, math.Max(0, s)))})
	}
	art, err := fairness.NewThresholdArtefact(ss, fairness.DemographicParity, fairness.ThresholdOptions{Grid: 100}, 10)
	require.NoError(t, err)
	dir := t.TempDir()
	thr := filepath.Join(dir, "thr.json")
	require.NoError(t, art.Save(thr))

	code, out, errs = runCLI("", append([]string{"classify", "-m", model, "--json", "--thresholds", thr, "--group", "b", "--request-id", "req-7"}, texts...)...)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, len(texts))
	for i, l := range lines {
		var got classifyJSON
		require.NoError(t, json.Unmarshal([]byte(l), &got))
		require.NotNil(t, got.Decision, l)
		id := "req-7#" + strconv.Itoa(i+1)
		require.Equal(t, id, got.Decision.RequestID)
		// the same decision the library makes for this score and request
		want, err := art.Thresholds.Decide("b", float64(raw[i][1]), art.Key(), id, fairness.UnknownError)
		require.NoError(t, err)
		require.Equal(t, want, got.Decision.Decision)
		require.Equal(t, fairness.Coin(art.Key(), id), got.Decision.Coin)
	}
	// one input: the id as given; text output carries the decision
	code, out, errs = runCLI("", "classify", "-m", model, "--thresholds", thr, "--group", "a", "--request-id", "r1", texts[0])
	require.Equal(t, 0, code, errs)
	want, err := art.Thresholds.Decide("a", float64(raw[0][1]), art.Key(), "r1", fairness.UnknownError)
	require.NoError(t, err)
	word := "negative"
	if want.Positive {
		word = "positive"
	}
	require.Regexp(t, `^(negative|positive)\t[0-9.]+\tdecision=`+word+`\t`+texts[0]+"\n$", out)

	// Lines of a stream use ID#LINE, blank lines skipped but counted.
	code, out, errs = runCLI(texts[0]+"\n\n"+texts[1]+"\n", "classify", "-m", model, "--json", "--thresholds", thr, "--group", "b", "--request-id", "req-7")
	require.Equal(t, 0, code, errs)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	for i, l := range lines {
		var got classifyJSON
		require.NoError(t, json.Unmarshal([]byte(l), &got))
		require.Equal(t, []string{"req-7#1", "req-7#3"}[i], got.Decision.RequestID)
		want, err := art.Thresholds.Decide("b", float64(raw[i][1]), art.Key(), got.Decision.RequestID, fairness.UnknownError)
		require.NoError(t, err)
		require.Equal(t, want, got.Decision.Decision)
	}

	// unknown group: a usage error, or the global rule on request
	code, _, errs = runCLI("", "classify", "-m", model, "--thresholds", thr, "--group", "c", "--request-id", "r1", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "unknown group")
	code, out, errs = runCLI("", "classify", "-m", model, "--json", "--thresholds", thr, "--group", "c", "--unknown-group", "fallback", "--request-id", "r1", "x")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"fallback":true`)

	// rules fitted on calibrated scores refuse raw ones
	art.Thresholds.CalibrationSHA256 = strings.Repeat("ab", 32)
	thrCal := filepath.Join(dir, "thr-cal.json")
	require.NoError(t, art.Save(thrCal))
	code, _, errs = runCLI("", "classify", "-m", model, "--thresholds", thrCal, "--group", "a", "--request-id", "r1", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "fitted on scores calibrated by artefact")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--thresholds", thr, "--request-id", "r"}, "--thresholds needs --group"},
		{[]string{"--thresholds", thr, "--group", "a"}, "--thresholds needs --request-id"},
		{[]string{"--request-id", "r"}, "--request-id needs --thresholds"},
		{[]string{"--thresholds", thr, "--group", "a", "--request-id", "r", "--dp-label-epsilon", "1"}, "cannot be combined"},
	} {
		code, out, errs := runCLI("", append(append([]string{"classify", "-m", model}, tc.args...), "x")...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errs)
		require.Empty(t, out)
		require.Contains(t, errs, tc.want, tc.args)
	}
	// a missing artefact is an I/O error
	code, _, errs = runCLI("", "classify", "-m", runFixture(t), "--thresholds", filepath.Join(dir, "missing.json"), "--group", "a", "--request-id", "r", "x")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "no such file")
}
