package convert_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/x448/float16"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/internal/safetensors"
	"lepton/quant"
	"lepton/tokenize"
)

func tinyConfig() bert.Config {
	return bert.Config{
		Architecture: lepfile.ArchBertClassification, Layers: 2, Hidden: 18, Heads: 3, Intermediate: 23,
		Vocab: 12, MaxPositions: 9, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "cls",
		Labels: []string{"NEGATIVE", "POSITIVE"},
	}
}

// TestFusedQKV checks the fused QKV matrix quantises exactly as the three
// projections would separately (per-row scales make fusion lossless), and
// that every packed linear dequantises to within half a step of its floats.
func TestFusedQKV(t *testing.T) {
	cfg := tinyConfig()
	ts := convert.Random(cfg, 3)
	m, err := convert.FromFloat(cfg, ts, convert.Options{KeepF32: true})
	require.NoError(t, err)
	h := cfg.Hidden
	for l := range cfg.Layers {
		fused := quant.Unpack(&m.Layers[l].QKV.W)
		for i, part := range []string{"query", "key", "value"} {
			p := "encoder.layer." + string(rune('0'+l)) + ".attention.self." + part
			sep, err := quant.QuantizePack(ts[p+".weight"], h, h)
			require.NoError(t, err)
			require.Equal(t, quant.Unpack(&sep), fused[i*h*h:(i+1)*h*h], p)
			require.Equal(t, sep.Scales, m.Layers[l].QKV.W.Scales[i*h:(i+1)*h], p)
			require.Equal(t, ts[p+".bias"], m.Layers[l].QKV.Bias[i*h:(i+1)*h], p)
			require.Equal(t, ts[p+".weight"], m.Layers[l].QKV.F32[i*h*h:(i+1)*h*h], p)
		}
	}
	check := func(name string, lin *bert.Linear, w []float32) {
		q := quant.Unpack(&lin.W)
		for n := range lin.W.N {
			s := lin.W.Scales[n]
			for k := range lin.W.K {
				got := float32(q[n*lin.W.K+k]) * s
				require.InDelta(t, w[n*lin.W.K+k], got, float64(s)/2*1.0001, "%s[%d][%d]", name, n, k)
			}
		}
	}
	check("inter", &m.Layers[1].Inter, ts["encoder.layer.1.intermediate.dense.weight"])
	check("classifier", m.Classifier, ts["classifier.weight"])
	// Embeddings: per-row scales, codes within [-127, 127].
	w := ts[convert.NameWord]
	for r := range cfg.Vocab {
		s := m.Word.Scales[r]
		for c := range h {
			q := m.Word.Data[r*h+c]
			require.GreaterOrEqual(t, q, int8(-127))
			require.InDelta(t, w[r*h+c], float32(q)*s, float64(s)/2*1.0001)
		}
	}
	require.Equal(t, w, m.Word.F32)
}

func TestFromFloatErrors(t *testing.T) {
	cfg := tinyConfig()
	t.Run("missing tensors are named", func(t *testing.T) {
		ts := convert.Random(cfg, 1)
		delete(ts, "encoder.layer.1.output.dense.weight")
		delete(ts, "classifier.bias")
		_, err := convert.FromFloat(cfg, ts, convert.Options{})
		require.ErrorIs(t, err, convert.ErrMissing)
		require.Contains(t, err.Error(), "encoder.layer.1.output.dense.weight")
		require.Contains(t, err.Error(), "classifier.bias")
	})
	t.Run("wrong size", func(t *testing.T) {
		ts := convert.Random(cfg, 1)
		ts["encoder.layer.0.intermediate.dense.bias"] = ts["encoder.layer.0.intermediate.dense.bias"][:5]
		_, err := convert.FromFloat(cfg, ts, convert.Options{})
		require.ErrorIs(t, err, convert.ErrMissing)
		require.Contains(t, err.Error(), "intermediate.dense.bias has 5 values")
	})
	t.Run("non-finite", func(t *testing.T) {
		ts := convert.Random(cfg, 1)
		ts[convert.NamePosition][7] = float32(math.NaN())
		_, err := convert.FromFloat(cfg, ts, convert.Options{})
		require.ErrorIs(t, err, convert.ErrMissing)
		require.Contains(t, err.Error(), "non-finite")
	})
	t.Run("bad config", func(t *testing.T) {
		c := cfg
		c.Heads = 5
		_, err := convert.FromFloat(c, convert.Random(cfg, 1), convert.Options{})
		require.ErrorIs(t, err, convert.ErrUnsupported)
	})
	t.Run("progress", func(t *testing.T) {
		var calls, last, total int
		_, err := convert.FromFloat(cfg, convert.Random(cfg, 1), convert.Options{Progress: func(d, n int) { calls++; last, total = d, n }})
		require.NoError(t, err)
		require.Equal(t, total, calls)
		require.Equal(t, total, last)
		require.Equal(t, 3+4*cfg.Layers+2, total) // embeddings, linears, pooler, classifier
	})
}

