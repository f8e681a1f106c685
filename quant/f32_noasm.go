//go:build !amd64 || purego

package quant

// Without amd64 assembly no tier sets tier.f32, so these are never called;
// they exist so f32.go compiles everywhere. Reaching one is a dispatch bug
// (not a data error), hence the panic.

func dotLanesAVX2(a, b *float32, blocks int, p *[Lanes]float32) {
	panic("quant: dotLanesAVX2 without amd64 assembly")
}
func scaleAVX2(x *float32, blocks int, s float32) { panic("quant: scaleAVX2 without amd64 assembly") }
func axpyAVX2(dst, x *float32, blocks int, alpha float32) {
	panic("quant: axpyAVX2 without amd64 assembly")
}
func maxAVX2(x *float32, blocks int) float32 { panic("quant: maxAVX2 without amd64 assembly") }
func transposeAVX2(dst *float32, ldd uintptr, src *float32, lds uintptr, rows8, cols8 int) {
	panic("quant: transposeAVX2 without amd64 assembly")
}
func softmaxRowsAVX512(x *float32, ld uintptr, rows, n int, tmp *[8]float32) {
	panic("quant: softmaxRowsAVX512 without amd64 assembly")
}
func lnRowAVX512(dst, x, gamma, beta *float32, blocks int, eps float32) {
	panic("quant: lnRowAVX512 without amd64 assembly")
}
func quantizeRowAVX512(dst *int8, x *float32, blocks int, levels float32) float32 {
	panic("quant: quantizeRowAVX512 without amd64 assembly")
}
