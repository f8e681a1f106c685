package synth

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteCheckpoint writes s as a Hugging Face BertModel (with Labels > 0,
// BertForSequenceClassification) checkpoint in dir:
// config.json, model.safetensors (fp32, the exact values of Tensors) and a
// placeholder vocab.txt with BERT's special ids ([PAD]=0, [UNK]=100,
// [CLS]=101, [SEP]=102, [MASK]=103). The peer benchmark exports ONNX models
// from this checkpoint, and `lepton quantize` converts it, so both engines
// run the same weights. dir is created if needed.
func WriteCheckpoint(s Spec, dir string) error {
	ts, err := s.Tensors()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	arch := "BertModel"
	if s.Labels > 0 {
		arch = "BertForSequenceClassification"
		for i := range ts {
			if !strings.HasPrefix(ts[i].Name, "classifier.") {
				ts[i].Name = "bert." + ts[i].Name
			}
		}
	}
	cfg := map[string]any{
		"architectures":                []string{arch},
		"model_type":                   "bert",
		"hidden_size":                  s.Hidden,
		"num_hidden_layers":            s.Layers,
		"num_attention_heads":          s.Heads,
		"intermediate_size":            s.Intermediate,
		"vocab_size":                   s.Vocab,
		"max_position_embeddings":      s.MaxPositions,
		"type_vocab_size":              s.TypeVocab,
		"layer_norm_eps":               1e-12,
		"hidden_act":                   "gelu",
		"hidden_dropout_prob":          0.0,
		"attention_probs_dropout_prob": 0.0,
		"pad_token_id":                 0,
		"torch_dtype":                  "float32",
		"lepton_synthetic":             map[string]any{"preset": s.Name, "seed": s.Seed},
	}
	if s.Labels > 0 {
		id2label := map[string]string{}
		for i, l := range s.Config().Labels {
			id2label[strconv.Itoa(i)] = l
		}
		cfg["id2label"] = id2label
	}
	cj, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(cj, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeVocab(filepath.Join(dir, "vocab.txt"), s.Vocab); err != nil {
		return err
	}
	return writeSafetensors(filepath.Join(dir, "model.safetensors"), ts)
}

func writeVocab(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	special := map[int]string{0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
	for i := 0; i < n; i++ {
		switch tok, ok := special[i]; {
		case ok:
			fmt.Fprintln(w, tok)
		case i < 100:
			fmt.Fprintf(w, "[unused%d]\n", i-1)
		default:
			fmt.Fprintf(w, "tok%d\n", i)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeSafetensors writes tensors in the safetensors format: an 8-byte
// little-endian header length, a JSON header mapping names to dtype, shape
// and byte offsets (padded with spaces to a multiple of 8), then the raw
// little-endian data in header order.
func writeSafetensors(path string, ts []Tensor) error {
	type entry struct {
		Dtype   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	for _, t := range ts {
		n := int64(len(t.Data)) * 4
		header[t.Name] = entry{Dtype: "F32", Shape: t.Shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	w.Write(lenBuf[:])
	w.Write(hj)
	var b [4]byte
	for _, t := range ts {
		for _, v := range t.Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			w.Write(b[:])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
