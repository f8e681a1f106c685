package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

func init() {
	register("quantize", "convert a Hugging Face BERT directory to an int8 .lep file", runQuantize)
}

// metaFlags collects repeated --meta key=value flags.
type metaFlags map[string]string

func (m metaFlags) String() string { return fmt.Sprint(map[string]string(m)) }

func (m metaFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	m[k] = v
	return nil
}

func runQuantize(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quantize", flag.ContinueOnError)
	out := fs.String("o", "", "output .lep file (required)")
	keep := fs.Bool("keep-fp32", false, "also store float weights so the file can run the float reference path (about 5x larger)")
	pooling := fs.String("pooling", "", "default embedding pooling recorded in the file: cls, mean, max, mean_sqrt_len_tokens, weightedmean, lasttoken or several joined by + "+
		"(default: a sentence-transformers folder's Pooling module, else cls for classifiers and mean for encoders)")
	scoreAct := fs.String("score-activation", "", "how a single-output head's logit becomes its score: sigmoid, identity or tanh "+
		"(default: what config.json says, as sentence-transformers' CrossEncoder reads it; else sigmoid, identity for problem_type regression)")
	meta := metaFlags{}
	fs.Var(meta, "meta", "extra metadata key=value stored in the file (repeatable)")
	noProgress := fs.Bool("no-progress", false, "never show the progress bar")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton quantize DIR -o MODEL.lep [--keep-fp32] [--pooling MODE] [--score-activation sigmoid|identity|tanh] [--meta key=value]...
DIR holds config.json, model.safetensors (fp32, fp16 or bf16) and tokenizer.json or vocab.txt,
of a BertModel, BertForSequenceClassification, DistilBertModel or
DistilBertForSequenceClassification; or it is a sentence-transformers folder
(modules.json: Transformer, Pooling, optionally Normalize), whose pooling,
normalisation, prompts and max_seq_length the file records for Embed.
A classification head with one output (a cross-encoder) is scored for Rerank.
`)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{fmt.Sprintf("want exactly one model directory, got %d arguments (see lepton quantize -h)", len(pos))}
	}
	if *out == "" {
		return errUsage{"-o MODEL.lep is required"}
	}
	if *pooling != "" {
		p, err := bert.ParsePooling(*pooling)
		if err != nil {
			return errUsage{fmt.Sprintf("--pooling %q: want cls, mean, max, mean_sqrt_len_tokens, weightedmean or lasttoken, or several joined by +", *pooling)}
		}
		*pooling = p.String()
	}
	if *scoreAct != "" {
		if err := convert.CheckScoreActivation(*scoreAct); err != nil {
			return errUsage{"--score-activation: " + err.Error()}
		}
	}
	dir := pos[0]

	opts := convert.Options{KeepF32: *keep, ScoreActivation: *scoreAct}
	if !*noProgress && isTerminal(stderr) {
		var bar *progressbar.ProgressBar
		opts.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetDescription("quantizing"), progressbar.OptionShowCount(),
					progressbar.OptionClearOnFinish())
			}
			_ = bar.Set(done)
		}
	}
	m, tok, md, err := convert.FromHFPooling(dir, *pooling, opts)
	if err != nil {
		return err
	}
	for k, v := range meta {
		md[k] = v
	}
	// The temporary file is read back through the validating reader and
	// every CRC checked BEFORE it is renamed into place: a file that fails
	// is removed, and whatever was at -o before stays as it was.
	var summary string
	check := func(tmp string) error {
		f, err := lepfile.Open(tmp)
		if err != nil {
			return fmt.Errorf("the written model does not load back (nothing written to %s): %w", *out, err)
		}
		defer f.Close()
		if err := f.Verify(); err != nil {
			return fmt.Errorf("the written model fails verification (nothing written to %s): %w", *out, err)
		}
		c := f.Model.Config
		summary = fmt.Sprintf("%s, %s, %d layers, hidden %d, vocab %d, %d labels, %d tensors, verified",
			humanBytes(f.Size), c.Architecture, c.Layers, c.Hidden, c.Vocab, len(c.Labels), len(f.Tensors))
		if c.ScoreActivation != "" {
			summary += "; a single-output head scored with " + c.ScoreActivation + " (lepton rerank)"
		}
		if md["sentence_transformers"] != "" {
			summary += fmt.Sprintf("; sentence-transformers pooling %s, normalize %v", c.Pooling, c.Normalize)
		}
		return nil
	}
	if err := writeAtomic(*out, func(w io.Writer) error { return writeLep(w, m, tok, md) }, check); err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			return flagError("o", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s\n", *out, summary)
	return nil
}

// writeLep writes the .lep file; a variable so that a test can damage the
// bytes and check that verification catches it before the rename.
var writeLep = lepfile.Write

// writeAtomic writes a file through a temporary file in the same directory,
// runs check on the complete temporary file (nil: no check), and only then
// renames it into place, so an error, a failed check or an interruption
// never leaves a half-written or unverified model at path.
func writeAtomic(path string, write func(io.Writer) error, check func(tmpPath string) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if check != nil {
		if err = check(tmp.Name()); err != nil {
			return err
		}
	}
	return os.Rename(tmp.Name(), path)
}

// isTerminal reports whether w (a reader or writer) is a terminal:
// progress bars only there, and a hint when texts are typed at one.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("quantize DIR -o x" and "quantize -o x DIR"), which the flag
// package alone does not allow. Arguments after "--" are all positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stopped at a non-flag or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// humanBytes formats a size for people.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
