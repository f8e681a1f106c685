package convert_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

func TestParseHFConfigTokenClassification(t *testing.T) {
	base := `"model_type":"bert","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":2,
		"intermediate_size":12,"max_position_embeddings":16,"hidden_act":"gelu"`
	cfg, err := convert.ParseHFConfig([]byte(`{"architectures":["BertForTokenClassification"],`+base+
		`,"id2label":{"0":"O","1":"B-NAME","2":"I-NAME"}}`), "")
	require.NoError(t, err)
	require.Equal(t, lepfile.ArchBertTokenClassification, cfg.Architecture)
	require.Equal(t, []string{"O", "B-NAME", "I-NAME"}, cfg.Labels)

	// num_labels alone names them LABEL_i; problem_type does not apply to
	// token classification. A single label is refused: Tag's softmax
	// would give every token that label with probability 1.
	cfg, err = convert.ParseHFConfig([]byte(`{"architectures":["BertForTokenClassification"],`+base+`,"num_labels":2,"problem_type":"regression"}`), "")
	require.NoError(t, err)
	require.Equal(t, []string{"LABEL_0", "LABEL_1"}, cfg.Labels)
	_, err = convert.ParseHFConfig([]byte(`{"architectures":["BertForTokenClassification"],`+base+`,"num_labels":1}`), "")
	require.ErrorIs(t, err, convert.ErrUnsupported)
	require.Contains(t, err.Error(), "at least 2")

	_, err = convert.ParseHFConfig([]byte(`{"architectures":["BertForTokenClassification"],`+base+`}`), "")
	require.ErrorIs(t, err, convert.ErrUnsupported, "labels are required")
	_, err = convert.ParseHFConfig([]byte(`{"architectures":["BertForTokenClassification"],`+base+
		`,"id2label":{"0":"O","2":"B-NAME"}}`), "")
	require.ErrorIs(t, err, convert.ErrUnsupported, "label ids must be 0..n-1")
	_, err = convert.ParseHFConfig([]byte(`{"architectures":["BertForMaskedLM"],`+base+`}`), "")
	require.ErrorIs(t, err, convert.ErrUnsupported)
	require.Contains(t, err.Error(), "BertForTokenClassification", "the error lists what is supported")
}

// TestFromHFTokenClassification converts the random-weight token fixture:
// the "classifier" tensors become the token head, and the checkpoint's
// tensors all agree with the config.
func TestFromHFTokenClassification(t *testing.T) {
	m, tok, meta, err := convert.FromHF(filepath.Join("..", "..", "testdata", "golden", "random-token-bert"), convert.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, tok)
	require.NotNil(t, m.TokenClassifier)
	require.Nil(t, m.Classifier)
	require.Nil(t, m.Pooler)
	require.Equal(t, 6, m.TokenClassifier.W.N)
	require.Equal(t, "0", meta["source_tensors_ignored"])
	require.NoError(t, m.Validate())

	// FromFloat ignores a pooler handed to a token classifier, as Hugging
	// Face's BertForTokenClassification has none.
	cfg := bert.Config{Architecture: lepfile.ArchBertTokenClassification, Layers: 1, Hidden: 8, Heads: 2, Intermediate: 12,
		Vocab: 10, MaxPositions: 16, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "cls", Labels: []string{"O", "X"}}
	ts := convert.Random(cfg, 3)
	ts[convert.NamePooler+".weight"] = make([]float32, 64)
	ts[convert.NamePooler+".bias"] = make([]float32, 8)
	mm, err := convert.FromFloat(cfg, ts, convert.Options{})
	require.NoError(t, err)
	require.Nil(t, mm.Pooler)
	require.NotContains(t, convert.TensorNames(cfg, true), convert.NamePooler+".weight")
	delete(ts, convert.NameClassifier+".weight")
	_, err = convert.FromFloat(cfg, ts, convert.Options{})
	require.ErrorIs(t, err, convert.ErrMissing, "the head is required")
}
