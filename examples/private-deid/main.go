// Command private-deid simulates clinics that de-identify their notes on
// the device and only then share anything: the redacted notes themselves,
// and counts reported under local differential privacy.
//
// Each of -devices clinic devices holds a day's notes (the synthetic test
// notes of examples/train-deid, which no model saw in training, dealt out
// in turn). On the device, and nowhere else:
//
//  1. the built-in de-identification model (lepton/models/deid) tags every
//     note and lepton.Redact masks each identifier as [TYPE];
//  2. the device counts what it masked, per type, and releases each count
//     with the discrete Laplace mechanism (privacy.Releaser.Integer) at
//     -epsilon, clamped to [0, -max-count];
//  3. it runs a last check on its redacted notes (does any still show a
//     date, phone number, long number or email address that a regular
//     expression can see?) and releases that yes/no with randomized
//     response at -epsilon;
//  4. only the redacted notes and the released values leave the device,
//     every release charged to the device's own privacy ledger first.
//
// The server adds up the noisy counts, estimates the share of devices whose
// last check fired, and prints both beside the truth (known here because
// this is a simulation), with 95% intervals. Because the test notes are
// annotated, the program also says how many of the identifiers in them
// were not wholly masked (some character of them is left in the shared
// note): the model is not perfect, and that is what a clinic should
// measure before trusting it.
//
//	go run ./examples/private-deid -devices 80 -epsilon 2 -show 1
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"lepton"
	"lepton/models/deid"
	"lepton/privacy"
)

// note is one line of the annotated notes file.
type note struct {
	ID       string `json:"id"`
	Text     string `json:"text"`
	Entities []struct {
		Type       string `json:"type"`
		Start, End int    // code points
	} `json:"entities"`
}

// config is one simulation.
type config struct {
	notes    string
	devices  int
	epsilon  float64
	maxCount int64
	seed     uint64 // 0: crypto/rand noise
	show     int
}

// summary is what a run measured; the test checks it.
type summary struct {
	types       []string
	trueTotal   map[string]int64
	estimate    map[string]float64
	halfWidth   map[string]float64 // 95% interval half-width of estimate
	flagTrue    float64            // share of devices whose last check fired
	flagEst     privacy.Estimate
	identifiers int // annotated identifiers in the notes
	survived    int // of them, not wholly masked in the redacted notes
	spent       float64
	redacted    []string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.notes, "notes", "", "annotated notes, JSON lines (default: examples/train-deid/data/test.jsonl in this repository)")
	flag.IntVar(&cfg.devices, "devices", 80, "number of simulated clinic devices")
	flag.Float64Var(&cfg.epsilon, "epsilon", 2, "local DP epsilon of each released value")
	flag.Int64Var(&cfg.maxCount, "max-count", 40, "per-type daily counts are clamped to [0, max-count] (the sensitivity)")
	flag.Uint64Var(&cfg.seed, "seed", 0, "fix the noise (INSECURE testing source); 0 = crypto/rand")
	flag.IntVar(&cfg.show, "show", 1, "print this many redacted notes")
	flag.Parse()
	if _, err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "private-deid:", err)
		os.Exit(1)
	}
}

// leftover is the device's last check: patterns a regular expression can
// see in a redacted note (dates, phone numbers, runs of digits, emails).
var leftover = regexp.MustCompile(`\b\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{6,}\b|\b\d{3,5}[\s.\-]\d{3}[\s.\-]?\d{3,4}\b|[\w.+\-]+@[\w\-]+\.[\w.\-]+`)

