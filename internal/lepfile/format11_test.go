package lepfile_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

// TestFormat11 checks what format 1.1 added: every new CONF key survives
// the file; files that use none of them are still written as 1.0 (what a
// 1.0 writer wrote), those that use any as 1.1; the architecture implies
// the pooler's activation.
func TestFormat11(t *testing.T) {
	plain := microModel(t, lepfile.ArchBertClassification)
	f, err := lepfile.OpenBytes(plain)
	require.NoError(t, err)
	require.Equal(t, [2]int{1, 0}, [2]int{f.Major, f.Minor}, "nothing new: format 1.0")
	require.Equal(t, "", f.Model.Config.PoolerActivation)
	require.NotContains(t, string(plain), `"normalize"`, "no new keys in a 1.0 file's CONF")

	for i, d := range microModels11(t) {
		f, err := lepfile.OpenBytes(d)
		require.NoError(t, err)
		require.Equal(t, 1, f.Minor, "file %d uses 1.1 settings", i)
		require.NoError(t, f.Verify())
		c := f.Model.Config
		switch i {
		case 0:
			require.Equal(t, lepfile.ArchDistilBertClassification, c.Architecture)
			require.Equal(t, "relu", c.PoolerActivation, "implied by the architecture")
			require.Equal(t, "sigmoid", c.ScoreActivation)
			require.Equal(t, []string{"score"}, c.Labels)
		case 1:
			require.Equal(t, "cls+max+mean", c.Pooling)
			require.True(t, c.Normalize)
			require.True(t, c.ExcludePrompt)
			require.Equal(t, map[string]string{"query": "query: ", "doc": ""}, c.Prompts)
			require.Equal(t, "query", c.DefaultPrompt)
			require.Equal(t, 2, c.MaxLength)
		}
		require.NoError(t, f.Model.Validate())
	}
	// Each new setting on its own makes a 1.1 file.
	for name, set := range map[string]func(c *bert.Config){
		"pooling max":     func(c *bert.Config) { c.Pooling = "max" },
		"normalize":       func(c *bert.Config) { c.Normalize = true },
		"max length":      func(c *bert.Config) { c.MaxLength = 2 },
		"prompts":         func(c *bert.Config) { c.Prompts = map[string]string{"q": "q"} },
		"DistilBertModel": func(c *bert.Config) { c.Architecture = lepfile.ArchDistilBertModel },
	} {
		c := bert.Config{Architecture: lepfile.ArchBertModel, Layers: 1, Hidden: 4, Heads: 2, Intermediate: 5, Vocab: 3,
			MaxPositions: 3, TypeVocab: 1, LayerNormEps: 1e-5, Activation: "gelu", Pooling: "mean"}
		set(&c)
		m, err := convert.FromFloat(c, convert.Random(c, 1), convert.Options{})
		require.NoError(t, err, name)
		var buf bytes.Buffer
		require.NoError(t, lepfile.Write(&buf, m, nil, nil), name)
		require.Equal(t, uint16(1), binary.LittleEndian.Uint16(buf.Bytes()[10:]), name)
	}
}

// TestFormat11Refused: a CONF whose 1.1 settings break the rules is
// refused at open with ErrFormat, as the writer would have refused it.
func TestFormat11Refused(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{`"score_activation":"sigmoid"`, `"score_activation":"softmax"`, "score_activation"},
		{`"score_activation":"sigmoid"`, `"score_activation":""`, "score_activation"},
		{`"architecture":"DistilBertForSequenceClassification"`, `"architecture":"DistilBertForMaskedLM"`, "unsupported architecture"},
		{`"default_prompt":"query"`, `"default_prompt":"other"`, "default_prompt"},
		{`"max_length":2`, `"max_length":9`, "max_length"},
		{`"pooling":"cls+max+mean"`, `"pooling":"mean+max+cls"`, "pooling"},
	} {
		var data []byte
		for _, d := range microModels11(t) {
			if bytes.Contains(d, []byte(tc.old)) {
				data = bytes.Clone(d)
			}
		}
		require.NotNil(t, data, tc.old)
		i := bytes.Index(data, []byte(tc.old))
		// Padded with JSON whitespace to the same length, keeping the layout.
		require.LessOrEqual(t, len(tc.new), len(tc.old))
		copy(data[i:], tc.new+strings.Repeat(" ", len(tc.old)-len(tc.new)))
		refreshCRCs(data)
		_, err := lepfile.OpenBytes(data)
		require.ErrorIs(t, err, lepfile.ErrFormat, tc.new)
		require.Contains(t, err.Error(), tc.want)
	}
}
