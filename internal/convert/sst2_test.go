package convert_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/internal/safetensors"
	"lepton/internal/testshared"
	"lepton/quant"
	"lepton/tokenize"
)

// TestSST2Checkpoint converts the trained SST-2 classifier and checks the
// config, labels, tokenizer, every quantised weight against the checkpoint's
// floats, and the .lep round trip.
func TestSST2Checkpoint(t *testing.T) {
	dir := testshared.Path(t, "models/sst2-bert-tiny-scratch")
	m, tok, meta, err := convert.FromHF(dir, convert.Options{KeepF32: true})
	require.NoError(t, err)
	c := m.Config
	require.Equal(t, lepfile.ArchBertClassification, c.Architecture)
	require.Equal(t, []string{"NEGATIVE", "POSITIVE"}, c.Labels)
	require.Equal(t, [6]int{2, 128, 2, 512, 30522, 512}, [6]int{c.Layers, c.Hidden, c.Heads, c.Intermediate, c.Vocab, c.MaxPositions})
	require.Equal(t, float32(1e-12), c.LayerNormEps)
	require.Equal(t, "cls", c.Pooling)
	require.NotNil(t, m.Pooler)
	require.Equal(t, "tokenizer.json", meta["tokenizer_source"])
	require.Len(t, meta["source_sha256"], 64)

	tk, err := tokenize.FromBinary(tok)
	require.NoError(t, err)
	enc, err := tk.Encode("a gripping movie", tokenize.EncodeOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(101), enc.IDs[0], "[CLS] of bert-base-uncased's vocabulary")
	require.Equal(t, int32(102), enc.IDs[len(enc.IDs)-1], "[SEP]")

	// Every linear: codes dequantise to within half a step of the float
	// weights in the checkpoint, read independently of the converter.
	st, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	float := func(name string) []float32 {
		tt, ok := st.Lookup(name)
		require.True(t, ok, name)
		v, err := tt.Float32()
		require.NoError(t, err)
		return v
	}
	checks := map[string]*quant.PackedWeights{
		"bert.encoder.layer.1.attention.output.dense.weight": &m.Layers[1].AttnOut.W,
		"bert.encoder.layer.0.intermediate.dense.weight":     &m.Layers[0].Inter.W,
		"bert.encoder.layer.1.output.dense.weight":           &m.Layers[1].Output.W,
		"bert.pooler.dense.weight":                           &m.Pooler.W,
		"classifier.weight":                                  &m.Classifier.W,
	}
	for name, w := range checks {
		want := float(name)
		q := quant.Unpack(w)
		for i, v := range want {
			s := w.Scales[i/w.K]
			require.InDelta(t, v, float32(q[i])*s, float64(s)/2*1.0001, "%s[%d]", name, i)
		}
	}
	key := float("bert.encoder.layer.0.attention.self.key.weight")
	require.Equal(t, key, m.Layers[0].QKV.F32[128*128:2*128*128], "key rows are the middle third of the fused QKV")

	var buf bytes.Buffer
	require.NoError(t, lepfile.Write(&buf, m, tok, meta))
	f, err := lepfile.OpenBytes(buf.Bytes())
	require.NoError(t, err)
	require.NoError(t, f.Verify())
	require.Equal(t, m, f.Model)
	require.Equal(t, tok, f.Tokenizer)
}
