package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// attnLens and attnHeads cross the SIMD blocks of Attention: query rows
// in blocks of 6 (4 on NEON), keys padded to 16 and transposed in 8x8
// blocks, head sizes on (16, 32, 48, 64) and off (8, 24, 40) the 16-column
// kernels and off the 8x8 transpose (12).
var (
	attnLens  = []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 127, 128, 129}
	attnHeads = []int{8, 12, 16, 24, 32, 40, 48, 64}
)

// attentionDef is Attention's definition, written out loop by loop (fma32
// is checked against math/big in TestFMA32).
func attentionDef(out []float32, ldo int, q, k, v []float32, ld, n, d int, scale float32) {
	s := make([]float32, n)
	for i := range n {
		for j := range n {
			var acc float32
			for e := range d {
				acc = fma32(q[i*ld+e], k[j*ld+e], acc)
			}
			s[j] = acc * scale
		}
		Softmax(s)
		for e := range d {
			var acc float32
			for j := range n {
				acc = fma32(s[j], v[j*ld+e], acc)
			}
			out[i*ldo+e] = acc
		}
	}
}

// attnInputs returns q, k, v interleaved like the forward pass's qkv rows
// (stride 3*d+5, so rows are not contiguous) and the stride.
func attnInputs(rng *rand.Rand, n, d int, special bool) (q, k, v []float32, ld int) {
	ld = 3*d + 5
	qkv := f32Inputs(rng, n*ld, special)
	return qkv, qkv[d:], qkv[2*d:], ld
}

// TestAttention: on every tier Attention equals its definition bit for bit,
// for awkward lengths and head sizes, random and hostile inputs, output
// rows wider than the head, and a buffer reused across shapes.
func TestAttention(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		var buf AttentionBuf
		for _, special := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(51, 52))
			for _, d := range attnHeads {
				for _, n := range attnLens {
					q, k, v, ld := attnInputs(rng, n, d, special)
					ldo := d + 3
					want := f32Inputs(rng, n*ldo, false)
					got := append([]float32(nil), want...)
					scale := 1 / float32(d)
					attentionDef(want, ldo, q, k, v, ld, n, d, scale)
					Attention(got, ldo, q, k, v, ld, n, d, scale, &buf)
					sameBits(t, want, got, fmt.Sprintf("d=%d n=%d special=%v", d, n, special))
				}
			}
		}
	})
}

// TestAttentionEdges: empty inputs do nothing, short slices panic (a
// programming error), and steady-state calls do not allocate.
func TestAttentionEdges(t *testing.T) {
	var buf AttentionBuf
	Attention(nil, 0, nil, nil, nil, 0, 0, 32, 1, &buf)
	Attention(nil, 0, nil, nil, nil, 0, 5, 0, 1, &buf)
	require.Panics(t, func() {
		Attention(make([]float32, 8), 4, make([]float32, 7), make([]float32, 8), make([]float32, 8), 4, 2, 4, 1, &buf)
	})
	require.Panics(t, func() {
		Attention(make([]float32, 7), 4, make([]float32, 8), make([]float32, 8), make([]float32, 8), 4, 2, 4, 1, &buf)
	})
	require.Panics(t, func() {
		Attention(make([]float32, 8), 4, make([]float32, 8), make([]float32, 8), make([]float32, 8), 3, 2, 4, 1, &buf)
	})
	rng := rand.New(rand.NewPCG(53, 54))
	q, k, v, ld := attnInputs(rng, 128, 32, false)
	out := make([]float32, 128*32)
	Attention(out, 32, q, k, v, ld, 128, 32, 0.125, &buf)
	require.Zero(t, testing.AllocsPerRun(5, func() { Attention(out, 32, q, k, v, ld, 128, 32, 0.125, &buf) }))
}

// TestMulBlock: mulBlock equals its definition on every tier, for every row
// count, column counts on and off the 16-column blocks, k = 0 and strides
// wider than the rows.
func TestMulBlock(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(55, 56))
		for rows := 1; rows <= attnMR; rows++ {
			for _, k := range []int{0, 1, 2, 7, 32, 129} {
				for _, cols := range []int{1, 15, 16, 17, 32, 48, 64, 144} {
					lda, ldb, ldd := k+3, cols+5, cols+1
					a := f32Inputs(rng, rows*lda, true)
					b := f32Inputs(rng, max(k, 1)*ldb, true)
					want := f32Inputs(rng, rows*ldd, false)
					got := append([]float32(nil), want...)
					for r := range rows {
						for c := range cols {
							var s float32
							for t := range k {
								s = fma32(a[r*lda+t], b[t*ldb+c], s)
							}
							want[r*ldd+c] = s * 0.3
						}
					}
					mulBlock(got, ldd, a, lda, b, ldb, rows, k, cols, 0.3)
					sameBits(t, want, got, fmt.Sprintf("rows=%d k=%d cols=%d", rows, k, cols))
				}
			}
		}
	})
}

