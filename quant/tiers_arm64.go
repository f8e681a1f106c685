//go:build arm64 && !purego

package quant

// hostTiers returns the SIMD tiers this CPU supports, fastest first.
func hostTiers() []*tier { return nil }
