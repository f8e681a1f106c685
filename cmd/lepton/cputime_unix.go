//go:build unix

package main

import "syscall"

// cpuSeconds returns the process's user+system CPU time, or -1. `lepton
// bench` reports CPU time per run next to wall time because on a shared
// machine wall time includes time spent waiting for a core.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
