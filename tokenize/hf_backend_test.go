//go:build hftokenizers

package tokenize

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHFBackendParity compares the pure-Go tokenizer with the Rust library
// on the adversarial list and the SST-2 validation text: ids, type ids,
// masks and byte offsets must all be identical.
func TestHFBackendParity(t *testing.T) {
	data, err := os.ReadFile(sharedPath(t, "models/sst2-bert-tiny-scratch/tokenizer.json"))
	require.NoError(t, err)
	goTk, err := FromJSON(data)
	require.NoError(t, err)
	rs, err := FromJSONHF(data)
	require.NoError(t, err)
	defer rs.Close()
	var texts []string
	for _, c := range loadAdversarial(t).Texts {
		if !strings.Contains(c.Text, "\x00") { // C strings end at NUL
			texts = append(texts, c.Text)
		}
	}
	for _, s := range sst2Texts(t) {
		texts = append(texts, s)
	}
	for _, text := range texts {
		want, err := rs.Encode(text, EncodeOptions{})
		require.NoError(t, err)
		got, err := goTk.Encode(text, EncodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, want.IDs, got.IDs, "%q", text)
		assert.Equal(t, want.TypeIDs, got.TypeIDs, "%q", text)
		assert.Equal(t, want.SpecialTokensMask, got.SpecialTokensMask, "%q", text)
		assert.Equal(t, want.Offsets, got.Offsets, "%q", text)
		assert.Equal(t, rs.Decode(want.IDs, true), goTk.Decode(got.IDs, true), "%q", text)
	}
	assert.Equal(t, rs.VocabSize(), goTk.VocabSize())
}
