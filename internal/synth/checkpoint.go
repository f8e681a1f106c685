package synth

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lepton/internal/lepfile"
	"lepton/tokenize"
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
	return os.WriteFile(path, Vocab(n), 0o644)
}

// Vocab returns a vocab.txt of n tokens with BERT's special ids ([PAD]=0,
// [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103), "[unusedK]" fillers below
// 100 and "tok<id>" for every other id, so the text "tok1234 tok2000"
// tokenises to exactly [CLS] 1234 2000 [SEP] (see Text).
func Vocab(n int) []byte {
	var b bytes.Buffer
	special := map[int]string{0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
	for i := 0; i < n; i++ {
		switch tok, ok := special[i]; {
		case ok:
			b.WriteString(tok)
		case i < 100:
			fmt.Fprintf(&b, "[unused%d]", i-1)
		default:
			fmt.Fprintf(&b, "tok%d", i)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Text returns the text that a Vocab tokenizer turns into ids (which must
// be ids >= 104 between [CLS] and [SEP], as Inputs makes): the "tok<id>"
// words of ids[1:len-1] joined by spaces.
func Text(ids []int32) string {
	var b strings.Builder
	for i := 1; i < len(ids)-1; i++ {
		if i > 1 {
			b.WriteByte(' ')
		}
		b.WriteString("tok")
		b.WriteString(strconv.Itoa(int(ids[i])))
	}
	return b.String()
}

// WriteLep writes s as a .lep model file at path, with a Vocab tokenizer
// (lowercasing, like an uncased BERT), so it can be opened with lepton.Open
// and fed Text inputs.
func WriteLep(s Spec, path string) error {
	m, err := s.Model()
	if err != nil {
		return err
	}
	tok, err := tokenize.FromVocab(Vocab(s.Vocab), tokenize.VocabOptions{Lowercase: true})
	if err != nil {
		return err
	}
	blob, err := tok.MarshalBinary()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	meta := lepfile.Metadata{"source": fmt.Sprintf("lepton synthetic %s, seed %d", s.Name, s.Seed)}
	err = lepfile.Write(w, m, blob, meta)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
