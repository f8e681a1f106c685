//go:build hftokenizers

package hftokenizers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lepton/internal/testshared"
	"lepton/tokenize"
)

// TestHFBackendParity compares the pure-Go tokenizer with the Rust library
// on the adversarial list and the SST-2 validation text: ids, type ids,
// masks and byte offsets must all be identical.
func TestHFBackendParity(t *testing.T) {
	data, err := os.ReadFile(sharedFile(t, "models/sst2-bert-tiny-scratch/tokenizer.json"))
	require.NoError(t, err)
	goTk, err := tokenize.FromJSON(data)
	require.NoError(t, err)
	rs, err := FromJSON(data)
	require.NoError(t, err)
	defer rs.Close()
	var texts []string
	for _, c := range loadAdversarial(t).Texts {
		if !strings.Contains(c.Text, "\x00") { // C strings end at NUL
			texts = append(texts, c.Text)
		}
	}
	sst2, _ := testshared.ReadSST2(t, sharedFile(t, "data/sst2/validation.tsv"))
	texts = append(texts, sst2...)
	for _, text := range texts {
		want, err := rs.Encode(text, tokenize.EncodeOptions{})
		require.NoError(t, err)
		got, err := goTk.Encode(text, tokenize.EncodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, want.IDs, got.IDs, "%q", text)
		assert.Equal(t, want.TypeIDs, got.TypeIDs, "%q", text)
		assert.Equal(t, want.SpecialTokensMask, got.SpecialTokensMask, "%q", text)
		assert.Equal(t, want.Offsets, got.Offsets, "%q", text)
		assert.Equal(t, rs.Decode(want.IDs, true), goTk.Decode(got.IDs, true), "%q", text)
	}
	assert.Equal(t, rs.VocabSize(), goTk.VocabSize())
}

// sharedFile returns ../shared/rel beside the repository (this module sits
// two levels below the repository root), or ends the test through
// testshared.Missing when it is absent.
func sharedFile(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		testshared.Missing(t, "../shared/%s not found (%v)", rel, err)
	}
	return p
}

// loadAdversarial reads the tokenizer's hard cases from the tokenize
// package's test data.
func loadAdversarial(t *testing.T) (g struct {
	Texts []struct {
		Text string `json:"text"`
	} `json:"texts"`
}) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "golden_adversarial.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &g))
	require.NotEmpty(t, g.Texts)
	return g
}
