package quant

import "fmt"

// Blocked attention. Computing one query row at a time (a dot product per
// key, Softmax, a scaled row add per value) re-reads every key and value
// row per query and reduces each score horizontally; Attention instead
// works on blocks of attnMR query rows with one small matrix-product
// kernel, mulBlock, used twice:
//
//	scores = Q K^T * scale   (b = K^T of the head, so lanes run across keys)
//	ctx    = P V             (scale 1)
//
// Each key row of K^T and each value row is then loaded once per block of
// queries, and every lane of a vector register holds one output's sum.

// attnMR is the number of query rows per mulBlock call; the AVX2 assembly
// has a kernel for each row count 1..6, NEON for 1..4 (quant/asmgen/attn.go).
const attnMR = 6

// attnNR is the column block of mulBlock's SIMD kernels: AVX2 keeps two
// ymm registers per row, NEON four q registers.
const attnNR = 16

// AttentionBuf is the scratch memory of Attention: the head's keys
// transposed and one block of scores. The zero value is ready to use; it
// grows to the largest head seen and is then reused, so steady-state calls
// allocate nothing. A buffer must not be shared by concurrent calls.
type AttentionBuf struct {
	kt []float32 // [d][np]: K^T, columns n..np-1 zero
	s  []float32 // [attnMR][np]: scores, then probabilities
}

// Attention computes one head of scaled dot-product attention over n
// tokens: row i of q, k and v starts at i*ld (d values each), row i of out
// at i*ldo. With every sum running in the order written, from +0, and
// each step a fused multiply-add (one rounding, fma32):
//
//	s[i][j]   = (sum over e < d of q[i][e] * k[j][e]) * scale
//	p[i]      = Softmax(s[i][0:n])
//	out[i][e] = sum over j < n of p[i][j] * v[j][e]
//
// Every tier gives these bits (the SIMD tiers when d is a multiple of 16
// for the second product; the first is always vectorised across keys). The
// sums over e differ from Dot's 16-lane order: this order lets one vector
// register hold 8 (AVX2) or 4 (NEON) keys' scores without a horizontal
// reduction. It panics if a slice is too short for n rows, which is a
// programming error.
func Attention(out []float32, ldo int, q, k, v []float32, ld, n, d int, scale float32, buf *AttentionBuf) {
	AttentionRows(out, ldo, q, k, v, ld, n, d, 0, n, scale, buf)
}

// AttentionRows is Attention for the query rows [lo, hi) only: it writes
// rows lo..hi-1 of out, each with the bits Attention gives it, and leaves
// the others alone. Splitting a long head's rows over several calls lets a
// caller spread them over threads and stop between calls; each call
// transposes the keys again, O(n*d) beside the O((hi-lo)*n*d) of its rows.
// It panics unless 0 <= lo <= hi <= n.
func AttentionRows(out []float32, ldo int, q, k, v []float32, ld, n, d, lo, hi int, scale float32, buf *AttentionBuf) {
	if n <= 0 || d <= 0 || lo == hi {
		return
	}
	in := (n-1)*ld + d
	if ld < d || ldo < d || len(q) < in || len(k) < in || len(v) < in || len(out) < (n-1)*ldo+d || lo < 0 || lo > hi || hi > n {
		panic(fmt.Sprintf("quant: Attention: %d rows of %d with strides %d/%d need %d/%d values, have q %d k %d v %d out %d; rows [%d, %d)",
			n, d, ld, ldo, in, (n-1)*ldo+d, len(q), len(k), len(v), len(out), lo, hi))
	}
	np := RoundUp(n, attnNR)
	buf.kt = growF32(buf.kt, d*np)
	buf.s = growF32(buf.s, attnMR*np)
	kt, s := buf.kt, buf.s
	transposeKeys(kt, np, k, ld, n, d)
	for i0 := lo; i0 < hi; i0 += attnMR {
		rows := min(attnMR, hi-i0)
		mulBlock(s, np, q[i0*ld:], ld, kt, np, rows, d, np, scale)
		softmaxRows(s, np, rows, n)
		mulBlock(out[i0*ldo:], ldo, s, np, v, ld, rows, n, d, 1)
	}
}

// AttentionScratch returns the bytes an AttentionBuf grows to for a head
// of n tokens of d values, so callers can bound their memory before they
// run one.
func AttentionScratch(n, d int) int {
	np := RoundUp(n, attnNR)
	return 4 * (d + attnMR) * np
}

