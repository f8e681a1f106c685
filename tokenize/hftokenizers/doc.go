// Package hftokenizers is a [tokenize.Backend] backed by the Rust Hugging
// Face tokenizers library, through github.com/daulet/tokenizers (cgo and
// its prebuilt static library libtokenizers.a). It exists to cross-check
// Lepton's pure-Go tokenizer against the reference implementation, and for
// programs that already link that library.
//
// It is a module of its own (lepton/tokenize/hftokenizers), so that the
// lepton module, and every program that imports it, neither requires nor
// downloads github.com/daulet/tokenizers. Its code builds only with
// -tags hftokenizers and CGO_ENABLED=1, with libtokenizers.a on the linker
// path (CGO_LDFLAGS=-L<dir>); without the tag the package is empty.
//
// A program uses it from its own module with
//
//	require (
//		lepton v0.0.0
//		lepton/tokenize/hftokenizers v0.0.0
//	)
//	replace (
//		lepton => ../lepton
//		lepton/tokenize/hftokenizers => ../lepton/tokenize/hftokenizers
//	)
//
// and builds with go build -tags hftokenizers.
package hftokenizers
