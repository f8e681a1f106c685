// Package apicheck guards the exported API of Lepton's public packages. It
// has no code of its own: its test compares the API of every public package
// (every package of the module outside internal/, cmd/ and examples/, and
// the lepton/tokenize/hftokenizers module) with the snapshot committed in
// api/ at the repository root, using golang.org/x/exp/apidiff, and fails
// on any difference until the snapshot is updated, in the same commit as
// the change:
//
//	go test ./internal/apicheck -update
//
// The snapshot of package P is two files: api/P.x, P's export data
// (written by golang.org/x/tools/go/gcexportdata: the types apidiff
// compares against, read back offline on a clean clone), and api/P.txt, a
// sorted one-line-per-feature listing of the same API for people to read
// in the diff of the commit. api/README.md explains the rules.
package apicheck
