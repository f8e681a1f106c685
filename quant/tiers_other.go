//go:build purego || !(amd64 || arm64)

package quant

// hostTiers returns no SIMD tiers: this build or architecture has no
// assembly, so the pure-Go kernel runs everywhere.
func hostTiers() []*tier { return nil }
