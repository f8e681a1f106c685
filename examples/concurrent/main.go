// Command concurrent shows the way to serve a Lepton model: open it once
// and share the one *lepton.Model between many goroutines (an HTTP
// server's handlers, a worker pool), giving every request its own context
// deadline.
//
//	go run ./examples/concurrent
//	go run ./examples/concurrent -workers 16 -requests 200 -timeout 2s
//
// A Model is safe for concurrent use: calls run in parallel on the Model's
// worker threads and the weights are shared, not copied. A call whose
// deadline passes returns context.DeadlineExceeded promptly (the context is
// checked between encoder layers) instead of holding up the caller.
//
// The example is about sharing a model, not about its answers: the
// built-in clinic model is small and gets two of the five request texts
// wrong (stiff, swollen joints -> Psoriasis rather than arthritis; a
// one-sided headache with flashing lights -> drug reaction rather than
// migraine). See "Known weaknesses" in examples/train-clinic/README.md
// and "How good is the built-in model?" in the top-level README. The model
// comes from lepton/models/clinic; with -m, or in your own program, open
// your own file with lepton.Open instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"lepton"
	"lepton/models/clinic"
)

// requests are the texts the simulated clients send, round robin.
var requests = []string{
	"I've had a high fever, chills and a headache for three days",
	"It burns when I pee and I need to go all the time",
	"My joints are stiff and swollen in the morning, especially my knees",
	"I get a pounding headache on one side with flashing lights before it starts",
	"Burning in my chest after meals and a sour taste in my mouth",
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "concurrent:", err)
		os.Exit(1)
	}
}

// run is main without the exit, so the test can call it.
func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("concurrent", flag.ContinueOnError)
	path := fs.String("m", "", "a .lep classifier (default: the built-in clinic model)")
	workers := fs.Int("workers", 8, "goroutines sharing the model")
	n := fs.Int("requests", 40, "requests in total")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workers < 1 || *n < 0 {
		return fmt.Errorf("need -workers >= 1 and -requests >= 0")
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

	// The same text must get the same answer whichever goroutine asks, so
	// each request's label is recorded by text and compared at the end.
	var (
		mu       sync.Mutex
		labels   = map[string]map[string]int{}
		ok, late int
		failures []error
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				text := requests[i%len(requests)]
				label, err := classifyOne(m, text, *timeout)
				mu.Lock()
				switch {
				case err == nil:
					ok++
					if labels[text] == nil {
						labels[text] = map[string]int{}
					}
					labels[text][label]++
				case errors.Is(err, context.DeadlineExceeded):
					late++
				default:
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range *n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)

	if len(failures) > 0 {
		return fmt.Errorf("%d requests failed, first: %w", len(failures), failures[0])
	}
	fmt.Fprintf(w, "%d requests from %d goroutines sharing one model: %d answered, %d past their %v deadline\n",
		*n, *workers, ok, late, *timeout)
	for _, text := range requests {
		got := labels[text]
		if len(got) > 1 {
			return fmt.Errorf("text %q got different labels from different goroutines: %v", text, got)
		}
		for label, count := range got {
			fmt.Fprintf(w, "  %-32s x%-3d %q\n", label, count, text)
		}
	}
	fmt.Fprintf(w, "  (%v wall time)\n", elapsed.Round(time.Millisecond))

	// A deadline that has already passed: the call returns at once with the
	// context's error and no results.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = m.Classify(ctx, requests)
	fmt.Fprintf(w, "a request whose deadline had passed: %v (errors.Is DeadlineExceeded: %v)\n",
		err, errors.Is(err, context.DeadlineExceeded))
	return nil
}

// classifyOne is what a request handler does: its own context with a
// deadline, one call on the shared model.
func classifyOne(m *lepton.Model, text string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := m.Classify(ctx, []string{text})
	if err != nil {
		return "", err
	}
	return res[0].Label, nil
}
