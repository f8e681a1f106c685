// Command private-telemetry simulates clinic devices that report their
// model's predicted diagnosis to a monitoring server under local
// differential privacy, and shows what the server can still learn.
//
// Each of -devices devices holds one predicted diagnosis (drawn here from a
// fixed "true" distribution over 24 diagnoses, standing in for the output
// of lepton's classifier), releases it with k-ary randomized response at
// -epsilon through its own privacy ledger, and sends only the released
// label. The server never sees a true label; it counts the reports and
// prints unbiased frequency estimates with 95% confidence intervals next to
// the true frequencies.
//
//	go run ./examples/private-telemetry -devices 1000 -epsilon 3
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"lepton/privacy"
)

// diagnoses are the label names; weights is the simulated true
// distribution of predicted diagnoses (roughly Zipf-like, as clinic case
// mixes are).
var diagnoses = []string{
	"common cold", "influenza", "acute bronchitis", "hypertension", "type 2 diabetes",
	"urinary tract infection", "migraine", "gastroenteritis", "low back pain", "asthma",
	"otitis media", "conjunctivitis", "dermatitis", "sinusitis", "anxiety disorder",
	"depression", "pneumonia", "strep throat", "allergic rhinitis", "osteoarthritis",
	"gout", "anemia", "hypothyroidism", "COVID-19",
}

var weights = []float64{
	18, 14, 10, 9, 8, 7, 6, 5.5, 5, 4.5, 4, 3.5, 3, 3, 2.5, 2.5, 2, 2, 1.5, 1.5, 1, 1, 0.5, 0,
}

// config is one simulation.
type config struct {
	devices int
	epsilon float64
	seed    uint64 // 0: crypto/rand noise and a random population
}

// summary is what a run measured; the test checks it.
type summary struct {
	covered   int     // labels whose 95% CI contains the true frequency
	labels    int     // number of labels
	maxAbsErr float64 // largest |estimate - truth|
	sumEst    float64 // sum of the estimates (1 up to rounding)
	spent     float64 // epsilon each device spent
}

func main() {
	var cfg config
	flag.IntVar(&cfg.devices, "devices", 1000, "number of simulated devices")
	flag.Float64Var(&cfg.epsilon, "epsilon", 3, "local DP epsilon per device report")
	flag.Uint64Var(&cfg.seed, "seed", 0, "fix the simulation and noise (INSECURE testing source); 0 = crypto/rand")
	flag.Parse()
	if _, err := run(os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "private-telemetry:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, cfg config) (summary, error) {
	k := len(diagnoses)
	if cfg.devices < 1 {
		return summary{}, fmt.Errorf("need at least one device, got %d", cfg.devices)
	}
	var popRand *rand.Rand
	var src *privacy.Source
	if cfg.seed != 0 {
		popRand = rand.New(rand.NewPCG(cfg.seed, 1))
		src = privacy.NewTestingSource(cfg.seed)
	} else {
		popRand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		src = privacy.CryptoSource()
	}

	// Devices: draw the true predicted label, release it privately.
	var total float64
	for _, x := range weights {
		total += x
	}
	truth := make([]int, k)
	reports := make([]int, k)
	var spent float64
	for d := 0; d < cfg.devices; d++ {
		label := sample(popRand, weights, total)
		truth[label]++
		ledger, err := privacy.NewMemoryLedger(privacy.Budget{Epsilon: cfg.epsilon})
		if err != nil {
			return summary{}, err
		}
		rel, err := privacy.New(privacy.WithSource(src), privacy.WithLedger(ledger))
		if err != nil {
			return summary{}, err
		}
		out, err := rel.Label(label, k, cfg.epsilon)
		if err != nil {
			return summary{}, err
		}
		reports[out.Label]++ // all the server ever receives
		spent = ledger.Spent().Epsilon
	}

	// Server: estimate frequencies from the reports alone.
	est, err := privacy.EstimateRR(reports, cfg.epsilon, 0.95)
	if err != nil {
		return summary{}, err
	}
	p, q, _ := privacy.RRProbabilities(cfg.epsilon, k)
	fmt.Fprintf(w, "%d devices, k = %d diagnoses, epsilon = %g per device (keep p = %.4f, flip q = %.4f each)\n\n",
		cfg.devices, k, cfg.epsilon, p, q)
	fmt.Fprintf(w, "%-24s %7s %8s %9s %19s\n", "diagnosis", "true", "reported", "estimate", "95% CI")
	s := summary{labels: k, spent: spent}
	n := float64(cfg.devices)
	for j, e := range est {
		f := float64(truth[j]) / n
		in := e.Lo <= f && f <= e.Hi
		mark := ""
		if in {
			s.covered++
		} else {
			mark = "  <- truth outside CI"
		}
		if d := math.Abs(e.Freq - f); d > s.maxAbsErr {
			s.maxAbsErr = d
		}
		s.sumEst += e.Freq
		fmt.Fprintf(w, "%-24s %7.4f %8.4f %9.4f [%8.4f, %7.4f]%s\n",
			diagnoses[j], f, float64(reports[j])/n, e.Freq, e.Lo, e.Hi, mark)
	}
	fmt.Fprintf(w, "\n%d of %d intervals cover the true frequency (95%% nominal); largest error %.4f; each device spent epsilon %.4g\n",
		s.covered, s.labels, s.maxAbsErr, s.spent)
	return s, nil
}

func sample(r *rand.Rand, w []float64, total float64) int {
	u := r.Float64() * total
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}
