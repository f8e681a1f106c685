package lepfile_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
)

func TestValidateConfig(t *testing.T) {
	require.NoError(t, lepfile.ValidateConfig(&bert.Config{Architecture: lepfile.ArchBertModel, Layers: 1, Hidden: 1, Heads: 1,
		Intermediate: 1, Vocab: 1, MaxPositions: 1, TypeVocab: 1, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "mean"}))
	// Format 1.1 settings that are valid.
	for _, c := range []bert.Config{
		{Architecture: lepfile.ArchDistilBertModel, Pooling: "cls+max+mean", Normalize: true, MaxLength: 11,
			Prompts: map[string]string{"query": "query: ", "doc": ""}, DefaultPrompt: "query", ExcludePrompt: true},
		{Architecture: lepfile.ArchDistilBertClassification, PoolerActivation: "relu", Labels: []string{"x", "y"}},
		{Architecture: lepfile.ArchBertClassification, Labels: []string{"score"}, ScoreActivation: "identity"},
		{Architecture: lepfile.ArchDistilBertClassification, PoolerActivation: "relu", Labels: []string{"score"}, ScoreActivation: "sigmoid"},
	} {
		base := tinyConfig(c.Architecture)
		c.Layers, c.Hidden, c.Heads, c.Intermediate, c.Vocab = base.Layers, base.Hidden, base.Heads, base.Intermediate, base.Vocab
		c.MaxPositions, c.TypeVocab, c.LayerNormEps, c.Activation = base.MaxPositions, base.TypeVocab, base.LayerNormEps, base.Activation
		if c.Pooling == "" {
			c.Pooling = "cls"
		}
		require.NoError(t, lepfile.ValidateConfig(&c), "%+v", c)
	}
	for _, tc := range []struct {
		name   string
		mutate func(c *bert.Config)
		want   string
	}{
		{"architecture", func(c *bert.Config) { c.Architecture = "BertForMaskedLM" }, "unsupported architecture"},
		{"layers 0", func(c *bert.Config) { c.Layers = 0 }, "layers = 0"},
		{"layers huge", func(c *bert.Config) { c.Layers = 257 }, "layers = 257"},
		{"hidden negative", func(c *bert.Config) { c.Hidden = -8 }, "hidden = -8"},
		{"heads > hidden", func(c *bert.Config) { c.Heads = 20 }, "heads = 20"},
		{"heads divide", func(c *bert.Config) { c.Heads = 5 }, "not a multiple of heads"},
		{"intermediate", func(c *bert.Config) { c.Intermediate = 1 << 20 }, "intermediate"},
		{"vocab", func(c *bert.Config) { c.Vocab = 1 << 30 }, "vocab"},
		{"positions", func(c *bert.Config) { c.MaxPositions = 0 }, "max_positions"},
		{"type vocab", func(c *bert.Config) { c.TypeVocab = 5000 }, "type_vocab"},
		{"eps zero", func(c *bert.Config) { c.LayerNormEps = 0 }, "layer_norm_eps"},
		{"eps NaN", func(c *bert.Config) { c.LayerNormEps = float32(math.NaN()) }, "layer_norm_eps"},
		{"eps Inf", func(c *bert.Config) { c.LayerNormEps = float32(math.Inf(1)) }, "layer_norm_eps"},
		{"activation", func(c *bert.Config) { c.Activation = "gelu_new" }, "activation"},
		{"pooling", func(c *bert.Config) { c.Pooling = "median" }, "pooling"},
		{"pooling missing", func(c *bert.Config) { c.Pooling = "" }, "pooling"},
		{"pooling not canonical", func(c *bert.Config) { c.Pooling = "mean+cls" }, "in that order"},
		{"pooling upper case", func(c *bert.Config) { c.Pooling = "CLS" }, "pooling"},
		{"pooler activation on BERT", func(c *bert.Config) { c.PoolerActivation = "relu" }, "pooler activation"},
		{"DistilBERT head without ReLU", func(c *bert.Config) { c.Architecture = lepfile.ArchDistilBertClassification }, "pooler activation"},
		{"single output without score activation", func(c *bert.Config) { c.Labels = c.Labels[:1] }, "score_activation"},
		{"single output, unknown score activation", func(c *bert.Config) { c.Labels, c.ScoreActivation = c.Labels[:1], "softmax" }, "score_activation"},
		{"score activation on 2 outputs", func(c *bert.Config) { c.ScoreActivation = "sigmoid" }, "score_activation"},
		{"max length", func(c *bert.Config) { c.MaxLength = c.MaxPositions + 1 }, "max_length"},
		{"max length negative", func(c *bert.Config) { c.MaxLength = -2 }, "max_length"},
		{"prompt name empty", func(c *bert.Config) { c.Prompts = map[string]string{"": "query: "} }, "prompt"},
		{"prompt not UTF-8", func(c *bert.Config) { c.Prompts = map[string]string{"q": "\xff"} }, "prompt"},
		{"prompt too long", func(c *bert.Config) { c.Prompts = map[string]string{"q": strings.Repeat("x", 70000)} }, "prompt"},
		{"too many prompts", func(c *bert.Config) {
			c.Prompts = map[string]string{}
			for i := range 300 {
				c.Prompts[strings.Repeat("p", i+1)] = ""
			}
		}, "prompts"},
		{"default prompt missing", func(c *bert.Config) { c.DefaultPrompt = "query" }, "default_prompt"},
		{"no labels", func(c *bert.Config) { c.Labels = nil }, "0 labels"},
		{"labels on BertModel", func(c *bert.Config) { c.Architecture = lepfile.ArchBertModel }, "BertModel with 2 labels"},
		{"label not UTF-8", func(c *bert.Config) { c.Labels[1] = "\xff" }, "label 1"},
		{"label too long", func(c *bert.Config) { c.Labels[0] = strings.Repeat("x", 2000) }, "label 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(lepfile.ArchBertClassification)
			c.Labels = []string{"a", "b"}
			tc.mutate(&c)
			err := lepfile.ValidateConfig(&c)
			require.ErrorIs(t, err, lepfile.ErrFormat)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

type failWriter struct{ after int }

var errDisk = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after < len(p) {
		n := max(w.after, 0)
		w.after = 0
		return n, errDisk
	}
	w.after -= len(p)
	return len(p), nil
}

// TestWriteError checks a failing writer's error reaches the caller at any
// point of the file.
func TestWriteError(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, false, true)
	n := len(encode(t, m, testTokenizer, nil))
	for _, after := range []int{0, 63, 64, 1000, n / 2, n - 1} {
		err := lepfile.Write(&failWriter{after: after}, m, testTokenizer, nil)
		require.ErrorIs(t, err, errDisk, "failing after %d bytes", after)
	}
}

func TestWriteRefusesHugeMetadata(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertModel, false, false)
	err := lepfile.Write(&failWriter{after: 1 << 30}, m, nil, lepfile.Metadata{"blob": strings.Repeat("x", 65<<20)})
	require.ErrorIs(t, err, lepfile.ErrModel)
	require.Contains(t, err.Error(), "metadata")
}
