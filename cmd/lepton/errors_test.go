package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
)

// registered returns the names of every subcommand, plus the
// sub-subcommands that parse their own flags.
func registered() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return append(names, "fairness threshold", "fairness report", "ledger show", "ledger compact")
}

// TestBogusFlagOneLine: every command answers an unknown flag with exactly
// one line on stderr (no flag summary dumped), nothing on stdout, exit 2;
// -h prints the usage and exits 0.
func TestBogusFlagOneLine(t *testing.T) {
	names := registered()
	for _, want := range []string{"bench", "calibrate", "classify", "embed", "eval", "fairness", "info", "quantize", "tokenize", "verify", "version"} {
		require.Contains(t, names, want, "the table covers every command")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			args := append(strings.Fields(name), "--bogus")
			code, stdout, stderr := runCLI("", args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.True(t, strings.HasSuffix(stderr, "\n"))
			require.True(t, strings.HasPrefix(stderr, "lepton "+strings.Fields(name)[0]+": "), stderr)
			require.Contains(t, stderr, "bogus")

			code, stdout, stderr = runCLI("", append(strings.Fields(name), "-h")...)
			require.Equal(t, 0, code, stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, "usage: lepton "+strings.Fields(name)[0])
		})
	}
}

// TestErrorsOneLine: errors whose message has several lines (errors.Join)
// still print as one line, and an unknown command is one line too.
func TestErrorsOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"fairness", "nosuch"},   // unknown sub-subcommand
		{"no-such-command"},      // unknown command
		{"quantize", "a", "b"},   // usage error
		{"info", "-m", "a", "b"}, // usage error
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI("", args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
	// A command group without its subcommand prints its usage, readable
	// on several lines, as 'lepton' alone does, and exits 2.
	for _, args := range [][]string{{}, {"fairness"}} {
		code, stdout, stderr := runCLI("", args...)
		require.Equal(t, 2, code, stderr)
		require.Empty(t, stdout)
		require.True(t, strings.HasPrefix(stderr, "usage: lepton"), stderr)
		require.Greater(t, strings.Count(stderr, "\n"), 3, "the usage, not squashed on one line")
	}
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\nb", "a; b"},
		{"a\r\n  b\n\n\tc\n", "a; b; c"},
		{"usage: x\n       y", "usage: x; y"},
	} {
		require.Equal(t, tc.want, oneLineError(tc.in))
	}
}

// TestQuantizeVerifiesBeforeRename: when the written file fails
// verification it is never renamed into place: no file (or the previous
// one, untouched) at -o, no temporary file left, one error line.
func TestQuantizeVerifiesBeforeRename(t *testing.T) {
	src := lepWriteHFDir(t, "BertForSequenceClassification")
	orig := writeLep
	t.Cleanup(func() { writeLep = orig })
	// Damage one payload byte after the real writer: only the payload
	// CRCs (checked by Verify, not by Open) can notice.
	writeLep = func(w io.Writer, m *bert.Model, tok []byte, md lepfile.Metadata, opts ...lepfile.WriteOption) error {
		var buf bytes.Buffer
		if err := orig(&buf, m, tok, md, opts...); err != nil {
			return err
		}
		b := buf.Bytes()
		b[len(b)-3] ^= 0x10
		_, err := w.Write(b)
		return err
	}
	for _, previous := range []bool{false, true} {
		dir := t.TempDir()
		out := filepath.Join(dir, "m.lep")
		if previous {
			require.NoError(t, os.WriteFile(out, []byte("previous model"), 0o644))
		}
		code, stdout, stderr := lepCLI("quantize", src, "-o", out)
		require.Equal(t, 1, code, stderr)
		require.Empty(t, stdout)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		require.Contains(t, stderr, "fails verification")
		require.Contains(t, stderr, "checksum mismatch")
		if previous {
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, "previous model", string(got), "the previous file is untouched")
			require.Equal(t, []string{"m.lep"}, lepListDir(t, dir), "no temporary file left")
		} else {
			require.Empty(t, lepListDir(t, dir), "nothing at -o, no temporary file left")
		}
	}
}
