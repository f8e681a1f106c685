package fairness

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadCSV(t *testing.T) {
	ss, err := ReadCSV(strings.NewReader(",label,group,prediction\n0,1.0,0.0,0.25\n1,0,1.0,1\n"))
	require.NoError(t, err)
	require.Len(t, ss, 2)
	require.Equal(t, Sample{Group: "0", Label: 1, Probs: []float64{0.75, 0.25}, Line: 2}, ss[0])
	require.Equal(t, "1", ss[1].Group)
	require.Equal(t, 3, ss[1].Line)

	ss, err = ReadCSV(strings.NewReader("group,label,prob_0,prob_1,prob_2\nsite-a,2,0.1,0.2,0.7\n"))
	require.NoError(t, err)
	require.Equal(t, []float64{0.1, 0.2, 0.7}, ss[0].Probs)

	ss, err = ReadCSV(strings.NewReader("label,group,logit_0,logit_1\n0,\"F, 40-49\",1,-1\n"))
	require.NoError(t, err)
	require.Equal(t, "F, 40-49", ss[0].Group)
	require.Equal(t, []float64{1, -1}, ss[0].Logits)
	require.InDelta(t, 1, ss[0].Probs[0]+ss[0].Probs[1], 1e-15)
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "line 1: missing header"},
		{"no group", "label,score\n1,0.5\n", "no group column"},
		{"no label", "group,score\n1,0.5\n", "no label column"},
		{"two kinds", "group,label,score,prob_0,prob_1\na,1,0.5,0.5,0.5\n", "exactly one"},
		{"no score", "group,label\na,1\n", "exactly one"},
		{"one prob", "group,label,prob_0\na,0,1\n", "class columns"},
		{"dup column", "group,label,score,score\na,1,0.5,0.5\n", "duplicate"},
		{"bad float", "group,label,score\na,1,0.5\nb,0,x\n", "line 3: column \"score\""},
		{"nan", "group,label,score\na,1,NaN\n", `line 2: column "score": value NaN is not finite`},
		{"inf prob", "group,label,prob_0,prob_1\na,1,0.5,0.5\nb,0,+Inf,0.5\n", `line 3: column "prob_0": value +Inf is not finite`},
		{"nan logit", "group,label,logit_0,logit_1\na,1,0,-inf\n", `line 2: column "logit_1": value -Inf is not finite`},
		{"score and prediction", "group,label,score,prediction\na,1,0.5,0.7\n", "line 1: both score and prediction"},
		{"range", "group,label,score\na,1,1.5\n", "line 2: score 1.5 outside"},
		{"label", "group,label,score\na,0.5,0.5\n", "line 2: label"},
		{"label range", "group,label,prob_0,prob_1\na,2,0.5,0.5\n", "line 2: label 2 out of range"},
		{"sum", "group,label,prob_0,prob_1\na,1,0.5,0.6\n", "line 2: probabilities sum"},
		{"fields", "group,label,score\na,1\n", "line 2: 2 fields"},
		{"empty group", "group,label,score\n,1,0.5\n", "line 2: empty group"},
		{"quote", "group,label,score\na,1,0.5\n\"b,1,0.5\n", "line 3"},
		{"no rows", "group,label,score\n", "no data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			if tc.name != "no rows" {
				require.ErrorIs(t, err, ErrMalformedInput)
			} else {
				require.ErrorIs(t, err, ErrEmpty)
			}
		})
	}
}

func TestReadJSONL(t *testing.T) {
	in := `{"group":"a","label":1,"score":0.9}

{"group":3,"label":0,"probs":[0.6,0.4]}
{"group":"c","label":1.0,"logits":[0,2]}
`
	ss, err := ReadJSONL(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, ss, 3)
	require.Equal(t, "3", ss[1].Group)
	require.Equal(t, 4, ss[2].Line)
	require.InDelta(t, 0.9, ss[0].Score(), 1e-15)

	for _, tc := range []struct{ in, want string }{
		{`{"group":"a","label":1}`, "line 1: need exactly one"},
		{`{"group":"a","label":1,"score":0.5}` + "\n" + `{"group":"a","label":1,"score":0.5,"probs":[0.5,0.5]}`, "line 2: need exactly one"},
		{`{"group":"a","label":1,"score":0.5,"prediction":0.5}`, "both score"},
		{`{"label":1,"score":0.5}`, "missing group"},
		{`{"group":[1],"label":1,"score":0.5}`, "group must be"},
		{`{"group":"a","label":"x","score":0.5}`, "line 1"},
		{`{"group":"a","label":1,"score":0.5} {}`, "trailing"},
		{`{"group":"a","label":1,"probs":[1]}`, "1 classes"},
		{`not json`, "line 1"},
		{`{"group":"a","label":1,"score":0.5}` + "\n" + `{"group":"a","label":1,"probs":[0.2,0.3,0.5]}`, "line 2: 3 classes, earlier rows have 2"},
	} {
		_, err := ReadJSONL(strings.NewReader(tc.in))
		require.ErrorIs(t, err, ErrMalformedInput, tc.in)
		require.Contains(t, err.Error(), tc.want, tc.in)
	}
	// A line over the 1 MiB limit names its line and the limit, not
	// bufio's "token too long".
	long := `{"group":"a","label":1,"score":0.5}` + "\n\n" + `{"group":"a","label":1,"score":0.5,"pad":"` + strings.Repeat("x", maxLine) + `"}` + "\n"
	_, err = ReadJSONL(strings.NewReader(long))
	require.ErrorIs(t, err, ErrMalformedInput)
	require.ErrorContains(t, err, "line 3: longer than 1048576 bytes")
	require.NotContains(t, err.Error(), "token too long")
	// Just under the limit is fine.
	ok := `{"group":"a","label":1,"score":0.5,"pad":"` + strings.Repeat("x", maxLine-64) + `"}`
	ss, err = ReadJSONL(strings.NewReader(ok))
	require.NoError(t, err)
	require.Len(t, ss, 1)
}

// TestBuildSampleNames: the reader-independent check names the value, not
// its position as a bare number.
func TestBuildSampleNames(t *testing.T) {
	for _, tc := range []struct {
		kind scoreKind
		vals []float64
		want string
	}{
		{kindScore, []float64{math.NaN()}, "score = NaN is not finite"},
		{kindProbs, []float64{0.5, math.Inf(1)}, "probs[1] = +Inf is not finite"},
		{kindLogits, []float64{math.Inf(-1), 0}, "logits[0] = -Inf is not finite"},
	} {
		_, err := buildSample("a", "1", tc.kind, tc.vals)
		require.EqualError(t, err, tc.want)
	}
}

func TestFitHash(t *testing.T) {
	a := []Sample{{Group: "a", Label: 1, Probs: BinaryProbs(0.25)}}
	b := []Sample{{Group: "a", Label: 0, Probs: BinaryProbs(0.25)}}
	c := []Sample{{Group: "a", Label: 1, Probs: BinaryProbs(0.25), Line: 9}}
	require.NotEqual(t, FitHash(a), FitHash(b))
	require.Equal(t, FitHash(a), FitHash(c), "line numbers are not data")
	require.Len(t, FitHash(nil), 64)
	require.Equal(t, []string{"x", "y"}, Groups([]Sample{{Group: "x"}, {Group: "y"}, {Group: "x"}}))
}
