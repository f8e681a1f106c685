//go:build arm64 && !purego

package quant

var (
	dotRowsNEON  = [4]func(dst, q, k *float32, ldk uintptr, n int, scale float32){dotRows1NEON, dotRows2NEON, dotRows3NEON, dotRows4NEON}
	axpyRowsNEON = [4]func(dst, p, v *float32, ldv uintptr, n int){axpyRows1NEON, axpyRows2NEON, axpyRows3NEON, axpyRows4NEON}
)

// dotRowsSIMD runs DotRows with NEON when len(q) is 16, 32, 48 or 64.
func dotRowsSIMD(dst, q, k []float32, stride int, scale float32) bool {
	d := len(q)
	if d == 0 || d%Lanes != 0 || d > 4*Lanes {
		return false
	}
	dotRowsNEON[d/Lanes-1](&dst[0], &q[0], &k[0], uintptr(stride*4), len(dst), scale)
	return true
}

// axpyRowsSIMD runs AxpyRows with NEON when len(dst) is 16, 32, 48 or 64.
func axpyRowsSIMD(dst, p, v []float32, stride int) bool {
	d := len(dst)
	if d == 0 || d%Lanes != 0 || d > 4*Lanes {
		return false
	}
	axpyRowsNEON[d/Lanes-1](&dst[0], &p[0], &v[0], uintptr(stride*4), len(p))
	return true
}
