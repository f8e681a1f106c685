//go:build !unix

package main

// cpuSeconds is unavailable here; bench then reports cpu_ms as -1.
func cpuSeconds() float64 { return -1 }
