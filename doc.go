// Package lepton runs BERT and DistilBERT text classifiers, sentence
// embedders, cross-encoder rerankers and BERT token classifiers in pure Go,
// from a single int8-quantised .lep file: no cgo, no Python, no network.
//
// Convert a Hugging Face checkpoint or a sentence-transformers folder once
// with the command-line tool
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
//	ranked, err := reranker.Rerank(ctx, "query", passages) // best first, with indexes
//
// A model converted from a sentence-transformers folder records its
// pooling, normalisation, prompts and max_seq_length, and Embed applies them
// by default, so its vectors are those of encode(). Package
// lepton/leptontest records a model's outputs in golden files and checks
// them in tests.
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
// Open checks the file's structure, the checksums of its header and
// directory, and that its small float tensors (scales, biases, LayerNorm
// parameters) are finite, not every weight (that would cost time
// proportional to the model). Model.Verify checks every payload, as
// `lepton verify` does, and WithVerify makes Open do it before returning: a
// weight damaged on disk otherwise goes unnoticed and shifts the answers
// slightly. Outputs that come out non-finite all the same (weights damaged
// into extreme values) are reported by the call that meets them, as
// ErrInvalidModel. WithMmap(false) reads the file into memory instead of
// mapping it, for files that may be replaced or rewritten in place while
// open.
//
// # Limits
//
// Model files and texts are untrusted. Open refuses, with ErrInvalidModel
// and the figure, a model whose calls could need more scratch memory than
// WithScratchLimit allows (default DefaultScratchLimit, 1 GiB;
// docs/FORMAT.md lists what common models need): a small crafted file with
// a huge intermediate size and position table would otherwise make one long
// text exhaust memory. Every batch is checked again before its buffers
// grow. Each call in flight has its own scratch.
//
// # Concurrency and cancellation
//
// A *Model is safe for concurrent use. Each call uses up to WithThreads
// goroutines (default GOMAXPROCS, at most MaxThreads); concurrent calls
// share them. Calls look at their context while tokenising (every 16 Ki
// units of work) and between blocks of a few milliseconds of work inside
// every encoder layer, so a cancelled call returns ctx.Err() within
// milliseconds, however long its texts. Close waits for running calls.
//
// # Options
//
// Open takes Options (WithThreads, WithActivationBits, WithVerify,
// WithScratchLimit, WithMmap, and any CallOption to set a default);
// Classify, ClassifyPairs, Embed, Rerank and Tag take CallOptions
// (WithMaxLength, WithTruncation, WithPooling, WithNormalize, WithPrompt,
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
// (default: the model's max_seq_length or tokenizer model_max_length when
// the converted folder had one, else its position table, typically 512
// tokens) are truncated unless WithTruncation(false) asks for ErrTooLong
// instead; a single text is only tokenised as far as the max length needs,
// so a huge one costs little.
//
// A classifier answers every input, confidently or not, so each result
// carries Diagnostics: how many of the input's tokens the model read,
// whether it was truncated, and the share of them that are [UNK] (words or
// scripts the vocabulary cannot spell). Check them before acting on an
// answer about an empty text, a cut one or one the model could not read
// (Classification.Diagnostics; EmbedDetailed for embeddings).
package lepton
