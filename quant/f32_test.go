package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// f32Sizes cross every block edge of the SIMD loops (8 and 16) and the
// attention/hidden sizes.
var f32Sizes = []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 383, 384, 385, 768, 1000}

// specialValues are mixed into inputs: signed zeros, infinities, NaN,
// subnormals, and values at the GELU and exp cut-offs.
var specialValues = []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 88, 88.5, -87.3, -87.4, 1e30, -1e30,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 127, -127, 0.5, -0.5}

func f32Inputs(rng *rand.Rand, n int, special bool) []float32 {
	x := uniform(rng, n, 4)
	if special {
		for i := range x {
			if rng.IntN(5) == 0 {
				x[i] = specialValues[rng.IntN(len(specialValues))]
			}
		}
	}
	return x
}

// sameBits treats all NaNs as equal: NaN payloads are not part of the
// contract (x86 and arm64 propagate them differently).
func sameBits(t *testing.T, want, got []float32, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	for i := range want {
		if want[i] != want[i] && got[i] != got[i] {
			continue
		}
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("%s: element %d: want %v (%08x), got %v (%08x)", msg, i, want[i], math.Float32bits(want[i]), got[i], math.Float32bits(got[i]))
		}
	}
}

// runF32 applies every fp32 kernel and QuantizeRows (8 and 7 bits) to
// copies of the inputs and returns all outputs.
func runF32(x, y, g, b []float32) [][]float32 {
	n := len(x)
	out := [][]float32{{Dot(x, y), Sum(x)}}
	ax := append([]float32(nil), y...)
	Axpy(ax, 0.37, x)
	out = append(out, ax)
	ln := make([]float32, n)
	LayerNorm(ln, x, g, b, 1e-5)
	out = append(out, ln)
	ge := append([]float32(nil), x...)
	GELU(ge)
	out = append(out, ge)
	sm := append([]float32(nil), x...)
	Softmax(sm)
	out = append(out, sm)
	for _, bits := range []int{8, 7} {
		a := Acts{Bits: bits}
		QuantizeRows(&a, x, 1, n)
		q := make([]float32, len(a.Data)+1)
		for i, v := range a.Data {
			q[i] = float32(v)
		}
		q[len(a.Data)] = a.Scales[0]
		out = append(out, q)
	}
	return out
}

// TestF32Tiers: every tier's fp32 kernels equal the generic ones bit for
// bit, on random and on hostile inputs.
func TestF32Tiers(t *testing.T) {
	old := KernelName()
	defer func() { require.NoError(t, SetKernel(old)) }()
	names := []string{"dot+sum", "axpy", "layernorm", "gelu", "softmax", "quantize", "quantize 7-bit"}
	for _, special := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, n := range f32Sizes {
			x, y := f32Inputs(rng, n, special), f32Inputs(rng, n, false)
			g, b := f32Inputs(rng, n, false), f32Inputs(rng, n, false)
			require.NoError(t, SetKernel(KernelGeneric))
			want := runF32(x, y, g, b)
			for _, tier := range Kernels() {
				require.NoError(t, SetKernel(tier))
				got := runF32(x, y, g, b)
				for i := range want {
					sameBits(t, want[i], got[i], fmt.Sprintf("%s n=%d special=%v %s", tier, n, special, names[i]))
				}
			}
		}
	}
}

func TestQuantizeRowsSpecial(t *testing.T) {
	nan := float32(math.NaN())
	base := []float32{1, nan, -2, 0.5, 3, -3, 1.5, nan, 2.999, -0.01, 0, 1}
	codes8 := []int8{42, 0, -85, 21, 127, -127, 64, 0, 127, 0, 0, 42}
	codes7 := []int8{21, 0, -42, 10, 63, -63, 32, 0, 63, 0, 0, 21}
	tile := func(n int, v []float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = v[i%len(v)]
		}
		return out
	}
	tileCodes := func(n int, v []int8) []int8 {
		out := make([]int8, n)
		for i := range out {
			out[i] = v[i%len(v)]
		}
		return out
	}
	forEachTier(t, func(t *testing.T) {
		// 12 values, and whole blocks of 16 (the rows AVX-512 quantises in
		// one call) with the same maximum.
		for _, n := range []int{12, 16, 48} {
			x := tile(n, base)
			var a Acts
			QuantizeRows(&a, x, 1, n)
			require.Equal(t, float32(3)/127, a.Scales[0], "n=%d", n)
			require.Equal(t, tileCodes(n, codes8), a.Data[:n], "n=%d", n)
			for _, special := range []float32{float32(math.Inf(-1)), float32(math.Inf(1))} {
				inf := append([]float32(nil), x...)
				inf[n-2] = special
				QuantizeRows(&a, inf, 1, n)
				require.Zero(t, a.Scales[0], "n=%d %v", n, special)
				require.Equal(t, make([]int8, RoundUp(n, KR)), a.Data, "n=%d %v", n, special)
			}
			zeros := make([]float32, n)
			zeros[n/2] = nan
			QuantizeRows(&a, zeros, 1, n)
			require.Zero(t, a.Scales[0], "n=%d zeros", n)
			require.Equal(t, make([]int8, RoundUp(n, KR)), a.Data, "n=%d zeros", n)

			// 7 bits: scale max/63, codes x*63/3 rounded half to even.
			a7 := Acts{Bits: 7}
			QuantizeRows(&a7, x, 1, n)
			require.Equal(t, float32(3)/63, a7.Scales[0], "n=%d", n)
			require.Equal(t, tileCodes(n, codes7), a7.Data[:n], "n=%d", n)
			require.Equal(t, 7, a7.Bits, "Reset keeps the precision")
		}
	})
}

