package synth

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/quant"
	"lepton/tokenize"
)

func TestTensorsDeterministicAndDistributed(t *testing.T) {
	a, err := Tiny.Tensors()
	require.NoError(t, err)
	b, err := Tiny.Tensors()
	require.NoError(t, err)
	require.Equal(t, len(a), len(b))
	// 5 embedding tensors + 16 per layer.
	require.Len(t, a, 5+16*Tiny.Layers)
	for i := range a {
		require.Equal(t, a[i].Name, b[i].Name)
		require.Equal(t, a[i].Data, b[i].Data, a[i].Name)
		if i > 0 {
			require.Less(t, a[i-1].Name, a[i].Name, "sorted by name")
		}
	}
	other := Tiny
	other.Seed = 2
	c, err := other.Tensors()
	require.NoError(t, err)
	require.NotEqual(t, a[0].Data, c[0].Data, "seed must change the weights")

	for _, tn := range a {
		var sum, sq float64
		for _, v := range tn.Data {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(tn.Data))
		mean, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
		if filepath.Ext(tn.Name) == ".weight" && isLayerNorm(tn.Name) {
			require.InDelta(t, 1, mean, 0.03, tn.Name)
			continue
		}
		require.InDelta(t, 0, mean, 0.01, tn.Name)
		if n >= 1000 {
			require.InDelta(t, 0.02, sd, 0.002, tn.Name)
		}
	}
}

func isLayerNorm(name string) bool {
	return len(name) > len("LayerNorm.weight") && name[len(name)-len("LayerNorm.weight"):] == "LayerNorm.weight"
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Spec)
	}{
		{"zero layers", func(s *Spec) { s.Layers = 0 }},
		{"heads do not divide hidden", func(s *Spec) { s.Heads = 5 }},
		{"negative vocab", func(s *Spec) { s.Vocab = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Tiny
			tc.mod(&s)
			_, err := s.Model()
			require.ErrorIs(t, err, ErrShape)
		})
	}
	_, err := Lookup("huge")
	require.ErrorIs(t, err, ErrShape)
	s, err := Lookup("minilm")
	require.NoError(t, err)
	require.Equal(t, MiniLM, s)
}

func TestModelMatchesTensors(t *testing.T) {
	m, err := Tiny.Model()
	require.NoError(t, err)
	ts, err := Tiny.Tensors()
	require.NoError(t, err)
	byName := map[string][]float32{}
	for _, tn := range ts {
		byName[tn.Name] = tn.Data
	}
	h := Tiny.Hidden
	require.Len(t, m.Layers, Tiny.Layers)
	for l, layer := range m.Layers {
		for _, lin := range []quant.PackedWeights{layer.QKV.W, layer.AttnOut.W, layer.Inter.W, layer.Output.W} {
			require.NoError(t, lin.Validate())
		}
		// Row h+3 of the fused QKV is row 3 of the key projection.
		q := quant.Unpack(&layer.QKV.W)
		key := byName["encoder.layer."+itoa(l)+".attention.self.key.weight"]
		row := key[3*h : 4*h]
		s := layer.QKV.W.Scales[h+3]
		for k := 0; k < h; k++ {
			require.InDelta(t, row[k], float32(q[(h+3)*h+k])*s, float64(s)/2+1e-9)
		}
		require.Equal(t, byName["encoder.layer."+itoa(l)+".attention.self.value.bias"], layer.QKV.Bias[2*h:])
	}
	// Embedding rows dequantise to within half a step.
	w := byName["embeddings.word_embeddings.weight"]
	for _, r := range []int{0, 1, Tiny.Vocab - 1} {
		s := m.Word.Scales[r]
		for k := 0; k < h; k++ {
			require.InDelta(t, w[r*h+k], float32(m.Word.Data[r*h+k])*s, float64(s)/2+1e-9)
		}
	}
}

func itoa(i int) string {
	return string(rune('0' + i)) // layers < 10 in Tiny
}

func TestWriteCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(Tiny, dir))
	raw, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw[:8])
	require.Zero(t, (8+n)%8)
	var header map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw[8:8+n], &header))
	ts, err := Tiny.Tensors()
	require.NoError(t, err)
	require.Len(t, header, len(ts)+1) // + __metadata__
	data := raw[8+n:]
	for _, tn := range ts {
		var e struct {
			Dtype   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		require.NoError(t, json.Unmarshal(header[tn.Name], &e), tn.Name)
		require.Equal(t, "F32", e.Dtype)
		require.Equal(t, tn.Shape, e.Shape)
		require.EqualValues(t, len(tn.Data)*4, e.Offsets[1]-e.Offsets[0])
		for i, v := range tn.Data {
			got := math.Float32frombits(binary.LittleEndian.Uint32(data[e.Offsets[0]+int64(4*i):]))
			require.Equal(t, v, got)
		}
	}
	var cfg map[string]any
	cj, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(cj, &cfg))
	require.EqualValues(t, Tiny.Hidden, cfg["hidden_size"])
	vocab, err := os.ReadFile(filepath.Join(dir, "vocab.txt"))
	require.NoError(t, err)
	lines := 0
	for _, c := range vocab {
		if c == '\n' {
			lines++
		}
	}
	require.Equal(t, Tiny.Vocab, lines)
}

