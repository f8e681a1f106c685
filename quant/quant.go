package quant

import (
	"errors"
	"fmt"
	"math"
)

// Panel geometry of the packed weight layout LayoutI8P16K4.
const (
	NR = 16 // output channels per panel
	KR = 4  // consecutive inputs per channel inside a panel row
)

// Layout names a packed weight layout as it is recorded in a model file.
type Layout uint32

// Known layouts. New schemes (per-group int8, int4) get new values; readers
// refuse layouts they do not know.
const (
	LayoutRowMajor Layout = 0 // plain row-major, no packing
	LayoutI8P16K4  Layout = 1 // [Np/16][Kp/4][16][4]int8, per-output-channel scales
)

// ErrShape reports inconsistent matrix dimensions or buffer lengths.
var ErrShape = errors.New("quant: inconsistent shape")

// RoundUp returns x rounded up to a multiple of m (m > 0).
func RoundUp(x, m int) int { return (x + m - 1) / m * m }

// PackedWeights is an int8 weight matrix in LayoutI8P16K4. Its slices may
// alias a read-only memory-mapped model file: kernels never write to them.
type PackedWeights struct {
	N, K    int       // logical output channels and inputs
	Data    []int8    // len PackedLen(N, K)
	Scales  []float32 // len N: per-output-channel dequantisation scale
	ColSums []int32   // len RoundUp(N, NR): sum of Data over K for each channel
}

// PackedLen is the number of int8 values a packed N x K matrix occupies.
func PackedLen(n, k int) int { return RoundUp(n, NR) * RoundUp(k, KR) }

// Validate checks that the slice lengths agree with N and K.
func (w *PackedWeights) Validate() error {
	if w.N <= 0 || w.K <= 0 {
		return fmt.Errorf("%w: packed weights %dx%d", ErrShape, w.N, w.K)
	}
	if len(w.Data) != PackedLen(w.N, w.K) || len(w.Scales) != w.N || len(w.ColSums) != RoundUp(w.N, NR) {
		return fmt.Errorf("%w: packed weights %dx%d with data %d, scales %d, colsums %d",
			ErrShape, w.N, w.K, len(w.Data), len(w.Scales), len(w.ColSums))
	}
	return nil
}

// QuantizePack quantises a row-major float weight matrix w[N][K] per output
// channel and packs it. It is used by the converter, never at inference time.
func QuantizePack(w []float32, n, k int) (PackedWeights, error) {
	if n <= 0 || k <= 0 || len(w) != n*k {
		return PackedWeights{}, fmt.Errorf("%w: %d values for %dx%d", ErrShape, len(w), n, k)
	}
	q := make([]int8, n*k)
	scales := make([]float32, n)
	for i := 0; i < n; i++ {
		scales[i] = quantizeSymmetric(q[i*k:(i+1)*k], w[i*k:(i+1)*k], 127)
	}
	p := PackedWeights{N: n, K: k, Data: make([]int8, PackedLen(n, k)), Scales: scales, ColSums: make([]int32, RoundUp(n, NR))}
	Pack(p.Data, p.ColSums, q, n, k)
	return p, nil
}

// Pack writes the row-major int8 matrix q[N][K] into dst in LayoutI8P16K4 and
// fills colSums (len RoundUp(N, NR)). dst must have PackedLen(n, k) values.
func Pack(dst []int8, colSums []int32, q []int8, n, k int) {
	kp := RoundUp(k, KR)
	clear(dst)
	clear(colSums)
	for i := 0; i < n; i++ {
		panel, lane := i/NR, i%NR
		for j := 0; j < k; j++ {
			v := q[i*k+j]
			dst[panel*kp*NR+(j/KR)*NR*KR+lane*KR+j%KR] = v
			colSums[i] += int32(v)
		}
	}
}

// Unpack is the inverse of Pack for tests and tools: it returns q[N][K].
func Unpack(w *PackedWeights) []int8 {
	kp := RoundUp(w.K, KR)
	q := make([]int8, w.N*w.K)
	for i := 0; i < w.N; i++ {
		panel, lane := i/NR, i%NR
		for j := 0; j < w.K; j++ {
			q[i*w.K+j] = w.Data[panel*kp*NR+(j/KR)*NR*KR+lane*KR+j%KR]
		}
	}
	return q
}

