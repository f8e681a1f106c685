// Command eval measures the built-in clinic model (or any .lep made from
// examples/train-clinic) on the held-out test split of Symptom2Disease, with
// Lepton's own int8 inference, and sets the figures beside the references
// that train.py and baseline.py wrote:
//
//   - int8 accuracy and macro-F1 (this program, Lepton),
//   - fp32 accuracy and macro-F1 (PyTorch's logits in reference/test_logits.json),
//   - expected calibration error (15 equal-width bins of top-label
//     confidence) of both, and the int8 reliability diagram (-reliability),
//   - int8-vs-fp32 argmax agreement and the largest logit difference,
//   - int8 accuracy on paraphrases.csv, beside the baseline's,
//   - the TF-IDF + logistic regression baseline (baseline.json),
//   - tokenizer parity: Lepton's token ids against reference/token_hashes.json
//     (ids from train.py's tokenizer, which tokenizers.js agrees with).
//
// Run from the repository root, with ../shared beside it:
//
//	go run ./examples/train-clinic/eval
//	go run ./examples/train-clinic/eval -m /tmp/clinic.lep -json
//	go run ./examples/train-clinic/eval -reliability examples/train-clinic/reliability.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"lepton"
	"lepton/models/clinic"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "eval:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	path := fs.String("m", "", "model (.lep) to evaluate (default: the built-in clinic model)")
	data := fs.String("data", "", "Symptom2Disease.csv (default: ../shared/data/symptom2disease/Symptom2Disease.csv from the repository root)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	reliability := fs.String("reliability", "", "also draw the int8 reliability diagram of the test split to this PNG file")
	actBits := fs.Int("act-bits", lepton.DefaultActivationBits, "activation precision of the int8 path: 7 or 8")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if *data == "" {
		*data = defaultData(root)
	}
	var m *lepton.Model
	if *path == "" {
		m, err = clinic.Open(lepton.WithActivationBits(*actBits))
	} else {
		m, err = lepton.Open(*path, lepton.WithActivationBits(*actBits))
	}
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := modelTokenizer(*path)
	if err != nil {
		return err
	}
	rep, err := evaluate(m, tok, root, *data)
	if err != nil {
		return err
	}
	if *reliability != "" {
		if err := writeReliability(*reliability, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return rep.print(w)
}
