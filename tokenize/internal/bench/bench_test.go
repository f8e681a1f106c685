package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"

	"lepton/tokenize"
)

// shared resolves ../shared relative to the lepton repository root (three
// levels up from this directory) and skips when it is absent.
func shared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join("..", "..", "..", "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("skipping: %s not available: %v", rel, err)
	}
	return p
}

func corpus(tb testing.TB) ([]string, int) {
	data, err := os.ReadFile(shared(tb, "data/sst2/validation.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	var texts []string
	n := 0
	for i, l := range strings.Split(string(data), "\n") {
		if i == 0 || l == "" {
			continue
		}
		s := strings.Split(l, "\t")[0]
		texts = append(texts, s)
		n += len(s)
	}
	return texts, n
}

func loadLepton(tb testing.TB) *tokenize.Tokenizer {
	data, err := os.ReadFile(shared(tb, "models/sst2-bert-tiny-scratch/tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	tk, err := tokenize.FromJSON(data)
	if err != nil {
		tb.Fatal(err)
	}
	return tk
}

func loadSugarme(tb testing.TB) *tokenizer.Tokenizer {
	tk, err := pretrained.FromFile(shared(tb, "models/sst2-bert-tiny-scratch/tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	// The file asks for padding to 128 and truncation; Lepton's benchmark
	// does neither, so switch them off for a like-for-like comparison.
	tk.WithPadding(nil)
	tk.WithTruncation(nil)
	return tk
}

// TestPeerAgreement reports how often sugarme/tokenizer agrees with Lepton
// (which matches Hugging Face on every SST-2 sentence, see the tokenize
// package's parity tests).
func TestPeerAgreement(t *testing.T) {
	lt, st := loadLepton(t), loadSugarme(t)
	texts, _ := corpus(t)
	same := 0
	for _, s := range texts {
		a, err := lt.Encode(s, tokenize.EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.EncodeSingle(s, true)
		if err != nil {
			t.Fatal(err)
		}
		ok := len(a.IDs) == len(b.Ids)
		for i := 0; ok && i < len(a.IDs); i++ {
			ok = int(a.IDs[i]) == b.Ids[i]
		}
		if ok {
			same++
		}
	}
	t.Logf("sugarme/tokenizer v0.3.0 agrees with Lepton (= Hugging Face) on %d of %d SST-2 sentences", same, len(texts))
}

func BenchmarkSST2(b *testing.B) {
	texts, n := corpus(b)
	b.Run("lepton-Encoder", func(b *testing.B) {
		e := loadLepton(b).NewEncoder()
		b.SetBytes(int64(n))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, s := range texts {
				if _, err := e.Encode(s, tokenize.EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if cpu := cpuSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
			b.ReportMetric(float64(n*b.N)/1e6/cpu, "MB/cpu-s")
		}
		b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
	})
	b.Run("lepton-Tokenizer.Encode", func(b *testing.B) {
		tk := loadLepton(b)
		b.SetBytes(int64(n))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, s := range texts {
				if _, err := tk.Encode(s, tokenize.EncodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if cpu := cpuSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
			b.ReportMetric(float64(n*b.N)/1e6/cpu, "MB/cpu-s")
		}
		b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
	})
	b.Run("sugarme-v0.3.0", func(b *testing.B) {
		tk := loadSugarme(b)
		b.SetBytes(int64(n))
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			for _, s := range texts {
				if _, err := tk.EncodeSingle(s, true); err != nil {
					b.Fatal(err)
				}
			}
		}
		if cpu := cpuSeconds() - cpu0; cpu0 >= 0 && cpu > 0 {
			b.ReportMetric(float64(n*b.N)/1e6/cpu, "MB/cpu-s")
		}
		b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
	})
}
