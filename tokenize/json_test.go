package tokenize

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonTokenizer builds a tokenizer.json around a small vocabulary, with the
// normalizer, model extras, added tokens and post-processor given as JSON
// fragments.
func jsonTokenizer(t *testing.T, normalizer, modelExtra, added, post string) *Tokenizer {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "Hello", "##lo", "hel", "café", "cafe",
		"中", "文", "中文", "a", "@@b", "##b", "ab", ",", "x", "<t>"}
	var sb strings.Builder
	for i, v := range vocab {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"` + v + `":` + strconv.Itoa(i))
	}
	data := `{"added_tokens":[` + added + `],"normalizer":` + normalizer + `,"pre_tokenizer":{"type":"BertPreTokenizer"},
	"model":{"type":"WordPiece","unk_token":"[UNK]"` + modelExtra + `,"vocab":{` + sb.String() + `}},
	"post_processor":` + post + `,"decoder":{"type":"WordPiece","prefix":"##","cleanup":true}}`
	tk, err := FromJSON([]byte(data))
	require.NoError(t, err, data)
	return tk
}

const (
	bertNorm     = `{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}`
	bertPost     = `{"type":"BertProcessing","sep":["[SEP]",3],"cls":["[CLS]",2]}`
	templatePost = `{"type":"TemplateProcessing",
	"single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
	"pair":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"[SEP]","type_id":1}}],
	"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}`
	specials = `{"id":0,"content":"[PAD]","special":true},{"id":1,"content":"[UNK]","special":true},
	{"id":2,"content":"[CLS]","special":true},{"id":3,"content":"[SEP]","special":true},{"id":4,"content":"[MASK]","special":true}`
)

func encTokens(t *testing.T, tk *Tokenizer, a string, b ...string) []string {
	t.Helper()
	var enc Encoding
	var err error
	if len(b) > 0 {
		enc, err = tk.EncodePair(a, b[0], EncodeOptions{})
	} else {
		enc, err = tk.Encode(a, EncodeOptions{})
	}
	require.NoError(t, err)
	return enc.Tokens
}

func TestFromJSONVariants(t *testing.T) {
	bert := jsonTokenizer(t, bertNorm, "", specials, bertPost)
	tmpl := jsonTokenizer(t, bertNorm, "", specials, templatePost)
	for _, in := range [][2]string{{"Hello, café", "中文 ab"}, {"", "x"}, {"hello [MASK]", ""}} {
		a, err := bert.EncodePair(in[0], in[1], EncodeOptions{})
		require.NoError(t, err)
		b, err := tmpl.EncodePair(in[0], in[1], EncodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, a, b, "BertProcessing and the equivalent template must agree on %q", in)
	}
	assert.Equal(t, []string{"[CLS]", "hello", ",", "cafe", "[SEP]", "中", "文", "ab", "[SEP]"}, encTokens(t, bert, "Hello, café", "中文 ab"))

	cases := []struct {
		name, norm, extra, added, post string
		text                           string
		want                           []string
	}{
		{"no post-processor", bertNorm, "", specials, "null", "hello", []string{"hello"}},
		{"cased", `{"type":"BertNormalizer","lowercase":false}`, "", specials, bertPost, "Hello café", []string{"[CLS]", "Hello", "café", "[SEP]"}},
		{"lowercase keeps accents", `{"type":"BertNormalizer","lowercase":true,"strip_accents":false}`, "", specials, bertPost, "CAFÉ", []string{"[CLS]", "café", "[SEP]"}},
		{"no CJK handling", `{"type":"BertNormalizer","handle_chinese_chars":false}`, "", specials, bertPost, "中文", []string{"[CLS]", "中文", "[SEP]"}},
		{"no clean text", `{"type":"BertNormalizer","clean_text":false}`, "", specials, bertPost, "a\u0001b", []string{"[CLS]", "[UNK]", "[SEP]"}},
		{"clean text", bertNorm, "", specials, bertPost, "a\u0001b", []string{"[CLS]", "ab", "[SEP]"}},
		{"no normalizer", "null", "", specials, bertPost, "Hello café", []string{"[CLS]", "Hello", "café", "[SEP]"}},
		{"max chars", bertNorm, `,"max_input_chars_per_word":4`, specials, bertPost, "hello hel", []string{"[CLS]", "[UNK]", "hel", "[SEP]"}},
		{"other prefix", bertNorm, `,"continuing_subword_prefix":"@@"`, specials, bertPost, "ab", []string{"[CLS]", "ab", "[SEP]"}},
		{"other prefix split", bertNorm, `,"continuing_subword_prefix":"@@"`, specials, bertPost, "abb", []string{"[CLS]", "ab", "@@b", "[SEP]"}},
		// Added tokens are matched on the raw text, before lowercasing.
		{"added token", bertNorm, "", specials + `,{"id":20,"content":"<t>"}`, bertPost, "x<t>X <T>", []string{"[CLS]", "x", "<t>", "x", "[UNK]", "[UNK]", "[UNK]", "[SEP]"}},
		{"single_word rejects glued", bertNorm, "", specials + `,{"id":20,"content":"<t>","single_word":true}`, bertPost, "x<t> <t>", []string{"[CLS]", "x", "[UNK]", "[UNK]", "[UNK]", "<t>", "[SEP]"}},
		{"lstrip rstrip", bertNorm, "", specials + `,{"id":20,"content":"<t>","lstrip":true,"rstrip":true}`, bertPost, "x  <t>  x", []string{"[CLS]", "x", "<t>", "x", "[SEP]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := jsonTokenizer(t, c.norm, c.extra, c.added, c.post)
			assert.Equal(t, c.want, encTokens(t, tk, c.text))
		})
	}

	// lstrip/rstrip make the added token's span include the whitespace.
	tk := jsonTokenizer(t, bertNorm, "", specials+`,{"id":20,"content":"<t>","lstrip":true,"rstrip":true}`, bertPost)
	enc, err := tk.Encode("x  <t>  x", EncodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{}, {0, 1}, {1, 8}, {8, 9}, {}}, enc.Offsets)
}
