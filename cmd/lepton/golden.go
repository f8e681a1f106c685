package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"lepton"
	"lepton/leptontest"
)

func init() {
	register("golden", "record a model's outputs in a golden file, or check them against one (record|check)", runGolden)
}

const goldenUsage = `usage: lepton golden record [-m MODEL] [flags] INPUTS... -o GOLDEN.json
       lepton golden check  [-m MODEL] [flags] [tolerances] GOLDEN.json

record runs the inputs through the model and writes their outputs to a golden
file (package lepton/leptontest's format: JSON, one case per line). INPUTS are
one or more of
  --classify FILE   one text per line, for Classify
  --pairs FILE      two tab-separated texts per line, for ClassifyPairs
  --embed FILE      one text per line, for Embed
  --rerank FILE     one JSON object per line, {"query": "...", "passages": [...]}
  --inputs FILE     a JSON object with any of "classify", "pairs", "embed", "rerank"
(FILE "-" is standard input). The settings that change outputs (--act-bits,
--fp32, --max-length, --no-truncate, --pooling, --normalize, --prompt) are
stored in the file and used again by check.

check runs the golden file's inputs again, with its settings (flags given here
override them), and compares: exactly by default, or within the tolerances
--logits, --probs, --vector, --cosine (largest 1 - cosine), --score (each the
largest allowed difference; "inf" leaves it unchecked) and --label-margin.
It prints the report (--json: as JSON) and exits with status 1 when an output
moved beyond the tolerance, 0 otherwise.

`

func runGolden(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		// As 'lepton' alone: the usage, readable, and exit status 2.
		fmt.Fprint(stderr, goldenUsage)
		return errUsageShown
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, goldenUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "record":
		return runGoldenRecord(args[1:], stdin, stdout, stderr)
	case "check":
		return runGoldenCheck(args[1:], stdout, stderr)
	}
	return errUsage{fmt.Sprintf("unknown golden command %q (want record or check)", args[0])}
}

// goldenFlags are the settings of a golden run.
type goldenFlags struct {
	mf        modelFlags
	pooling   string
	normalize bool
	prompt    string
	fs        *flag.FlagSet
}

func (g *goldenFlags) register(fs *flag.FlagSet) {
	g.fs = fs
	g.mf.register(fs)
	fs.StringVar(&g.pooling, "pooling", "", "Embed's pooling: cls, mean or max (default: the model's)")
	fs.BoolVar(&g.normalize, "normalize", false, "Embed scales vectors to unit length (default: the model's setting)")
	fs.StringVar(&g.prompt, "prompt", "", "Embed prepends the model's prompt of this name (default: the model's default prompt)")
}

