//go:build amd64 && !purego

package quant

// axpyRowsAVX2[c-1] keeps c ymm registers (8c values of dst) live.
var axpyRowsAVX2 = [8]func(dst, p, v *float32, ldv uintptr, n int){
	axpyRows1AVX2, axpyRows2AVX2, axpyRows3AVX2, axpyRows4AVX2,
	axpyRows5AVX2, axpyRows6AVX2, axpyRows7AVX2, axpyRows8AVX2,
}

// dotRowsAVX2[b-1] handles head size 16*b.
var dotRowsAVX2 = [4]func(dst, q, k *float32, ldk uintptr, n int, scale float32){
	dotRows1AVX2, dotRows2AVX2, dotRows3AVX2, dotRows4AVX2,
}

// dotRowsSIMD runs DotRows with AVX2 when len(q) is 16, 32, 48 or 64.
func dotRowsSIMD(dst, q, k []float32, stride int, scale float32) bool {
	d := len(q)
	if d == 0 || d%Lanes != 0 || d > 4*Lanes {
		return false
	}
	dotRowsAVX2[d/Lanes-1](&dst[0], &q[0], &k[0], uintptr(stride*4), len(dst), scale)
	return true
}

// axpyRowsSIMD runs AxpyRows with AVX2 when len(dst) is a multiple of 8.
func axpyRowsSIMD(dst, p, v []float32, stride int) bool {
	d := len(dst)
	if d%8 != 0 {
		return false
	}
	for c := 0; c < d; c += 64 {
		regs := min(8, (d-c)/8)
		axpyRowsAVX2[regs-1](&dst[c], &p[0], &v[c], uintptr(stride*4), len(p))
	}
	return true
}
