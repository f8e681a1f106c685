// Package leptonbeam runs Lepton inside Apache Beam pipelines, so that a corpus
// too large for one machine (every historical note of a hospital network) is
// classified, embedded or tagged by the same int8 model on Beam's embedded Prism
// runner, on Flink, on Spark or on Google Cloud Dataflow. It is the module
// lepton/beam, apart from lepton itself, so that programs that only embed
// Lepton never depend on Beam.
//
// Its package name is leptonbeam (Beam's own package is beam):
//
//	import leptonbeam "lepton/beam"
//
// # Inference
//
// Classify, Embed and Tag (DoFns ClassifyFn, EmbedFn and TagFn) take a
// PCollection of Record (an optional ID and a text) and return two: the
// results (Classified, Embedded or Tagged) and a dead-letter output
// (DeadLetter) of the records that could not be run, each with the reason.
// Tag finds entities with a token-classification model (such as the
// de-identification model of lepton/models/deid), grouped as Tagging says
// (by default as `lepton tag` groups them); it reads long texts whole, in
// overlapping windows, and never truncates. A bad record never fails its
// bundle; what does fail it is what a retry can fix or a human must (a model
// that cannot be opened, a damaged model, a cancelled context).
//
// Each worker process opens a model once, in Setup, and shares it between
// all the DoFn instances and bundles that use it: a *lepton.Model is safe for
// concurrent use, and its file is memory-mapped, so worker processes on one
// host share its pages too. The model comes from a file (Model.Path, local or
// on any Beam file system such as gs://) or is compiled into the program
// (Model.Embedded, registered with RegisterEmbedded: Beam's Go workers run
// the same binary as the launcher).
//
// Within a bundle, records are batched up to Batching.MaxTexts texts or
// Batching.MaxBytes bytes per call, since Lepton packs the tokens of a call
// into one forward pass. Results are bit-identical to calling Lepton on one
// text at a time: a text's result depends on nothing else in its batch.
// Records in a window other than the global window (streaming pipelines)
// are run one at a time, so each result stays in its record's window.
//
// # Dead letters
//
// Checks decides which records go to the dead-letter output instead of the
// model. By default: an empty or all-whitespace text (ReasonEmpty), a text
// holding a NUL byte (ReasonBinary), invalid UTF-8 (ReasonInvalidUTF8, which
// Lepton would otherwise silently drop byte by byte), a text of more than
// Checks.MaxTextBytes bytes (ReasonTooLarge), a text in which the model
// reads no token (ReasonNoTokens) and, under Checks.Strict, a text longer
// than the model's max length in tokens (ReasonTooLong; otherwise such texts
// are truncated, as Lepton and its CLI do, and their results say so; Tag
// takes no Strict). Read sends lines that are not valid records (bad CSV, bad
// JSON, a missing text field) there too (ReasonParse). A dead letter keeps
// the record's input exactly, so it can be fixed and run again.
//
// # Input and output
//
// Read reads text lines, CSV or JSON lines with Beam's textio and parses
// them into Records; WriteLines writes strings (such as the JSON of
// FormatJSON) to one or more files on any Beam file system. The command
// lepton/beam/cmd/lepton-beam puts them together.
//
// # Local differential privacy at scale
//
// EstimateCounts and EstimateCountsPerKey aggregate devices' local-DP reports
// of a label (k-ary randomized response or optimized unary encoding, as
// released by lepton/privacy) into unbiased counts with confidence
// intervals, as a Beam Combine: counts are summed in parallel and merged,
// and the estimates come from privacy.EstimateRR and privacy.EstimateOUE on
// the totals.
package leptonbeam
