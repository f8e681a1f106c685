package lepton

import (
	"context"
	"fmt"
	"sort"
)

// Ranked is one passage of a Rerank result.
type Ranked struct {
	Index int     // the passage's position in the passages given to Rerank
	Text  string  // the passage
	Score float32 // its relevance: Logit through the model's score activation (Info().ScoreActivation)
	Logit float32 // the raw output of the model's single-output head
	// Diagnostics of the (query, passage) pair, as for Classify: an
	// over-long passage is truncated and its end not read.
	Diagnostics Diagnostics
}

// Rerank scores every passage against query with a cross-encoder (a
// classifier with one output, such as sentence-transformers' ms-marco
// rerankers, converted with `lepton quantize`) and returns them all sorted
// by Score, highest first; passages with equal scores keep their input
// order. Each (query, passage) pair is encoded as ClassifyPairs encodes
// it, [CLS] query [SEP] passage [SEP], over-long pairs losing tokens from
// the longer text first, and Score is what sentence-transformers'
// CrossEncoder.predict gives for it: the logit through the activation the
// model's config names (sigmoid unless it says otherwise). Take the first
// k results for a top-k.
//
// Call options work as in ClassifyPairs, except the output hooks
// (WithCalibration, WithGroups, WithPrivateLabel), which concern labels
// and are an error here. A model without a single-output head returns an
// error wrapping ErrNoClassifier. No passages is not an error: the result
// is empty.
func (m *Model) Rerank(ctx context.Context, query string, passages []string, opts ...CallOption) ([]Ranked, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if m.net.Classifier == nil || len(m.labels) != 1 {
		what := fmt.Sprintf("a classifier with %d outputs", len(m.labels))
		if m.net.Classifier == nil {
			what = "no head"
		}
		return nil, fmt.Errorf("%w: Rerank needs a cross-encoder with one output; this %s has %s", ErrNoClassifier, m.net.Config.Architecture, what)
	}
	st := m.getState()
	cc, err := m.callConfig(st, opts)
	m.states.Put(st)
	if err != nil {
		return nil, err
	}
	if cc.fair.apply != nil || len(cc.fair.groups) > 0 || cc.priv.applyLabel != nil {
		return nil, fmt.Errorf("%w: Rerank does not take WithCalibration, WithGroups or WithPrivateLabel (they act on labels)", ErrInvalidOption)
	}
	pairs := make([][2]string, len(passages))
	for i, p := range passages {
		pairs[i] = [2]string{query, p}
	}
	res, err := m.classify(ctx, nil, pairs, opts)
	if err != nil {
		return nil, err
	}
	out := make([]Ranked, len(res))
	for i, r := range res {
		out[i] = Ranked{Index: i, Text: passages[i], Score: r.Probs[0], Logit: r.Logits[0], Diagnostics: r.Diagnostics}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	return out, nil
}