// set reports whether a flag was given on the command line.
func (g *goldenFlags) set(name string) bool {
	found := false
	g.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// recorded are the flags stored in a golden file's options.
var recorded = []string{"act-bits", "fp32", "max-length", "no-truncate", "pooling", "normalize", "prompt"}

// options returns the settings to store: the flags given, by name.
func (g *goldenFlags) options() map[string]string {
	out := map[string]string{}
	for _, name := range recorded {
		if g.set(name) {
			out[name] = g.fs.Lookup(name).Value.String()
		}
	}
	return out
}

// apply sets the flags a golden file recorded, unless given on the command
// line, and names those that override the file.
func (g *goldenFlags) apply(opts map[string]string) (overridden []string, err error) {
	for name, v := range opts {
		f := g.fs.Lookup(name)
		if f == nil {
			return nil, fmt.Errorf("the golden file records an unknown setting %q", name)
		}
		if g.set(name) {
			if f.Value.String() != v {
				overridden = append(overridden, fmt.Sprintf("--%s %s (the file says %s)", name, f.Value, v))
			}
			continue
		}
		if err := f.Value.Set(v); err != nil {
			return nil, fmt.Errorf("the golden file's setting %s=%q: %w", name, v, err)
		}
	}
	return overridden, nil
}

// open opens the model and returns the call options of the settings.
func (g *goldenFlags) open() (*lepton.Model, []lepton.CallOption, error) {
	pool, err := lepton.ParsePooling(g.pooling)
	if err != nil {
		return nil, nil, usagef("--pooling %q: want cls, mean or max", g.pooling)
	}
	call := []lepton.CallOption{lepton.WithPooling(pool)}
	if g.set("normalize") {
		call = append(call, lepton.WithNormalize(g.normalize))
	}
	if g.set("prompt") {
		call = append(call, lepton.WithPrompt(g.prompt))
	}
	m, err := g.mf.open() // model.go: flag checks, -m named in errors
	if err != nil {
		return nil, nil, err
	}
	if g.prompt != "" {
		if _, ok := m.Info().Prompts[g.prompt]; !ok {
			m.Close()
			return nil, nil, usagef("--prompt %q: the model has no such prompt (its prompts: %s)", g.prompt, promptList(m.Info().Prompts))
		}
	}
	return m, call, nil
}

func runGoldenRecord(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("golden record", flag.ContinueOnError)
	var g goldenFlags
	g.register(fs)
	out := fs.String("o", "", "the golden file to write (required)")
	var files [5]string
	fs.StringVar(&files[0], "classify", "", "texts for Classify, one per line")
	fs.StringVar(&files[1], "pairs", "", "text pairs for ClassifyPairs, tab-separated, one per line")
	fs.StringVar(&files[2], "embed", "", "texts for Embed, one per line")
	fs.StringVar(&files[3], "rerank", "", `Rerank inputs, one {"query": ..., "passages": [...]} per line`)
	fs.StringVar(&files[4], "inputs", "", `a JSON object {"classify": [...], "pairs": [[a, b], ...], "embed": [...], "rerank": [...]}`)
	pos, err := parseArgs(fs, args, stderr, goldenUsage)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage{fmt.Sprintf("unexpected arguments %q (inputs come from --classify, --pairs, --embed, --rerank or --inputs)", pos)}
	}
	if *out == "" {
		return errUsage{"-o GOLDEN.json is required"}
	}
	in, err := readGoldenInputs(files, stdin)
	if err != nil {
		return err
	}
	if in.IsZero() {
		return errUsage{"no inputs: give --classify, --pairs, --embed, --rerank or --inputs with at least one input"}
	}
	m, call, err := g.open()
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()
	golden, err := leptontest.Record(ctx, m, in, call...)
	if err != nil {
		return errors.Unwrap(err) // Record's "leptontest: " wrapper adds nothing here
	}
	golden.Options = g.options()
	if len(golden.Options) == 0 {
		golden.Options = nil
	}
	if err := golden.WriteFile(*out); err != nil {
		return fileError("o", *out, err)
	}
	fmt.Fprintf(stdout, "wrote %s: %d cases\n", *out, len(golden.Cases))
	return nil
}

// goldenInputsJSON is --inputs's format.
type goldenInputsJSON struct {
	Classify []string           `json:"classify"`
	Pairs    [][2]string        `json:"pairs"`
	Embed    []string           `json:"embed"`
	Rerank   []leptontest.Query `json:"rerank"`
}

// goldenInputFlags are golden record's input flags, in files' order.
var goldenInputFlags = [5]string{"classify", "pairs", "embed", "rerank", "inputs"}

// readGoldenInputs reads the input files of golden record (classify,
// pairs, embed, rerank, inputs; "" none, "-" standard input). Every line is
// an input, blank ones too (a golden file pins what the model does with
// exactly these inputs). Errors name the flag and the file.
func readGoldenInputs(files [5]string, stdin io.Reader) (leptontest.Inputs, error) {
	var in leptontest.Inputs
	stdinUsed := false
	open := func(k int) (io.ReadCloser, error) {
		name := files[k]
		if name == "-" {
			if stdinUsed || stdin == nil {
				return nil, usagef("--%s -: only one input file can be standard input", goldenInputFlags[k])
			}
			stdinUsed = true
			return io.NopCloser(stdin), nil
		}
		f, err := os.Open(name)
		return f, flagError(goldenInputFlags[k], err)
	}
	fail := func(k int, err error) error { return fileError(goldenInputFlags[k], files[k], err) }
	lines := func(k int) ([]string, error) {
		f, err := open(k)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var out []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		for sc.Scan() {
			out = append(out, strings.TrimSuffix(sc.Text(), "\r"))
		}
		if err := sc.Err(); err != nil {
			return nil, fail(k, err)
		}
		return out, nil
	}
	var err error
	if files[0] != "" {
		if in.Classify, err = lines(0); err != nil {
			return in, err
		}
	}
	if files[1] != "" {
		ls, err := lines(1)
		if err != nil {
			return in, err
		}
		for i, l := range ls {
			a, b, ok := strings.Cut(l, "\t")
			if !ok {
				return in, fail(1, fmt.Errorf("line %d: want two tab-separated texts", i+1))
			}
			in.ClassifyPairs = append(in.ClassifyPairs, [2]string{a, b})
		}
	}
	if files[2] != "" {
		if in.Embed, err = lines(2); err != nil {
			return in, err
		}
	}
	if files[3] != "" {
		ls, err := lines(3)
		if err != nil {
			return in, err
		}
		for i, l := range ls {
			if strings.TrimSpace(l) == "" {
				continue
			}
			var q leptontest.Query
			dec := json.NewDecoder(strings.NewReader(l))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&q); err != nil {
				return in, fail(3, fmt.Errorf("line %d: want {\"query\": ..., \"passages\": [...]}: %v", i+1, err))
			}
			in.Rerank = append(in.Rerank, q)
		}
	}
	if files[4] != "" {
		f, err := open(4)
		if err != nil {
			return in, err
		}
		defer f.Close()
		var j goldenInputsJSON
		dec := json.NewDecoder(io.LimitReader(f, 256<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return in, fail(4, err)
		}
		in.Classify = append(in.Classify, j.Classify...)
		in.ClassifyPairs = append(in.ClassifyPairs, j.Pairs...)
		in.Embed = append(in.Embed, j.Embed...)
		in.Rerank = append(in.Rerank, j.Rerank...)
	}
	return in, nil
}

