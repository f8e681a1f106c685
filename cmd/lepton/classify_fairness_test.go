package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
)

func TestClassifyCalibrationCLI(t *testing.T) {
	model := runFixture(t)
	code, out, errs := runCLI("", "classify", "-m", model, "--json", "a clinic note")
	require.Equal(t, 0, code, errs)
	var raw classifyJSON
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	nl := len(raw.Probs)

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
	for k, p := range raw.Probs {
		want[k] = math.Pow(float64(p), 1/temp)
		sum += want[k]
	}
	for k := range want {
		require.InDelta(t, want[k]/sum, float64(got.Probs[k]), 1e-5)
	}
	require.Equal(t, raw.Index, got.Index)

	code, _, errs = runCLI("", "classify", "-m", model, "--group", "weekend", "--calibration", cal, "x")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "unknown group")
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
	require.True(t, strings.Contains(errs, "no such file"), errs)
}
