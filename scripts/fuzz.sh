#!/usr/bin/env bash
# Runs every fuzz target of the module (every func FuzzXxx in a _test.go
# file of a package that `go test ./...` tests), one at a time, each for
# the same time. A crasher fails the run and is saved by Go under the
# package's testdata/fuzz/FuzzXxx/ (commit it with the fix: it becomes a
# regression test). CI runs it for a few seconds per target; longer runs
# (docs/FUZZING.md records them) keep the new corpus entries they find.
#
#   scripts/fuzz.sh [-t 5s] [-p 1] [NAME_REGEXP]
#
# -t: fuzzing time per target (go test -fuzztime; default 3s)
# -p: fuzzing workers per target (go test -parallel; default GOMAXPROCS)
# NAME_REGEXP: only targets whose "dir FuzzName" matches (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=3s
parallel=""
while getopts "t:p:" opt; do
  case $opt in
    t) fuzztime=$OPTARG ;;
    p) parallel="-parallel=$OPTARG" ;;
    *) echo "usage: $0 [-t DURATION] [-p WORKERS] [NAME_REGEXP]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
filter=${1:-.}

# Packages of this module, as directories relative to the root.
root=$(pwd)
declare -A pkg
while IFS= read -r d; do pkg["k${d#"$root"}"]=1; done < <(go list -f '{{.Dir}}' ./...)

targets=()
while IFS= read -r f; do
  d=/$(dirname "$f"); [ "$d" = /. ] && d=""
  [ -n "${pkg["k$d"]:-}" ] || continue
  for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
    t=".$d $name"
    if [[ "$t" =~ $filter ]]; then targets+=("$t"); fi
  done
done < <(git ls-files '*_test.go')

[ ${#targets[@]} -gt 0 ] || { echo "no fuzz target matches $filter" >&2; exit 1; }
# count prints the number of files in a corpus directory (0 if none).
count() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
start=$SECONDS
flakes=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
  dir=${t% *}; name=${t#* }
  corpus="$dir/testdata/fuzz/$name"
  before=$(count "$corpus")
  t0=$SECONDS
  echo "-- $dir $name ($fuzztime)"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" $parallel "$dir" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    echo "   ($((SECONDS - t0))s)"
    continue
  fi
  # Go 1.26's fuzzing coordinator can fail a target with a bare "context
  # deadline exceeded" when -fuzztime ends while a worker is busy
  # (golang/go#75804, fixed in Go 1.27): no input failed, none is saved.
  # A real failure always writes its input to testdata/fuzz.
  after=$(count "$corpus")
  if [ "$after" -eq "$before" ] && grep -q "^    context deadline exceeded$" "$log" && ! grep -q "Failing input written" "$log"; then
    echo "   WARNING: $name: Go's end-of-fuzztime race (golang/go#75804), no failing input: not a failure ($((SECONDS - t0))s)"
    flakes=$((flakes + 1))
    continue
  fi
  echo "FAIL: $dir $name (a failing input is saved under $corpus: commit it with the fix)"
  exit 1
done
echo "fuzzed ${#targets[@]} targets in $((SECONDS - start))s ($flakes ended by Go's fuzztime race)"
