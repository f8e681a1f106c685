// Package deid is Lepton's built-in de-identification model: a small BERT
// token classifier that finds what identifies a patient in a clinic note,
// so that the note can be masked on the device before it leaves it. It
// finds six types of entity: NAME (people), DATE, PHONE, ID (record, NHS
// and insurance numbers), ADDRESS and EMAIL.
//
// Importing this package is the opt-in to the model: its file (about
// 1.1 MB) is compiled into the binary. Programs that open their own .lep
// files with lepton.Open do not import it and do not carry it.
//
//	m, err := deid.Open() // any lepton.Option, as for lepton.Open
//	if err != nil { ... }
//	defer m.Close()
//	ents, err := m.Tag(ctx, []string{note})
//	safe := lepton.Redact(note, ents[0], func(e lepton.Entity) string { return "[" + e.Label + "]" })
//
// The model was trained from scratch on synthetic clinic notes (no real
// patient data; examples/train-deid in the Lepton repository generates
// them, trains it and measures it) and quantised to int8 with `lepton
// quantize`. The file's metadata (Info().Metadata, or `lepton info`)
// records how, and its entity-level precision, recall and F1 on notes
// written in styles it never saw in training. It misses identifiers:
// examples/train-deid/README.md says which, and how often. Check what it
// masks before relying on it; it is a demonstration of on-device
// de-identification, not a certified tool.
//
// To rebuild it, run `bash examples/train-deid/build.sh` from the
// repository root: generation and training are deterministic, and the
// script re-quantises, re-measures and rewrites deid.lep.
package deid

import (
	_ "embed"

	"lepton"
)

// model holds the bytes of deid.lep. They are never handed out: Bytes
// returns a copy, so no caller can change what Open opens.
//
//go:embed deid.lep
var model []byte

// Name is a short name for the model, for messages.
const Name = "built-in de-identification model (synthetic clinic notes: NAME, DATE, PHONE, ID, ADDRESS, EMAIL)"

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
