package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"lepton"
	"lepton/models/clinic"
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

// modelFlags are the flags shared by the commands that run a model.
type modelFlags struct {
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
	fs.StringVar(&f.model, "m", "", "model file (.lep; default: the built-in clinic model)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per input")
	fs.IntVar(&f.threads, "threads", 0, "goroutines per call (0: all CPUs)")
	fs.IntVar(&f.maxLength, "max-length", 0, "max tokens per input, [CLS] and [SEP] included (0: the model's limit)")
	fs.BoolVar(&f.noTruncate, "no-truncate", false, "fail on inputs longer than the max length instead of truncating them")
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

// maxLineBytes bounds one input line read from standard input.
const maxLineBytes = 16 << 20

// readTexts returns the positional texts, or one text per line of stdin
// when there are none. Empty lines are inputs too (the empty text), so
// output line i always belongs to input line i; a final line without a
// newline counts, a trailing "\r" is dropped.
func readTexts(pos []string, stdin io.Reader) ([]string, error) {
	if len(pos) > 0 {
		return pos, nil
	}
	if stdin == nil {
		return nil, errUsage{"no text given and no standard input"}
	}
	var texts []string
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	for sc.Scan() {
		texts = append(texts, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("reading standard input: line %d is longer than %d MiB", len(texts)+1, maxLineBytes>>20)
		}
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	return texts, nil
}

// interruptible returns a context cancelled by Ctrl-C, so that a long run
// stops between layers and exits with an error instead of half an output.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// flushAll writes the complete output at once: nothing is printed unless
// every input succeeded.
func flushAll(w io.Writer, buf *bytes.Buffer) error {
	_, err := w.Write(buf.Bytes())
	return err
}
