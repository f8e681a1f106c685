//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStreamMemoryFlat pipes 200,000 lines through lepton classify (and
// 20,000 through embed and tokenize), as separate processes, and checks
// that each prints one result per line and that its peak resident memory
// (getrusage's ru_maxrss) stays within a few MB of a run on 1% of the
// lines: the commands stream in batches, so memory must not grow with the
// input. Before streaming, classify held every line and every result (embed
// of 20,000 lines peaked at 133 MB, 200,000 would take over 1 GB). No
// timing is asserted.
func TestStreamMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("pipes 200,000 lines through the CLI (about 8 s of CPU)")
	}
	requireSubprocess(t)
	bin, err := exec.LookPath("lepton") // this test binary, installed by TestMain
	require.NoError(t, err)
	for _, tc := range []struct {
		args  []string
		lines int
	}{
		{[]string{"classify"}, 200_000},
		{[]string{"embed"}, 20_000},
		{[]string{"tokenize"}, 200_000},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			small, outSmall := peakRSS(t, bin, tc.args, tc.lines/100)
			large, outLarge := peakRSS(t, bin, tc.args, tc.lines)
			require.Equal(t, tc.lines/100, outSmall)
			require.Equal(t, tc.lines, outLarge, "one result per input line")
			t.Logf("%s: peak RSS %.1f MB for %d lines, %.1f MB for %d", tc.args[0], mb(small), tc.lines/100, mb(large), tc.lines)
			// Generous: the Go heap may grow a little once; a buffering
			// command would need hundreds of MB more.
			require.Less(t, large, small+24<<20, "peak RSS grows with the input: %.1f MB for %d lines vs %.1f MB for %d",
				mb(large), tc.lines, mb(small), tc.lines/100)
		})
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// peakRSS runs the lepton command with n short lines on stdin
// and returns its peak resident set in bytes and the lines it printed.
func peakRSS(t *testing.T, bin string, args []string, n int) (int64, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		w := bufio.NewWriter(stdin)
		for i := range n {
			fmt.Fprintf(w, "fever %d\n", i%10) // short: the test is about memory, not the model's time
		}
		w.Flush()
		stdin.Close()
	}()
	lines := 0
	br := bufio.NewReader(stdout)
	for {
		_, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue // a long line (embed's vectors): keep reading it
		}
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		lines++
	}
	require.NoError(t, cmd.Wait())
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	require.True(t, ok)
	return ru.Maxrss << 10, lines // kilobytes on Linux
}