func run(ctx context.Context, w io.Writer, cfg config) (*summary, error) {
	if cfg.devices < 1 || cfg.maxCount < 1 {
		return nil, fmt.Errorf("need at least one device and a positive -max-count")
	}
	if err := privacy.ValidateEpsilon(cfg.epsilon); err != nil {
		return nil, err
	}
	notes, err := readNotes(cfg.notes)
	if err != nil {
		return nil, err
	}
	m, err := deid.Open()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	var types []string
	seen := map[string]bool{}
	for _, l := range m.Info().Labels {
		if t := strings.TrimPrefix(strings.TrimPrefix(l, "B-"), "I-"); t != "O" && !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	src := privacy.CryptoSource()
	if cfg.seed != 0 {
		src = privacy.NewTestingSource(cfg.seed)
	}

	s := &summary{types: types, trueTotal: map[string]int64{}, estimate: map[string]float64{}, halfWidth: map[string]float64{}}
	noisySum := map[string]int64{}
	flags := make([]int, 2) // randomized-response reports: [no, yes]
	fired := 0
	mask := func(e lepton.Entity) string { return "[" + e.Label + "]" }
	for d := 0; d < cfg.devices; d++ {
		// --- on the device ---
		var mine []note
		for i := d; i < len(notes); i += cfg.devices {
			mine = append(mine, notes[i])
		}
		texts := make([]string, len(mine))
		for i, n := range mine {
			texts[i] = n.Text
		}
		ents, err := m.Tag(ctx, texts)
		if err != nil {
			return nil, err
		}
		counts := map[string]int64{}
		check := 0
		for i, text := range texts {
			red := lepton.Redact(text, ents[i], mask)
			for _, e := range ents[i] {
				counts[e.Label]++
			}
			if leftover.MatchString(red) {
				check = 1
			}
			s.redacted = append(s.redacted, red) // shared: the redacted text only
			for _, g := range mine[i].Entities {
				s.identifiers++
				if !covered(text, g.Start, g.End, ents[i]) {
					s.survived++
				}
			}
		}
		// Every release is charged to the device's ledger before it leaves.
		ledger, err := privacy.NewMemoryLedger(privacy.Budget{Epsilon: float64(len(types)+1) * cfg.epsilon})
		if err != nil {
			return nil, err
		}
		rel, err := privacy.New(privacy.WithSource(src), privacy.WithLedger(ledger))
		if err != nil {
			return nil, err
		}
		for _, t := range types {
			out, err := rel.Integer(counts[t], 0, cfg.maxCount, cfg.epsilon)
			if err != nil {
				return nil, err
			}
			noisySum[t] += out.Value // sent
			s.trueTotal[t] += min(counts[t], cfg.maxCount)
		}
		flag, err := rel.Label(check, 2, cfg.epsilon)
		if err != nil {
			return nil, err
		}
		flags[flag.Label]++ // sent
		fired += check
		s.spent = ledger.Spent().Epsilon
	}

	// --- on the server: only the released values ---
	// The discrete Laplace noise of scale b = max/eps has variance
	// 2q/(1-q)^2 with q = exp(-1/b); sums of independent reports add them.
	q := math.Exp(-cfg.epsilon / float64(cfg.maxCount))
	sd := math.Sqrt(float64(cfg.devices) * 2 * q / ((1 - q) * (1 - q)))
	for _, t := range types {
		s.estimate[t] = float64(noisySum[t])
		s.halfWidth[t] = 1.96 * sd
	}
	est, err := privacy.EstimateRR(flags, cfg.epsilon, 0.95)
	if err != nil {
		return nil, err
	}
	s.flagEst = est[1]
	s.flagTrue = float64(fired) / float64(cfg.devices)

	fmt.Fprintf(w, "%d devices, %d notes, epsilon %g per released value, counts clamped to [0, %d]; each device spent epsilon %g\n\n",
		cfg.devices, len(notes), cfg.epsilon, cfg.maxCount, s.spent)
	fmt.Fprintf(w, "%-8s %10s %12s %22s\n", "type", "masked", "estimate", "95% interval")
	for _, t := range types {
		fmt.Fprintf(w, "%-8s %10d %12.0f [%9.0f, %9.0f]\n", t, s.trueTotal[t], s.estimate[t], s.estimate[t]-s.halfWidth[t], s.estimate[t]+s.halfWidth[t])
	}
	fmt.Fprintf(w, "\ndevices whose last check still saw a pattern after redaction: true %.3f, estimate %.3f [%.3f, %.3f]\n",
		s.flagTrue, s.flagEst.Freq, s.flagEst.Lo, s.flagEst.Hi)
	fmt.Fprintf(w, "annotated identifiers not wholly masked in the shared notes: %d of %d (%.1f%%)\n",
		s.survived, s.identifiers, 100*float64(s.survived)/float64(max(s.identifiers, 1)))
	for i := 0; i < cfg.show && i < len(s.redacted); i++ {
		fmt.Fprintf(w, "\nshared note %d:\n%s\n", i+1, s.redacted[i])
	}
	return s, nil
}

// covered reports whether every character of the identifier at code
// points [start, end) of text lies inside one of the masked entities.
func covered(text string, start, end int, ents []lepton.Entity) bool {
	b0, b1, k := -1, len(text), 0
	for b := range text {
		if k == start {
			b0 = b
		}
		if k == end {
			b1 = b
			break
		}
		k++
	}
	for b := b0; b < b1; {
		in := false
		for _, e := range ents {
			if e.Start <= b && b < e.End {
				b, in = e.End, true
				break
			}
		}
		if !in {
			if text[b] == ' ' || text[b] == '\n' { // the gap between two masked words of one identifier
				b++
				continue
			}
			return false
		}
	}
	return true
}

func readNotes(path string) ([]note, error) {
	if path == "" {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, "examples", "train-deid", "data", "test.jsonl")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []note
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var n note
		if err := json.Unmarshal([]byte(line), &n); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		r := []rune(n.Text)
		for _, e := range n.Entities {
			if e.Start < 0 || e.End > len(r) || e.Start >= e.End {
				return nil, fmt.Errorf("%s line %d: entity [%d, %d) outside the text", path, i+1, e.Start, e.End)
			}
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no notes", path)
	}
	return out, nil
}

// repoRoot walks up from the working directory to the directory holding
// go.mod, so the program runs from the root and its test from its folder.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: pass -notes")
		}
		dir = parent
	}
}
