package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example and checks the ranking: every note listed once,
// cosines in [-1, 1] and descending, and the skin note first for the
// default skin query.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(nil, &out))
	t.Log("\n" + out.String())
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 1+len(notes))
	require.True(t, strings.HasPrefix(lines[0], "query: "))
	seen := map[string]bool{}
	prev := 2.0
	for i, l := range lines[1:] {
		f := strings.SplitN(l, "  ", 2)
		require.Len(t, f, 2, l)
		num, cos := strings.Fields(f[0])[0], strings.Fields(f[0])[1]
		require.Equal(t, strconv.Itoa(i+1)+".", num)
		c, err := strconv.ParseFloat(cos, 64)
		require.NoError(t, err)
		require.True(t, c <= prev && c >= -1.001 && c <= 1.001, "cosines must be sorted and in range: %q", l)
		prev = c
		seen[f[1]] = true
	}
	require.Len(t, seen, len(notes))
	require.Contains(t, lines[1], "rash", "the skin query must rank the skin note first")
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	require.Error(t, run([]string{"-m", "does-not-exist.lep"}, &out))
	require.Error(t, run([]string{"-bogus"}, &out))
}
