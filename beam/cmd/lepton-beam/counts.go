package main

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	leptonbeam "lepton/beam"
)

func init() {
	register.DoFn1x2[leptonbeam.LabelCounts, string, error](&countsJSONFn{})
	register.DoFn2x2[string, leptonbeam.LabelCounts, string, error](&keyedCountsJSONFn{})
}

// countsJSON is one line of dp-count's output.
type countsJSON struct {
	Key        *string      `json:"key,omitempty"` // under --key_field
	Mechanism  string       `json:"mechanism"`
	K          int          `json:"k"`
	Epsilon    float64      `json:"epsilon"`
	Confidence float64      `json:"confidence"`
	Reports    int64        `json:"reports"`
	Rejected   int64        `json:"rejected"`
	Labels     []labelCount `json:"labels"`
}

// labelCount is one label's estimate: Count devices (unbiased, not
// clipped), its standard error and confidence interval, from Observed
// reports naming it (or with its bit set).
type labelCount struct {
	Index    int      `json:"index"`
	Label    string   `json:"label,omitempty"`
	Observed int64    `json:"observed"`
	Count    *float64 `json:"count"` // null without reports
	StdErr   *float64 `json:"std_err"`
	Lo       *float64 `json:"lo"`
	Hi       *float64 `json:"hi"`
}

func countsLine(key *string, labels []string, lc leptonbeam.LabelCounts) (string, error) {
	out := countsJSON{Key: key, Mechanism: lc.Mechanism, K: lc.K, Epsilon: lc.Epsilon, Confidence: lc.Confidence,
		Reports: lc.Reports, Rejected: lc.Rejected, Labels: make([]labelCount, lc.K)}
	for j := range out.Labels {
		l := labelCount{Index: j}
		if j < len(labels) {
			l.Label = labels[j]
		}
		if j < len(lc.Observed) {
			l.Observed = lc.Observed[j]
		}
		if j < len(lc.Estimates) {
			e := lc.Estimates[j]
			l.Count, l.StdErr, l.Lo, l.Hi = &e.Count, &e.StdErr, &e.Lo, &e.Hi
		}
		out.Labels[j] = l
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// countsJSONFn formats the overall estimate.
type countsJSONFn struct {
	Labels []string `json:"labels,omitempty"`
}

func (f *countsJSONFn) ProcessElement(lc leptonbeam.LabelCounts) (string, error) {
	return countsLine(nil, f.Labels, lc)
}

// keyedCountsJSONFn formats one key's estimate.
type keyedCountsJSONFn struct {
	Labels   []string `json:"labels,omitempty"`
	KeyField string   `json:"key_field"`
}

func (f *keyedCountsJSONFn) ProcessElement(key string, lc leptonbeam.LabelCounts) (string, error) {
	return countsLine(&key, f.Labels, lc)
}
