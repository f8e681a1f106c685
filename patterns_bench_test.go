package lepton_test

import (
	"context"
	"strings"
	"testing"

	"lepton"
	"lepton/models/deid"
)

// BenchmarkTagPatterns sets the cost of WithPatterns beside the model it is
// merged with: the built-in de-identification model on a 1 KB clinic note
// (about 250 tokens), alone, with patterns, and FindPatterns by itself.
// texts/s are comparable across the three.
func BenchmarkTagPatterns(b *testing.B) {
	m, err := deid.Open(lepton.WithThreads(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	note := strings.Repeat("Re: Mrs Ann Okafor, DOB 14/02/1961, NHS 485 777 3456. Seen 3rd of March 2024 with BP 145/92; "+
		"Co-codamol 30/500 qds. Call 0113 496 0000 or ann.okafor@example.org. ", 6)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"model", func() error { _, err := m.Tag(ctx, []string{note}); return err }},
		{"model+patterns", func() error { _, err := m.Tag(ctx, []string{note}, lepton.WithPatterns(true)); return err }},
		{"patterns", func() error { lepton.FindPatterns(note); return nil }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if err := tc.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
