package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"

	"lepton"
	"lepton/models/clinic"
	"lepton/models/deid"
)

// openModel opens the model the CLI runs. It is the one place that decides
// where a model comes from: the file at path, or, when path is empty, the
// built-in clinic model (lepton/models/clinic), so that
// `lepton classify "..."` works on a fresh clone with nothing to download.
func openModel(path string, opts ...lepton.Option) (*lepton.Model, error) {
	if path == "" {
		return clinic.Open(opts...)
	}
	return lepton.Open(path, opts...)
}

// openTagModel opens the model tag and redact run: the file at path, or,
// when path is empty, the built-in de-identification model
// (lepton/models/deid).
func openTagModel(path string, opts ...lepton.Option) (*lepton.Model, error) {
	if path == "" {
		return deid.Open(opts...)
	}
	return lepton.Open(path, opts...)
}

// modelFlags are the flags shared by the commands that run a model.
type modelFlags struct {
	// tagger: the command runs a token classifier (tag, redact): the
	// built-in model is the de-identification one, and inputs are never
	// truncated (Tag reads long texts in overlapping windows).
	tagger     bool
	model      string
	json       bool
	threads    int
	maxLength  int
	noTruncate bool
	fp32       bool
	actBits    int
	noMmap     bool
	scratchMiB int64
	verify     bool
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	if f.tagger {
		fs.StringVar(&f.model, "m", "", "model file (.lep, a token classifier; default: the built-in de-identification model)")
	} else {
		fs.StringVar(&f.model, "m", "", "model file (.lep; default: the built-in clinic model)")
	}
	fs.BoolVar(&f.json, "json", false, "print one JSON object per input")
	fs.IntVar(&f.threads, "threads", 0, "goroutines per call (0: all CPUs)")
	if f.tagger {
		fs.IntVar(&f.maxLength, "max-length", 0, "tokens per window, [CLS] and [SEP] included (0: the model's limit); longer texts are read whole, in overlapping windows")
	} else {
		fs.IntVar(&f.maxLength, "max-length", 0, "max tokens per input, [CLS] and [SEP] included (0: the model's limit)")
		fs.BoolVar(&f.noTruncate, "no-truncate", false, "fail on inputs longer than the max length instead of truncating them")
	}
	fs.IntVar(&f.actBits, "act-bits", lepton.DefaultActivationBits, "activation precision of the int8 path: 7 (faster on AVX2) or 8")
	fs.BoolVar(&f.fp32, "fp32", false, "run the slow fp32 reference path (model converted with --keep-fp32) to compare with int8")
	fs.BoolVar(&f.noMmap, "no-mmap", false, "read the model into memory instead of mapping it (for a file that may be replaced in place)")
	fs.Int64Var(&f.scratchMiB, "scratch-limit", lepton.DefaultScratchLimit>>20, "most scratch memory one call may need, in MiB: a model that could need more is refused")
	fs.BoolVar(&f.verify, "verify", false, "check every weight payload before running, as 'lepton verify' does")
}

// options turns the flags into lepton options.
func (f *modelFlags) options() []lepton.Option {
	opts := []lepton.Option{lepton.WithThreads(f.threads), lepton.WithActivationBits(f.actBits),
		lepton.WithTruncation(!f.noTruncate), lepton.WithFloat32(f.fp32), lepton.WithVerify(f.verify),
		lepton.WithMmap(!f.noMmap), lepton.WithScratchLimit(f.scratchMiB << 20)}
	if f.maxLength != 0 {
		opts = append(opts, lepton.WithMaxLength(f.maxLength))
	}
	return opts
}

// check refuses flag values out of range before anything is opened, so
// that the message names the flag (exit status 2).
func (f *modelFlags) check() error {
	switch {
	case f.actBits != 7 && f.actBits != 8:
		return usagef("--act-bits %d: want 7 or 8", f.actBits)
	case f.threads < 0 || f.threads > lepton.MaxThreads:
		return usagef("--threads %d: want 0 (all CPUs) to %d", f.threads, lepton.MaxThreads)
	case f.scratchMiB < 1:
		return usagef("--scratch-limit %d: want at least 1 MiB", f.scratchMiB)
	case f.maxLength < 0:
		return usagef("--max-length %d: want 0 (the model's limit) or more", f.maxLength)
	}
	return nil
}

// open checks the flags and opens the model -m names, or the built-in one.
// Option values the library refuses for this model (--max-length beyond
// its positions, --fp32 without fp32 weights) are usage errors; errors
// about the file name -m.
func (f *modelFlags) open() (*lepton.Model, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	open := openModel
	if f.tagger {
		open = openTagModel
	}
	m, err := open(f.model, f.options()...)
	switch {
	case err == nil:
		if f.fp32 && !m.Info().HasFloat32 {
			m.Close()
			return nil, usagef("--fp32: the model has no fp32 weights (convert it with 'lepton quantize --keep-fp32')")
		}
		return m, nil
	case errors.Is(err, lepton.ErrInvalidOption):
		// Name the flag the model cannot take: open it without the
		// model-dependent ones and look.
		if plain, err2 := open(f.model, lepton.WithThreads(f.threads), lepton.WithActivationBits(f.actBits)); err2 == nil {
			info := plain.Info()
			plain.Close()
			if f.maxLength > info.MaxPositions {
				return nil, usagef("--max-length %d: the model has %d positions", f.maxLength, info.MaxPositions)
			}
		}
		return nil, optionError(err)
	case f.model != "":
		return nil, flagError("m", err)
	}
	return nil, err
}

// interruptible returns a context cancelled by Ctrl-C, so that a long run
// stops between layers and exits with an error instead of half an output.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}
