package fairness_test

import (
	"fmt"

	"lepton/fairness"
)

// Equalized-odds decision rules on Fairlearn's toy data: every group ends up
// with the same expected FPR and TPR, and each request's decision is drawn
// from its own HMAC coin.
func ExampleFitThresholds() {
	labels := "01101000010111000111"
	scores := "00112330001111011112"
	groups := "AAAAAAABBBBBBBCCCCCC"
	var ss []fairness.Sample
	for i := range labels {
		s := float64(scores[i]-'0') / 4 // scores as probabilities
		ss = append(ss, fairness.Sample{Group: groups[i : i+1], Label: int(labels[i] - '0'), Probs: fairness.BinaryProbs(s)})
	}
	th, err := fairness.FitThresholds(ss, fairness.EqualizedOdds, fairness.ThresholdOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("FPR %.3f TPR %.4f\n", th.FPR, th.TPR)
	d, err := th.Decide("B", 0.25, []byte("clinic-key"), "request-17", fairness.UnknownError)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("P(positive) %.4f, coin %.4f, positive %v\n", d.PPositive, d.Coin, d.Positive)
	_, err = th.Decide("D", 0.25, []byte("clinic-key"), "request-18", fairness.UnknownError)
	fmt.Println(err)
	// Output:
	// FPR 0.334 TPR 0.6673
	// P(positive) 0.8673, coin 0.4579, positive true
	// fairness: unknown group: "D"
}

// Metrics per group, with undefined rates reported as such.
func ExampleAccumulator() {
	acc := fairness.NewAccumulator(1, 2)
	acc.Add("site-1", 1, fairness.BinaryProbs(0.9))
	acc.Add("site-1", 0, fairness.BinaryProbs(0.4))
	acc.Add("site-2", 0, fairness.BinaryProbs(0.7))
	r := acc.Report()
	for _, g := range r.Groups {
		fmt.Printf("%s n=%d small=%v TPR=%s FPR=%s\n", g.Group, g.Count, g.Small, g.TPR, g.FPR)
	}
	// Only site-1 has positives, so no TPR gap between sites exists and the
	// equalized odds difference (the larger of the TPR and FPR gaps) is
	// undefined rather than the FPR gap alone.
	fmt.Println("FPR difference:", r.Disparities[3].Difference)
	fmt.Println("equal opportunity difference:", r.EqualOpportunityDifference)
	fmt.Println("equalized odds difference:", r.EqualizedOddsDifference)
	// Output:
	// site-1 n=2 small=false TPR=1.0000 FPR=0.0000
	// site-2 n=1 small=true TPR=undefined FPR=1.0000
	// FPR difference: 1.0000
	// equal opportunity difference: undefined
	// equalized odds difference: undefined
}