// hfDir writes a Hugging Face style checkpoint of cfg's random tensors.
// prefix is prepended to every name ("bert." for task models), dtype is the
// safetensors dtype, oldLN renames LayerNorm weight/bias to gamma/beta.
func hfDir(t *testing.T, cfg bert.Config, ts map[string][]float32, prefix, dtype string, oldLN bool, extra map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	hc := map[string]any{
		"architectures": []string{cfg.Architecture}, "model_type": "bert", "vocab_size": cfg.Vocab,
		"hidden_size": cfg.Hidden, "num_hidden_layers": cfg.Layers, "num_attention_heads": cfg.Heads,
		"intermediate_size": cfg.Intermediate, "max_position_embeddings": cfg.MaxPositions,
		"type_vocab_size": cfg.TypeVocab, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
	}
	if len(cfg.Labels) > 0 {
		id2label := map[string]string{}
		for i, l := range cfg.Labels {
			id2label[string(rune('0'+i))] = l
		}
		hc["id2label"] = id2label
	}
	for k, v := range extra {
		if v == nil {
			delete(hc, k)
		} else {
			hc[k] = v
		}
	}
	b, err := json.Marshal(hc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644))

	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	var tensors []safetensors.Tensor
	for _, n := range names {
		v := ts[n]
		var data []byte
		switch dtype {
		case "F32":
			data = safetensors.F32Bytes(v)
		case "F16":
			for _, x := range v {
				data = binary.LittleEndian.AppendUint16(data, float16.Fromfloat32(x).Bits())
			}
		case "BF16":
			for _, x := range v {
				data = binary.LittleEndian.AppendUint16(data, uint16(math.Float32bits(x)>>16))
			}
		}
		name := prefix + n
		if oldLN {
			name = strings.Replace(name, "LayerNorm.weight", "LayerNorm.gamma", 1)
			name = strings.Replace(name, "LayerNorm.bias", "LayerNorm.beta", 1)
		}
		if strings.HasPrefix(n, "classifier.") {
			name = n // task heads are never prefixed
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: dtype, Shape: shapeFor(cfg, n), Data: data})
	}
	// A buffer real checkpoints carry and the converter must ignore.
	tensors = append(tensors, safetensors.Tensor{Name: prefix + "embeddings.position_ids", DType: "I64", Shape: []int{1, cfg.MaxPositions}, Data: make([]byte, 8*cfg.MaxPositions)})
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, tensors, map[string]string{"format": "pt"}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), buf.Bytes(), 0o644))

	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "##s", "the", "a", "."}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(vocab[:min(len(vocab), cfg.Vocab)], "\n")+"\n"), 0o644))
	return dir
}

func shapeFor(cfg bert.Config, name string) []int {
	h := cfg.Hidden
	switch {
	case name == convert.NameWord:
		return []int{cfg.Vocab, h}
	case name == convert.NamePosition:
		return []int{cfg.MaxPositions, h}
	case name == convert.NameTokenType:
		return []int{cfg.TypeVocab, h}
	case name == "classifier.weight":
		return []int{len(cfg.Labels), h}
	case name == "classifier.bias":
		return []int{len(cfg.Labels)}
	case strings.HasSuffix(name, "intermediate.dense.weight"):
		return []int{cfg.Intermediate, h}
	case strings.HasSuffix(name, "intermediate.dense.bias"):
		return []int{cfg.Intermediate}
	case strings.HasSuffix(name, "output.dense.weight") && !strings.Contains(name, "attention"):
		return []int{h, cfg.Intermediate}
	case strings.HasSuffix(name, ".weight") && !strings.Contains(name, "LayerNorm"):
		return []int{h, h}
	}
	return []int{h}
}

