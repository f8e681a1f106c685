package leptonbeam

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/stretchr/testify/require"

	"lepton/privacy"
)

const (
	rr  = string(privacy.MechRandomizedResponse)
	oue = string(privacy.MechUnaryEncoding)
)

// population returns n true labels over k, Zipf-like (label j has weight
// 1/(j+1), the last label none), shuffled, and their true counts.
func population(n, k int, seed uint64) (labels, counts []int) {
	w := make([]float64, k)
	var sum float64
	for j := range k - 1 {
		w[j] = 1 / float64(j+1)
		sum += w[j]
	}
	counts = make([]int, k)
	left := n
	for j := range k - 1 {
		counts[j] = int(float64(n) * w[j] / sum)
		left -= counts[j]
	}
	counts[0] += left
	for j, c := range counts {
		for range c {
			labels = append(labels, j)
		}
	}
	r := rand.New(rand.NewPCG(seed, 3))
	r.Shuffle(len(labels), func(a, b int) { labels[a], labels[b] = labels[b], labels[a] })
	return labels, counts
}

// release makes each device's report with the privacy package, at eps.
func release(t testing.TB, mech string, labels []int, k int, eps float64, seed uint64) []Report {
	rel, err := privacy.New(privacy.WithSource(privacy.NewTestingSource(seed)))
	require.NoError(t, err)
	out := make([]Report, len(labels))
	for i, l := range labels {
		if mech == rr {
			r, err := rel.Label(l, k, eps)
			require.NoError(t, err)
			out[i] = ReportFromLabel(r)
		} else {
			r, err := rel.LabelUnary(l, k, eps)
			require.NoError(t, err)
			out[i] = ReportFromUnary(r)
		}
	}
	return out
}

// direct is what the privacy package estimates from the same reports,
// counted in one place.
func direct(t testing.TB, c Counting, reports []Report) []privacy.Estimate {
	counts := make([]int, c.K)
	for _, r := range reports {
		if c.Mechanism == rr {
			counts[r.Label]++
			continue
		}
		for j, b := range r.Bits {
			if b {
				counts[j]++
			}
		}
	}
	var est []privacy.Estimate
	var err error
	if c.Mechanism == rr {
		est, err = privacy.EstimateRR(counts, c.Epsilon, c.confidence())
	} else {
		est, err = privacy.EstimateOUE(counts, len(reports), c.Epsilon, c.confidence())
	}
	require.NoError(t, err)
	return est
}

