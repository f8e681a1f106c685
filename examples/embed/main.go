// Command embed turns a handful of clinical notes into vectors with a
// Lepton model and ranks them by cosine similarity to a query: the core of
// a "find similar past cases" search that runs entirely on the laptop.
//
//	go run ./examples/embed
//	go run ./examples/embed -q "wheezing and tight chest at night"
//	go run ./examples/embed -m model.lep -q "query"
//
// Without -m it uses the built-in clinic model. That model was trained to
// classify, not to embed, so its vectors group notes by the diagnosis they
// suggest; a sentence-embedding model converted with `lepton quantize`
// (mean pooling) is the better choice for general semantic search. The
// built-in model is also small and makes confident mistakes (see "Known
// weaknesses" in examples/train-clinic/README.md and "How good is the
// built-in model?" in the top-level README), and its vectors inherit them.
// The built-in model comes from lepton/models/clinic; with -m, or in your
// own program, open your own file with lepton.Open instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"lepton"
	"lepton/models/clinic"
)

// notes stands in for a clinic's past case notes.
var notes = []string{
	"Itchy red rash with dry, flaky, silvery patches on the elbows and scalp.",
	"Burning pain in the chest after eating, sour taste in the mouth, worse when lying down.",
	"Wheezing and shortness of breath, especially at night, with a tight chest.",
	"Needs to urinate often, burning when passing urine, cloudy urine.",
	"Very thirsty, urinating a lot, tired all the time and blurred vision.",
	"Sneezing, runny nose, mild sore throat and a slight cough.",
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// run is main without the exit, so the test can call it.
func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	path := fs.String("m", "", "a .lep model (default: the built-in clinic model)")
	query := fs.String("q", "my skin is scaly and itches, with red patches on my arms", "the text to search for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		m   *lepton.Model
		err error
	)
	if *path == "" {
		m, err = clinic.Open()
	} else {
		m, err = lepton.Open(*path)
	}
	if err != nil {
		return err
	}
	defer m.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Unit-length vectors: the dot product of two is their cosine
	// similarity. The query is embedded in the same call as the notes.
	vecs, err := m.Embed(ctx, append([]string{*query}, notes...), lepton.WithNormalize(true))
	if err != nil {
		return err
	}
	q := vecs[0]
	type hit struct {
		note string
		cos  float32
	}
	hits := make([]hit, len(notes))
	for i, v := range vecs[1:] {
		hits[i] = hit{notes[i], dot(q, v)}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].cos > hits[b].cos })
	fmt.Fprintf(w, "query: %q (%d-dimensional vectors)\n", *query, len(q))
	for i, h := range hits {
		fmt.Fprintf(w, "%d. %.3f  %s\n", i+1, h.cos, h.note)
	}
	return nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
