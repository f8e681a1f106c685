package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example as `go run ./examples/classify` would and checks
// its output: every sample, three labels each, probabilities that are
// sorted and plausible.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(nil, &out))
	t.Log("\n" + out.String())
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, len(samples)*4)
	for i, s := range samples {
		require.Equal(t, `"`+s+`"`, lines[4*i])
		prev := 2.0
		for _, l := range lines[4*i+1 : 4*i+4] {
			f := strings.Fields(l)
			p, err := strconv.ParseFloat(f[len(f)-1], 64)
			require.NoError(t, err, l)
			require.True(t, p >= 0 && p <= prev, "probabilities must be sorted: %q", l)
			prev = p
		}
	}
	// The built-in model must recognise the plainest samples.
	require.Contains(t, lines[4*1+1], "Psoriasis")
	require.Contains(t, lines[4*2+1], "urinary tract infection")
}

func TestRunArgs(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-k", "1", "my knees and hips ache and are stiff every morning"}, &out))
	require.Equal(t, 2, strings.Count(out.String(), "\n"), out.String())

	require.Error(t, run([]string{"-m", "does-not-exist.lep", "x"}, &out))
	require.Error(t, run([]string{"-bogus"}, &out))
	for _, k := range []string{"0", "-1"} {
		require.Error(t, run([]string{"-k", k, "x"}, &out), "-k %s", k)
	}
}

func TestTopK(t *testing.T) {
	for _, tc := range []struct {
		probs []float32
		k     int
		want  []int
	}{
		{nil, 3, []int{}},
		{[]float32{0.2}, 3, []int{0}},
		{[]float32{0.1, 0.6, 0.3}, 2, []int{1, 2}},
		{[]float32{0.25, 0.25, 0.5}, 3, []int{2, 0, 1}},
		{[]float32{0.1, 0.9}, 0, []int{}},
	} {
		require.Equal(t, tc.want, topK(tc.probs, tc.k))
	}
}