// TestCountFn: counting in any partition, merged in any order, gives what
// the privacy package's estimator gives on the whole; reports that do not
// fit the Counting are rejected, not counted.
func TestCountFn(t *testing.T) {
	for _, mech := range []string{rr, oue} {
		t.Run(mech, func(t *testing.T) {
			k, eps := 5, 1.5
			c := Counting{Mechanism: mech, K: k, Epsilon: eps, Confidence: 0.9}
			labels, _ := population(3001, k, 1)
			reports := release(t, mech, labels, k, eps, 2)
			fn := &countFn{C: c}
			whole := fn.CreateAccumulator()
			for _, r := range reports {
				whole = fn.AddInput(whole, r)
			}
			r := rand.New(rand.NewPCG(4, 5))
			parts := make([]countAcc, 7)
			for i := range parts {
				parts[i] = fn.CreateAccumulator()
			}
			for _, rep := range reports {
				i := r.IntN(len(parts))
				parts[i] = fn.AddInput(parts[i], rep)
			}
			r.Shuffle(len(parts), func(a, b int) { parts[a], parts[b] = parts[b], parts[a] })
			merged := parts[0]
			for _, p := range parts[1:] {
				merged = fn.MergeAccumulators(merged, p)
			}
			require.Equal(t, whole, merged)
			out, err := fn.ExtractOutput(merged)
			require.NoError(t, err)
			require.EqualValues(t, len(reports), out.Reports)
			require.Zero(t, out.Rejected)
			want := direct(t, c, reports)
			n := float64(len(reports))
			for j, e := range want {
				require.Equal(t, CountEstimate{Count: e.Freq * n, StdErr: e.StdErr * n, Lo: e.Lo * n, Hi: e.Hi * n}, out.Estimates[j])
			}

			// Reports that do not fit are rejected.
			good := reports[0]
			bad := []Report{
				{Mechanism: good.Mechanism, Epsilon: 2, Label: good.Label, Bits: good.Bits},
				{Mechanism: "laplace", Epsilon: eps},
				{Mechanism: good.Mechanism, Epsilon: eps, Label: -1},
				{Mechanism: good.Mechanism, Epsilon: eps, Label: k},
				{Mechanism: good.Mechanism, Epsilon: eps, Bits: make([]bool, k+1)},
			}
			if mech == rr {
				bad = append(bad, Report{Mechanism: rr, Epsilon: eps, Label: 1, Bits: []bool{true}})
			}
			acc := fn.CreateAccumulator()
			for _, b := range bad {
				acc = fn.AddInput(acc, b)
			}
			require.EqualValues(t, len(bad), acc.Rejected)
			require.Zero(t, acc.Reports)
			require.Equal(t, make([]int64, k), acc.Observed)
			empty, err := fn.ExtractOutput(acc)
			require.NoError(t, err)
			require.Nil(t, empty.Estimates, "no reports, no estimates")
		})
	}
	for _, c := range []Counting{
		{Mechanism: rr, K: 1, Epsilon: 1},
		{Mechanism: rr, K: 4, Epsilon: 0},
		{Mechanism: rr, K: 4, Epsilon: math.NaN()},
		{Mechanism: oue, K: 4, Epsilon: 1, Confidence: 1},
		{Mechanism: "laplace", K: 4, Epsilon: 1},
	} {
		require.ErrorIs(t, c.validate(), ErrInvalidConfig, "%+v", c)
	}
}

// TestEstimateCountsAccuracy aggregates simulated device reports on Prism
// and checks the estimates against the true counts the devices held: for
// each mechanism, 60,000 devices, 24 labels (Zipf-like, one held by
// nobody), epsilon 1.
func TestEstimateCountsAccuracy(t *testing.T) {
	const n, k, eps = 60000, 24, 1.0
	for _, mech := range []string{rr, oue} {
		t.Run(mech, func(t *testing.T) {
			labels, truth := population(n, k, 7)
			reports := release(t, mech, labels, k, eps, 8)
			c := Counting{Mechanism: mech, K: k, Epsilon: eps, Confidence: 0.99}
			out := filepath.Join(t.TempDir(), "counts.jsonl")
			run(t, func(s beam.Scope) {
				counts, err := EstimateCounts(s, beam.CreateList(s, reports), c)
				require.NoError(t, err)
				require.NoError(t, WriteLines(s, out, 1, beam.ParDo(s, countsJSON, counts)))
			})
			lines := readLines(t, out, 1)
			require.Len(t, lines, 1)
			var lc LabelCounts
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &lc))
			require.EqualValues(t, n, lc.Reports)
			require.Zero(t, lc.Rejected)

			// The Combine gives exactly what the privacy package gives on
			// the same reports counted in one place.
			for j, e := range direct(t, c, reports) {
				require.Equal(t, e.Freq*n, lc.Estimates[j].Count, "label %d", j)
				require.Equal(t, e.StdErr*n, lc.Estimates[j].StdErr, "label %d", j)
			}
			// And the estimates find the true counts: at 99%, at most 2 of
			// the 24 intervals may miss (binomial: P(more) < 0.3%), and no
			// estimate is 4 standard errors off.
			var missed int
			var sum, maxZ float64
			for j, e := range lc.Estimates {
				tc := float64(truth[j])
				if tc < e.Lo || tc > e.Hi {
					missed++
				}
				maxZ = max(maxZ, math.Abs(e.Count-tc)/e.StdErr)
				sum += e.Count
			}
			t.Logf("%s: %d of %d 99%% intervals miss; largest |z| %.2f; std err of the largest label %.0f (true count %d)",
				mech, missed, k, maxZ, lc.Estimates[0].StdErr, truth[0])
			require.LessOrEqual(t, missed, 2)
			require.Less(t, maxZ, 4.0)
			if mech == rr { // randomized response's estimates sum to n exactly
				require.InDelta(t, float64(n), sum, 1e-6*n)
			}
		})
	}
}

