package leptontest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tolerance bounds how far each kind of output may move from the golden
// file. Every field bounds one quantity and 0 demands equality (the same
// float32 bits), so the zero Tolerance is the exact comparison; set a
// field to math.Inf(1) to leave its quantity unchecked.
//
// For example, Lepton's own test of int8 embeddings against a PyTorch
// reference allows Tolerance{Cosine: 0.001, Vector: 0.05} (cosine >= 0.999,
// each component within 0.05), and its fp32 path Tolerance{Vector: 1e-4}.
type Tolerance struct {
	Logits float64 // largest |got - want| of a logit (classifier or rerank)
	Probs  float64 // largest |got - want| of a probability (a single-output head's score)
	Vector float64 // largest |got - want| of an embedding component
	Cosine float64 // largest cosine distance, 1 - cos(got, want), of an embedding
	Score  float64 // largest |got - want| of a rerank score; passages may swap ranks only when their golden scores are this close
	// LabelMargin lets a classification's label change where the golden
	// file's two most probable labels are closer than this in probability
	// (a near tie); 0 keeps labels exact.
	LabelMargin float64
}

// Exact is the zero Tolerance: bit-identical outputs.
var Exact = Tolerance{}

func (t Tolerance) String() string {
	if t == Exact {
		return "exact"
	}
	var parts []string
	add := func(name string, v float64) {
		switch {
		case math.IsInf(v, 1):
		case v == 0:
			parts = append(parts, name+" exact")
		default:
			parts = append(parts, name+" "+strconv.FormatFloat(v, 'g', 3, 64))
		}
	}
	add("logits", t.Logits)
	add("probs", t.Probs)
	add("vector", t.Vector)
	add("1-cos", t.Cosine)
	add("score", t.Score)
	if t.LabelMargin > 0 {
		parts = append(parts, "labels may change at ties under "+strconv.FormatFloat(t.LabelMargin, 'g', 3, 64))
	}
	return strings.Join(parts, ", ")
}

// Report is the result of comparing outputs with a golden file.
type Report struct {
	Path      string // the golden file, for messages ("" when unknown)
	Tolerance Tolerance
	Cases     int    // cases compared
	Moved     []Diff // cases outside the tolerance, in order
	// Worst holds the largest deviation of each quantity over every case,
	// inside the tolerance or not (the figures a test logs).
	Worst Worst
	Notes []string // differences between the models that made the two outputs
}

// Worst is the largest deviation of each quantity over the compared cases.
type Worst struct {
	Logits, Probs, Vector, Score float64
	MinCosine                    float64 // lowest cosine similarity of an embedding (1 when there are none)
	LabelChanges, RankChanges    int
}

// Diff is one case outside the tolerance.
type Diff struct {
	Case  int      // position in the golden file (Record's order)
	Input string   // what the case runs
	What  []string // what moved, one line each
}

// OK reports whether every case is within the tolerance.
func (r *Report) OK() bool { return len(r.Moved) == 0 }

// maxListed bounds the cases a report lists.
const maxListed = 12

// String is the report people read: each case that moved, what moved and
// by how much, the worst deviations over all cases and notes on how the
// models differ.
func (r *Report) String() string {
	var b strings.Builder
	name := "golden file"
	if r.Path != "" {
		name = r.Path
	}
	if r.OK() {
		fmt.Fprintf(&b, "%s: %d cases within the tolerance (%s)", name, r.Cases, r.Tolerance)
	} else {
		fmt.Fprintf(&b, "%s: %d of %d cases moved beyond the tolerance (%s):", name, len(r.Moved), r.Cases, r.Tolerance)
		for i, d := range r.Moved {
			if i == maxListed {
				fmt.Fprintf(&b, "\n  ... and %d more cases", len(r.Moved)-maxListed)
				break
			}
			fmt.Fprintf(&b, "\n  case %d, %s:", d.Case, d.Input)
			for _, w := range d.What {
				fmt.Fprintf(&b, "\n      %s", w)
			}
		}
	}
	w := r.Worst
	fmt.Fprintf(&b, "\n  worst over all %d cases: logits %s, probs %s, vector %s, cosine %s, score %s; %d label and %d rank changes",
		r.Cases, g4(w.Logits), g4(w.Probs), g4(w.Vector), strconv.FormatFloat(w.MinCosine, 'f', 6, 64), g4(w.Score), w.LabelChanges, w.RankChanges)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n  note: %s", n)
	}
	return b.String()
}

