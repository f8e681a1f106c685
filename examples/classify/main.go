// Command classify is the smallest complete Lepton program: it opens a
// model, classifies a batch of patient descriptions in one call and prints
// each one's three most probable labels with their probabilities.
//
//	go run ./examples/classify                       # built-in clinic model, sample notes
//	go run ./examples/classify "my chest burns after meals"
//	go run ./examples/classify -m model.lep "text" ... # any .lep classifier
//
// Without -m it uses the model built into Lepton (lepton/models/clinic), a
// small BERT trained to suggest one of 24 diagnoses from a description of
// symptoms; importing that package is what puts the model (under 1 MB) into
// the binary. The file builds unchanged in another module that requires
// lepton (see "Install" in the top-level README); a program that only runs
// its own model opens it with lepton.Open(path) and drops the import.
//
// The built-in model gets the four sample texts right, but it is small:
// it is wrong on about one description in ten in its corpus's style and on
// more than half of those written in other words, often confidently. See
// "Known weaknesses" in examples/train-clinic/README.md and "How good is
// the built-in model?" in the top-level README.
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

// samples are used when no text is given on the command line.
var samples = []string{
	"I've had a high fever, chills and a headache for three days",
	"My skin is covered in red, itchy patches with silvery scales on my elbows and knees",
	"It burns when I pee and I need to go all the time, even at night",
	"I keep sneezing, my nose is runny and my throat is a bit sore",
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "classify:", err)
		os.Exit(1)
	}
}

// run is main without the exit, so the test can call it.
func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	path := fs.String("m", "", "a .lep classifier (default: the built-in clinic model)")
	k := fs.Int("k", 3, "how many labels to print per text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *k < 1 {
		return fmt.Errorf("-k must be at least 1, got %d", *k)
	}
	texts := fs.Args()
	if len(texts) == 0 {
		texts = samples
	}

	m, err := openModel(*path)
	if err != nil {
		return err
	}
	defer m.Close()

	// One call for the whole batch: Lepton packs the texts into one
	// forward pass, which is faster than a call per text.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results, err := m.Classify(ctx, texts)
	if err != nil {
		return err
	}
	labels := m.Info().Labels
	for i, r := range results {
		fmt.Fprintf(w, "%q\n", texts[i])
		for _, j := range topK(r.Probs, *k) {
			fmt.Fprintf(w, "  %-32s %.3f\n", labels[j], r.Probs[j])
		}
	}
	return nil
}

func openModel(path string) (*lepton.Model, error) {
	if path == "" {
		return clinic.Open()
	}
	return lepton.Open(path)
}

// topK returns the indices of the k largest probabilities, largest first
// (ties keep label order, so the output is deterministic).
func topK(probs []float32, k int) []int {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	return idx[:min(k, len(idx))]
}
