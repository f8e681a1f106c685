package privacy_test

import (
	"fmt"
	"math"

	"lepton/privacy"
)

// A device releases its predicted label with randomized response and the
// server turns many such reports into frequency estimates.
func Example() {
	ledger, err := privacy.NewMemoryLedger(privacy.Budget{Epsilon: 2})
	if err != nil {
		panic(err)
	}
	// NewTestingSource only to make the example's output reproducible;
	// real devices use the default crypto/rand source.
	rel, err := privacy.New(privacy.WithLedger(ledger), privacy.WithSource(privacy.NewTestingSource(1)))
	if err != nil {
		panic(err)
	}
	out, err := rel.Label(3, 10, math.Log(3))
	if err != nil {
		panic(err)
	}
	fmt.Printf("label in range: %v, spent eps %.4f of %.1f\n", out.Label >= 0 && out.Label < 10, ledger.Spent().Epsilon, ledger.Budget().Epsilon)

	_, err = rel.Label(3, 10, 1)
	fmt.Println(err != nil) // 1.0986 + 1 > 2: refused

	// Output:
	// label in range: true, spent eps 1.0986 of 2.0
	// true
}

func ExampleAnalyticGaussianSigma() {
	sigma, err := privacy.AnalyticGaussianSigma(math.Log(3), 1e-5, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("sigma^2 = %.4f\n", sigma*sigma)
	// Output: sigma^2 = 11.7283
}
