//go:build purego || !(amd64 || arm64)

package quant

// Without assembly every SIMD step of the fp32 kernels does nothing and
// the generic code's Go loops do all.

// No tier sets tier.rows without assembly, so this is never called; it
// keeps attention.go portable. Reaching it is a dispatch bug, not a data
// error, hence the panic.
func mulBlockSIMD(dst *float32, ldd int, a *float32, lda int, b *float32, ldb int, rows, k, cblocks int, scale float32) {
	panic("quant: mulBlockSIMD without assembly")
}

// expSumSIMD does nothing without assembly: Softmax's Go loop does all.
func expSumSIMD(x []float32, m float32, p *[Lanes]float32) int { return 0 }

// geluSIMD does nothing without assembly: GELU's Go loop does all.
func geluSIMD(x []float32) int { return 0 }

// absMaxSIMD does nothing without assembly (done 0); quantizeSIMD is then
// never called.
func absMaxSIMD(x []float32) (m float32, done int) { return 0, 0 }

func quantizeSIMD(dst []int8, x []float32, inv float32) {
	panic("quant: quantizeSIMD without assembly")
}

// Without assembly LayerNorm's and Sum's Go loops do all.
func sumLanesSIMD(x []float32, p *[Lanes]float32) int                  { return 0 }
func sqDiffLanesSIMD(x []float32, mean float32, p *[Lanes]float32) int { return 0 }
func lnApplySIMD(dst, x, gamma, beta []float32, mean, inv float32) int { return 0 }
