package tokenize

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// sst2Corpus returns the SST-2 validation sentences (skips without ../shared).
func sst2Corpus(b *testing.B) ([]string, int) {
	texts := sst2Texts(b)
	out := make([]string, 0, len(texts))
	n := 0
	for i := 1; i <= len(texts); i++ {
		out = append(out, texts[i])
		n += len(texts[i])
	}
	return out, n
}

// BenchmarkEncodeSST2 encodes the whole SST-2 validation text on one
// goroutine and reports MB/s of input text and allocations per Encode.
func BenchmarkEncodeSST2(b *testing.B) {
	tk := bertUncased(b)
	texts, nbytes := sst2Corpus(b)
	b.Run("Encoder", func(b *testing.B) {
		e := tk.NewEncoder()
		b.SetBytes(int64(nbytes))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, s := range texts {
				if _, err := e.Encode(s, EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if cpu := cpuSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
			b.ReportMetric(float64(nbytes*b.N)/1e6/cpu, "MB/cpu-s")
		}
		b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
		allocs := testing.AllocsPerRun(3, func() {
			for _, s := range texts {
				_, _ = e.Encode(s, EncodeOptions{})
			}
		})
		b.ReportMetric(allocs/float64(len(texts)), "allocs/encode")
	})
	b.Run("Tokenizer.Encode", func(b *testing.B) {
		b.SetBytes(int64(nbytes))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, s := range texts {
				if _, err := tk.Encode(s, EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if cpu := cpuSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
			b.ReportMetric(float64(nbytes*b.N)/1e6/cpu, "MB/cpu-s")
		}
		b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
	})
	// The batch path, padded to the longest as a model input would be,
	// on one and on two workers (the machine has two cores).
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("EncodeBatch/%dworkers", workers), func(b *testing.B) {
			b.SetBytes(int64(nbytes))
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				if _, err := tk.EncodeBatch(context.Background(), texts, EncodeOptions{MaxLength: 128, Padding: PadLongest}, workers); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := cpuSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
				b.ReportMetric(float64(nbytes*b.N)/1e6/cpu, "MB/cpu-s")
			}
		})
	}
}

// BenchmarkLoad measures opening a bert-base-uncased tokenizer from its
// binary form (what Lepton does when opening a model) and from JSON.
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile(sharedPath(b, "models/sst2-bert-tiny-scratch/tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	tk, err := FromJSON(data)
	if err != nil {
		b.Fatal(err)
	}
	blob, _ := tk.MarshalBinary()
	b.Run("FromBinary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := FromBinary(blob); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FromJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := FromJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeLength is a self-contained size ladder (no ../shared):
// synthetic text of vocabulary words, subwords, punctuation, accents and
// unknown words, encoded with the reusable Encoder.
func BenchmarkEncodeLength(b *testing.B) {
	tk := tinyTokenizer(b)
	words := []string{"Hello", "world,", "unaffable", "café", "the", "zzz", "naïve!", "中文", "a", "b.c"}
	for _, size := range []struct {
		name string
		n    int
	}{{"16B", 16}, {"256B", 256}, {"4KB", 4 << 10}, {"16KB", 16 << 10}, {"64KB", 64 << 10}} {
		var sb strings.Builder
		for i := 0; sb.Len() < size.n; i++ {
			sb.WriteString(words[i%len(words)])
			sb.WriteByte(' ')
		}
		text := sb.String()[:size.n]
		b.Run(size.name, func(b *testing.B) {
			e := tk.NewEncoder()
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Encode(text, EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
