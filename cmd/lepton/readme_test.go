package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/readmecheck"
	"lepton/internal/testshared"
	"lepton/models/clinic"
)

// readmeElsewhere are README output blocks this test does not run, by
// their first command: checked by another package's test, or not
// checkable, and why.
var readmeElsewhere = map[string]string{
	"go run ./examples/train-clinic/eval": "checked by TestReadme in examples/train-clinic/eval (it needs that package's code)",
	"go test ./...":                       "not checkable: timings and the package list of one run on one machine",
	"go install ./cmd/lepton":             "not checkable: lepton version shows the commit, the Go version and the CPU's kernel tier",
}

// TestReadme runs every command of README.md whose output the README
// shows (internal/readmecheck finds them) and compares the output, so that
// a changed default or a changed model fails the build instead of leaving
// a stale figure there. Commands are `go run ./cmd/lepton ...` lines, run
// in-process from the repository root, optionally fed by `echo "..." |` or
// `printf '...' |` and cut by `| head -n N`; what they print on stderr
// (warnings) comes first, as on a terminal, unless `2>/dev/null`. Every
// inline `LABEL 0.1234` figure of the README must also appear in a checked
// output.
func TestReadme(t *testing.T) {
	root := testshared.RepoRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	examples, err := readmecheck.Examples(md)
	require.NoError(t, err, "README.md: every output block needs its command")
	t.Chdir(root)

	var checked strings.Builder
	ran := 0
	for _, ex := range examples {
		first := ex.Commands[0]
		if why, ok := readmeElsewhere[first]; ok {
			t.Logf("README.md:%d: %s: %s", ex.Line, first, why)
			continue
		}
		t.Run(fmt.Sprintf("line%d", ex.Line), func(t *testing.T) {
			var got strings.Builder
			for _, c := range ex.Commands {
				sc, err := parseReadmeCommand(c)
				require.NoError(t, err, "README.md:%d", ex.Line)
				for _, a := range sc.args {
					if rel, ok := strings.CutPrefix(a, "../shared/"); ok {
						testshared.Path(t, rel)
					}
				}
				var stdout, stderr bytes.Buffer
				code := run(sc.args, strings.NewReader(sc.stdin), &stdout, &stderr)
				require.Equal(t, 0, code, "README.md:%d: %s: %s", ex.Line, c, stderr.String())
				if !sc.quiet {
					got.WriteString(stderr.String())
				}
				got.WriteString(sc.cut(stdout.String()))
			}
			ok, diff := readmecheck.Match(ex.Output, got.String())
			require.True(t, ok, "README.md:%d: the output shown is not what %q prints (%s); update the README:\n%s", ex.Line, ex.Commands, diff, got.String())
			checked.WriteString(got.String())
			ran++
		})
	}
	require.GreaterOrEqual(t, ran, 4, "the README's classify examples ran")

	// Inline figures ("`allergy 0.9920`") must be ones a checked command
	// printed.
	m, err := clinic.Open()
	require.NoError(t, err)
	defer m.Close()
	figure := regexp.MustCompile(`^(.+) ([01]\.\d{4})$`)
	for _, code := range readmecheck.InlineCode(md) {
		f := figure.FindStringSubmatch(code)
		if f == nil || !contains(m.Info().Labels, f[1]) {
			continue
		}
		require.Contains(t, checked.String(), f[1]+"\t"+f[2], "README.md shows `%s`, which no checked command printed", code)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readmeCommand is one README command line as TestReadme runs it.
type readmeCommand struct {
	stdin string   // fed by echo or printf
	args  []string // lepton's arguments
	head  int      // keep the first head lines of stdout (0: all)
	quiet bool     // 2>/dev/null
}

func (c readmeCommand) cut(out string) string {
	if c.head <= 0 {
		return out
	}
	lines := strings.SplitAfter(out, "\n")
	if len(lines) > c.head {
		lines = lines[:c.head]
	}
	return strings.Join(lines, "")
}

// parseReadmeCommand reads `[echo "..." | printf '...' |] go run
// ./cmd/lepton ARGS [2>/dev/null] [| head -n N]`.
func parseReadmeCommand(line string) (readmeCommand, error) {
	var c readmeCommand
	words, err := readmecheck.Args(line)
	if err != nil {
		return c, err
	}
	// Words are split on unquoted "|" by Args only when spaced; README
	// commands always space them.
	var segs [][]string
	cur := []string{}
	for _, w := range words {
		if w == "|" {
			segs = append(segs, cur)
			cur = []string{}
			continue
		}
		cur = append(cur, w)
	}
	segs = append(segs, cur)
	if len(segs) > 1 {
		switch first := segs[0]; {
		case len(first) == 2 && first[0] == "echo":
			c.stdin = first[1] + "\n"
			segs = segs[1:]
		case len(first) == 2 && first[0] == "printf" && !strings.Contains(first[1], "%"):
			c.stdin = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(first[1])
			segs = segs[1:]
		}
	}
	if len(segs) > 1 {
		last := segs[len(segs)-1]
		if len(last) == 3 && last[0] == "head" && last[1] == "-n" {
			if c.head, err = strconv.Atoi(last[2]); err != nil {
				return c, fmt.Errorf("%q: %v", line, err)
			}
			segs = segs[:len(segs)-1]
		}
	}
	if len(segs) != 1 || len(segs[0]) < 3 || segs[0][0] != "go" || segs[0][1] != "run" || segs[0][2] != "./cmd/lepton" {
		return c, fmt.Errorf("%q: TestReadme runs `[echo|printf ... |] go run ./cmd/lepton ARGS [2>/dev/null] [| head -n N]` (or list the command in readmeElsewhere)", line)
	}
	c.args = segs[0][3:]
	if n := len(c.args); n > 0 && c.args[n-1] == "2>/dev/null" {
		c.quiet, c.args = true, c.args[:n-1]
	}
	return c, nil
}

func TestParseReadmeCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		want readmeCommand
	}{
		{`go run ./cmd/lepton classify "a b"`, readmeCommand{args: []string{"classify", "a b"}}},
		{`echo "x y" | go run ./cmd/lepton classify`, readmeCommand{stdin: "x y\n", args: []string{"classify"}}},
		{`printf 'a\n\nb\n' | go run ./cmd/lepton embed --json 2>/dev/null | head -n 3`, readmeCommand{stdin: "a\n\nb\n", args: []string{"embed", "--json"}, head: 3, quiet: true}},
	} {
		got, err := parseReadmeCommand(tc.line)
		require.NoError(t, err, tc.line)
		require.Equal(t, tc.want, got, tc.line)
	}
	for _, bad := range []string{`go test ./...`, `cat x | go run ./cmd/lepton classify`, `go run ./cmd/lepton x | sort`, `go run ./cmd/lepton x | head -n x`} {
		_, err := parseReadmeCommand(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "a\nb\n", readmeCommand{head: 2}.cut("a\nb\nc\n"))
}
