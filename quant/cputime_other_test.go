//go:build !unix

package quant

// cpuSeconds is unavailable here; CPU-time metrics are then skipped.
func cpuSeconds() float64 { return 0 }