func TestInputs(t *testing.T) {
	for _, tc := range []struct {
		lengths []int
		vocab   int
	}{
		{[]int{2}, 30522},
		{[]int{128}, 30522},
		{[]int{16, 32, 48, 64, 80, 96, 112, 128}, 30522},
		{[]int{5, 7}, Tiny.Vocab},
		{nil, 30522},
	} {
		ids, err := Inputs(tc.lengths, tc.vocab, 7)
		require.NoError(t, err)
		again, _ := Inputs(tc.lengths, tc.vocab, 7)
		require.Equal(t, ids, again)
		require.Len(t, ids, len(tc.lengths))
		for i, seq := range ids {
			require.Len(t, seq, tc.lengths[i])
			require.EqualValues(t, 101, seq[0])
			require.EqualValues(t, 102, seq[len(seq)-1])
			for _, id := range seq[1 : len(seq)-1] {
				require.Less(t, int(id), tc.vocab)
				require.Greater(t, int(id), 102)
			}
		}
	}
	_, err := Inputs([]int{1}, 30522, 1)
	require.True(t, errors.Is(err, ErrShape))
	_, err = Inputs([]int{4}, 50, 1)
	require.ErrorIs(t, err, ErrShape)
}

func TestClassifierVariant(t *testing.T) {
	s := Tiny
	s.Labels = 3
	m, err := s.Model()
	require.NoError(t, err)
	require.Equal(t, "BertForSequenceClassification", m.Config.Architecture)
	require.Equal(t, []string{"LABEL_0", "LABEL_1", "LABEL_2"}, m.Config.Labels)
	require.NotNil(t, m.Pooler)
	require.NotNil(t, m.Classifier)
	require.Equal(t, 3, m.Classifier.W.N)
	require.NoError(t, m.Validate())

	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(s, dir))
	raw, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw[:8])
	var header map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw[8:8+n], &header))
	require.Contains(t, header, "classifier.weight")
	require.Contains(t, header, "bert.pooler.dense.weight")
	require.Contains(t, header, "bert.encoder.layer.1.output.dense.bias")
	require.NotContains(t, header, "encoder.layer.1.output.dense.bias")

	// The plain presets validate too.
	for _, p := range []Spec{Tiny, MiniLM} {
		m, err := p.Model()
		require.NoError(t, err)
		require.NoError(t, m.Validate(), p.Name)
	}
}

// The synthetic model is byte-for-byte what `lepton quantize` makes of the
// checkpoint WriteCheckpoint writes, so benchmarks with --synthetic and with
// the converted file (and the ONNX export of the same checkpoint) all run the
// same weights.
func TestModelEqualsConvertedCheckpoint(t *testing.T) {
	for _, labels := range []int{0, 2} {
		s := Tiny
		s.Labels = labels
		dir := t.TempDir()
		require.NoError(t, WriteCheckpoint(s, dir))
		conv, _, _, err := convert.FromHF(dir, convert.Options{})
		require.NoError(t, err)
		m, err := s.Model()
		require.NoError(t, err)
		conv.Config.Pooling = m.Config.Pooling // the converter picks its own default
		require.Equal(t, m, conv)
	}
}

func TestWriteLepAndText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.lep")
	require.NoError(t, WriteLep(Tiny, path))
	f, err := lepfile.Open(path)
	require.NoError(t, err)
	defer f.Close()
	want, err := Tiny.Model()
	require.NoError(t, err)
	require.Equal(t, want.Layers[1].Inter.W.Data, f.Model.Layers[1].Inter.W.Data)
	require.Equal(t, want.Word.Scales, f.Model.Word.Scales)
	require.NotEmpty(t, f.Tokenizer)
	tok, err := tokenize.FromBinary(f.Tokenizer)
	require.NoError(t, err)
	ids, err := Inputs([]int{2, 3, 40}, Tiny.Vocab, 9)
	require.NoError(t, err)
	for _, seq := range ids {
		enc, err := tok.Encode(Text(seq), tokenize.EncodeOptions{})
		require.NoError(t, err)
		require.Equal(t, seq, enc.IDs, Text(seq))
	}
	require.Equal(t, "", Text([]int32{101, 102}))
	require.Equal(t, "tok104 tok999", Text([]int32{101, 104, 999, 102}))
}
