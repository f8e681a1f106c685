package clinic_test

import (
	"testing"

	"lepton"
	"lepton/leptontest"
	"lepton/models/clinic"
)

// TestGoldenOutputs pins the built-in model's outputs, bit for bit, the way
// a program that ships a model is meant to with leptontest: any change of
// clinic.lep, of Lepton's arithmetic or of the tokenizer moves them and
// fails here with a report of what moved. It is a regression pin recorded
// by Lepton itself (testdata/clinic.golden.json, source "lepton"), not a
// reference: the model's accuracy is checked against PyTorch by
// examples/train-clinic/eval. Lepton's outputs are the same on every
// kernel tier and thread count, so the pin holds on amd64 and arm64 alike
// (CI runs it on both), at each activation precision.
//
// After an intended change: go test ./models/clinic -run TestGoldenOutputs -leptontest.update
func TestGoldenOutputs(t *testing.T) {
	texts := []string{
		"I've had a high fever, chills and a headache for three days",
		"It burns when I pee and I need to go all the time",
		"wheezing and a tight chest at night",
		"itchy red patches with silvery scales on my elbows",
		"",
		"my stomach hurts after every meal and I feel sick \u00e9\u00e8 \u4e2d\u6587",
	}
	for _, tc := range []struct {
		golden string
		bits   int
	}{{"testdata/clinic.golden.json", 7}, {"testdata/clinic.act8.golden.json", 8}} {
		for _, threads := range []int{1, 2} {
			m, err := clinic.Open(lepton.WithActivationBits(tc.bits), lepton.WithThreads(threads))
			if err != nil {
				t.Fatal(err)
			}
			leptontest.Check(t, m, tc.golden, leptontest.Inputs{
				Classify:      texts,
				ClassifyPairs: [][2]string{{texts[0], texts[2]}},
				Embed:         texts[:3],
			})
			m.Close()
		}
	}
}
