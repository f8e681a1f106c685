// Package bench compares Lepton's tokenizer with peer tokenizers on the
// SST-2 validation text. It is a separate module so that the peers never
// become dependencies of lepton; run it from this directory:
//
//	go test -bench . -benchtime 5x
//
// The transformers.js side is tools/node/tokenize-bench.mjs.
package bench
