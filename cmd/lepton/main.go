// Command lepton converts BERT checkpoints to Lepton's int8 .lep format and
// runs them: classify, embed, tokenize, evaluate, calibrate, inspect and
// verify models.
//
// Each subcommand lives in its own file and registers itself in init. All
// of them keep one contract (exit status 0/1/2, one-line errors that name
// the flag of a bad file, -m falling back to the built-in model, warnings
// on stderr): see contract.go and the README's "The command-line tool".
// Each has a script test in testdata/script and rows in TestContract.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. run receives the arguments after the
// subcommand's name and returns an error instead of exiting, so that main is
// the only place that decides the exit status.
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdin io.Reader, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup {
		panic("lepton: subcommand registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lepton <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'lepton <command> -h' for a command's flags.")
}

// errUsage marks errors whose message is a usage problem (exit status 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

// errUsageShown is a usage error whose usage text the command printed
// itself (a command group run without its subcommand): exit status 2 and
// nothing more on stderr.
var errUsageShown = errUsage{}

// parseArgs parses args with fs, flags before or after the positional
// arguments (parseInterspersed). Parse errors come back as errUsage, printed
// as one line by run. On -h it prints usage and the flag summary to stderr
// and returns flag.ErrHelp, which run treats as success.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) ([]string, error) {
	fs.SetOutput(io.Discard)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
		return nil, err
	}
	if err != nil {
		return nil, errUsage{err.Error()}
	}
	return pos, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		// An error is one line; the command list is one 'lepton help' away.
		fmt.Fprintf(stderr, "lepton: unknown command %q (run 'lepton help' for the list)\n", args[0])
		return 2
	}
	if err := cmd.run(args[1:], stdin, stdout, stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		if err == error(errUsageShown) {
			return 2
		}
		// Library errors carry their own "lepton: " prefix; one is enough.
		fmt.Fprintf(stderr, "lepton %s: %s\n", args[0], oneLineError(strings.TrimPrefix(err.Error(), "lepton: ")))
		if isUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}

// oneLineError flattens an error message to one line, so that an error is
// always exactly one line on stderr (scripts read it as one record): the
// lines of a multi-line message (errors.Join, a usage text) are trimmed
// and joined with "; ".
func oneLineError(msg string) string {
	if !strings.ContainsAny(msg, "\r\n") {
		return msg
	}
	var parts []string
	for _, l := range strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
