package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"lepton"
)

// The command-line contract every command keeps (README "Command-line
// conventions"; tested per command by testdata/script/*.txtar and by
// TestContract):
//
//   - Exit status 0 on success (-h included), 2 for a usage error, 1 for
//     any other error. A usage error is something wrong with the command
//     line itself: an unknown flag or command, a missing or unexpected
//     argument, a flag value out of range or unknown (--act-bits 9,
//     --method bogus), flags that contradict each other, or a flag value
//     the model or artefact given cannot take (--max-length beyond the
//     model's positions, --fp32 on a file without fp32 weights, a --group
//     the artefact does not know). Files that cannot be read or hold bad
//     data, bad input texts and everything that fails at run time are
//     errors (1).
//   - An error is one line on stderr, "lepton CMD: message"; nothing is
//     printed to stdout by a command that fails before producing output.
//     Streaming commands (classify, embed, tokenize, tag, redact --lines) print every result
//     before the failing input, then the error.
//   - Every error about a file names the flag that gave it: "--in: open
//     x.csv: no such file or directory", "-m: ...". Positional files are
//     named by their role (MODEL, DIR).
//   - Every command that runs or reads a model takes -m MODEL and, without
//     it, uses the built-in clinic model (lepton/models/clinic); tag and
//     redact, which need a token classifier, use the built-in
//     de-identification model (lepton/models/deid).
//   - Warnings about inputs go to stderr as "lepton CMD: warning: line N:
//     ..." and never change the exit status.
//
// New commands use usagef and errUsage for usage errors, flagError and
// fileError for file errors, optionError on errors from lepton.Open and the
// calls, modelFlags.open (or openModel, openLep and modelFileError) for -m,
// openInputs and inputSource.stream to read texts, and warnings for
// per-input warnings; then they get rows in TestContract and a script
// testdata/script/NAME.txtar, which TestScriptPerCommand requires.

// usagef returns a usage error (exit status 2).
func usagef(format string, args ...any) error {
	return errUsage{fmt.Sprintf(format, args...)}
}

// flagError names the flag a file came from in an error about it:
// flagError("in", err) reads "--in: open x: no such file or directory".
// Single-letter flags take one dash ("-m"). Usage errors stay usage
// errors.
func flagError(name string, err error) error {
	if err == nil {
		return nil
	}
	dash := "--"
	if len(name) == 1 {
		dash = "-"
	}
	if u, ok := err.(errUsage); ok {
		return errUsage{dash + name + ": " + u.msg}
	}
	return &namedError{prefix: dash + name, err: err}
}

// namedError is an error prefixed with the flag it concerns; it unwraps
// to the original so errors.Is still sees fs.ErrNotExist and the lepton
// sentinels.
type namedError struct {
	prefix string
	err    error
}

func (e *namedError) Error() string {
	return e.prefix + ": " + strings.TrimPrefix(e.err.Error(), "lepton: ")
}
func (e *namedError) Unwrap() error { return e.err }

// fileError names the flag and the file in an error about a file given by
// flag name: "--in: scores.csv: line 3: ...". Errors from the operating
// system name the file already ("--in: open x.csv: no such file or
// directory").
func fileError(name, path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) || isUsage(err) {
		return flagError(name, err)
	}
	return flagError(name, fmt.Errorf("%s: %w", path, err))
}

// optionError turns an error wrapping lepton.ErrInvalidOption (a flag
// value the library refuses, possibly only for this model) into a usage
// error; other errors pass unchanged.
func optionError(err error) error {
	if err != nil && errors.Is(err, lepton.ErrInvalidOption) {
		var u errUsage
		if errors.As(err, &u) {
			return err
		}
		return errUsage{strings.TrimPrefix(err.Error(), "lepton: ")}
	}
	return err
}

// isUsage reports whether err is a usage error (exit status 2).
func isUsage(err error) bool {
	var u errUsage
	return errors.As(err, &u)
}
