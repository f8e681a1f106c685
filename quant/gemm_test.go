package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// forEachTier runs f once per tier this host supports, restoring the
// active tier afterwards.
func forEachTier(t *testing.T, f func(t *testing.T)) {
	old := KernelName()
	defer func() { require.NoError(t, SetKernel(old)) }()
	for _, name := range Kernels() {
		require.NoError(t, SetKernel(name))
		t.Run(name, f)
	}
}

// randGEMMInputs builds 8-bit activations and packed weights with values
// across the whole int8 range [-127, 127], including zero rows and extreme
// rows.
func randGEMMInputs(rng *rand.Rand, m, n, k int) (*Acts, *PackedWeights, []float32) {
	return randGEMMInputsBits(rng, m, n, k, 8)
}

// randGEMMInputsBits is randGEMMInputs with activations of the given
// precision (Acts.Bits): extreme rows reach +-127 or +-63.
func randGEMMInputsBits(rng *rand.Rand, m, n, k, bits int) (*Acts, *PackedWeights, []float32) {
	x := make([]float32, m*k)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	if m > 2 {
		clear(x[k : 2*k]) // a zero row: scale 0
		for j := range k {
			x[2*k+j] = float32(1 - 2*float64(j%2)) // all +-max: codes +-127 (+-63)
		}
	}
	a := Acts{Bits: bits}
	QuantizeRows(&a, x, m, k)
	wf := make([]float32, n*k)
	for i := range wf {
		wf[i] = float32(rng.NormFloat64()) * 0.05
	}
	if n > 1 {
		for j := range k {
			wf[k+j] = -1 // a column of -127 codes: extreme sums
		}
	}
	w, err := QuantizePack(wf, n, k)
	if err != nil {
		panic(err)
	}
	bias := make([]float32, n)
	for i := range bias {
		bias[i] = float32(rng.NormFloat64())
	}
	return &a, &w, bias
}

// gemmSizes are awkward M, N, K values: tails of every panel, tile and
// chunk size.
var gemmSizes = []int{1, 2, 3, 4, 5, 13, 15, 16, 17, 31, 33, 47, 48, 49, 64, 127, 129}

func bitsEqual(t *testing.T, want, got []float32, msg string) {
	t.Helper()
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("%s: element %d: want %v (%08x), got %v (%08x)", msg, i, want[i], math.Float32bits(want[i]), got[i], math.Float32bits(got[i]))
		}
	}
}

// TestGEMMBitIdentical compares every tier, serial and threaded, with and
// without bias and residual, for 8- and 7-bit activations, against the
// reference gemmGeneric bit for bit.
func TestGEMMBitIdentical(t *testing.T) {
	for _, bits := range []int{8, 7} {
		t.Run(fmt.Sprintf("bits%d", bits), func(t *testing.T) { testGEMMBitIdentical(t, bits) })
	}
}

func testGEMMBitIdentical(t *testing.T, bits int) {
	pool := NewPool(3)
	defer pool.Close()
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, uint64(bits)))
		type shape struct{ m, n, k int }
		var shapes []shape
		for i, m := range gemmSizes {
			n := gemmSizes[(i*7+3)%len(gemmSizes)]
			k := gemmSizes[(i*5+1)%len(gemmSizes)]
			shapes = append(shapes, shape{m, n, k}, shape{k, m, n}, shape{n, k, m})
		}
		shapes = append(shapes, shape{0, 16, 16}, shape{128, 772, 772}, shape{200, 100, 3072 + 4})
		for _, s := range shapes {
			a, w, bias := randGEMMInputsBits(rng, s.m, s.n, s.k, bits)
			for _, withBias := range []bool{false, true} {
				b := bias
				if !withBias {
					b = nil
				}
				want := make([]float32, s.m*s.n)
				gemmGeneric(want, a, w, b)
				name := fmt.Sprintf("%dx%dx%d bias=%v", s.m, s.n, s.k, withBias)
				// One guard value past dst proves nothing writes beyond M*N.
				got := make([]float32, s.m*s.n+1)
				got[s.m*s.n] = 42
				GEMM(got[:s.m*s.n], a, w, b)
				bitsEqual(t, want, got, name)
				require.Equal(t, float32(42), got[s.m*s.n], "%s: wrote past dst", name)
				clear(got)
				pool.GEMM(got[:s.m*s.n], a, w, b)
				bitsEqual(t, want, got, name+" pool")

				res := make([]float32, s.m*s.n)
				for i := range res {
					res[i] = float32(rng.NormFloat64())
				}
				wantRes := make([]float32, len(res))
				for i := range res {
					wantRes[i] = res[i] + want[i]
				}
				pool.GEMMResidual(res, a, w, b)
				bitsEqual(t, wantRes, res, name+" residual")
			}
		}
	})
}

