// Package quant holds Lepton's numeric core: symmetric int8 quantisation,
// the packed weight layout the GEMM kernels read straight from a model file,
// the int8 GEMM itself and the fp32 element-wise kernels of a BERT layer.
//
// Every kernel has a pure-Go reference in this package. Faster tiers (AVX-512
// VNNI, AVX2, arm64 SDOT) plug in behind the same functions and must produce
// bit-identical results: integer accumulation is exact, and every float
// reduction follows the order fixed by the reference.
//
// # Weight layout
//
// A weight matrix W has N output channels and K inputs (PyTorch's Linear
// weight is [N][K]). It is quantised per output channel, symmetrically, to
// int8 in [-127, 127] with scale s[n] = max|W[n][:]| / 127, and packed as
// [Np/NR][Kp/KR][NR][KR]int8 where Np and Kp round N and K up to multiples of
// NR and KR; the padding is zero. ColSums[n] = sum over k of the packed int8
// values of column n, kept so kernels that add 128 to activations (VPDPBUSD
// multiplies unsigned by signed bytes) can subtract 128*ColSums[n] exactly.
//
// # Activations
//
// Activations are quantised per row (per token), symmetrically, to int8 in
// [-127, 127] with scale a[m] = max|X[m][:]| / 127 (zero rows get scale 0 and
// all-zero codes). Y[m][n] = float32(acc[m][n]) * (a[m] * s[n]) + bias[n].
package quant
