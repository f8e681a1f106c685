//go:build !amd64 || purego

package quant

// flipActs stores src XOR 0x80 into dst (same length). No tier outside
// amd64 reads flipped activations; it exists for gemm's shared code path.
func flipActs(dst, src []int8) {
	for i, v := range src {
		dst[i] = v ^ -128
	}
}
