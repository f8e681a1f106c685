package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example with its defaults: every request answered
// within its deadline, each text labelled the same by every goroutine
// (run itself fails otherwise), and the expired deadline reported as
// context.DeadlineExceeded.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(nil, &out))
	t.Log("\n" + out.String())
	s := out.String()
	require.Contains(t, s, "40 requests from 8 goroutines sharing one model: 40 answered, 0 past")
	require.Contains(t, s, "context deadline exceeded (errors.Is DeadlineExceeded: true)")
	for _, r := range requests {
		require.Contains(t, s, "x8   \""+r+"\"", "each of the 5 texts is asked 8 times")
	}
}

// TestRunTinyDeadline gives every request a deadline too short to finish:
// each one must come back as a deadline error, none as a failure.
func TestRunTinyDeadline(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-workers", "3", "-requests", "7", "-timeout", "1ns"}, &out))
	require.Contains(t, out.String(), "7 requests from 3 goroutines sharing one model: 0 answered, 7 past their 1ns deadline")
}

func TestRunArgs(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-workers", "1", "-requests", "0"}, &out))
	require.Contains(t, out.String(), "0 requests from 1 goroutines sharing one model: 0 answered")
	require.Error(t, run([]string{"-workers", "0"}, &out))
	require.Error(t, run([]string{"-m", "does-not-exist.lep"}, &out))
}
