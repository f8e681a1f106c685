package convert

import (
	"encoding/json"
	"fmt"
	"strings"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
)

// DistilBERT (Sanh et al. 2019; Hugging Face's DistilBertModel and
// DistilBertForSequenceClassification) is BERT's post-LayerNorm encoder
// under other names, with three differences the converter maps onto
// Lepton's BERT:
//
//   - no token type embeddings: the model ignores token types, so the file
//     gets a token type table of two zero rows (pairs still encode type ids
//     0 and 1; adding a zero row changes no bit of the embeddings);
//   - every LayerNorm has eps 1e-12 (fixed in the code, absent from
//     config.json);
//   - the classification head is pre_classifier (dense) + ReLU + classifier
//     on the [CLS] state, where BERT has pooler (dense) + tanh + classifier:
//     pre_classifier is stored as the pooler and the file's architecture
//     (DistilBertForSequenceClassification) selects ReLU.

// distilBertConfigJSON is the part of a DistilBERT config.json the
// converter reads (the names DistilBertConfig saves; hidden_size and the
// like are attribute aliases that config.json does not hold).
type distilBertConfigJSON struct {
	Architectures         []string `json:"architectures"`
	VocabSize             int      `json:"vocab_size"`
	Dim                   int      `json:"dim"`
	NLayers               int      `json:"n_layers"`
	NHeads                int      `json:"n_heads"`
	HiddenDim             int      `json:"hidden_dim"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	Activation            string   `json:"activation"`
	SinusoidalPosEmbds    bool     `json:"sinusoidal_pos_embds"`
}

// distilBertConfig reads the encoder part of a DistilBERT config.json.
func distilBertConfig(data []byte) (bert.Config, error) {
	var dc distilBertConfigJSON
	if err := json.Unmarshal(data, &dc); err != nil {
		return bert.Config{}, fmt.Errorf("%w: config.json: %v", ErrUnsupported, err)
	}
	arch := ""
	switch {
	case len(dc.Architectures) == 1 && (dc.Architectures[0] == lepfile.ArchDistilBertModel || dc.Architectures[0] == lepfile.ArchDistilBertClassification):
		arch = dc.Architectures[0]
	case len(dc.Architectures) == 0:
		arch = lepfile.ArchDistilBertModel
	default:
		return bert.Config{}, fmt.Errorf("%w: architectures %q (supported: %s)", ErrUnsupported, dc.Architectures, supportedModels)
	}
	if dc.Activation != "gelu" {
		return bert.Config{}, fmt.Errorf("%w: DistilBERT activation %q (only gelu, the erf form, is supported)", ErrUnsupported, dc.Activation)
	}
	if dc.SinusoidalPosEmbds {
		// The table would be computed, not read, by some transformers
		// versions; refuse rather than guess which one made the checkpoint.
		return bert.Config{}, fmt.Errorf("%w: DistilBERT with sinusoidal_pos_embds true (only learned position embeddings are supported)", ErrUnsupported)
	}
	return bert.Config{
		Architecture: arch, Layers: dc.NLayers, Hidden: dc.Dim, Heads: dc.NHeads, Intermediate: dc.HiddenDim,
		Vocab: dc.VocabSize, MaxPositions: dc.MaxPositionEmbeddings, TypeVocab: 2, LayerNormEps: 1e-12,
		Activation: "gelu", PoolerActivation: lepfile.PoolerActivation(arch),
	}, nil
}

// isDistilBERT reports whether cfg is one of the DistilBERT architectures.
func isDistilBERT(cfg *bert.Config) bool {
	return cfg.Architecture == lepfile.ArchDistilBertModel || cfg.Architecture == lepfile.ArchDistilBertClassification
}

// distilLayerNames maps the per-layer module names of DistilBERT's
// TransformerBlock to BERT's.
var distilLayerNames = map[string]string{
	"attention.q_lin":   "attention.self.query",
	"attention.k_lin":   "attention.self.key",
	"attention.v_lin":   "attention.self.value",
	"attention.out_lin": "attention.output.dense",
	"sa_layer_norm":     "attention.output.LayerNorm",
	"ffn.lin1":          "intermediate.dense",
	"ffn.lin2":          "output.dense",
	"output_layer_norm": "output.LayerNorm",
}

// distilToBERT renames a DistilBERT checkpoint tensor to the BERT name
// hfName understands ("distilbert." prefix dropped, transformer.layer.N.*
// to encoder.layer.N.*, pre_classifier to the pooler). Other names,
// BERT's included, come back unchanged; a layer tensor DistilBERT does not
// have keeps its own name under encoder.layer.N., where it is unknown.
func distilToBERT(name string) string {
	n := strings.TrimPrefix(name, "distilbert.")
	if rest, ok := strings.CutPrefix(n, "pre_classifier."); ok {
		return "pooler.dense." + rest
	}
	rest, ok := strings.CutPrefix(n, "transformer.layer.")
	if !ok {
		if n != name {
			return n // distilbert.embeddings.*
		}
		return name
	}
	idx, tail, ok := strings.Cut(rest, ".")
	if !ok {
		return name
	}
	i := strings.LastIndexByte(tail, '.')
	if i < 0 {
		return "encoder.layer." + idx + "." + tail
	}
	module, param := tail[:i], tail[i+1:]
	if b, ok := distilLayerNames[module]; ok {
		module = b
	}
	return "encoder.layer." + idx + "." + module + "." + param
}
