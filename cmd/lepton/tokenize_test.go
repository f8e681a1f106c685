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
	// The same vocabulary as a Hugging Face tokenizer.json (uncased BERT).
	vmap := map[string]int{}
	for i, tok := range strings.Split(strings.TrimSuffix(string(synth.Vocab(1000)), "\n"), "\n") {
		vmap[tok] = i
	}
	vjson, err := json.Marshal(vmap)
	require.NoError(t, err)
	hfJSON := filepath.Join(dir, "tokenizer.json")
	require.NoError(t, os.WriteFile(hfJSON, []byte(`{"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
	"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":`+string(vjson)+`},
	"post_processor":{"type":"BertProcessing","sep":["[SEP]",102],"cls":["[CLS]",101]}}`), 0o644))

	for _, src := range [][]string{{"--tokenizer", vocab}, {"--tokenizer", bin}, {"--tokenizer", hfJSON}, {"-m", model}} {
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

			// One text per stdin line, JSON out.
			code, out, errs = runCLI("TOK104 tok105\n\ntok106\n", append([]string{"tokenize", "--json"}, src...)...)
			require.Equal(t, 0, code, errs)
			lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, 3)
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
			assert.Equal(t, []int32{101, 104, 105, 102}, got.IDs)
			assert.Equal(t, [][2]int{{0, 0}, {0, 6}, {7, 13}, {0, 0}}, got.Offsets)
			require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
			assert.Equal(t, []int32{101, 102}, got.IDs)
			require.NoError(t, json.Unmarshal([]byte(lines[2]), &got))
			assert.Equal(t, []int32{101, 106, 102}, got.IDs)

			// Pairs, JSON out: type ids 1 and offsets into the second text,
			// from stdin and from two TEXT arguments alike.
			for _, in := range []struct{ stdin, a, b string }{{"tok104\t  tok105 TOK106\n", "", ""}, {"", "tok104", "  tok105 TOK106"}} {
				args := append([]string{"tokenize", "--pair", "--json"}, src...)
				if in.stdin == "" {
					args = append(args, in.a, in.b)
				}
				code, out, errs = runCLI(in.stdin, args...)
				require.Equal(t, 0, code, errs)
				require.Equal(t, 1, strings.Count(out, "\n"), out)
				require.NoError(t, json.Unmarshal([]byte(out), &got))
				assert.Equal(t, []int32{101, 104, 102, 105, 106, 102}, got.IDs)
				assert.Equal(t, []int32{0, 0, 0, 1, 1, 1}, got.TypeIDs)
				assert.Equal(t, [][2]int{{0, 0}, {0, 6}, {0, 0}, {2, 8}, {9, 15}, {0, 0}}, got.Offsets)
				assert.Equal(t, []string{"[CLS]", "tok104", "[SEP]", "tok105", "tok106", "[SEP]"}, got.Tokens)
			}

			// Pairs from stdin, plain output.
			code, out, errs = runCLI("tok104\ttok105 tok106\n\ttok107\n", append([]string{"tokenize", "--pair"}, src...)...)
			require.Equal(t, 0, code, errs)
			assert.Equal(t, "[CLS] tok104 [SEP] tok105 tok106 [SEP]\t101 104 102 105 106 102\n"+
				"[CLS] [SEP] tok107 [SEP]\t101 102 107 102\n", out)
		})
	}

	// --cased: a vocab.txt read with bert-base-cased's options, so the
	// upper-case word is not found; the other formats refuse the flag.
	code, out, errs := runCLI("", "tokenize", "--json", "--cased", "--tokenizer", vocab, "TOK104 tok105")
	require.Equal(t, 0, code, errs)
	var got tokenizeLine
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, []int32{101, 100, 105, 102}, got.IDs)
	for _, args := range [][]string{{"--tokenizer", hfJSON}, {"--tokenizer", bin}, {"-m", model}} {
		code, _, errs = runCLI("", append([]string{"tokenize", "--cased"}, append(args, "x")...)...)
		assert.Equal(t, 2, code, args)
		assert.Contains(t, errs, "--cased", args)
	}

	// Without --tokenizer or -m: the built-in clinic model's tokenizer,
	// as classify uses; both at once is a usage error.
	code, out, errs = runCLI("", "tokenize", "wheezing")
	assert.Equal(t, 0, code, errs)
	// The ids are those examples/train-clinic/wordpiece.py gives with the
	// model's vocab.txt (the training tokenizer, checked against
	// tokenizers.js on the whole corpus).
	assert.Equal(t, "[CLS] w ##hee ##zing [SEP]\t2 65 2351 1823 3\n", out)
	code, _, errs = runCLI("", "tokenize", "--tokenizer", vocab, "-m", model, "hello")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "not both")
	code, _, errs = runCLI("", "tokenize", "--tokenizer", filepath.Join(dir, "none.txt"), "hello")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "--tokenizer: open ")
	code, _, errs = runCLI("a\n", "tokenize", "--pair", "--tokenizer", vocab)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "tab-separated")
	bad := filepath.Join(dir, "bpe.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"model":{"type":"BPE"}}`), 0o644))
	code, _, errs = runCLI("", "tokenize", "--tokenizer", bad, "x")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "BPE")
	code, out, _ = runCLI("", "tokenize", "-h")
	assert.Equal(t, 0, code)
	assert.Empty(t, out)
}