func init() {
	register.Function1x2[LabelCounts, string, error](countsJSON)
	register.Function2x2[string, LabelCounts, string, error](keyedCountsJSON)
	register.Function1x2[keyedReport, string, Report](splitKV)
}

// countsJSON encodes LabelCounts for the tests to read back.
func countsJSON(lc LabelCounts) (string, error) {
	b, err := json.Marshal(lc)
	return string(b), err
}

// keyedCountsJSON encodes a key's LabelCounts as key TAB JSON.
func keyedCountsJSON(key string, lc LabelCounts) (string, error) {
	b, err := json.Marshal(lc)
	return key + "\t" + string(b), err
}

// keyedReport is a report with its key, to make a KV PCollection from.
type keyedReport struct {
	Key    string
	Report Report
}

func splitKV(k keyedReport) (string, Report) { return k.Key, k.Report }

// TestEstimatorUnbiased: over 40 independent simulations, the mean of each
// label's estimated count is within 4 standard errors of the mean of its
// true count (the estimators are unbiased; one draw cannot show it).
func TestEstimatorUnbiased(t *testing.T) {
	const n, k, eps, rounds = 4000, 6, 0.5, 40
	for _, mech := range []string{rr, oue} {
		c := Counting{Mechanism: mech, K: k, Epsilon: eps}
		fn := &countFn{C: c}
		labels, truth := population(n, k, 9)
		mean := make([]float64, k)
		var se []float64
		for round := range rounds {
			acc := fn.CreateAccumulator()
			for _, r := range release(t, mech, labels, k, eps, uint64(100+round)) {
				acc = fn.AddInput(acc, r)
			}
			lc, err := fn.ExtractOutput(acc)
			require.NoError(t, err)
			for j, e := range lc.Estimates {
				mean[j] += e.Count / rounds
			}
			if se == nil {
				for _, e := range lc.Estimates {
					se = append(se, e.StdErr/math.Sqrt(rounds))
				}
			}
		}
		for j := range k {
			require.InDelta(t, float64(truth[j]), mean[j], 4*se[j], "%s label %d", mech, j)
		}
	}
}

