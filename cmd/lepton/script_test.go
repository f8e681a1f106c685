package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"
)

// TestScripts runs testdata/script/*.txtar: one script per command, each
// checking its successful use, bad input and exit codes as a user sees them
// (the lepton command is this test binary, installed by TestMain).
//
// Besides testscript's own commands, scripts have:
//
//	exits N lepton ARGS...   run, and require exit status N exactly
//	                         (stdout and stderr are kept for stdout/stderr)
//	damage FILE              flip one bit of FILE's last weight payload
//
// and the environment variables MODEL (the golden random-weight model,
// labels negative/neutral/positive, 128 positions), BINARY_MODEL (the
// same with a 2-label head), TAG_MODEL (the golden random-weight token
// classifier, tag_test.go) and REPO (the repository root).
func TestScripts(t *testing.T) {
	requireSubprocess(t)
	model := runFixture(t)
	binary := binaryFixture(t)
	tagModel := tagFixture(t)
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("MODEL", model)
			e.Setenv("BINARY_MODEL", binary)
			e.Setenv("TAG_MODEL", tagModel)
			e.Setenv("REPO", repo)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":  cmdExits,
			"damage": cmdDamage,
		},
	})
}

// requireSubprocess skips a test that runs the lepton command (this test
// binary, installed by TestMain) as a subprocess where that cannot work:
// under a user-mode emulator without binfmt_misc (CI's arm64 run under
// qemu-aarch64-static) the kernel cannot execute the binary at all. These
// tests run natively in CI; the in-process tests cover the same code under
// emulation.
func requireSubprocess(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("lepton")
	require.NoError(t, err, "TestMain installs the lepton command")
	err = exec.Command(bin, "version").Run()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("cannot run the test binary as a subprocess here (%v): an emulated architecture without binfmt_misc; this test runs natively", err)
	}
	require.NoError(t, err, "lepton version as a subprocess")
}

// cmdExits is the scripts' "exits N command args...".
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdDamage is the scripts' "damage FILE": one bit flipped 100 bytes from
// the end of a .lep file, inside its last weight payload, as a bad copy
// would.
func cmdDamage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: damage FILE")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if len(b) < 100 {
		ts.Fatalf("damage: %s is too short", args[0])
	}
	b[len(b)-100] ^= 0x10
	ts.Check(os.WriteFile(path, b, 0o644))
}

// TestScriptPerCommand: every command has its script, and the script
// runs the command successfully, with a usage error (exit 2), with a
// runtime error (exit 1; version has none to make) and with -h.
func TestScriptPerCommand(t *testing.T) {
	for name := range commands {
		b, err := os.ReadFile(filepath.Join("testdata", "script", name+".txtar"))
		require.NoError(t, err, "command %s has no testdata/script/%s.txtar", name, name)
		s := string(b)
		want := []string{"\nexec lepton " + name, "\nexits 2 lepton " + name, "\nexits 0 lepton " + name + " -h"}
		if name != "version" {
			want = append(want, "\nexits 1 lepton "+name)
		}
		for _, w := range want {
			require.Contains(t, s, w, "testdata/script/%s.txtar", name)
		}
	}
}
