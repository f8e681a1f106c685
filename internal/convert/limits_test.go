package convert_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/internal/safetensors"
	"lepton/internal/synth"
)

// editConfig rewrites one key of dir/config.json.
func editConfig(t *testing.T, dir, key string, value any) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	c[key] = value
	b, err = json.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// addTensors appends F32 tensors (zeros of the given shapes) to
// dir/model.safetensors.
func addTensors(t *testing.T, dir string, shapes map[string][]int) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	st, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	tensors := append([]safetensors.Tensor(nil), st.Tensors...)
	for name, shape := range shapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: "F32", Shape: shape, Data: make([]byte, 4*n)})
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, tensors, st.Metadata))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

var tinySpec = synth.Spec{Name: "t", Layers: 12, Hidden: 8, Heads: 2, Intermediate: 16, Vocab: 120, MaxPositions: 16, TypeVocab: 2, Seed: 3}

// TestConfigCheckpointDisagree is finding 6 of issue 13: `lepton quantize`
// with a config.json that says 1 layer on a 12-layer checkpoint wrote a
// "verified" 1-layer model and recorded source_tensors_ignored 0. A
// checkpoint with layers, tensors or shapes the config has no place for
// is now refused with ErrMismatch naming the tensor.
func TestConfigCheckpointDisagree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"1 layer in config, 12 in the checkpoint", func(t *testing.T, dir string) { editConfig(t, dir, "num_hidden_layers", 1) },
			[]string{"encoder.layer.1.", "num_hidden_layers 1"}},
		{"11 layers in config", func(t *testing.T, dir string) { editConfig(t, dir, "num_hidden_layers", 11) },
			[]string{"encoder.layer.11.", "num_hidden_layers 11"}},
		{"hidden size", func(t *testing.T, dir string) {
			editConfig(t, dir, "hidden_size", 4)
			editConfig(t, dir, "num_attention_heads", 1)
		}, []string{"has shape", "config.json implies"}},
		{"unknown tensor in a layer", func(t *testing.T, dir string) {
			addTensors(t, dir, map[string][]int{"encoder.layer.3.attention.self.rotary.weight": {8}})
		}, []string{"encoder.layer.3.attention.self.rotary.weight", "not part of a BERT layer"}},
		{"unknown embeddings tensor", func(t *testing.T, dir string) {
			addTensors(t, dir, map[string][]int{"embeddings.extra.weight": {8}})
		}, []string{"embeddings.extra.weight"}},
		{"unknown pooler tensor", func(t *testing.T, dir string) {
			addTensors(t, dir, map[string][]int{"pooler.activation.weight": {8}})
		}, []string{"pooler.activation.weight"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, synth.WriteCheckpoint(tinySpec, dir))
			tc.setup(t, dir)
			_, _, _, err := convert.FromHF(dir, convert.Options{})
			require.ErrorIs(t, err, convert.ErrMismatch)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	// The unedited checkpoint converts, all 12 layers.
	dir := t.TempDir()
	require.NoError(t, synth.WriteCheckpoint(tinySpec, dir))
	m, _, meta, err := convert.FromHF(dir, convert.Options{})
	require.NoError(t, err)
	require.Len(t, m.Layers, 12)
	require.Equal(t, "0", meta["source_tensors_ignored"])
}

// TestIgnoredTensorsCounted: every checkpoint tensor the model does not use
// is counted, and named, in the metadata: buffers, an MLM head, and a
// classifier head under a BertModel config (the encoder is converted on
// purpose, the head left out).
func TestIgnoredTensorsCounted(t *testing.T) {
	dir := t.TempDir()
	spec := tinySpec
	spec.Layers = 2
	require.NoError(t, synth.WriteCheckpoint(spec, dir))
	addTensors(t, dir, map[string][]int{
		"embeddings.position_ids":        {1, 16},
		"embeddings.token_type_ids":      {1, 16},
		"cls.predictions.bias":           {120},
		"cls.predictions.transform.bias": {8},
		"classifier.weight":              {3, 8},
		"classifier.bias":                {3},
	})
	m, _, meta, err := convert.FromHF(dir, convert.Options{})
	require.NoError(t, err)
	require.Nil(t, m.Classifier)
	require.Equal(t, "6", meta["source_tensors_ignored"])
	for _, n := range []string{"classifier.bias", "cls.predictions.bias", "embeddings.position_ids", "embeddings.token_type_ids"} {
		require.Contains(t, meta["source_tensors_ignored_names"], n)
	}
	var buf bytes.Buffer
	require.NoError(t, lepfile.Write(&buf, m, nil, meta))
}

// TestQuantizeRefusesNonFinite: quantize refuses a NaN or infinity in any
// kind of float tensor it converts (issue 13, finding 2): embeddings,
// LayerNorm parameters, biases and matrices.
func TestQuantizeRefusesNonFinite(t *testing.T) {
	cfg := tinyConfig()
	for _, name := range []string{convert.NameWord, convert.NameEmbLN + ".weight", "encoder.layer.0.attention.output.LayerNorm.bias",
		"encoder.layer.1.intermediate.dense.bias", "encoder.layer.1.output.dense.weight", "classifier.weight", "pooler.dense.bias"} {
		for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
			ts := convert.Random(cfg, 5)
			ts[name][len(ts[name])/2] = v
			_, err := convert.FromFloat(cfg, ts, convert.Options{})
			require.ErrorIs(t, err, convert.ErrMissing, name)
			require.Contains(t, err.Error(), name)
			require.Contains(t, err.Error(), "non-finite")
		}
	}
}
