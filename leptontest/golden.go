// Package leptontest provides golden-output tests for programs that embed
// Lepton, as net/http/httptest and testing/fstest do for theirs.
//
// A team that ships a model inside its Go program wants a test that fails
// when a model file, a Lepton upgrade or a new machine moves the program's
// outputs. Check records a model's outputs for a list of inputs into a
// golden file when asked to, and compares every other run with it,
// reporting what moved and by how much:
//
//	func TestTriageModel(t *testing.T) {
//		m, err := lepton.Open("testdata/triage.lep")
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer m.Close()
//		leptontest.Check(t, m, "testdata/triage.golden.json", leptontest.Inputs{
//			Classify: []string{"fever and chills for three days", "itchy red rash on both arms"},
//			Embed:    []string{"sore throat"},
//		})
//	}
//
// A run with the flag -leptontest.update (or the test binary's own -update
// flag, or LEPTON_UPDATE_GOLDEN=1 in the environment) writes the golden
// file; commit it. Other runs fail with a readable report when an output
// moved beyond the tolerance, or when the golden file is missing:
//
//	go test -run TestTriageModel                      # check
//	go test -run TestTriageModel -leptontest.update   # accept the new outputs
//
// # Tolerances
//
// By default the comparison is exact: every logit, probability, vector
// component and score must have the same bits as in the golden file. That
// is a fair default, because Lepton's outputs are bit-identical across its
// kernel tiers (AVX-512 VNNI, AVX2, arm64, pure Go) and thread counts at
// one activation precision: an exact golden moves only when the model file,
// Lepton's arithmetic or the call's options change. WithTolerance sets
// per-output bounds instead (labels stay exact unless LabelMargin allows
// near ties), for goldens that compare different precisions or engines,
// such as Lepton's int8 outputs against a PyTorch reference.
//
// Golden files are JSON with one case per line, so that a diff shows which
// inputs moved. A golden file made by another tool (Lepton's own reference
// goldens come from PyTorch) names it in "source" and is never overwritten
// by an update. Record, Compare, Read and WriteFile give the same machinery
// without testing.TB, and `lepton golden record|check` gives it to programs
// whose CI is not written in Go.
package leptontest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"lepton"
)

// Version is the golden file format this package reads and writes.
const Version = 1

// SourceLepton is the Source of golden files recorded by this package.
// Files with any other source were made by an independent reference and
// are never overwritten by an update.
const SourceLepton = "lepton"

// Kind is what a case runs.
type Kind string

// Case kinds, in the order Record runs them.
const (
	KindClassify     Kind = "classify"      // Model.Classify on Text
	KindClassifyPair Kind = "classify_pair" // Model.ClassifyPairs on (Text, Pair)
	KindEmbed        Kind = "embed"         // Model.Embed on Text
	KindRerank       Kind = "rerank"        // Model.Rerank of Passages against Query
)

var kindOrder = map[Kind]int{KindClassify: 0, KindClassifyPair: 1, KindEmbed: 2, KindRerank: 3}

// Inputs lists what to run through a model. Every field may be empty.
type Inputs struct {
	Classify      []string    // texts for Classify
	ClassifyPairs [][2]string // pairs for ClassifyPairs
	Embed         []string    // texts for Embed
	Rerank        []Query     // queries with their passages, for Rerank
}

// Query is one Rerank input.
type Query struct {
	Query    string   `json:"query"`
	Passages []string `json:"passages"`
}

// IsZero reports whether in has no inputs at all.
func (in Inputs) IsZero() bool {
	return len(in.Classify) == 0 && len(in.ClassifyPairs) == 0 && len(in.Embed) == 0 && len(in.Rerank) == 0
}

// Golden is the content of a golden file.
type Golden struct {
	Version int    `json:"leptontest"`
	Source  string `json:"source"` // SourceLepton, or the reference that made the file
	// Model describes the model that produced the outputs, for the
	// report's notes; it takes no part in the comparison.
	Model ModelInfo `json:"model"`
	// Options records settings of the run the file's maker wants kept
	// with it (`lepton golden record` stores its flags here).
	Options map[string]string `json:"options,omitempty"`
	Cases   []Case            `json:"cases"`
}

