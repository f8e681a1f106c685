package main

import (
	"flag"
	"fmt"
	"io"

	"lepton/internal/lepfile"
	"lepton/models/clinic"
)

func init() {
	register("verify", "check every checksum and structural rule of a .lep file", runVerify)
}

func runVerify(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	model := fs.String("m", "", "model file (.lep; default: the built-in clinic model); may also be given as an argument")
	path, err := modelArg(fs, args, stderr, `usage: lepton verify [[-m] MODEL.lep]
Without MODEL, verifies the built-in clinic model.
`, model)
	if err != nil {
		return err
	}
	f, name, err := openLep(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Verify(); err != nil {
		// Verify joins every problem it found (errors.Join); main prints
		// them on one line, separated by "; ".
		n := 1
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			n = len(j.Unwrap())
		}
		if n == 1 {
			return fmt.Errorf("%s is damaged: %w", name, err)
		}
		return fmt.Errorf("%s is damaged (%d problems): %w", name, n, err)
	}
	fmt.Fprintf(stdout, "%s: OK (format %d.%d, %s, %d sections, %d tensors, every CRC32C and packed-weight check passed)\n",
		name, f.Major, f.Minor, humanBytes(f.Size), len(f.Sections), len(f.Tensors))
	return nil
}

// modelArg returns the model path given either with -m or as the single
// positional argument, or "" (the built-in model) when there is neither.
// Parsing and -h are parseArgs'.
func modelArg(fs *flag.FlagSet, args []string, stderr io.Writer, usage string, model *string) (string, error) {
	pos, err := parseArgs(fs, args, stderr, usage)
	if err != nil {
		return "", err
	}
	switch {
	case len(pos) == 0:
		return *model, nil
	case *model == "" && len(pos) == 1:
		return pos[0], nil
	}
	return "", errUsage{fmt.Sprintf("want at most one model file (-m MODEL or MODEL), got -m %q and %d arguments", *model, len(pos))}
}

// openLep opens the .lep file at path for inspection, or, when path is
// empty, the built-in clinic model: the same fallback as openModel
// (model.go), so that info and verify describe what classify and embed run
// when -m is omitted. It returns the name to show for the model.
func openLep(path string) (*lepfile.File, string, error) {
	if path == "" {
		f, err := lepfile.OpenBytes(clinic.Bytes())
		return f, clinic.Name, err
	}
	f, err := lepfile.Open(path)
	return f, path, err
}
