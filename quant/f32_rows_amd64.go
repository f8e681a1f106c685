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
