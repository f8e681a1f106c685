package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lepton/internal/synth"
	"lepton/tokenize"
)

func TestTokenizeCLI(t *testing.T) {
	dir := t.TempDir()
	vocab := filepath.Join(dir, "vocab.txt")
	require.NoError(t, os.WriteFile(vocab, synth.Vocab(1000), 0o644))
	tk, err := tokenize.FromVocab(synth.Vocab(1000), tokenize.VocabOptions{Lowercase: true, HandleCJK: true})
	require.NoError(t, err)
	blob, err := tk.MarshalBinary()
	require.NoError(t, err)
	bin := filepath.Join(dir, "tok.bin")
	require.NoError(t, os.WriteFile(bin, blob, 0o644))
	model := filepath.Join(dir, "tiny.lep")
	require.NoError(t, synth.WriteLep(synth.Tiny, model))

	for _, src := range [][]string{{"--tokenizer", vocab}, {"--tokenizer", bin}, {"-m", model}} {
		t.Run(src[0]+" "+filepath.Base(src[1]), func(t *testing.T) {
			// Texts as arguments, JSON out; byte offsets into each text.
			args := append([]string{"tokenize", "--json"}, src...)
			code, out, errs := runCLI("", append(args, "TOK104 tok105", "")...)
			require.Equal(t, 0, code, errs)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, 2)
			var got tokenizeLine
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
			assert.Equal(t, []int32{101, 104, 105, 102}, got.IDs)
			assert.Equal(t, []int32{0, 0, 0, 0}, got.TypeIDs)
			assert.Equal(t, [][2]int{{0, 0}, {0, 6}, {7, 13}, {0, 0}}, got.Offsets)
			assert.Equal(t, []string{"[CLS]", "tok104", "tok105", "[SEP]"}, got.Tokens)
			require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
			assert.Equal(t, []int32{101, 102}, got.IDs)

			// Pairs from stdin, plain output.
			code, out, errs = runCLI("tok104\ttok105 tok106\n\ttok107\n", append([]string{"tokenize", "--pair"}, src...)...)
			require.Equal(t, 0, code, errs)
			assert.Equal(t, "[CLS] tok104 [SEP] tok105 tok106 [SEP]\t101 104 102 105 106 102\n"+
				"[CLS] [SEP] tok107 [SEP]\t101 102 107 102\n", out)
		})
	}

	code, _, errs := runCLI("", "tokenize", "hello")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--tokenizer")
	code, _, errs = runCLI("a\n", "tokenize", "--pair", "--tokenizer", vocab)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "tab-separated")
	bad := filepath.Join(dir, "bpe.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"model":{"type":"BPE"}}`), 0o644))
	code, _, errs = runCLI("", "tokenize", "--tokenizer", bad, "x")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "BPE")
	code, out, _ := runCLI("", "tokenize", "-h")
	assert.Equal(t, 0, code)
	assert.Empty(t, out)
}
