package lepfile_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

// microModel is the smallest useful file (about 4 KB) for fuzz seeds.
func microModel(t testing.TB, arch string) []byte {
	t.Helper()
	cfg := bert.Config{Architecture: arch, Layers: 1, Hidden: 4, Heads: 2, Intermediate: 5, Vocab: 3,
		MaxPositions: 3, TypeVocab: 1, LayerNormEps: 1e-5, Activation: "gelu", Pooling: "mean"}
	if arch == lepfile.ArchBertClassification {
		cfg.Labels = []string{"a", "b"}
	}
	m, err := convert.FromFloat(cfg, convert.Random(cfg, 1), convert.Options{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, lepfile.Write(&buf, m, []byte("tok"), lepfile.Metadata{"k": "v"}, lepfile.WithTokenizerFormat(lepfile.TokenizerVocab)))
	return buf.Bytes()
}

// microModels11 are micro files using what format 1.1 added: a DistilBERT
// cross-encoder (one output, a score activation, the ReLU head) and a
// sentence-transformers encoder (several pooling modes, Normalize, prompts
// left out of the pooling, a default max length).
func microModels11(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, c := range []bert.Config{
		{Architecture: lepfile.ArchDistilBertClassification, Pooling: "cls", Labels: []string{"score"}, ScoreActivation: "sigmoid", PoolerActivation: "relu"},
		{Architecture: lepfile.ArchBertModel, Pooling: "cls+max+mean", Normalize: true, ExcludePrompt: true,
			Prompts: map[string]string{"query": "query: ", "doc": ""}, DefaultPrompt: "query", MaxLength: 2},
	} {
		c.Layers, c.Hidden, c.Heads, c.Intermediate, c.Vocab = 1, 4, 2, 5, 3
		c.MaxPositions, c.TypeVocab, c.LayerNormEps, c.Activation = 3, 1, 1e-5, "gelu"
		m, err := convert.FromFloat(c, convert.Random(c, 1), convert.Options{})
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, lepfile.Write(&buf, m, []byte("tok"), nil, lepfile.WithTokenizerFormat(lepfile.TokenizerVocab)))
		out = append(out, buf.Bytes())
	}
	return out
}

// exercise opens data and, when it is accepted, reads every byte of every
// tensor the model exposes: an accepted file must be safe to use.
func exercise(t *testing.T, data []byte) {
	f, err := lepfile.OpenBytes(data)
	if err != nil {
		if f != nil {
			t.Fatalf("error with a non-nil file: %v", err)
		}
		return
	}
	_ = f.Verify()
	m := f.Model
	var sum float64
	touch := func(l *bert.Linear) {
		if l == nil {
			return
		}
		require.NoError(t, l.W.Validate())
		for _, v := range l.W.Data {
			sum += float64(v)
		}
		for _, v := range l.Bias {
			sum += float64(v)
		}
	}
	for _, e := range []*bert.Embedding{&m.Word, &m.Position, &m.TokenType} {
		require.Equal(t, e.Rows*e.Dim, len(e.Data))
		require.Equal(t, e.Rows, len(e.Scales))
		for _, v := range e.Data {
			sum += float64(v)
		}
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		for _, lin := range []*bert.Linear{&l.QKV, &l.AttnOut, &l.Inter, &l.Output} {
			touch(lin)
		}
		require.Len(t, l.AttnLN.Gamma, m.Config.Hidden)
	}
	touch(m.Pooler)
	touch(m.Classifier)
	_ = sum
	require.NoError(t, f.Close())
}

// refreshCRCs recomputes the header, table and small-section CRCs of
// arbitrary bytes (never panicking), so fuzzing reaches the structural
// checks behind them.
func refreshCRCs(d []byte) {
	if len(d) < 64 {
		return
	}
	le := binary.LittleEndian
	count := uint64(le.Uint32(d[32:]))
	tableOff := le.Uint64(d[24:])
	if tableOff <= uint64(len(d)) && count <= (uint64(len(d))-tableOff)/32 {
		for i := range count {
			e := d[tableOff+32*i:]
			off, n := le.Uint64(e[8:]), le.Uint64(e[16:])
			if off <= uint64(len(d)) && n <= uint64(len(d))-off {
				le.PutUint32(e[24:], crc32.Checksum(d[off:off+n], castagnoli))
			}
		}
		le.PutUint32(d[36:], crc32.Checksum(d[tableOff:tableOff+32*count], castagnoli))
	}
	le.PutUint32(d[60:], crc32.Checksum(d[:60], castagnoli))
}

func FuzzOpenBytes(f *testing.F) {
	for _, arch := range []string{lepfile.ArchBertModel, lepfile.ArchBertClassification} {
		d := microModel(f, arch)
		f.Add(d)
		f.Add(d[:len(d)/2])
	}
	for _, d := range microModels11(f) {
		f.Add(d)
	}
	f.Add([]byte(lepfile.Magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(t, data)
	})
}

// FuzzOpenBytesCRC fixes the checksums of the fuzzed input first, to reach
// the validation of sections, config and directory.
func FuzzOpenBytesCRC(f *testing.F) {
	for _, arch := range []string{lepfile.ArchBertModel, lepfile.ArchBertClassification} {
		f.Add(microModel(f, arch))
	}
	for _, d := range microModels11(f) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		refreshCRCs(data)
		exercise(t, data)
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz seed files when
// LEPTON_UPDATE_CORPUS=1 (the seeds are made by the writer under test; they
// are inputs to explore from, not expected outputs).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("LEPTON_UPDATE_CORPUS") != "1" {
		t.Skip("set LEPTON_UPDATE_CORPUS=1 to regenerate testdata/fuzz seeds")
	}
	for _, target := range []string{"FuzzOpenBytes", "FuzzOpenBytesCRC"} {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, arch := range []string{lepfile.ArchBertModel, lepfile.ArchBertClassification} {
			d := microModel(t, arch)
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", d)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "seed-"+arch), []byte(body), 0o644))
		}
	}
}
