package lepton_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"

	"lepton"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

// exampleModel converts the small random-weight test checkpoint in
// testdata/golden/random-bert (3 labels: negative, neutral, positive) to a
// temporary .lep file, as `lepton quantize` would, and returns its path.
// Real programs open a file made once by the command-line tool.
func exampleModel() (path string, cleanup func()) { return exampleFixture("random-bert") }

// exampleFixture converts testdata/golden/NAME the same way.
func exampleFixture(name string) (path string, cleanup func()) {
	net, tok, meta, err := convert.FromHF(filepath.Join("testdata", "golden", name), convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "lepton-example")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "model.lep")
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := lepfile.Write(f, net, tok, meta); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

func ExampleModel_Classify() {
	path, cleanup := exampleModel()
	defer cleanup()

	m, err := lepton.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	res, err := m.Classify(context.Background(), []string{
		"The patient has had a high fever, chills and a headache for three days.",
		"",
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		fmt.Printf("%s (index %d) p=%.2f of %d labels\n", r.Label, r.Index, r.Probs[r.Index], len(r.Probs))
	}
	// ONNX Runtime on the fp32 checkpoint (testdata/golden/random_bert.json)
	// gives neutral p=0.53, and neutral p=0.47 for the empty text, a near tie
	// with positive (p=0.46) in this random-weight model that the default
	// 7-bit activations tip to positive; WithActivationBits(8) keeps it
	// neutral (p=0.47).

	// Output:
	// neutral (index 1) p=0.51 of 3 labels
	// positive (index 2) p=0.47 of 3 labels
}

// A classifier picks a label for any input, even one it could not read;
// Diagnostics say which answers are about the text.
func ExampleDiagnostics() {
	path, cleanup := exampleModel()
	defer cleanup()
	m, err := lepton.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	texts := []string{"fever and cough", "", "😷 😷", strings.Repeat("fever ", 1000)}
	res, err := m.Classify(context.Background(), texts)
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range res {
		d := r.Diagnostics
		switch {
		case d.Tokens == 0:
			fmt.Printf("input %d: empty, no answer\n", i)
		case d.Unknown >= 0.5:
			fmt.Printf("input %d: %.0f%% of its tokens are unknown to the model, no answer\n", i, 100*d.Unknown)
		case d.Truncated:
			fmt.Printf("input %d: %s, from its first %d tokens only\n", i, r.Label, d.Tokens)
		default:
			fmt.Printf("input %d: %s\n", i, r.Label)
		}
	}
	// Output:
	// input 0: neutral
	// input 1: empty, no answer
	// input 2: 100% of its tokens are unknown to the model, no answer
	// input 3: neutral, from its first 126 tokens only
}

func ExampleModel_ClassifyPairs() {
	path, cleanup := exampleModel()
	defer cleanup()

	m, err := lepton.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// Encoded as [CLS] a [SEP] b [SEP], token types 0 then 1.
	res, err := m.ClassifyPairs(context.Background(), [][2]string{
		{"i feel a sore throat and a cough", "no fever since monday"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s p=%.2f\n", res[0].Label, res[0].Probs[res[0].Index])
	// ONNX Runtime on the fp32 checkpoint: negative, p=0.49.

	// Output:
	// negative p=0.48
}

func ExampleModel_Embed() {
	path, cleanup := exampleModel()
	defer cleanup()

	m, err := lepton.Open(path, lepton.WithThreads(2))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	vecs, err := m.Embed(context.Background(), []string{"sore throat", "a sore throat and a cough"},
		lepton.WithPooling(lepton.PoolMean), lepton.WithNormalize(true))
	if err != nil {
		log.Fatal(err)
	}
	var dot float32
	for i := range vecs[0] {
		dot += vecs[0][i] * vecs[1][i]
	}
	fmt.Printf("%d vectors of %d values, cosine similarity %.1f\n", len(vecs), len(vecs[0]), dot)
	// Output:
	// 2 vectors of 64 values, cosine similarity 0.9
}

func ExampleModel_Info() {
	path, cleanup := exampleModel()
	defer cleanup()

	m, err := lepton.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	info := m.Info()
	fmt.Println(info.Architecture, info.Layers, "layers, hidden", info.Hidden, info.Labels)
	// Output:
	// BertForSequenceClassification 2 layers, hidden 64 [negative neutral positive]
}

// readmeUse is the "Use it from Go" snippet of README.md, call for call
// (path in place of "model.lep", w in place of stdout, results returned), so that go test
// compiles it and keeps the README honest when the API changes.
func readmeUse(ctx context.Context, w io.Writer, path string, notes []string) ([]lepton.Classification, [][]float32, error) {
	m, err := lepton.Open(path) // or lepton.OpenBytes(data) for an embedded file
	if err != nil {
		return nil, nil, err
	}
	defer m.Close() // a *Model is safe for concurrent use: open once, share it

	res, err := m.Classify(ctx, []string{"fever and chills for three days", "itchy scaly patches"})
	if err != nil {
		return nil, nil, err // ctx.Err() if cancelled; otherwise it wraps a lepton sentinel (errors.Is)
	}
	fmt.Fprintln(w, res[0].Label, res[0].Probs[res[0].Index]) // most probable label and its probability

	vecs, err := m.Embed(ctx, notes, lepton.WithNormalize(true)) // unit vectors: dot product = cosine
	if err != nil {
		return nil, nil, err
	}
	return res, vecs, nil
}

// Example_readme runs the README's snippet on the random-weight test model.
// It prints properties that hold for any classifier rather than the random
// model's labels, which no independent reference has checked for these texts.
func Example_readme() {
	path, cleanup := exampleModel()
	defer cleanup()

	res, vecs, err := readmeUse(context.Background(), io.Discard, path,
		[]string{"sore throat", "a sore throat and a cough", "itchy scaly patches"})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range res {
		var sum float32
		best := 0
		for j, p := range r.Probs {
			sum += p
			if p > r.Probs[best] {
				best = j
			}
		}
		fmt.Printf("%d probabilities, sum %.2f, Index is the argmax: %v\n", len(r.Probs), sum, r.Index == best)
	}
	for _, v := range vecs {
		var sq float64
		for _, x := range v {
			sq += float64(x) * float64(x)
		}
		fmt.Printf("%d values, norm %.3f\n", len(v), math.Sqrt(sq))
	}
	// Output:
	// 3 probabilities, sum 1.00, Index is the argmax: true
	// 3 probabilities, sum 1.00, Index is the argmax: true
	// 64 values, norm 1.000
	// 64 values, norm 1.000
	// 64 values, norm 1.000
}

// Rerank scores passages against a query with a cross-encoder and returns
// them best first. The model here is the random-weight cross-encoder of
// Lepton's tests (testdata/golden/cross-encoder), so its ranking means
// nothing; a real reranker such as ms-marco-MiniLM-L-6-v2, converted with
// `lepton quantize`, ranks by relevance.
func ExampleModel_Rerank() {
	path, cleanup := exampleFixture("cross-encoder")
	defer cleanup()
	m, err := lepton.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	passages := []string{
		"a high fever with chills can be a sign of an infection",
		"the movie was boring and too long",
		"fever and chills",
	}
	ranked, err := m.Rerank(context.Background(), "what causes a high fever and chills", passages)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range ranked {
		fmt.Printf("%.2f passage %d: %s\n", r.Score, r.Index, r.Text)
	}
	// Output:
	// 0.23 passage 1: the movie was boring and too long
	// 0.16 passage 2: fever and chills
	// 0.01 passage 0: a high fever with chills can be a sign of an infection
}
