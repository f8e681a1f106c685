// Command eval measures the built-in de-identification model (or any .lep
// made by examples/train-deid) on the unseen-template test notes
// (examples/train-deid/data/test.jsonl), with Lepton's own int8 inference,
// and sets the figures beside:
//
//   - fp32 figures from train.py (PyTorch logits, its own aggregation code,
//     in metrics.json), and with -fp32 those of Lepton's fp32 path,
//   - a baseline of regular expressions for dates, phone numbers, record
//     numbers and email addresses, written by the generator's author,
//   - lepton.FindPatterns alone and the model with lepton.WithPatterns(true)
//     (the hybrid; -hybrid describes its misses and masking in detail,
//     -patterns-json prints what patterns-test.json and
//     patterns-validation.json record), and other ways to merge the two,
//   - int8-vs-fp32 agreement per token (reference/test_tokens.json) and
//     tokenizer parity (Lepton's ids against the training ids' hashes).
//
// Entities are scored at entity level: a prediction counts only with the
// exact type and span (byte offsets) of a marked identifier.
//
// Run from the repository root:
//
//	go run ./examples/train-deid/eval
//	go run ./examples/train-deid/eval -m /tmp/deid-model/int8.lep -fp32 /tmp/deid-model/fp32.lep -json
//	go run ./examples/train-deid/eval -hybrid -data examples/train-deid/data/validation.jsonl
//	go run ./examples/train-deid/eval -patterns-json > examples/train-deid/patterns-test.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"lepton"
	"lepton/internal/lepfile"
	"lepton/models/deid"
	"lepton/tokenize"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	path := fs.String("m", "", "model (.lep) to evaluate (default: the built-in de-identification model)")
	fp32 := fs.String("fp32", "", "the same model converted with --keep-fp32, to also measure Lepton's fp32 path")
	data := fs.String("data", "", "test notes, JSON lines (default: examples/train-deid/data/test.jsonl)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	asMeta := fs.Bool("meta", false, "print the figures for the model's metadata, as lepton quantize --meta=KEY=VALUE arguments, one per line")
	actBits := fs.Int("act-bits", lepton.DefaultActivationBits, "activation precision of the int8 path: 7 or 8")
	hybrid := fs.Bool("hybrid", false, "describe the misses, false positives and masking of the model with lepton.WithPatterns(true) instead of the model alone")
	patternsJSON := fs.Bool("patterns-json", false, "print only the figures of the model, lepton.FindPatterns and the two together, as examples/train-deid/patterns-*.json record them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	c := config{root: root, data: *data, actBits: *actBits, withRefs: *data == "", hybrid: *hybrid}
	if c.data == "" {
		c.data = filepath.Join(trainDir(root), "data", "test.jsonl")
	}
	m, err := open(*path, lepton.WithActivationBits(*actBits))
	if err != nil {
		return err
	}
	defer m.Close()
	if c.tok, err = modelTokenizer(*path); err != nil {
		return err
	}
	if *fp32 != "" {
		if c.fp32, err = lepton.Open(*fp32); err != nil {
			return err
		}
		defer c.fp32.Close()
	}
	rep, err := evaluate(context.Background(), m, c)
	if err != nil {
		return err
	}
	if *asMeta {
		md := rep.Metadata()
		for _, k := range slices.Sorted(maps.Keys(md)) {
			fmt.Fprintf(w, "--meta=%s=%s\n", k, md[k])
		}
		return nil
	}
	if *patternsJSON {
		return writeJSON(w, rep.PatternRecord())
	}
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return rep.markdown(w)
}

func open(path string, opts ...lepton.Option) (*lepton.Model, error) {
	if path == "" {
		return deid.Open(opts...)
	}
	return lepton.Open(path, opts...)
}

// modelTokenizer loads the tokenizer stored in the model file, the one
// lepton.Model uses, to compare its ids with the training ids.
func modelTokenizer(path string) (*tokenize.Tokenizer, error) {
	var (
		f   *lepfile.File
		err error
	)
	if path == "" {
		f, err = lepfile.OpenBytes(deid.Bytes())
	} else {
		f, err = lepfile.Open(path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.TokenizerFormat != lepfile.TokenizerLepton {
		return nil, fmt.Errorf("%w: tokenizer format %q, want %q", errData, f.TokenizerFormat, lepfile.TokenizerLepton)
	}
	return tokenize.FromBinary(slices.Clone(f.Tokenizer))
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