// BenchmarkAttention times one head at MiniLM's (32) and BERT-base's (64)
// head sizes over 16 and 128 tokens, per tier. GFLOPS counts the two
// products, 4*n*n*d.
func BenchmarkAttention(b *testing.B) {
	old := KernelName()
	defer SetKernel(old)
	for _, tier := range Kernels() {
		for _, d := range []int{32, 64} {
			for _, n := range []int{16, 128} {
				b.Run(fmt.Sprintf("%s/d%d/n%d", tier, d, n), func(b *testing.B) {
					if err := SetKernel(tier); err != nil {
						b.Fatal(err)
					}
					rng := rand.New(rand.NewPCG(57, 58))
					ld := 36 * d // one head of a [n][3*12*d] qkv buffer
					qkv := f32Inputs(rng, n*ld, false)
					q, k, v := qkv, qkv[12*d:], qkv[24*d:]
					out := make([]float32, n*12*d)
					var buf AttentionBuf
					for b.Loop() {
						Attention(out, 12*d, q, k, v, ld, n, d, 0.125, &buf)
					}
					b.ReportMetric(4*float64(n*n*d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
				})
			}
		}
	}
}

// BenchmarkMulBlock times Attention's block product alone on each tier for
// full blocks of 6 query rows: scores (k = head size, cols = 128 keys) and
// context (k = 128 keys, cols = head size).
func BenchmarkMulBlock(b *testing.B) {
	old := KernelName()
	defer SetKernel(old)
	rng := rand.New(rand.NewPCG(59, 60))
	for _, tier := range Kernels() {
		for _, sh := range []struct{ k, cols int }{{32, 128}, {64, 128}, {128, 32}, {128, 64}} {
			a := f32Inputs(rng, attnMR*sh.k, false)
			bm := f32Inputs(rng, sh.k*sh.cols, false)
			dst := make([]float32, attnMR*sh.cols)
			b.Run(fmt.Sprintf("%s/k%d/cols%d", tier, sh.k, sh.cols), func(b *testing.B) {
				if err := SetKernel(tier); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					mulBlock(dst, sh.cols, a, sh.k, bm, sh.cols, attnMR, sh.k, sh.cols, 1)
				}
				b.ReportMetric(2*float64(attnMR*sh.k*sh.cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// softmaxDef is Softmax's definition with the maximum taken serially.
func softmaxDef(x []float32) {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var p [Lanes]float32
	for i := range x {
		e := exp32(x[i] - m)
		x[i] = e
		p[i%Lanes] += e
	}
	inv := 1 / sumLanes(&p)
	for i := range x {
		x[i] *= inv
	}
}

// TestSoftmaxMax: Softmax's lane-parallel maximum gives the serial
// definition's bits on every tier, including rows whose maximum is +0 or
// -0 (in either order), +-Inf, and NaN first, last or in the middle.
func TestSoftmaxMax(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(59, 60))
		for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 64, 127, 128, 129} {
			for c := range 9 {
				x := uniform(rng, n, 4)
				for i := range x {
					x[i] = -float32(math.Abs(float64(x[i]))) - 1
				}
				at := rng.IntN(n)
				switch c {
				case 1: // maxima +0 and -0
					x[at], x[rng.IntN(n)] = 0, negZero
				case 2:
					x[at], x[rng.IntN(n)] = negZero, 0
				case 3:
					x[at] = inf
				case 4:
					x[at] = -inf
				case 5:
					for i := range x {
						x[i] = -inf
					}
				case 6:
					x[0] = nan
				case 7:
					x[n-1] = nan
				case 8:
					x[at] = nan
				}
				want := append([]float32(nil), x...)
				softmaxDef(want)
				got := append([]float32(nil), x...)
				Softmax(got)
				sameBits(t, want, got, fmt.Sprintf("n=%d case %d", n, c))
			}
		}
	})
}

// TestTransposeKeys: K^T equals its definition (zero padded) for lengths
// and head sizes on and off the 8x8 blocks, on every tier.
func TestTransposeKeys(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(61, 62))
		for _, d := range []int{1, 7, 8, 12, 16, 24, 64} {
			for _, n := range attnLens {
				ld := d + 9
				k := f32Inputs(rng, n*ld, true)
				np := RoundUp(n, attnNR)
				got := f32Inputs(rng, d*np, false)
				want := make([]float32, d*np)
				for j := range n {
					for e := range d {
						want[e*np+j] = k[j*ld+e]
					}
				}
				transposeKeys(got, np, k, ld, n, d)
				sameBits(t, want, got, fmt.Sprintf("n=%d d=%d", n, d))
			}
		}
	})
}