func g4(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// within reports whether got is within tol of want: the same bits for
// tol 0, |got - want| <= tol otherwise.
func within(got, want float32, tol float64) bool {
	if tol == 0 {
		return math.Float32bits(got) == math.Float32bits(want)
	}
	return math.Abs(float64(got)-float64(want)) <= tol
}

// compareValues checks two vectors element by element; it returns the
// largest |difference| and, when some element is out of tolerance, a line
// naming the worst one.
func compareValues(name string, got, want []float32, tol float64, labels []string) (float64, string) {
	if len(got) != len(want) {
		return math.Inf(1), fmt.Sprintf("%s: %d values, golden %d", name, len(got), len(want))
	}
	worst, at, bad := 0.0, -1, false
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !within(got[i], want[i], tol) {
			bad = true
		}
		if d > worst || at < 0 && !within(got[i], want[i], 0) {
			worst, at = d, i
		}
	}
	if !bad {
		return worst, ""
	}
	label := ""
	if at < len(labels) {
		label = " " + labels[at]
	}
	return worst, fmt.Sprintf("%s: max |Δ| %s at [%d]%s: %s -> %s (allowed %s)", name, g4(worst), at, label,
		fmtF(want[at]), fmtF(got[at]), fmtTol(tol))
}

func fmtF(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

func fmtTol(t float64) string {
	if t == 0 {
		return "0: exact"
	}
	return g4(t)
}

// cosine returns the cosine similarity of a and b (1 for identical bits).
func cosine(a, b []float32) float64 {
	same := true
	var ab, aa, bb float64
	for i := range a {
		same = same && math.Float32bits(a[i]) == math.Float32bits(b[i])
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	switch {
	case same:
		return 1
	case aa == 0 || bb == 0:
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// topMargin is the gap between the two largest values of p (the whole
// value for one).
func topMargin(p []float32) float64 {
	first, second := math.Inf(-1), math.Inf(-1)
	for _, v := range p {
		switch x := float64(v); {
		case x > first:
			first, second = x, first
		case x > second:
			second = x
		}
	}
	if math.IsInf(second, -1) {
		return math.Inf(1)
	}
	return first - second
}

// Compare compares got with want (the golden file's content) under tol. It
// returns ErrInputsChanged, and no report, when the two do not run the
// same inputs.
func Compare(want, got *Golden, tol Tolerance) (*Report, error) {
	wc, gc := want.sorted(), got.sorted()
	if d := inputsDiffer(wc, gc); d != "" {
		return nil, fmt.Errorf("%w: %s", ErrInputsChanged, d)
	}
	r := &Report{Tolerance: tol, Cases: len(wc), Worst: Worst{MinCosine: 1}, Notes: modelNotes(&want.Model, &got.Model)}
	labels := want.Model.Labels
	for i := range wc {
		w, g := &wc[i], &gc[i]
		var what []string
		note := func(s string) {
			if s != "" {
				what = append(what, s)
			}
		}
		switch w.Kind {
		case KindClassify, KindClassifyPair:
			if w.Index != nil && g.Index != nil && (*w.Index != *g.Index || w.Label != g.Label) {
				r.Worst.LabelChanges++
				if tol.LabelMargin == 0 || topMargin(w.Probs) >= tol.LabelMargin {
					note(fmt.Sprintf("label %q (index %d) -> %q (index %d)", w.Label, *w.Index, g.Label, *g.Index))
				}
			}
			d, s := compareValues("logits", g.Logits, w.Logits, tol.Logits, labels)
			r.Worst.Logits = max(r.Worst.Logits, d)
			note(s)
			d, s = compareValues("probs", g.Probs, w.Probs, tol.Probs, labels)
			r.Worst.Probs = max(r.Worst.Probs, d)
			note(s)
		case KindEmbed:
			d, s := compareValues("vector", g.Vector, w.Vector, tol.Vector, nil)
			r.Worst.Vector = max(r.Worst.Vector, d)
			note(s)
			if len(g.Vector) == len(w.Vector) {
				c := cosine(g.Vector, w.Vector)
				r.Worst.MinCosine = min(r.Worst.MinCosine, c)
				if 1-c > tol.Cosine && !math.IsInf(tol.Cosine, 1) {
					note(fmt.Sprintf("vector: cosine %.6f with the golden (1 - cos %s, allowed %s)", c, g4(1-c), fmtTol(tol.Cosine)))
				}
			}
		case KindRerank:
			for _, s := range compareRanking(r, g.Ranking, w.Ranking, tol) {
				note(s)
			}
		}
		if len(what) > 0 {
			r.Moved = append(r.Moved, Diff{Case: i, Input: w.describe(), What: what})
		}
	}
	return r, nil
}

// compareRanking compares two Rerank results: each passage's score and
// logit, and the order, where a swap is allowed only between passages
// whose golden scores are within tol.Score of each other.
func compareRanking(r *Report, got, want []Ranked, tol Tolerance) []string {
	if len(got) != len(want) {
		return []string{fmt.Sprintf("ranking: %d passages, golden %d", len(got), len(want))}
	}
	wantBy := map[int]Ranked{}
	for _, x := range want {
		wantBy[x.Index] = x
	}
	var out []string
	var gs, ws, gl, wl []float32
	for _, x := range got {
		w, ok := wantBy[x.Index]
		if !ok {
			return []string{fmt.Sprintf("ranking: passage %d is not in the golden ranking", x.Index)}
		}
		gs, ws, gl, wl = append(gs, x.Score), append(ws, w.Score), append(gl, x.Logit), append(wl, w.Logit)
	}
	d, s := compareValues("scores (by rank now)", gs, ws, tol.Score, nil)
	r.Worst.Score = max(r.Worst.Score, d)
	if s != "" {
		out = append(out, s)
	}
	d, s = compareValues("logits (by rank now)", gl, wl, tol.Logits, nil)
	r.Worst.Logits = max(r.Worst.Logits, d)
	if s != "" {
		out = append(out, s)
	}
	for k := range got {
		if got[k].Index == want[k].Index {
			continue
		}
		r.Worst.RankChanges++
		a, b := wantBy[got[k].Index], want[k]
		if tol.Score == 0 || math.Abs(float64(a.Score)-float64(b.Score)) > tol.Score {
			out = append(out, fmt.Sprintf("rank %d: passage %d (golden score %s) is now where passage %d (golden score %s) was",
				k+1, a.Index, fmtF(a.Score), b.Index, fmtF(b.Score)))
		}
	}
	return out
}

// modelNotes explains differences between the models behind two goldens.
func modelNotes(want, got *ModelInfo) []string {
	var n []string
	if want.Architecture != "" && got.Architecture != "" && want.Architecture != got.Architecture {
		n = append(n, fmt.Sprintf("architecture %s in the golden file, %s now", want.Architecture, got.Architecture))
	}
	if want.ActBits != got.ActBits && want.ActBits != 0 && got.ActBits != 0 {
		n = append(n, fmt.Sprintf("the golden file was recorded with %d-bit activations, this run used %d (WithActivationBits)", want.ActBits, got.ActBits))
	}
	if want.SourceSHA256 != "" && got.SourceSHA256 != "" && want.SourceSHA256 != got.SourceSHA256 {
		n = append(n, fmt.Sprintf("the model was converted from another checkpoint (source_sha256 %.12s... in the golden file, %.12s... now)", want.SourceSHA256, got.SourceSHA256))
	}
	if want.Format != "" && got.Format != "" && want.Format != got.Format {
		n = append(n, fmt.Sprintf(".lep format %s in the golden file, %s now", want.Format, got.Format))
	}
	if want.Kernel != "" && got.Kernel != "" && want.Kernel != got.Kernel {
		n = append(n, fmt.Sprintf("kernel tier %s in the golden file, %s now (Lepton's tiers give the same bits, so this alone moves nothing)", want.Kernel, got.Kernel))
	}
	if !equalStrings(want.Labels, got.Labels) && len(want.Labels) > 0 && len(got.Labels) > 0 {
		n = append(n, fmt.Sprintf("labels %s in the golden file, %s now", quoteList(want.Labels), quoteList(got.Labels)))
	}
	return n
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
