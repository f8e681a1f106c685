//go:build !amd64 || purego

package quant

// peakLoops is empty where no tier has a peak kernel.
var peakLoops = map[string]peakLoop{}
