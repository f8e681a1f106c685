package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"lepton/internal/lepfile"
	"lepton/models/clinic"
)

func init() {
	register("verify", "check every checksum and structural rule of a .lep file", runVerify)
}

// verifyJSON is the --json output of `lepton verify`.
type verifyJSON struct {
	Model     string   `json:"model"`
	OK        bool     `json:"ok"`
	Format    string   `json:"format,omitempty"`
	SizeBytes int64    `json:"size_bytes,omitempty"`
	Sections  int      `json:"sections,omitempty"`
	Tensors   int      `json:"tensors,omitempty"`
	Problems  []string `json:"problems,omitempty"` // every problem found, when not OK
}

func runVerify(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	model := fs.String("m", "", "model file (.lep; default: the built-in clinic model); may also be given as an argument")
	asJSON := fs.Bool("json", false, `print one {"model","ok","format","size_bytes","sections","tensors","problems"} object (exit status 1 when not ok)`)
	path, err := modelArg(fs, args, stderr, `usage: lepton verify [[-m] MODEL.lep] [--json]
Without MODEL, verifies the built-in clinic model. Exit status 0 when every
check passed, 1 when the file is damaged (or cannot be read).
`, model)
	if err != nil {
		return err
	}
	f, name, err := openLep(path)
	if err != nil {
		if *asJSON && isDamage(err) {
			// A file too damaged to open is a verification result too.
			if b, jerr := json.Marshal(verifyJSON{Model: name, Problems: []string{err.Error()}}); jerr == nil {
				fmt.Fprintf(stdout, "%s\n", b)
			}
		}
		return modelFileError(path, err)
	}
	defer f.Close()
	v := verifyJSON{Model: name, OK: true, Format: fmt.Sprintf("%d.%d", f.Major, f.Minor), SizeBytes: f.Size,
		Sections: len(f.Sections), Tensors: len(f.Tensors)}
	verr := f.Verify()
	if verr != nil {
		// Verify joins every problem it found (errors.Join).
		v.OK = false
		if j, ok := verr.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				v.Problems = append(v.Problems, e.Error())
			}
		} else {
			v.Problems = []string{verr.Error()}
		}
	}
	if *asJSON {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
		if !v.OK {
			return damagedError(name, v.Problems, verr)
		}
		return nil
	}
	if verr != nil {
		return damagedError(name, v.Problems, verr)
	}
	fmt.Fprintf(stdout, "%s: OK (format %s, %s, %d sections, %d tensors, every CRC32C and packed-weight check passed)\n",
		name, v.Format, humanBytes(f.Size), v.Sections, v.Tensors)
	return nil
}

// damagedError says what is wrong with a damaged file: main prints the
// joined problems on one line, separated by "; ".
func damagedError(name string, problems []string, err error) error {
	if len(problems) == 1 {
		return fmt.Errorf("%s is damaged: %w", name, err)
	}
	return fmt.Errorf("%s is damaged (%d problems): %w", name, len(problems), err)
}

// isDamage reports whether err says the bytes of a model file are wrong
// (rather than that it could not be read).
func isDamage(err error) bool {
	for _, e := range []error{lepfile.ErrFormat, lepfile.ErrTruncated, lepfile.ErrChecksum, lepfile.ErrVersion, lepfile.ErrModel} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// modelFileError names where a model file came from in an error about it:
// -m, or the MODEL argument (info and verify take either).
func modelFileError(path string, err error) error {
	if path == "" {
		return err // the built-in model
	}
	return flagError("m", err)
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
