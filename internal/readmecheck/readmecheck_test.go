package readmecheck

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExamples(t *testing.T) {
	md := "# T\n\n```sh\ngo run ./x a   # comment\n# only a comment\necho 'a # b' | y\n```\n\n```\nout 1\nout 2\n```\n\n" +
		"Prose.\n<!-- output of: go run ./x \"q\" -->\n```\nline\n```\n\n```go\nfmt.Println()\n```\n\n```text\n\n```\n"
	ex, err := Examples([]byte(md))
	require.ErrorContains(t, err, "line 24: output block without a command")
	require.Len(t, ex, 2)
	require.Equal(t, Example{Line: 9, Commands: []string{"go run ./x a", "echo 'a # b' | y"}, Output: "out 1\nout 2\n"}, ex[0])
	require.Equal(t, Example{Line: 16, Commands: []string{`go run ./x "q"`}, Output: "line\n"}, ex[1])

	_, err = Examples([]byte("```sh\nx\n"))
	require.ErrorContains(t, err, "unterminated")
	// Prose between the sh block and the output: not its output.
	_, err = Examples([]byte("```sh\nx\n```\ntext\n```\ny\n```\n"))
	require.ErrorContains(t, err, "without a command")
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		want, got string
		ok        bool
	}{
		{"a\nb\n", "a\nb\n", true},
		{"a\nb\n", "a\nc\n", false},
		{"a\n", "a\nb\n", false},
		{"a\nb\n", "a\n", false},
		{"took ... s (... texts/s)\n", "took 0.52 s (2300 texts/s)\n", true},
		{"took ... s\n", "took 0.52 s\nmore\n", false},
		{"a.b ... (x)\n", "aXb 1 (x)\n", false}, // only ... is special
		{"...\n", "anything at all\n", true},
	} {
		ok, diff := Match(tc.want, tc.got)
		require.Equal(t, tc.ok, ok, "%q vs %q: %s", tc.want, tc.got, diff)
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`go run ./cmd/lepton classify "I've had a fever"`, []string{"go", "run", "./cmd/lepton", "classify", "I've had a fever"}},
		{`a 'b "c" d'  e\ f "g\"h\\i\n"`, []string{"a", `b "c" d`, "e f", `g"h\i\n`}},
		{``, nil},
		{`a ''`, []string{"a", ""}},
	} {
		got, err := Args(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	_, err := Args(`a "b`)
	require.Error(t, err)
}

func TestInlineCode(t *testing.T) {
	md := "Says `allergy 0.9920` and `x`.\n```\n`not inline`\n```\nthen `y`\n"
	require.Equal(t, []string{"allergy 0.9920", "x", "y"}, InlineCode([]byte(md)))
}
