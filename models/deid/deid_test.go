package deid_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/models/deid"
)

// TestBuiltIn checks what the CLI and the README promise about the
// embedded model: it opens, it is a token classifier of the six types that
// fits the size budget, its metadata says what it is and how good it is,
// and it finds identifiers in a note written for this test.
func TestBuiltIn(t *testing.T) {
	b := deid.Bytes()
	require.NotEmpty(t, b)
	require.Less(t, len(b), 8<<20, "the built-in model must stay under 8 MiB")

	m, err := deid.Open(lepton.WithThreads(1))
	require.NoError(t, err)
	defer m.Close()
	info := m.Info()
	require.Equal(t, "BertForTokenClassification", info.Architecture)
	require.Equal(t, []string{"O", "B-NAME", "I-NAME", "B-DATE", "I-DATE", "B-PHONE", "I-PHONE", "B-ID", "I-ID",
		"B-ADDRESS", "I-ADDRESS", "B-EMAIL", "I-EMAIL"}, info.Labels)
	for _, k := range []string{"name", "description", "training", "data", "evaluation", "test_f1_int8", "test_f1_fp32",
		"test_f1_regex_pattern_types", "test_int8_fp32_token_agreement", "test_masking_int8"} {
		require.NotEmpty(t, info.Metadata[k], "metadata %q", k)
	}
	f1, err := strconv.ParseFloat(strings.Fields(info.Metadata["test_f1_int8"])[0], 64)
	require.NoError(t, err)
	require.Greater(t, f1, 0.5)

	note := "Referral for Mrs Okafor, DOB 14/02/1961, MRN 00482913. Please call her on 0113 496 0000."
	res, err := m.Tag(context.Background(), []string{note, ""})
	require.NoError(t, err)
	require.Empty(t, res[1])
	types := map[string]string{}
	for _, e := range res[0] {
		types[e.Text] = e.Label
	}
	require.Equal(t, "DATE", types["14/02/1961"], "%v", res[0])
	require.Equal(t, "PHONE", types["0113 496 0000"], "%v", res[0])

	b[len(b)/2] ^= 0xff
	require.NotEqual(t, b, deid.Bytes(), "Bytes is a copy")
	m2, err := deid.Open(lepton.WithVerify(true))
	require.NoError(t, err, "the embedded model is intact")
	require.NoError(t, m2.Close())
}

// TestREADMEExample runs the before/after note the repository's README
// shows through the built-in model, as `lepton redact` does, so that the
// README cannot show output the model does not give.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	const note = "examples/train-deid/data/readme-note.txt"
	block := func(marker, fence string) string {
		re := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(marker) + " -->\n```" + fence + "\n(.*?)\n```")
		m := re.FindSubmatch(readme)
		require.NotNil(t, m, "README.md has no %q block", marker)
		return string(m[1])
	}
	// The note is a file, so that cmd/lepton's TestReadme runs the
	// command the README shows on it too.
	before, after := block("deid-example: before ("+note+")", "txt"), block("output of: go run ./cmd/lepton redact --in "+note, "")
	file, err := os.ReadFile(filepath.Join("..", "..", note))
	require.NoError(t, err)
	require.Equal(t, string(file), before+"\n", "README.md shows %s", note)
	m, err := deid.Open()
	require.NoError(t, err)
	defer m.Close()
	res, err := m.Tag(context.Background(), []string{before})
	require.NoError(t, err)
	// lepton redact's mask: [TYPE], then the line breaks the entity spanned.
	got := lepton.Redact(before, res[0], func(e lepton.Entity) string {
		return "[" + e.Label + "]" + strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return r
			}
			return -1
		}, e.Text)
	})
	require.Equal(t, after, got, "README.md's redacted note is not what the built-in model gives: update it")
}
