// Package bert is Lepton's BERT encoder: the in-memory model (weights that
// usually alias a read-only memory-mapped .lep file), the int8 forward pass
// and a straightforward float reference path used by tests.
package bert

import "lepton/quant"

// Config is the architecture of a model, as stored in a .lep file.
type Config struct {
	Architecture string   // "BertModel", "BertForSequenceClassification", "BertForTokenClassification", "DistilBertModel", ...
	Layers       int      // encoder layers
	Hidden       int      // hidden size
	Heads        int      // attention heads; Hidden % Heads == 0
	Intermediate int      // FFN inner size
	Vocab        int      // word-piece vocabulary size
	MaxPositions int      // position embeddings
	TypeVocab    int      // token type embeddings
	LayerNormEps float32  // LayerNorm epsilon
	Activation   string   // "gelu" (erf GELU); others are refused
	Pooling      string   // default pooling for embeddings (ParsePooling): "cls", "mean", "max", "cls+mean", ...
	Labels       []string // classifier labels by index (sequence or token head); empty for BertModel

	// PoolerActivation follows the pooler (DistilBERT: the pre_classifier)
	// in front of the classifier: "" or "tanh" (BERT), "relu" (DistilBERT).
	// It is implied by the architecture, not stored on its own.
	PoolerActivation string

	// ScoreActivation turns the logit of a single-output head (a
	// cross-encoder reranker) into its score: "sigmoid", "identity" or
	// "tanh"; "" for other heads.
	ScoreActivation string

	// Sentence-embedding settings: sentence-transformers' Pooling and
	// Normalize modules and its encode() defaults.
	Normalize     bool              // Embed scales vectors to unit length by default
	ExcludePrompt bool              // pooling leaves out [CLS] and the prompt's tokens (include_prompt false)
	Prompts       map[string]string // named prompts, prepended to texts
	DefaultPrompt string            // the prompt Embed uses by default; "" none
	MaxLength     int               // default max tokens per input (max_seq_length); 0: MaxPositions
}

// Embedding is a table of rows quantised to int8 with one scale per row.
// F32 optionally holds the float rows (files written with --keep-fp32).
type Embedding struct {
	Rows, Dim int
	Data      []int8    // [Rows][Dim]
	Scales    []float32 // [Rows]
	F32       []float32 // [Rows][Dim] or nil
}

// Linear is y = x W^T + b with W packed for the int8 GEMM. F32 optionally
// holds W as row-major float [N][K] for the float reference path.
type Linear struct {
	W    quant.PackedWeights
	Bias []float32 // [N]
	F32  []float32 // [N][K] or nil
}

// LayerNorm holds the affine parameters of a LayerNorm.
type LayerNorm struct {
	Gamma, Beta []float32
}

// Layer is one encoder layer. QKV fuses the query, key and value
// projections into one matrix with N = 3*Hidden: rows [0,H) are the query,
// [H,2H) the key and [2H,3H) the value, so one GEMM computes all three.
type Layer struct {
	QKV     Linear
	AttnOut Linear
	AttnLN  LayerNorm
	Inter   Linear // Hidden -> Intermediate, followed by GELU
	Output  Linear // Intermediate -> Hidden
	OutLN   LayerNorm
}

// Model is a whole BERT encoder with its optional heads. At most one of
// Classifier and TokenClassifier is set.
type Model struct {
	Config     Config
	Word       Embedding
	Position   Embedding
	TokenType  Embedding
	EmbLN      LayerNorm
	Layers     []Layer
	Pooler     *Linear // dense+tanh on [CLS]; nil when the checkpoint has none
	Classifier *Linear // sequence head on the pooled [CLS]; nil unless BertForSequenceClassification
	// TokenClassifier is the token head (BertForTokenClassification): one
	// row of label scores per token, from that token's final hidden state
	// (no pooler). nil for the other architectures.
	TokenClassifier *Linear
}