// tolFlag is a tolerance flag: a non-negative number or "inf".
type tolFlag struct{ v *float64 }

func (t tolFlag) String() string {
	if t.v == nil {
		return "0"
	}
	return strconv.FormatFloat(*t.v, 'g', -1, 64)
}

func (t tolFlag) Set(s string) error {
	if s == "inf" {
		*t.v = math.Inf(1)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsNaN(v) {
		return fmt.Errorf("want a number >= 0 or inf, got %q", s)
	}
	*t.v = v
	return nil
}

// errMoved is returned by golden check when outputs moved: exit status 1,
// after the report.
var errMoved = errors.New("outputs moved beyond the tolerance")

func runGoldenCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("golden check", flag.ContinueOnError)
	var g goldenFlags
	g.register(fs)
	var tol leptontest.Tolerance
	fs.Var(tolFlag{&tol.Logits}, "logits", "largest allowed difference of a logit (default 0: exact)")
	fs.Var(tolFlag{&tol.Probs}, "probs", "largest allowed difference of a probability")
	fs.Var(tolFlag{&tol.Vector}, "vector", "largest allowed difference of an embedding component")
	fs.Var(tolFlag{&tol.Cosine}, "cosine", "largest allowed 1 - cosine of an embedding")
	fs.Var(tolFlag{&tol.Score}, "score", "largest allowed difference of a rerank score (and swaps between passages that close)")
	fs.Var(tolFlag{&tol.LabelMargin}, "label-margin", "let a label change where the golden's two best probabilities are closer than this")
	pos, err := parseArgs(fs, args, stderr, goldenUsage)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{fmt.Sprintf("want exactly one golden file, got %d arguments (see lepton golden -h)", len(pos))}
	}
	want, err := leptontest.Read(pos[0])
	if err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			return err // names the file already
		}
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	overridden, err := g.apply(want.Options)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	for _, o := range overridden {
		fmt.Fprintf(stderr, "lepton golden check: note: %s\n", o)
	}
	m, call, err := g.open()
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()
	got, err := leptontest.Record(ctx, m, want.Inputs(), call...)
	if err != nil {
		return errors.Unwrap(err)
	}
	rep, err := leptontest.Compare(want, got, tol)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	rep.Path = pos[0]
	if g.mf.json {
		b, err := json.MarshalIndent(reportToJSON(rep), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintln(stdout, rep)
	}
	if !rep.OK() {
		return errMoved
	}
	return nil
}

// reportJSON is `lepton golden check --json`'s output: the report, with
// unchecked (infinite) tolerances written as the string "inf", which JSON
// numbers cannot hold.
type reportJSON struct {
	Path      string            `json:"path"`
	OK        bool              `json:"ok"`
	Cases     int               `json:"cases"`
	Tolerance map[string]any    `json:"tolerance"`
	Moved     []leptontest.Diff `json:"moved"`
	Worst     leptontest.Worst  `json:"worst"`
	Notes     []string          `json:"notes"`
}

func reportToJSON(r *leptontest.Report) reportJSON {
	num := func(v float64) any {
		if math.IsInf(v, 1) {
			return "inf"
		}
		return v
	}
	t := r.Tolerance
	return reportJSON{Path: r.Path, OK: r.OK(), Cases: r.Cases, Moved: r.Moved, Worst: r.Worst, Notes: r.Notes,
		Tolerance: map[string]any{"logits": num(t.Logits), "probs": num(t.Probs), "vector": num(t.Vector),
			"cosine": num(t.Cosine), "score": num(t.Score), "label_margin": num(t.LabelMargin)}}
}
