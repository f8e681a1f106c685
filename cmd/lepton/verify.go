package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"lepton/internal/lepfile"
)

func init() {
	register("verify", "check every checksum and structural rule of a .lep file", runVerify)
}

func runVerify(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("m", "", "model file (.lep); may also be given as an argument")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lepton verify [-m] MODEL.lep")
		fs.PrintDefaults()
	}
	path, err := modelArg(fs, args, model)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	f, err := lepfile.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Verify(); err != nil {
		// errors.Join separates problems with newlines; the CLI reports
		// one line.
		return fmt.Errorf("%s: %s", path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	fmt.Fprintf(stdout, "%s: OK (format %d.%d, %s, %d sections, %d tensors, every CRC32C and packed-weight check passed)\n",
		path, f.Major, f.Minor, humanBytes(f.Size), len(f.Sections), len(f.Tensors))
	return nil
}

// modelArg returns the model path given either with -m or as the single
// positional argument.
func modelArg(fs *flag.FlagSet, args []string, model *string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", errUsage{err.Error()}
	}
	switch {
	case *model != "" && len(pos) == 0:
		return *model, nil
	case *model == "" && len(pos) == 1:
		return pos[0], nil
	}
	return "", errUsage{fmt.Sprintf("want one model file (-m MODEL or MODEL), got -m %q and %d arguments", *model, len(pos))}
}
