// Package clinic is Lepton's built-in model: a small BERT classifier that
// suggests one of 24 diagnoses from a patient's own description of their
// symptoms. It lets a program (and `lepton classify "..."` on a fresh clone)
// run a real model with nothing to download.
//
// Importing this package is the opt-in to the model: its file (under 1 MB)
// is compiled into the binary. Programs that open their own .lep files with
// lepton.Open do not import it and do not carry it.
//
//	m, err := clinic.Open() // any lepton.Option, as for lepton.Open
//	if err != nil { ... }
//	defer m.Close()
//	res, err := m.Classify(ctx, []string{"itchy red patches with silvery scales"})
//
// The model starts from random weights (no pretrained weights are
// downloaded) and was trained on the Symptom2Disease data set (718 of its
// 1,200 descriptions) with a TF-IDF teacher on augmented texts, by
// examples/train-clinic in the Lepton repository, and quantised to int8
// with `lepton quantize`; the file's metadata (Info().Metadata, or `lepton
// info`) records how, and its measured accuracy (0.90 on 242 held-out
// descriptions, below a TF-IDF baseline's 0.97). It is a demonstration of
// the clinic use case, not a medical device: it is often wrong on
// descriptions worded unlike its corpus, sometimes confidently, and its
// figures come from a small, formulaic corpus.
//
// To rebuild it (for instance after a change of the .lep format or of the
// tokenizer's binary form), run `bash examples/train-clinic/build.sh` from
// the repository root: training is deterministic and reproduces the same
// weights, and the script re-quantises, re-measures and rewrites clinic.lep.
package clinic

import (
	_ "embed"

	"lepton"
)

// model holds the bytes of clinic.lep. go:embed keeps them in the binary,
// so opening the model copies them at most once (when they are not 64-byte
// aligned) and never touches the disk. They are never handed out: Bytes
// returns a copy, so no caller can change what Open opens.
//
//go:embed clinic.lep
var model []byte

// Name is a short name for the model, for messages.
const Name = "built-in clinic model (Symptom2Disease, 24 diagnoses)"

// Open opens the model with lepton.OpenBytes. The options are those of
// lepton.Open; lepton.WithVerify(true) checks every weight checksum first.
func Open(opts ...lepton.Option) (*lepton.Model, error) {
	return lepton.OpenBytes(model, opts...)
}

// Bytes returns a copy of the model's .lep file, to write it to disk or to
// inspect it.
func Bytes() []byte {
	return append([]byte(nil), model...)
}
