package leptontest_test

import (
	"context"
	"fmt"

	"lepton"
	"lepton/leptontest"
	"lepton/models/clinic"
)

// Record and Compare are what Check does, without a testing.TB: here the
// built-in model's outputs are recorded, then compared with those of the
// same model run at 8-bit activations instead of the default 7. Exact
// comparison reports every value that moved; a tolerance accepts them.
//
// In a test, the same takes one call:
//
//	leptontest.Check(t, m, "testdata/clinic.golden.json", in)
//
// and `go test -leptontest.update` writes the golden file.
func Example() {
	ctx := context.Background()
	in := leptontest.Inputs{Classify: []string{
		"I have a high fever, chills and a headache",
		"itchy red patches with silvery scales on my elbows",
	}}

	m, err := clinic.Open() // 7-bit activations, the default
	if err != nil {
		panic(err)
	}
	defer m.Close()
	golden, err := leptontest.Record(ctx, m, in)
	if err != nil {
		panic(err)
	}

	m8, err := clinic.Open(lepton.WithActivationBits(8))
	if err != nil {
		panic(err)
	}
	defer m8.Close()
	got, err := leptontest.Record(ctx, m8, in)
	if err != nil {
		panic(err)
	}

	rep, err := leptontest.Compare(golden, got, leptontest.Exact)
	if err != nil {
		panic(err)
	}
	fmt.Println(rep)

	rep, err = leptontest.Compare(golden, got, leptontest.Tolerance{Logits: 0.1, Probs: 0.01})
	if err != nil {
		panic(err)
	}
	fmt.Println("within logits 0.1, probs 0.01:", rep.OK())
	// Output:
	// golden file: 2 of 2 cases moved beyond the tolerance (exact):
	//   case 0, classify "I have a high fever, chills and a headache":
	//       logits: max |Δ| 0.04236 at [4] Cervical spondylosis: 0.019237151 -> -0.023123583 (allowed 0: exact)
	//       probs: max |Δ| 0.0001048 at [14] Impetigo: 0.0030212947 -> 0.002916534 (allowed 0: exact)
	//   case 1, classify "itchy red patches with silvery scales on my elbows":
	//       logits: max |Δ| 0.03936 at [0] Acne: -0.46659622 -> -0.4272378 (allowed 0: exact)
	//       probs: max |Δ| 2.742e-05 at [20] Psoriasis: 0.9976966 -> 0.99766916 (allowed 0: exact)
	//   worst over all 2 cases: logits 0.04236, probs 0.0001048, vector 0, cosine 1.000000, score 0; 0 label and 0 rank changes
	//   note: the golden file was recorded with 7-bit activations, this run used 8 (WithActivationBits)
	// within logits 0.1, probs 0.01: true
}
