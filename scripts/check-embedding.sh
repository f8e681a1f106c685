#!/usr/bin/env bash
# check-embedding.sh: use Lepton the way another module does, from outside
# this repository, and check what the README's Install section and
# docs/EMBEDDING.md promise:
#
#  1. examples/classify, embed and concurrent, copied into a module of their
#     own that requires lepton with a replace directive, build, vet and run;
#     `go mod tidy` there adds only modules whose packages the program
#     compiles (on linux, darwin and windows); the copy also builds vendored.
#  2. The smallest embedding program (lepton.Open + Classify) builds, with
#     no -ldflags, to at most 4.5 MB (4,500,000 bytes) on linux/amd64.
#  3. `go install ./cmd/lepton` gives a `lepton version` that names this
#     commit.
#
# Usage, from the repository root: bash scripts/check-embedding.sh
# It needs the Go module proxy (or a warm module cache) and git.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export GOWORK=off
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

size_limit=4500000

# newmod DIR: a module example.com/<name> in DIR requiring lepton from this
# checkout, as the README's Install section says.
newmod() {
  local dir=$1
  mkdir -p "$dir"
  cat > "$dir/go.mod" <<EOF
module example.com/$(basename "$dir")

go 1.26.0

require lepton v0.0.0

replace lepton => $repo
EOF
}

# required DIR: the module paths DIR's go.mod requires.
required() {
  (cd "$1" && go mod edit -print) | awk '/^require \(/ {b = 1; next} b && /^\)/ {b = 0; next} b {print $1} /^require [^(]/ {print $2}' | sort -u
}

# tidy_only_compiled DIR: every module go mod tidy required must provide a
# package the program compiles on one of the platforms Lepton ships for.
tidy_only_compiled() {
  local dir=$1 used m
  used=$(cd "$dir" && for t in linux/amd64 linux/arm64 darwin/arm64 windows/amd64; do
    GOOS=${t%/*} GOARCH=${t#*/} go list -deps -f '{{with .Module}}{{.Path}}{{end}}' .
  done | sort -u)
  for m in $(required "$dir"); do
    if ! grep -qx "$m" <<<"$used"; then
      echo "go mod tidy in $dir required $m, which the program does not compile"; return 1
    fi
  done
  echo "   $(basename "$dir"): go.mod requires $(required "$dir" | tr '\n' ' ')"
}

echo "-- examples copied into their own modules (require + replace)"
for ex in classify embed concurrent; do
  dir=$tmp/$ex
  newmod "$dir"
  cp "examples/$ex/main.go" "$dir/"
  (cd "$dir" && go mod tidy && go vet . && go build -o "$ex" .)
  tidy_only_compiled "$dir"
done
out=$("$tmp/classify/classify" -k 1 "It burns when I pee and I need to go all the time")
echo "$out"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || { echo "the copied classify example printed $out"; exit 1; }
"$tmp/embed/embed" -q "wheezing at night" > /dev/null
"$tmp/concurrent/concurrent" -workers 2 -requests 4 > /dev/null

echo "-- the same copy, vendored"
(cd "$tmp/classify" && go mod vendor && test -f vendor/lepton/models/clinic/clinic.lep && go build -mod=vendor -o classify-vendored .)
cmp <("$tmp/classify/classify-vendored" -k 1 "fever") <("$tmp/classify/classify" -k 1 "fever")

echo "-- binary size: open a model and classify (linux/amd64, no -ldflags)"
dir=$tmp/probe
newmod "$dir"
cat > "$dir/main.go" <<'EOF'
// Command probe opens a model and classifies its arguments: the smallest
// program that embeds Lepton.
package main

import (
	"context"
	"fmt"
	"os"

	"lepton"
)

func main() {
	m, err := lepton.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer m.Close()
	res, err := m.Classify(context.Background(), os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, r := range res {
		fmt.Println(r.Label, r.Probs[r.Index])
	}
}
EOF
(cd "$dir" && go mod tidy && GOOS=linux GOARCH=amd64 CGO_ENABLED=1 go build -o probe .)
tidy_only_compiled "$dir"
size=$(stat -c %s "$dir/probe")
pkgs=$(cd "$dir" && GOOS=linux GOARCH=amd64 go list -deps . | wc -l)
echo "   $size bytes, $pkgs packages (go list -deps), limit $size_limit bytes"
"$dir/probe" models/clinic/clinic.lep "itchy red patches with silvery scales"
[ "$size" -le "$size_limit" ] || { echo "the open-and-classify program is $size bytes, over $size_limit"; exit 1; }

echo "-- go install ./cmd/lepton; lepton version"
# -buildvcs=true: some machines turn VCS stamping off in GOFLAGS.
GOBIN=$tmp/bin GOFLAGS=-buildvcs=true go install ./cmd/lepton
"$tmp/bin/lepton" version
if [ -d .git ]; then
  head=$(git rev-parse HEAD)
  "$tmp/bin/lepton" version --json | grep -q "\"vcs_revision\":\"$head\"" \
    || { echo "lepton version does not name HEAD ($head)"; exit 1; }
else
  # A git worktree (.git is a file): the go command records no VCS
  # information there. CI runs on a plain clone, where this is checked.
  echo "   (not a plain git clone: the revision check needs one)"
fi
echo "embedding checks passed"
