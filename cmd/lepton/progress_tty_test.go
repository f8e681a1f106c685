//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controller, and the terminal
// side a child process writes to as if it were a person's terminal.
func openPTY(t *testing.T) (ctrl, tty *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ctrl = os.NewFile(uintptr(fd), "/dev/ptmx")
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)) // unlockpt
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)                       // ptsname
	require.NoError(t, err)
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	return ctrl, tty
}

// runOnTTY runs lepton with stderr (and stdin, when stdinTTY) on a
// pseudo-terminal and returns stdout and what the terminal showed.
func runOnTTY(t *testing.T, stdin io.Reader, stdinTTY bool, args ...string) (stdout, terminal string) {
	t.Helper()
	bin, err := exec.LookPath("lepton") // this test binary, installed by TestMain
	require.NoError(t, err)
	ctrl, tty := openPTY(t)
	defer ctrl.Close()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, tty, stdin
	if stdinTTY {
		cmd.Stdin = tty
	}
	var shown bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&shown, ctrl); close(done) }() // until the terminal side closes
	require.NoError(t, cmd.Start())
	if stdinTTY {
		time.Sleep(200 * time.Millisecond)
		io.WriteString(ctrl, "fever and cough\n")
		time.Sleep(200 * time.Millisecond)
		ctrl.Write([]byte{4}) // Ctrl-D: end of input
	}
	require.NoError(t, cmd.Wait())
	tty.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	return out.String(), shown.String()
}

// TestProgressOnTerminal: with stderr on a terminal, a file input gets a
// progress bar there (and a final count), never on stdout; --no-progress
// and TEXT arguments get none; a person typing gets a hint, an answer per
// line, and no bar.
func TestProgressOnTerminal(t *testing.T) {
	requireSubprocess(t)
	model := runFixture(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte(strings.Repeat("fever and cough\n", 3000)), 0o644))

	out, term := runOnTTY(t, nil, false, "classify", "-m", model, "--json", "--in", in)
	require.Equal(t, 3000, strings.Count(out, "\n"))
	require.NotContains(t, out, "%", "no bar on stdout")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		require.True(t, strings.HasPrefix(l, `{"line":`) && strings.HasSuffix(l, "}"), l)
	}
	require.Contains(t, term, "classify ", "the bar's description")
	require.Contains(t, term, "%", "the bar's percentage")
	require.Contains(t, term, "lepton classify: 3000 lines in ")

	_, term = runOnTTY(t, nil, false, "classify", "-m", model, "--no-progress", "--in", in)
	require.Empty(t, term, "--no-progress: nothing on the terminal")
	_, term = runOnTTY(t, nil, false, "classify", "-m", model, "fever")
	require.Empty(t, term, "TEXT arguments: no bar")
	f, err := os.Open(in)
	require.NoError(t, err)
	defer f.Close()
	_, term = runOnTTY(t, f, false, "embed", "-m", model, "--no-text")
	require.Contains(t, term, "lepton embed: 3000 lines in ", "standard input from a file: a bar too")

	out, term = runOnTTY(t, nil, true, "classify", "-m", model)
	require.Contains(t, term, "lepton classify: reading one text per line (Ctrl-D ends)")
	require.NotContains(t, term, "%")
	require.Regexp(t, `^\w+\t0\.\d{4}\tfever and cough\n$`, out)
}