// TestEstimateCountsEdges: no reports give one LabelCounts of zero reports;
// per key, each key is estimated from its own reports only.
func TestEstimateCountsEdges(t *testing.T) {
	c := Counting{Mechanism: rr, K: 3, Epsilon: 2}
	dir := t.TempDir()
	sites := map[string][]int{"north": {600, 300, 100}, "south": {0, 100, 900}}
	var keyed []keyedReport
	want := map[string][]Report{}
	for site, counts := range sites {
		var labels []int
		for j, n := range counts {
			for range n {
				labels = append(labels, j)
			}
		}
		reps := release(t, rr, labels, 3, 2, uint64(len(site)))
		want[site] = reps
		for _, r := range reps {
			keyed = append(keyed, keyedReport{Key: site, Report: r})
		}
	}
	run(t, func(s beam.Scope) {
		none, err := EstimateCounts(s, beam.CreateList(s, []Report{}), c)
		require.NoError(t, err)
		require.NoError(t, WriteLines(s, filepath.Join(dir, "none.jsonl"), 1, beam.ParDo(s, countsJSON, none)))
		kv := beam.ParDo(s, splitKV, beam.CreateList(s, keyed))
		per, err := EstimateCountsPerKey(s, kv, c)
		require.NoError(t, err)
		require.NoError(t, WriteLines(s, filepath.Join(dir, "per.jsonl"), 1, beam.ParDo(s, keyedCountsJSON, per)))
	})
	none := readLines(t, filepath.Join(dir, "none.jsonl"), 1)
	require.Len(t, none, 1)
	var lc LabelCounts
	require.NoError(t, json.Unmarshal([]byte(none[0]), &lc))
	require.Zero(t, lc.Reports)
	require.Equal(t, []int64{0, 0, 0}, lc.Observed)
	require.Nil(t, lc.Estimates)

	per := readLines(t, filepath.Join(dir, "per.jsonl"), 1)
	require.Len(t, per, 2)
	for _, l := range per {
		key, body, _ := strings.Cut(l, "\t")
		var lc LabelCounts
		require.NoError(t, json.Unmarshal([]byte(body), &lc))
		require.EqualValues(t, 1000, lc.Reports, key)
		for j, e := range direct(t, c, want[key]) {
			require.Equal(t, e.Freq*1000, lc.Estimates[j].Count, "%s label %d", key, j)
		}
	}
	_, err := EstimateCountsPerKey(beam.NewPipeline().Root(), beam.PCollection{}, Counting{})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestParseReport(t *testing.T) {
	for _, tc := range []struct {
		line, key string
		want      Report
		wantKey   string
		bad       bool
	}{
		{line: `{"label":"Malaria","index":16,"privacy":{"mechanism":"randomized_response","epsilon":1,"delta":0}}`,
			want: Report{Mechanism: rr, Epsilon: 1, Label: 16}},
		{line: `{"label":3,"k":24,"keep_probability":0.1,"cost":{"mechanism":"randomized_response","epsilon":0.5}}`,
			want: Report{Mechanism: rr, Epsilon: 0.5, Label: 3}},
		{line: `{"bits":[false,true,true],"cost":{"mechanism":"optimized_unary_encoding","epsilon":2}}`,
			want: Report{Mechanism: oue, Epsilon: 2, Bits: []bool{false, true, true}}},
		{line: `{"mechanism":"randomized_response","epsilon":1,"label":0,"site":"north"}`, key: "site",
			want: Report{Mechanism: rr, Epsilon: 1}, wantKey: "north"},
		{line: `{"mechanism":"randomized_response","epsilon":1,"label":2,"week":12}`, key: "week",
			want: Report{Mechanism: rr, Epsilon: 1, Label: 2}, wantKey: "12"},
		{line: "\ufeff{\"mechanism\":\"randomized_response\",\"epsilon\":1,\"label\":1}\r", want: Report{Mechanism: rr, Epsilon: 1, Label: 1}},
		{line: `{"label":"Malaria","privacy":{"mechanism":"randomized_response","epsilon":1}}`, bad: true}, // name without index
		{line: `{"index":1}`, bad: true},
		{line: `{"mechanism":"randomized_response","label":1}`, bad: true}, // no epsilon
		{line: `{"mechanism":"randomized_response","epsilon":1}`, bad: true},
		{line: `{"mechanism":"randomized_response","epsilon":1,"label":1.5}`, bad: true},
		{line: `{"mechanism":"randomized_response","epsilon":1,"label":1}`, key: "site", bad: true},
		{line: `{"mechanism":"randomized_response","epsilon":1,"label":1,"site":null}`, key: "site", bad: true},
		{line: `not json`, bad: true},
		{line: "{\"mechanism\":\"randomized_response\xff\",\"epsilon\":1,\"label\":1}", bad: true},
		{line: ``, bad: true},
	} {
		key, r, err := ParseReport(tc.line, tc.key)
		if tc.bad {
			require.Error(t, err, tc.line)
			continue
		}
		require.NoError(t, err, tc.line)
		require.Equal(t, tc.want, r, tc.line)
		require.Equal(t, tc.wantKey, key)
	}
}

func FuzzParseReport(f *testing.F) {
	for _, s := range []string{`{"index":1,"privacy":{"mechanism":"m","epsilon":1}}`, `{"bits":[true],"cost":{"mechanism":"m","epsilon":1}}`, `{}`, `[]`} {
		f.Add(s, "site")
	}
	f.Fuzz(func(t *testing.T, line, key string) {
		k, r, err := ParseReport(line, key)
		if err != nil {
			return
		}
		// (Field names match as encoding/json matches them: any case,
		// escapes decoded; the fuzzer found "indeX".)
		if r.Mechanism == "" || math.IsNaN(r.Epsilon) || math.IsInf(r.Epsilon, 0) {
			t.Fatalf("%q parsed to %+v", line, r)
		}
		k2, r2, err := ParseReport(line, key)
		if err != nil || k2 != k || !reflect.DeepEqual(r, r2) {
			t.Fatalf("%q parses differently twice", line)
		}
	})
}