// TestActsBadBits: a precision other than 7 or 8 (0 meaning 8) is refused
// before anything is quantised.
func TestActsBadBits(t *testing.T) {
	for _, bits := range []int{-1, 1, 6, 9, 16} {
		a := Acts{Bits: bits}
		require.PanicsWithValue(t, fmt.Sprintf("quant: Acts.Bits %d (want 0, 7 or 8)", bits),
			func() { QuantizeRows(&a, []float32{1, 2}, 1, 2) }, "bits %d", bits)
	}
	for _, bits := range []int{0, 7, 8} {
		a := Acts{Bits: bits}
		require.NotPanics(t, func() { QuantizeRows(&a, []float32{1, 2}, 1, 2) }, "bits %d", bits)
	}
}

// TestQuantizeRows7BitRange: 7-bit codes never leave [-63, 63] (the AVX2
// 7-bit kernel adds 64 and needs an unsigned byte <= 127), for rows whose
// maximum sits anywhere and values at every rounding edge.
func TestQuantizeRows7BitRange(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 7))
		for _, k := range []int{1, 7, 8, 9, 33, 768} {
			x := make([]float32, 4*k)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30)))
			}
			a := Acts{Bits: 7}
			QuantizeRows(&a, x, 4, k)
			for i, c := range a.Data {
				require.True(t, c >= -63 && c <= 63, "k=%d code %d = %d", k, i, c)
			}
		}
	})
}

func BenchmarkF32(b *testing.B) {
	old := KernelName()
	defer SetKernel(old)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tier := range Kernels() {
		for _, n := range []int{64, 768, 3072} {
			x, y := f32Inputs(rng, n, false), f32Inputs(rng, n, false)
			g, bb := f32Inputs(rng, n, false), f32Inputs(rng, n, false)
			buf := make([]float32, n)
			var a Acts
			for _, c := range []struct {
				name string
				f    func()
			}{
				{"dot", func() { Dot(x, y) }},
				{"layernorm", func() { LayerNorm(buf, x, g, bb, 1e-5) }},
				{"gelu", func() { copy(buf, x); GELU(buf) }},
				{"softmax", func() { copy(buf, x); Softmax(buf) }},
				{"quantize", func() { QuantizeRows(&a, x, 1, n) }},
			} {
				b.Run(fmt.Sprintf("%s/%s/n%d", tier, c.name, n), func(b *testing.B) {
					if err := SetKernel(tier); err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						c.f()
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
			}
		}
	}
}

// TestFusedQuantizeRows: the row-fused forms equal the separate passes.
func TestFusedQuantizeRows(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(41, 42))
		for _, k := range []int{1, 5, 16, 33, 384} {
			m := 7
			x := f32Inputs(rng, m*k, false)
			g, b := f32Inputs(rng, k, false), f32Inputs(rng, k, false)

			want := append([]float32(nil), x...)
			for i := 0; i < m; i++ {
				LayerNorm(want[i*k:(i+1)*k], want[i*k:(i+1)*k], g, b, 1e-12)
			}
			var wa, ga Acts
			QuantizeRows(&wa, want, m, k)
			got := append([]float32(nil), x...)
			LayerNormQuantizeRows(&ga, got, m, k, g, b, 1e-12)
			sameBits(t, want, got, "layernorm")
			require.Equal(t, wa.Data, ga.Data)
			require.Equal(t, wa.Scales, ga.Scales)

			want = append(want[:0], x...)
			GELU(want)
			QuantizeRows(&wa, want, m, k)
			got = append(got[:0], x...)
			GELUQuantizeRows(&ga, got, m, k)
			sameBits(t, want, got, "gelu")
			require.Equal(t, wa.Data, ga.Data)
			require.Equal(t, wa.Scales, ga.Scales)
		}
	})
}
