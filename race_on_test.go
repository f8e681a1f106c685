//go:build race

package lepton_test

// raceEnabled reports whether the race detector is on: it instruments
// memory accesses with allocations of its own, so allocation counts are
// not meaningful under it.
const raceEnabled = true