// TestFromHF converts tiny checkpoints in every supported dtype and naming
// variant and checks the result equals FromFloat on the decoded values.
func TestFromHF(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, dtype string
		oldLN, classifier   bool
	}{
		{"classifier-f32", "bert.", "F32", false, true},
		{"classifier-f16-gamma-beta", "bert.", "F16", true, true},
		{"encoder-bf16-no-prefix", "", "BF16", false, false},
		{"encoder-f32-prefixed", "bert.", "F32", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			if !tc.classifier {
				cfg.Architecture, cfg.Labels, cfg.Pooling = lepfile.ArchBertModel, nil, "mean"
			}
			ts := convert.Random(cfg, 11)
			dir := hfDir(t, cfg, ts, tc.prefix, tc.dtype, tc.oldLN, nil)
			m, tok, meta, err := convert.FromHF(dir, convert.Options{})
			require.NoError(t, err)
			// The reference: the same values after the dtype's rounding.
			for n, v := range ts {
				for i, x := range v {
					switch tc.dtype {
					case "F16":
						v[i] = float16.Fromfloat32(x).Float32()
					case "BF16":
						v[i] = math.Float32frombits(math.Float32bits(x) &^ 0xffff)
					}
				}
				ts[n] = v
			}
			want, err := convert.FromFloat(cfg, ts, convert.Options{})
			require.NoError(t, err)
			require.Equal(t, want, m)
			require.Equal(t, tc.dtype, meta["source_dtype"])
			require.Equal(t, "vocab.txt", meta["tokenizer_source"])
			require.Equal(t, "1", meta["source_tensors_ignored"])
			tk, err := tokenize.FromBinary(tok)
			require.NoError(t, err)
			enc, err := tk.Encode("Good movies.", tokenize.EncodeOptions{})
			require.NoError(t, err)
			require.Equal(t, []int32{2, 5, 7, 8, 11, 3}, enc.IDs, "lowercased WordPiece with [CLS]/[SEP]")

			// The whole thing writes and reads back.
			var buf bytes.Buffer
			require.NoError(t, lepfile.Write(&buf, m, tok, meta))
			f, err := lepfile.OpenBytes(buf.Bytes())
			require.NoError(t, err)
			require.NoError(t, f.Verify())
			require.Equal(t, lepfile.TokenizerLepton, f.TokenizerFormat)
		})
	}
}