// Reserve grows b now for a head of n tokens of d values, so that calls
// up to that size allocate nothing and a series of growing heads leaves no
// smaller buffers behind.
func (b *AttentionBuf) Reserve(n, d int) {
	np := RoundUp(n, attnNR)
	b.kt = growF32(b.kt, d*np)
	b.s = growF32(b.s, attnMR*np)
}

// softmaxRows applies Softmax to rows rows of n values at stride ld: on
// AVX-512 in one call whose passes overlap across rows (the same bits).
func softmaxRows(s []float32, ld, rows, n int) {
	if activeTier.Load().avx512 && n > 0 {
		_ = s[(rows-1)*ld+n-1]
		var tmp [8]float32
		softmaxRowsAVX512(&s[0], uintptr(4*ld), rows, n, &tmp)
		return
	}
	for r := range rows {
		Softmax(s[r*ld : r*ld+n])
	}
}

// growF32 returns s resized to n, reusing its array when large enough.
func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// mulBlock computes, for r < rows (1..attnMR) and c < cols,
//
//	s = 0; for t < k { s = fma32(a[r*lda+t], b[t*ldb+c], s) }
//	dst[r*ldd+c] = s * scale
//
// with the SIMD kernels when cols is a multiple of attnNR. The caller
// guarantees the slices are long enough.
func mulBlock(dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, rows, k, cols int, scale float32) {
	if rows < 1 || rows > attnMR || cols <= 0 {
		return
	}
	_ = dst[(rows-1)*ldd+cols-1]
	if k > 0 && cols%attnNR == 0 && activeTier.Load().rows {
		_ = a[(rows-1)*lda+k-1]
		_ = b[(k-1)*ldb+cols-1]
		mulBlockSIMD(&dst[0], ldd, &a[0], lda, &b[0], ldb, rows, k, cols/attnNR, scale)
		return
	}
	mulBlockGo(dst, ldd, a, lda, b, ldb, rows, k, cols, scale)
}

// mulBlockGo is mulBlock in Go, the reference. Looping t outside c keeps
// each output's sum in the reference order while streaming rows of b. The
// SIMD tiers fuse each step in one instruction, at twice the rate of a
// separate multiply and add; fma32 gives Go the same bits.
func mulBlockGo(dst []float32, ldd int, a []float32, lda int, b []float32, ldb int, rows, k, cols int, scale float32) {
	for r := range rows {
		dr := dst[r*ldd : r*ldd+cols]
		clear(dr)
		for t, at := range a[r*lda : r*lda+k] {
			bt := b[t*ldb : t*ldb+cols]
			fmaRow(dr, at, bt)
		}
		for c := range dr {
			dr[c] *= scale
		}
	}
}

// fmaRow sets dst[c] = fma32(a, b[c], dst[c]) for c < len(dst), with
// fma32's common case inline. a is converted once, outside the loop: an
// x86 float32-to-float64 conversion writes only part of its register, and
// redone each time it would chain every iteration to the one before.
func fmaRow(dst []float32, a float32, b []float32) {
	b = b[:len(dst)]
	a64 := float64(a)
	for c := range b {
		s := a64*float64(b[c]) + float64(dst[c])
		if fma32Midpoint(s) {
			dst[c] = fma32Odd(a, b[c], dst[c])
			continue
		}
		dst[c] = float32(s)
	}
}

// transposeKeys writes kt[e*np+j] = k[j*ld+e] for j < n, e < d, and zeros
// for n <= j < np. On the AVX2 tier, 8x8 blocks move through registers
// (transposeAVX2) when d is a multiple of 8; Go does the rest. It only
// moves values, so every path gives the same bits.
func transposeKeys(kt []float32, np int, k []float32, ld, n, d int) {
	done := 0
	if n >= 8 && d%8 == 0 && useF32SIMD() {
		done = n &^ 7
		_ = kt[(d-1)*np+done-1]
		_ = k[(done-1)*ld+d-1]
		transposeAVX2(&kt[0], uintptr(np*4), &k[0], uintptr(ld*4), done/8, d/8)
	}
	for j := done; j < n; j++ {
		for e, x := range k[j*ld : j*ld+d] {
			kt[e*np+j] = x
		}
	}
	for e := range d {
		clear(kt[e*np+n : (e+1)*np])
	}
}
