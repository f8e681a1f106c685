package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		lengths []int
		bad     bool
	}{
		{"defaults", []string{"--synthetic", "tiny"}, []int{128}, false},
		{"batch", []string{"--synthetic", "tiny", "--seq", "16", "--batch", "3"}, []int{16, 16, 16}, false},
		{"lengths", []string{"-m", "x.lep", "--lengths", "2, 9,40"}, []int{2, 9, 40}, false},
		{"neither source: the built-in model", []string{"--seq", "16"}, []int{16}, false},
		{"both sources", []string{"-m", "x", "--synthetic", "tiny"}, nil, true},
		{"short length", []string{"--synthetic", "tiny", "--lengths", "16,1"}, nil, true},
		{"bad length", []string{"--synthetic", "tiny", "--lengths", "16,x"}, nil, true},
		{"zero threads", []string{"--synthetic", "tiny", "--threads", "0"}, nil, true},
		{"zero runs", []string{"--synthetic", "tiny", "--runs", "0"}, nil, true},
		{"stray arg", []string{"--synthetic", "tiny", "extra"}, nil, true},
		{"unknown flag", []string{"--synthetic", "tiny", "--fast"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, lengths, err := parseBenchFlags(tc.args, &bytes.Buffer{})
			if tc.bad {
				require.Error(t, err)
				require.IsType(t, errUsage{}, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.lengths, lengths)
		})
	}
}

// TestBenchHelpAndArgs: bench parses through the shared parseArgs like
// every other subcommand. -h and --help print the usage line and every flag
// to stderr and exit 0; flags after a stray argument are still parsed, so
// the error names only the stray argument (bench used to stop parsing at
// it and report the flags after it as arguments too).
func TestBenchHelpAndArgs(t *testing.T) {
	flags := []string{"-act-bits int", "-batch int", "-cpuprofile string", "-json", "-lengths string", "-m string",
		"-runs int", "-seq int", "-synthetic string", "-threads int", "-warmup int"}
	for _, h := range []string{"-h", "--help"} {
		code, stdout, stderr := runCLI("", "bench", h)
		require.Equal(t, 0, code, stderr)
		require.Empty(t, stdout)
		lines := strings.Split(stderr, "\n")
		require.Equal(t, "usage: lepton bench [-m MODEL | --synthetic minilm|base|tiny] [--seq N --batch B | --lengths L1,L2,...] [--threads T] [--act-bits 7|8] [--runs R] [--json]", lines[0])
		for _, f := range flags {
			require.Contains(t, lines, "  "+f, h)
		}
		require.Contains(t, stderr, fmt.Sprintf("worker threads per inference (default %d)", runtime.GOMAXPROCS(0)))
		require.Len(t, lines, 2+2*len(flags)+1, "usage and default-model lines, two lines per flag, final newline")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stray", "--synthetic", "tiny"}, `lepton bench: unexpected arguments ["stray"]` + "\n"},
		{[]string{"--synthetic", "tiny", "a", "--runs", "1", "b"}, `lepton bench: unexpected arguments ["a" "b"]` + "\n"},
		{[]string{"stray", "--bogus"}, "lepton bench: flag provided but not defined: -bogus\n"},
		{[]string{"--synthetic", "tiny", "--", "--runs"}, `lepton bench: unexpected arguments ["--runs"]` + "\n"},
	} {
		code, stdout, stderr := runCLI("", append([]string{"bench"}, tc.args...)...)
		require.Equal(t, 2, code, "%q", tc.args)
		require.Empty(t, stdout)
		require.Equal(t, tc.want, stderr, "%q", tc.args)
	}
}

func TestBenchSyntheticJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--synthetic", "tiny", "--lengths", "5,17,3", "--threads", "2", "--runs", "3", "--warmup", "1", "--json"}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var r map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	for _, k := range []string{"kernel", "threads", "median_ms", "min_ms", "max_ms", "tokens_per_s", "open_ms", "peak_rss_mb"} {
		require.Contains(t, r, k)
	}
	require.EqualValues(t, 2, r["threads"])
	require.EqualValues(t, 3, r["runs"])
	require.NotEmpty(t, r["kernel"])
	minMS, med, maxMS := r["min_ms"].(float64), r["median_ms"].(float64), r["max_ms"].(float64)
	require.Greater(t, minMS, 0.0)
	require.LessOrEqual(t, minMS, med)
	require.LessOrEqual(t, med, maxMS)
	require.InDelta(t, 25/(med/1000), r["tokens_per_s"], 1e-6*r["tokens_per_s"].(float64))

	// Text output and a usage error.
	out.Reset()
	require.Equal(t, 0, run([]string{"bench", "--synthetic", "tiny", "--seq", "8", "--runs", "1"}, nil, &out, &errb))
	require.Contains(t, out.String(), "median")
	require.Equal(t, 2, run([]string{"bench", "--synthetic", "nope"}, nil, &out, &errb))
	require.Equal(t, 2, run([]string{"bench", "--synthetic", "tiny", "--seq", "4000"}, nil, &out, &errb))
}

func TestSummarise(t *testing.T) {
	r := summarise([]float64{4, 1, 3, 2}, []int{10, 30})
	require.Equal(t, 2.5, r.MedianMS)
	require.Equal(t, 1.0, r.MinMS)
	require.Equal(t, 4.0, r.MaxMS)
	require.InDelta(t, 40/0.0025, r.TokensPerS, 1e-6)
	require.InDelta(t, 2/0.0025, r.TextsPerS, 1e-6)
	r = summarise([]float64{7}, []int{3})
	require.Equal(t, 7.0, r.MedianMS)
}
