package main

import (
	"bytes"
	"encoding/json"
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
		{"neither source", []string{"--seq", "16"}, nil, true},
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
