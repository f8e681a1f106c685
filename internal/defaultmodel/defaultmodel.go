// Package defaultmodel is Lepton's built-in model, compiled into the
// binaries that import it so that `lepton classify "..."` works on a fresh
// clone with nothing to download.
//
// The model (clinic.lep, under 1 MB) is a small BERT classifier that
// suggests one of 24 diagnoses from a patient's own description of their
// symptoms. It was trained from scratch, without pretraining, on the
// Symptom2Disease data set (1,200 descriptions) by examples/train-clinic,
// and quantised to int8 with `lepton quantize`; the file's metadata (shown
// by `lepton info internal/defaultmodel/clinic.lep`) records how, and its
// measured accuracy. It is a demonstration of the clinic use case, not a
// medical device: its figures come from a small, synthetic-sounding corpus.
//
// To rebuild it (for instance after a change of the .lep format or of the
// tokenizer's binary form), run `bash examples/train-clinic/build.sh` from
// the repository root: training is deterministic and reproduces the same
// weights, and the script re-quantises, re-measures and rewrites clinic.lep.
// See examples/train-clinic/README.md.
package defaultmodel

import (
	_ "embed"

	"lepton"
)

// clinic holds the bytes of clinic.lep. go:embed keeps them in the
// binary's read-only data, so opening the model copies them at most once
// (when they are not 64-byte aligned) and never touches the disk.
//
//go:embed clinic.lep
var clinic []byte

// Name is a short name for the built-in model, for messages.
const Name = "built-in clinic model (Symptom2Disease, 24 diagnoses)"

// Bytes returns the built-in .lep file. The slice is shared: callers must
// not modify it.
func Bytes() []byte { return clinic }

// Open opens the built-in model with lepton.OpenBytes.
func Open(opts ...lepton.Option) (*lepton.Model, error) {
	return lepton.OpenBytes(clinic, opts...)
}
