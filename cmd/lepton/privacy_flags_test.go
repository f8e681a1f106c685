package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/privacy"
)

func TestClassifyDPCLI(t *testing.T) {
	model := runFixture(t)
	ledger := filepath.Join(t.TempDir(), "dp.json")
	texts := "first note\nsecond note\n"

	code, out, errs := runCLI(texts, "classify", "-m", model, "--json", "--dp-label-epsilon", "0.5", "--dp-ledger", ledger, "--dp-budget", "1.2")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var got classifyJSON
		require.NoError(t, json.Unmarshal([]byte(l), &got))
		require.Nil(t, got.Score, "no probabilities under DP")
		require.Nil(t, got.Top)
		require.NotNil(t, got.Privacy)
		require.Equal(t, 0.5, got.Privacy.Epsilon)
		require.Equal(t, privacy.MechRandomizedResponse, got.Privacy.Mechanism)
		require.NotEmpty(t, got.Label)
		require.Contains(t, l, `"epsilon":0.5`)
	}
	led, err := privacy.LoadLedger(ledger)
	require.NoError(t, err)
	require.Equal(t, 2, led.Spent().Releases)

	// The next run would need 1.0 more on top of 1.0 spent: refused, no
	// output, ledger unchanged. The budget is read from the file.
	before, err := os.ReadFile(ledger)
	require.NoError(t, err)
	code, out, errs = runCLI(texts, "classify", "-m", model, "--dp-label-epsilon", "0.5", "--dp-ledger", ledger)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errs, "budget exceeded")
	after, err := os.ReadFile(ledger)
	require.NoError(t, err)
	require.Equal(t, before, after)

	// Text output prints the epsilon instead of a probability.
	code, out, errs = runCLI("", "classify", "-m", model, "--dp-label-epsilon", "0.1", "--dp-ledger", ledger, "x")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "\teps=0.1\tx")

	// usage errors
	for _, args := range [][]string{
		{"--dp-ledger", filepath.Join(t.TempDir(), "new.json"), "--dp-label-epsilon", "1"}, // new ledger without budget
		{"--dp-ledger", ledger},     // ledger without a mechanism
		{"--dp-label-epsilon", "0"}, // zero epsilon
		{"--dp-ledger", ledger, "--dp-budget", "5", "--dp-label-epsilon", "1"}, // budget mismatch
	} {
		code, _, errs := runCLI("", append([]string{"classify", "-m", model}, append(args, "x")...)...)
		require.NotEqual(t, 0, code, "%v: %s", args, errs)
	}
	// Every epsilon privacy rejects is a usage error (exit 2), not only 0,
	// and nothing is charged to the ledger.
	before, err = os.ReadFile(ledger)
	require.NoError(t, err)
	for _, eps := range []string{"0", "-1", "NaN", "Inf", "-Inf", "1e-20"} {
		code, out, errs := runCLI("", "classify", "-m", model, "--dp-label-epsilon", eps, "--dp-ledger", ledger, "x")
		require.Equal(t, 2, code, "%s: %s", eps, errs)
		require.Empty(t, out)
		require.Contains(t, errs, "--dp-label-epsilon")
		require.Contains(t, errs, "invalid epsilon")
	}
	after, err = os.ReadFile(ledger)
	require.NoError(t, err)
	require.Equal(t, before, after)
	for _, args := range [][]string{{"--dp-budget", "-1"}, {"--dp-budget", "NaN"}, {"--dp-budget", "1", "--dp-budget-delta", "1"}} {
		code, _, errs := runCLI("", append([]string{"classify", "-m", model, "--dp-label-epsilon", "1"}, append(args, "x")...)...)
		require.Equal(t, 2, code, "%v: %s", args, errs)
		require.Contains(t, errs, args[len(args)-2])
	}
}