// ModelInfo describes the model a golden file was made with.
type ModelInfo struct {
	Architecture    string   `json:"architecture,omitempty"`
	Labels          []string `json:"labels,omitempty"`
	Pooling         string   `json:"pooling,omitempty"`
	EmbeddingDim    int      `json:"embedding_dim,omitempty"`
	Normalize       bool     `json:"normalize,omitempty"`
	ScoreActivation string   `json:"score_activation,omitempty"`
	ActBits         int      `json:"act_bits,omitempty"` // Lepton's activation precision; 0 for references
	Kernel          string   `json:"kernel,omitempty"`   // the kernel tier of the recording (outputs do not depend on it)
	Format          string   `json:"format,omitempty"`   // .lep format version
	SourceSHA256    string   `json:"source_sha256,omitempty"`
}

// Case is one input and the outputs recorded for it.
type Case struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name,omitempty"`
	// Inputs.
	Text     string   `json:"text,omitempty"` // classify, embed; the first text of a pair
	Pair     string   `json:"pair,omitempty"` // classify_pair: the second text
	Query    string   `json:"query,omitempty"`
	Passages []string `json:"passages,omitempty"`
	// Outputs.
	Label   string    `json:"label,omitempty"`
	Index   *int      `json:"index,omitempty"`
	Probs   []float32 `json:"probs,omitempty"`
	Logits  []float32 `json:"logits,omitempty"`
	Vector  []float32 `json:"vector,omitempty"`
	Ranking []Ranked  `json:"ranking,omitempty"`
}

// Ranked is one passage of a recorded Rerank result.
type Ranked struct {
	Index int     `json:"index"`
	Score float32 `json:"score"`
	Logit float32 `json:"logit"`
}

// describe names a case's input for reports.
func (c *Case) describe() string {
	q := func(s string) string {
		if len(s) > 60 {
			s = s[:57] + "..."
		}
		return fmt.Sprintf("%q", s)
	}
	switch c.Kind {
	case KindClassifyPair:
		return fmt.Sprintf("%s %s / %s", c.Kind, q(c.Text), q(c.Pair))
	case KindRerank:
		return fmt.Sprintf("%s %s (%d passages)", c.Kind, q(c.Query), len(c.Passages))
	}
	return fmt.Sprintf("%s %s", c.Kind, q(c.Text))
}

// sameInput reports whether a and b run the same input.
func (c *Case) sameInput(o *Case) bool {
	return c.Kind == o.Kind && c.Text == o.Text && c.Pair == o.Pair && c.Query == o.Query && slices.Equal(c.Passages, o.Passages)
}

// inputCases lists the cases of in, in Record's order, without outputs.
func inputCases(in Inputs) []Case {
	var cs []Case
	for _, t := range in.Classify {
		cs = append(cs, Case{Kind: KindClassify, Text: t})
	}
	for _, p := range in.ClassifyPairs {
		cs = append(cs, Case{Kind: KindClassifyPair, Text: p[0], Pair: p[1]})
	}
	for _, t := range in.Embed {
		cs = append(cs, Case{Kind: KindEmbed, Text: t})
	}
	for _, q := range in.Rerank {
		cs = append(cs, Case{Kind: KindRerank, Query: q.Query, Passages: q.Passages})
	}
	return cs
}

// Inputs returns the inputs of g's cases, for running them again.
func (g *Golden) Inputs() Inputs {
	var in Inputs
	for _, c := range g.sorted() {
		switch c.Kind {
		case KindClassify:
			in.Classify = append(in.Classify, c.Text)
		case KindClassifyPair:
			in.ClassifyPairs = append(in.ClassifyPairs, [2]string{c.Text, c.Pair})
		case KindEmbed:
			in.Embed = append(in.Embed, c.Text)
		case KindRerank:
			in.Rerank = append(in.Rerank, Query{Query: c.Query, Passages: c.Passages})
		}
	}
	return in
}

// sorted returns g's cases in Record's order (by kind, stable).
func (g *Golden) sorted() []Case {
	cs := slices.Clone(g.Cases)
	sort.SliceStable(cs, func(i, j int) bool { return kindOrder[cs[i].Kind] < kindOrder[cs[j].Kind] })
	return cs
}