// TestGEMMNegativeZero checks that a nil bias leaves -0 products as -0 (an
// added zero bias would turn them into +0) on every tier.
func TestGEMMNegativeZero(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		m, n, k := 3, 20, 8
		a := &Acts{}
		a.Reset(m, k)
		for i := range a.Scales {
			a.Scales[i] = -1
		}
		w, err := QuantizePack(make([]float32, n*k), n, k)
		require.NoError(t, err)
		for i := range w.Scales {
			w.Scales[i] = 1
		}
		dst := make([]float32, m*n)
		GEMM(dst, a, &w, nil)
		for i, v := range dst {
			require.Equal(t, uint32(0x80000000), math.Float32bits(v), "element %d", i)
		}
	})
}

func TestGEMMShapePanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, w, _ := randGEMMInputs(rng, 4, 16, 8)
	require.Panics(t, func() { GEMM(make([]float32, 4*16-1), a, w, nil) })
	require.Panics(t, func() { GEMM(make([]float32, 4*16), a, w, make([]float32, 15)) })
	short := *w
	short.Data = short.Data[:len(short.Data)-1]
	require.Panics(t, func() { GEMM(make([]float32, 4*16), a, &short, nil) })
}

// TestGEMMAllocs: steady-state GEMMs (serial and threaded) allocate nothing.
func TestGEMMAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a, w, bias := randGEMMInputs(rng, 64, 384, 384)
	dst := make([]float32, 64*384)
	pool := NewPool(2)
	defer pool.Close()
	forEachTier(t, func(t *testing.T) {
		pool.GEMM(dst, a, w, bias)
		require.Zero(t, testing.AllocsPerRun(20, func() { pool.GEMM(dst, a, w, bias) }))
		require.Zero(t, testing.AllocsPerRun(20, func() { GEMMResidual(dst, a, w, bias) }))
	})
}

func TestKargsLayout(t *testing.T) {
	var k kargs
	offs := []uintptr{unsafe.Offsetof(k.a), unsafe.Offsetof(k.lda), unsafe.Offsetof(k.w), unsafe.Offsetof(k.ldw),
		unsafe.Offsetof(k.ksteps), unsafe.Offsetof(k.dst), unsafe.Offsetof(k.ldd), unsafe.Offsetof(k.as),
		unsafe.Offsetof(k.ws), unsafe.Offsetof(k.cs), unsafe.Offsetof(k.bias), unsafe.Offsetof(k.flags), unsafe.Offsetof(k.raw), unsafe.Offsetof(k.pf)}
	for i, o := range offs {
		require.Equal(t, uintptr(8*i), o, "field %d", i)
	}
}

func TestSetKernel(t *testing.T) {
	old := KernelName()
	defer func() { require.NoError(t, SetKernel(old)) }()
	require.ErrorIs(t, SetKernel("bogus"), ErrKernel)
	require.Equal(t, old, KernelName())
	names := Kernels()
	require.Equal(t, KernelGeneric, names[len(names)-1])
	require.NoError(t, SetKernel(KernelGeneric))
	require.Equal(t, KernelGeneric, KernelName())
	require.NoError(t, KernelError(), "LEPTON_KERNEL=%q", os.Getenv("LEPTON_KERNEL"))
	require.ErrorIs(t, kernelFromEnv("avx9"), ErrKernel)
	require.NoError(t, kernelFromEnv(""))
	for _, n := range names {
		require.NoError(t, kernelFromEnv(n))
		require.Equal(t, n, KernelName())
	}
}

func TestPoolFor(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	for _, n := range []int{0, 1, 2, 3, 100} {
		hits := make([]int32, n)
		p.For(n, func(i int) { hits[i]++ })
		for i, h := range hits {
			require.Equal(t, int32(1), h, "n=%d i=%d", n, i)
		}
	}
}

// TestGEMMConcurrent: GEMMs from several goroutines share one pool (as
// concurrent inferences on one model do) and still give the reference bits.
func TestGEMMConcurrent(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	rng := rand.New(rand.NewPCG(9, 10))
	a, w, bias := randGEMMInputs(rng, 100, 200, 300)
	want := make([]float32, 100*200)
	gemmGeneric(want, a, w, bias)
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			dst := make([]float32, len(want))
			for range 5 {
				clear(dst)
				pool.GEMM(dst, a, w, bias)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(dst[i]) {
						errs <- fmt.Errorf("element %d: want %v got %v", i, want[i], dst[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}

// TestPoolAfterClose: a closed pool still computes, on the caller alone.
func TestPoolAfterClose(t *testing.T) {
	p := NewPool(2)
	p.Close()
	p.Close()
	rng := rand.New(rand.NewPCG(13, 14))
	a, w, bias := randGEMMInputs(rng, 64, 96, 200)
	want := make([]float32, 64*96)
	gemmGeneric(want, a, w, bias)
	got := make([]float32, len(want))
	p.GEMM(got, a, w, bias)
	bitsEqual(t, want, got, "closed pool")
	n := 0
	p.For(5, func(int) { n++ })
	require.Equal(t, 5, n)
}