func TestEmbedDPCLI(t *testing.T) {
	model := runFixture(t)
	code, out, errs := runCLI("", "embed", "-m", model, "--json", "--normalize", "--dp-embed-epsilon", "2", "--dp-embed-delta", "1e-6", "--dp-embed-clip", "1", "--dp-budget", "4", "a", "b")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var got embedJSON
		require.NoError(t, json.Unmarshal([]byte(l), &got))
		require.NotEmpty(t, got.Vector)
		require.NotNil(t, got.Privacy)
		require.Equal(t, privacy.MechGaussian, got.Privacy.Mechanism)
		require.Equal(t, 1e-6, got.Privacy.Delta)
		require.Greater(t, got.Privacy.Sigma, 1.0)
	}
	// In-run budget (epsilon 4, delta 1e-5): 3 releases at (2, 1e-6) cost
	// 6 by basic composition but 3.54 by the RDP accountant, so they fit;
	// 5 cost 4.74 even by RDP (testdata/reference.py) and are refused.
	code, _, errs = runCLI("", "embed", "-m", model, "--dp-embed-epsilon", "2", "--dp-embed-delta", "1e-6", "--dp-embed-clip", "1", "--dp-budget", "4", "a", "b", "c")
	require.Equal(t, 0, code, errs)
	code, _, errs = runCLI("", "embed", "-m", model, "--dp-embed-epsilon", "2", "--dp-embed-delta", "1e-6", "--dp-embed-clip", "1", "--dp-budget", "4", "a", "b", "c", "d", "e")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "budget exceeded")

	// Text output carries each noisy vector's cost as trailing fields.
	code, out, errs = runCLI("", "embed", "-m", model, "--dp-embed-epsilon", "2", "--dp-embed-delta", "1e-6", "--dp-embed-clip", "1", "a", "b")
	require.Equal(t, 0, code, errs)
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	for i, l := range lines {
		fields := strings.Split(l, "\t")
		require.Len(t, fields, 4, l)
		require.NotEmpty(t, strings.Fields(fields[0]))
		require.Equal(t, "eps=2", fields[1])
		require.Equal(t, "delta=1e-06", fields[2])
		require.Equal(t, []string{"a", "b"}[i], fields[3])
	}
	// Without DP the text output is the vector and the text.
	code, out, errs = runCLI("", "embed", "-m", model, "a")
	require.Equal(t, 0, code, errs)
	require.Equal(t, 1, strings.Count(out, "\t"))

	for _, args := range [][]string{
		{"--dp-embed-epsilon", "1"},                          // no delta/clip
		{"--dp-embed-delta", "1e-5", "--dp-embed-clip", "1"}, // no epsilon
		{"--dp-budget", "3"},                                 // budget without mechanism
		{"--dp-embed-epsilon", "0", "--dp-embed-delta", "1e-5", "--dp-embed-clip", "1"},
		{"--dp-embed-epsilon", "NaN", "--dp-embed-delta", "1e-5", "--dp-embed-clip", "1"},
		{"--dp-embed-epsilon", "1e-20", "--dp-embed-delta", "1e-5", "--dp-embed-clip", "1"},
		{"--dp-embed-epsilon", "1", "--dp-embed-delta", "0", "--dp-embed-clip", "1"},
		{"--dp-embed-epsilon", "1", "--dp-embed-delta", "1", "--dp-embed-clip", "1"},
		{"--dp-embed-epsilon", "1", "--dp-embed-delta", "1e-5", "--dp-embed-clip", "-1"},
		{"--dp-embed-epsilon", "1", "--dp-embed-delta", "1e-5", "--dp-embed-clip", "Inf"},
	} {
		code, _, errs := runCLI("", append([]string{"embed", "-m", model}, append(args, "x")...)...)
		require.Equal(t, 2, code, "%v: %s", args, errs)
	}
	// A bad clip is reported as the clip, not as the sensitivity 2*clip.
	code, _, errs = runCLI("", "embed", "-m", model, "--dp-embed-epsilon", "1", "--dp-embed-delta", "1e-5", "--dp-embed-clip", "-1", "x")
	require.Equal(t, 2, code)
	require.Contains(t, errs, "clip = -1")
	require.NotContains(t, errs, "sensitivity =")
}