// quantizeSymmetric maps x to int8 codes in [-levels, levels] and returns
// the scale max|x|/levels (levels is 127 for weights and 8-bit activations,
// 63 for 7-bit activations); a zero (or empty) input gives scale 0 and zero
// codes. NaN inputs are treated as 0 so that hostile weights cannot poison
// a row.
func quantizeSymmetric(dst []int8, x []float32, levels float32) float32 {
	dst = dst[:len(x)]
	if len(x) >= 16 && len(x)%16 == 0 && activeTier.Load().avx512 {
		// Both passes and the scale in one call, the same operations.
		return quantizeRowAVX512(&dst[0], &x[0], len(x)/16, levels)
	}
	amax, done := absMaxSIMD(x)
	for _, v := range x[done:] {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	if amax == 0 || math.IsInf(float64(amax), 0) {
		clear(dst)
		return 0
	}
	// |x|*inv <= levels up to one rounding of the product, which cannot
	// reach levels+0.5: codes stay in [-levels, levels].
	scale := amax / levels
	inv := levels / amax
	if done > 0 {
		quantizeSIMD(dst[:done], x[:done], inv)
	}
	for i := done; i < len(x); i++ {
		dst[i] = int8(roundHalfEven(x[i] * inv))
	}
	return scale
}

// roundHalfEven rounds to the nearest integer (ties to even) and clamps to
// [-127, 127]; NaN becomes 0. SIMD tiers must use the same rounding.
func roundHalfEven(v float32) int32 {
	if v != v {
		return 0
	}
	r := math.RoundToEven(float64(v))
	if r > 127 {
		return 127
	}
	if r < -127 {
		return -127
	}
	return int32(r)
}

// Acts is a batch of activation rows quantised per row to int8 with Bits
// bits of precision:
//
//   - Bits 8 (or 0): codes in [-127, 127], scale max|x|/127;
//   - Bits 7: codes in [-63, 63], scale max|x|/63.
//
// Every tier computes the same exact integer sums for either precision, so
// results are bit-identical across tiers for a given Bits. 7 bits is what
// lets the AVX2 tier run VPMADDUBSW on a+64 (unsigned, at most 127) times w
// without the sign trick, about 1.25x faster, at twice the activation
// rounding error (the per-token scale keeps that small: see quant/doc.go).
// Callers that fill Data themselves must keep codes in the range of Bits:
// the AVX2 kernels rely on it (8-bit codes are negated, and -128 has no int8
// negation; 7-bit codes are offset by 64 into unsigned bytes).
type Acts struct {
	M, K   int
	Data   []int8    // [M][RoundUp(K, KR)], padding zero
	Scales []float32 // [M]
	Bits   int       // 7 or 8; 0 means 8. Reset keeps it.
}

// levels is the largest code of a's precision.
func (a *Acts) levels() float32 {
	if a.Bits == 7 {
		return 63
	}
	return 127
}

// Reset sizes a for m rows of k values, reusing its buffers when they are
// large enough, so steady-state inference does not allocate.
func (a *Acts) Reset(m, k int) {
	if a.Bits != 0 && a.Bits != 7 && a.Bits != 8 {
		// A programming error (callers validate user input, as
		// lepton.WithActivationBits does): fail here rather than quantise
		// at 8 bits and panic later in GEMM.
		panic(fmt.Sprintf("quant: Acts.Bits %d (want 0, 7 or 8)", a.Bits))
	}
	kp := RoundUp(k, KR)
	a.M, a.K = m, k
	if cap(a.Data) < m*kp {
		a.Data = make([]int8, m*kp)
	}
	a.Data = a.Data[:m*kp]
	if cap(a.Scales) < m {
		a.Scales = make([]float32, m)
	}
	a.Scales = a.Scales[:m]
}

// QuantizeRows quantises x[M][K] (row-major) into a, per row.
func QuantizeRows(a *Acts, x []float32, m, k int) {
	a.Reset(m, k)
	for i := 0; i < m; i++ {
		a.quantizeRow(i, x[i*k:(i+1)*k])
	}
}

// quantizeRow quantises x (a.K values) into row i of a, sized by Reset,
// and zeroes the row's padding.
func (a *Acts) quantizeRow(i int, x []float32) {
	kp := RoundUp(a.K, KR)
	q := a.Data[i*kp : (i+1)*kp]
	a.Scales[i] = quantizeSymmetric(q[:a.K], x, a.levels())
	clear(q[a.K:])
}

// gemmGeneric is the reference: for each m, n
//
//	acc := sum_k int32(a[m][k]) * int32(W[n][k])
//	dst[m][n] = float32(acc) * (aScale[m] * wScale[n]) + bias[n]
//
// with the product rounded to float32 before the bias is added (no FMA).
func gemmGeneric(dst []float32, a *Acts, w *PackedWeights, bias []float32) {
	m, n, k := a.M, w.N, w.K
	if a.K != k || len(dst) < m*n || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("quant: GEMM shape mismatch: acts %dx%d, weights %dx%d, dst %d", a.M, a.K, n, k, len(dst)))
	}
	kp := RoundUp(k, KR)
	for i := 0; i < m; i++ {
		arow := a.Data[i*kp : (i+1)*kp]
		for j := 0; j < n; j++ {
			panel, lane := j/NR, j%NR
			base := panel * kp * NR
			var acc int32
			for kk := 0; kk < kp; kk += KR {
				wp := w.Data[base+(kk/KR)*NR*KR+lane*KR:]
				acc += int32(arow[kk])*int32(wp[0]) + int32(arow[kk+1])*int32(wp[1]) +
					int32(arow[kk+2])*int32(wp[2]) + int32(arow[kk+3])*int32(wp[3])
			}
			v := float32(float32(acc) * (a.Scales[i] * w.Scales[j]))
			if bias != nil {
				v += bias[j]
			}
			dst[i*n+j] = v
		}
	}
}

// LayerNormQuantizeRows applies LayerNorm to each of the m rows of x[m][k]
// in place and quantises the result into a, row by row, so each row is
// quantised while it is still in L1. The bits are those of LayerNorm on
// every row followed by QuantizeRows.
func LayerNormQuantizeRows(a *Acts, x []float32, m, k int, gamma, beta []float32, eps float32) {
	a.Reset(m, k)
	for i := 0; i < m; i++ {
		row := x[i*k : (i+1)*k]
		LayerNorm(row, row, gamma, beta, eps)
		a.quantizeRow(i, row)
	}
}

// GELUQuantizeRows applies GELU to x[m][k] in place and quantises it into
// a, row by row while each row is in L1. The bits are those of GELU on x
// followed by QuantizeRows.
func GELUQuantizeRows(a *Acts, x []float32, m, k int) {
	a.Reset(m, k)
	for i := 0; i < m; i++ {
		row := x[i*k : (i+1)*k]
		GELU(row)
		a.quantizeRow(i, row)
	}
}