func TestFromHFErrors(t *testing.T) {
	cfg := tinyConfig()
	ts := convert.Random(cfg, 2)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) string
		err   error
		want  []string
	}{
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, os.ErrNotExist,
			[]string{"model directory ", "nope does not exist"}},
		{"dir is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "model.safetensors")
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
			return p
		}, convert.ErrMissingFile, []string{"is not a directory"}},
		{"no config.json", func(t *testing.T) string {
			d := hfDir(t, cfg, ts, "bert.", "F32", false, nil)
			require.NoError(t, os.Remove(filepath.Join(d, "config.json")))
			return d
		}, convert.ErrMissingFile, []string{"has no config.json; it holds: model.safetensors"}},
		{"only pytorch_model.bin", func(t *testing.T) string {
			d := hfDir(t, cfg, ts, "bert.", "F32", false, nil)
			require.NoError(t, os.Rename(filepath.Join(d, "model.safetensors"), filepath.Join(d, "pytorch_model.bin")))
			return d
		}, convert.ErrMissingFile, []string{"has no model.safetensors", "pytorch_model.bin is not supported", "safe_serialization"}},
		{"architecture", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"architectures": []string{"BertForMaskedLM"}})
		}, convert.ErrUnsupported, []string{"BertForMaskedLM", "supported: bert (BertModel, BertForSequenceClassification, BertForTokenClassification), distilbert (DistilBertModel, DistilBertForSequenceClassification)"}},
		{"model type", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"model_type": "roberta"})
		}, convert.ErrUnsupported, []string{`"roberta"`, "BertModel, BertForSequenceClassification", "DistilBertModel, DistilBertForSequenceClassification"}},
		{"activation", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"hidden_act": "relu"})
		}, convert.ErrUnsupported, []string{`"relu"`}},
		{"relative positions", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"position_embedding_type": "relative_key"})
		}, convert.ErrUnsupported, []string{"relative_key"}},
		{"id2label gap", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"id2label": map[string]string{"0": "a", "2": "b"}})
		}, convert.ErrUnsupported, []string{"id2label"}},
		{"multi-label head", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"problem_type": "multi_label_classification"})
		}, convert.ErrUnsupported, []string{"multi_label_classification", "softmax"}},
		{"regression head with 2 outputs", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"problem_type": "regression"})
		}, convert.ErrUnsupported, []string{"regression", "2 outputs"}},
		{"single output, unknown activation", func(t *testing.T) string {
			return hfDir(t, cfg, ts, "bert.", "F32", false, map[string]any{"id2label": nil, "num_labels": 1,
				"sentence_transformers": map[string]any{"activation_fn": "torch.nn.modules.activation.Softmax"}})
		}, convert.ErrUnsupported, []string{"activation_fn", "Softmax", "--score-activation"}},
		{"missing tensor", func(t *testing.T) string {
			t2 := convert.Random(cfg, 2)
			delete(t2, "encoder.layer.1.attention.self.key.bias")
			return hfDir(t, cfg, t2, "bert.", "F32", false, nil)
		}, convert.ErrMissing, []string{"encoder.layer.1.attention.self.key.bias"}},
		{"not a BERT checkpoint", func(t *testing.T) string {
			t2 := map[string][]float32{"transformer.h.0.attn.c_attn.weight": make([]float32, 4)}
			d := hfDir(t, cfg, map[string][]float32{}, "", "F32", false, nil)
			var buf bytes.Buffer
			require.NoError(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "transformer.h.0.attn.c_attn.weight", DType: "F32", Shape: []int{2, 2}, Data: safetensors.F32Bytes(t2["transformer.h.0.attn.c_attn.weight"])}}, nil))
			require.NoError(t, os.WriteFile(filepath.Join(d, "model.safetensors"), buf.Bytes(), 0o644))
			return d
		}, convert.ErrMissing, []string{"transformer.h.0.attn.c_attn.weight", "found 1 tensors"}},
		{"transposed weight", func(t *testing.T) string {
			c := cfg
			c.Intermediate = 23
			d := hfDir(t, c, ts, "bert.", "F32", false, nil)
			// Claim intermediate 18x23 instead of 23x18: same count, wrong shape.
			st, err := safetensors.ReadFile(filepath.Join(d, "model.safetensors"))
			require.NoError(t, err)
			var tensors []safetensors.Tensor
			for _, tt := range st.Tensors {
				if tt.Name == "bert.encoder.layer.0.intermediate.dense.weight" {
					tt.Shape = []int{18, 23}
				}
				tensors = append(tensors, tt)
			}
			var buf bytes.Buffer
			require.NoError(t, safetensors.Write(&buf, tensors, nil))
			require.NoError(t, os.WriteFile(filepath.Join(d, "model.safetensors"), buf.Bytes(), 0o644))
			return d
		}, convert.ErrMissing, []string{"intermediate.dense.weight has shape [18 23]", "[23 18]"}},
		{"integer weights", func(t *testing.T) string {
			d := hfDir(t, cfg, ts, "bert.", "F32", false, nil)
			st, err := safetensors.ReadFile(filepath.Join(d, "model.safetensors"))
			require.NoError(t, err)
			var tensors []safetensors.Tensor
			for _, tt := range st.Tensors {
				if tt.Name == "bert.pooler.dense.bias" {
					tt.DType = "I32"
				}
				tensors = append(tensors, tt)
			}
			var buf bytes.Buffer
			require.NoError(t, safetensors.Write(&buf, tensors, nil))
			require.NoError(t, os.WriteFile(filepath.Join(d, "model.safetensors"), buf.Bytes(), 0o644))
			return d
		}, convert.ErrUnsupported, []string{"pooler.dense.bias", "I32"}},
		{"corrupt safetensors", func(t *testing.T) string {
			d := hfDir(t, cfg, ts, "bert.", "F32", false, nil)
			require.NoError(t, os.WriteFile(filepath.Join(d, "model.safetensors"), []byte("garbage!garbage!"), 0o644))
			return d
		}, safetensors.ErrFormat, []string{"model.safetensors"}},
		{"no tokenizer", func(t *testing.T) string {
			d := hfDir(t, cfg, ts, "bert.", "F32", false, nil)
			require.NoError(t, os.Remove(filepath.Join(d, "vocab.txt")))
			return d
		}, convert.ErrMissingFile, []string{"has no tokenizer.json or vocab.txt"}},
		{"tokenizer bigger than embeddings", func(t *testing.T) string {
			d := hfDir(t, cfg, ts, "bert.", "F32", false, nil)
			v, err := os.ReadFile(filepath.Join(d, "vocab.txt"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(d, "vocab.txt"), append(v, "extra\n"...), 0o644))
			return d
		}, convert.ErrUnsupported, []string{"13 tokens", "12 word embeddings"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := convert.FromHF(tc.setup(t), convert.Options{})
			require.ErrorIs(t, err, tc.err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			if tc.err == os.ErrNotExist || tc.err == convert.ErrMissingFile {
				// A missing file is not a tensor problem.
				require.NotErrorIs(t, err, convert.ErrMissing)
				require.NotContains(t, err.Error(), "malformed tensor")
				require.NotContains(t, err.Error(), "stat ")
			}
		})
	}
}

// TestFromHFProgress checks progress covers decoding and quantisation and
// ends at its total.
func TestFromHFProgress(t *testing.T) {
	cfg := tinyConfig()
	dir := hfDir(t, cfg, convert.Random(cfg, 4), "bert.", "F32", false, nil)
	var seen []int
	total := -1
	_, _, _, err := convert.FromHF(dir, convert.Options{Progress: func(done, n int) {
		if total >= 0 {
			require.Equal(t, total, n, "constant total")
		}
		total = n
		seen = append(seen, done)
	}})
	require.NoError(t, err)
	// 5 embedding/LN + 16 per layer x 2 + pooler 2 + classifier 2 + position_ids
	// tensors decoded, then 3 embeddings + 4 linears x 2 + pooler + classifier.
	require.Equal(t, (5+16*2+2+2+1)+(3+4*2+2), total)
	require.Len(t, seen, total)
	for i, d := range seen {
		require.Equal(t, i+1, d)
	}
}