// Record runs every input through m (Classify, ClassifyPairs, Embed,
// Rerank, with opts) and returns the outputs as a golden file's content.
func Record(ctx context.Context, m *lepton.Model, in Inputs, opts ...lepton.CallOption) (*Golden, error) {
	info := m.Info()
	g := &Golden{Version: Version, Source: SourceLepton, Model: ModelInfo{
		Architecture: info.Architecture, Labels: info.Labels, Pooling: info.Pooling, EmbeddingDim: info.EmbeddingDim,
		Normalize: info.Normalize, ScoreActivation: info.ScoreActivation, ActBits: info.ActBits,
		Kernel: info.Kernel, Format: info.Format, SourceSHA256: info.Metadata["source_sha256"],
	}}
	g.Cases = inputCases(in)
	k := 0
	if len(in.Classify) > 0 {
		res, err := m.Classify(ctx, in.Classify, opts...)
		if err != nil {
			return nil, fmt.Errorf("leptontest: classify: %w", err)
		}
		for _, r := range res {
			setClassification(&g.Cases[k], r)
			k++
		}
	}
	if len(in.ClassifyPairs) > 0 {
		res, err := m.ClassifyPairs(ctx, in.ClassifyPairs, opts...)
		if err != nil {
			return nil, fmt.Errorf("leptontest: classify pairs: %w", err)
		}
		for _, r := range res {
			setClassification(&g.Cases[k], r)
			k++
		}
	}
	if len(in.Embed) > 0 {
		vecs, err := m.Embed(ctx, in.Embed, opts...)
		if err != nil {
			return nil, fmt.Errorf("leptontest: embed: %w", err)
		}
		for _, v := range vecs {
			g.Cases[k].Vector = v
			k++
		}
	}
	for _, q := range in.Rerank {
		res, err := m.Rerank(ctx, q.Query, q.Passages, opts...)
		if err != nil {
			return nil, fmt.Errorf("leptontest: rerank %q: %w", q.Query, err)
		}
		rk := make([]Ranked, len(res))
		for i, r := range res {
			rk[i] = Ranked{Index: r.Index, Score: r.Score, Logit: r.Logit}
		}
		g.Cases[k].Ranking = rk
		k++
	}
	return g, nil
}

func setClassification(c *Case, r lepton.Classification) {
	idx := r.Index
	c.Label, c.Index, c.Probs, c.Logits = r.Label, &idx, r.Probs, r.Logits
}

// ErrFormat is returned by Read for a file that is not a golden file of a
// version this package reads.
var ErrFormat = errors.New("leptontest: not a golden file")

// Read reads a golden file.
func Read(path string) (*Golden, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(data, path)
}

// parse decodes a golden file's content; name is for messages.
func parse(data []byte, name string) (*Golden, error) {
	var g Golden
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	if g.Version != Version {
		return nil, fmt.Errorf("%w: %s: version %d (this package reads %d)", ErrFormat, name, g.Version, Version)
	}
	for i := range g.Cases {
		if _, ok := kindOrder[g.Cases[i].Kind]; !ok {
			return nil, fmt.Errorf("%w: %s: case %d has kind %q", ErrFormat, name, i, g.Cases[i].Kind)
		}
	}
	return &g, nil
}

// WriteFile writes g to path (creating its directory), one case per line.
func (g *Golden) WriteFile(path string) error {
	var b bytes.Buffer
	head := *g
	head.Cases = nil
	h, err := marshalNoEscape(head)
	if err != nil {
		return err
	}
	// {"leptontest":1,...,"cases":null} -> {..."cases":[\n case,\n case\n]}
	b.Write(bytes.TrimSuffix(h, []byte("null}")))
	b.WriteString("[")
	for i := range g.Cases {
		c, err := marshalNoEscape(&g.Cases[i])
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n")
		b.Write(c)
	}
	b.WriteString("\n]}\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// marshalNoEscape is json.Marshal without HTML escaping, so texts stay
// readable in diffs.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// inputsDiffer describes the first difference between the inputs of two
// case lists, "" when they run the same inputs.
func inputsDiffer(want, got []Case) string {
	for i := range min(len(want), len(got)) {
		if !want[i].sameInput(&got[i]) {
			return fmt.Sprintf("case %d is %s in the golden file but %s now", i, want[i].describe(), got[i].describe())
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("the golden file has %d cases, the inputs %d", len(want), len(got))
	}
	return ""
}

// ErrInputsChanged is returned by Compare when the two goldens do not run
// the same inputs.
var ErrInputsChanged = errors.New("leptontest: inputs differ from the golden file's")

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
