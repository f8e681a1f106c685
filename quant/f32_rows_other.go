//go:build purego || !(amd64 || arm64)

package quant

// No tier sets tier.rows without assembly; these keep f32.go portable.

func dotRowsSIMD(dst, q, k []float32, stride int, scale float32) bool { return false }

func axpyRowsSIMD(dst, p, v []float32, stride int) bool { return false }
