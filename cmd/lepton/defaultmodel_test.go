package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDefaultModel: without -m, classify and embed run the built-in clinic
// model, as the README's first command does.
func TestDefaultModel(t *testing.T) {
	code, out, errs := runCLI("", "classify", "--json", "I've had a high fever, chills and a headache for three days",
		"My skin is covered in red, itchy patches with silvery scales on my elbows and knees")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	var r classifyJSON
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &r))
	require.Len(t, r.Top, 24, "24 diagnoses")
	require.Equal(t, "Psoriasis", r.Label)

	code, out, errs = runCLI("cough and a runny nose\n", "embed", "--no-text")
	require.Equal(t, 0, code, errs)
	require.Len(t, strings.Fields(out), 256, "hidden size 256")

	code, _, errs = runCLI("", "classify", "--fp32", "x")
	require.Equal(t, 2, code, "the built-in model has no fp32 weights")
	require.Contains(t, errs, "keep-fp32")
}
