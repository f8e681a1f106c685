// Package lepton runs BERT text classifiers, token classifiers and encoders
// in pure Go, from a single int8-quantised .lep file: no cgo, no Python, no
// network.
//
// Convert a Hugging Face checkpoint once with the command-line tool
//
//	lepton quantize ./my-bert -o model.lep
//
// then open and run it (or open the built-in demonstration model with
// package lepton/models/clinic):
//
//	m, err := lepton.Open("model.lep")
//	if err != nil { ... }
//	defer m.Close()
//	res, err := m.Classify(ctx, []string{"great movie", "dull and far too long"})
//	// res[i].Label, res[i].Index, res[i].Probs
//	vecs, err := m.Embed(ctx, texts, lepton.WithPooling(lepton.PoolMean), lepton.WithNormalize(true))
//
// A token classifier (BertForTokenClassification; package
// lepton/models/deid is a built-in one that finds names, dates, phone
// numbers and other identifiers in clinic notes) finds entities with Tag,
// and Redact masks them:
//
//	ents, err := m.Tag(ctx, []string{note}) // ents[0][i].Label, .Score, .Start, .End (byte offsets)
//	safe := lepton.Redact(note, ents[0], func(e lepton.Entity) string { return "[" + e.Label + "]" })
//
// # How it runs
//
// Open maps the file read-only and uses the weights in place, so opening
// costs about the same for any model size and processes share the pages.
// Each call tokenises its texts with the tokenizer stored in the file, packs
// all their tokens into one batch (no padding), and runs the encoder with
// int8 weights times int8 activations (quantised per token at run time),
// int32 accumulation and fp32 everywhere else. docs/ACCURACY.md reports how
// closely this tracks the fp32 model; on a file converted with --keep-fp32,
// WithFloat32 runs the fp32 reference path so you can measure it on your own
// data.
//
// Open checks the file's structure and checksums of its header and
// directory, not every weight (that would cost time proportional to the
// model). Model.Verify checks every payload, as `lepton verify` does, and
// WithVerify makes Open do it before returning: a weight damaged on disk
// otherwise goes unnoticed and shifts the answers slightly. Weights damaged
// into NaN or infinity are reported by the call that meets them, as
// ErrInvalidModel.
//
// # Concurrency and cancellation
//
// A *Model is safe for concurrent use. Each call uses up to WithThreads
// goroutines (default GOMAXPROCS); concurrent calls share them. Calls check
// their context between encoder layers. Close waits for running calls.
//
// # Options
//
// Open takes Options (WithThreads, WithActivationBits, WithVerify, and any
// CallOption to set a default); Classify, ClassifyPairs, Embed and Tag take
// CallOptions (WithMaxLength, WithTruncation, WithPooling, WithNormalize,
// WithFloat32; for Tag WithAggregation, WithIgnoreLabels and WithStride)
// that override the defaults for one call. The output hooks are options too: WithPrivateLabel,
// WithPrivateEmbedding and WithPrivacy release outputs under local
// differential privacy (package privacy), and WithCalibration and WithGroups
// apply per-group calibration (package fairness).
//
// # Inputs
//
// Any Go string is accepted. An empty text becomes [CLS] [SEP]. Invalid
// UTF-8 bytes decode to U+FFFD, which BERT's normaliser drops, as it drops
// NUL and other control characters. Texts longer than the max length
// (default: the model's position table, typically 512 tokens) are truncated
// unless WithTruncation(false) asks for ErrTooLong instead.
package lepton
