package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// poolTestTimeout bounds a pool test that would otherwise deadlock: a hang
// must fail the test, not stall CI. It is a liveness guard, not a timing
// assertion: a correct pool finishes these in milliseconds.
const poolTestTimeout = 60 * time.Second

// withinTimeout runs f on its own goroutine and fails the test if f has
// not returned after poolTestTimeout. f reports failures as an error
// (require must not be called off the test goroutine). On timeout the
// goroutine is leaked: there is no way to stop a deadlocked call.
func withinTimeout(t *testing.T, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(poolTestTimeout):
		t.Fatalf("pool call did not return within %v (deadlock)", poolTestTimeout)
	}
}

// nestedForCheck calls For(outer) whose every call runs For(inner) on the
// same pool and checks that each (i, j) ran exactly once.
func nestedForCheck(p *Pool, outer, inner int) error {
	hits := make([]atomic.Int32, outer*inner)
	p.For(outer, func(i int) {
		p.For(inner, func(j int) { hits[i*inner+j].Add(1) })
	})
	for k := range hits {
		if h := hits[k].Load(); h != 1 {
			return fmt.Errorf("outer %d inner %d: (%d,%d) ran %d times", outer, inner, k/inner, k%inner, h)
		}
	}
	return nil
}

// TestPoolNested: For and GEMM called from inside For on the same pool
// finish and compute the same as unnested calls, for every pool size and
// for awkward inner sizes (0, 1, fewer and more chunks than threads). It
// used to deadlock with NewPool(2): the outer job's goroutines each waited
// for helpers that were busy in the outer job.
func TestPoolNested(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	// 40x112x256 is above serialOps and makes 3 chunks, so the inner GEMM
	// really goes through the pool.
	const gm, gn, gk = 40, 112, 256
	require.GreaterOrEqual(t, gm*gn*gk, serialOps)
	a, w, bias := randGEMMInputs(rng, gm, gn, gk)
	want := make([]float32, gm*gn)
	gemmGeneric(want, a, w, bias)

	for _, threads := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("threads%d", threads), func(t *testing.T) {
			p := NewPool(threads)
			defer p.Close()
			t.Run("ForInFor", func(t *testing.T) {
				for _, s := range [][2]int{{2, 0}, {2, 1}, {2, 2}, {3, 5}, {7, 64}, {64, 3}} {
					withinTimeout(t, func() error { return nestedForCheck(p, s[0], s[1]) })
				}
			})
			t.Run("ForInForInFor", func(t *testing.T) {
				withinTimeout(t, func() error {
					var n atomic.Int32
					p.For(4, func(int) {
						p.For(3, func(int) {
							p.For(5, func(int) { n.Add(1) })
						})
					})
					if got := n.Load(); got != 4*3*5 {
						return fmt.Errorf("ran %d innermost calls, want %d", got, 4*3*5)
					}
					return nil
				})
			})
			t.Run("GEMMInFor", func(t *testing.T) {
				const outer = 5
				dst := make([]float32, outer*gm*gn)
				withinTimeout(t, func() error {
					p.For(outer, func(i int) {
						p.GEMM(dst[i*gm*gn:(i+1)*gm*gn], a, w, bias)
					})
					return nil
				})
				for i := range outer {
					bitsEqual(t, want, dst[i*gm*gn:(i+1)*gm*gn], fmt.Sprintf("GEMM %d inside For", i))
				}
			})
			t.Run("ConcurrentNested", func(t *testing.T) {
				// Several goroutines nest on one pool at once, so helpers
				// are offered more jobs than they can take.
				withinTimeout(t, func() error {
					errs := make(chan error, 4)
					var wg sync.WaitGroup
					for range 4 {
						wg.Go(func() { errs <- nestedForCheck(p, 6, 9) })
					}
					wg.Wait()
					close(errs)
					for err := range errs {
						if err != nil {
							return err
						}
					}
					return nil
				})
			})
		})
	}
}

// TestPoolNestedGEMMBits: GEMMs run inside For on a threaded pool give the
// reference bits on every tier and at both activation precisions (the
// helpers' scratch is never shared between a chunk and a GEMM nested in it).
func TestPoolNestedGEMMBits(t *testing.T) {
	const gm, gn, gk = 97, 200, 300 // row and panel tails
	p := NewPool(3)
	defer p.Close()
	for _, bits := range []int{7, 8} {
		rng := rand.New(rand.NewPCG(23, uint64(bits)))
		a, w, bias := randGEMMInputsBits(rng, gm, gn, gk, bits)
		want := make([]float32, gm*gn)
		gemmGeneric(want, a, w, bias)
		t.Run(fmt.Sprintf("bits%d", bits), func(t *testing.T) {
			forEachTier(t, func(t *testing.T) {
				const outer = 4
				dst := make([]float32, outer*gm*gn)
				for i := range dst {
					dst[i] = float32(math.NaN())
				}
				withinTimeout(t, func() error {
					p.For(outer, func(i int) { p.GEMM(dst[i*gm*gn:(i+1)*gm*gn], a, w, bias) })
					return nil
				})
				for i := range outer {
					bitsEqual(t, want, dst[i*gm*gn:(i+1)*gm*gn], fmt.Sprintf("GEMM %d inside For", i))
				}
			})
		})
	}
}

// TestPoolNestedAllocs: a nested For with long-lived func values allocates
// nothing in steady state.
func TestPoolNestedAllocs(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var n atomic.Int64
	inner := func(int) { n.Add(1) }
	outer := func(int) { p.For(8, inner) }
	withinTimeout(t, func() error {
		p.For(8, outer)
		if a := testing.AllocsPerRun(50, func() { p.For(8, outer) }); a != 0 {
			return fmt.Errorf("nested For allocates %v times per call", a)
		}
		// 1 call here, 1 warm-up and 50 measured calls in AllocsPerRun.
		if got, want := n.Load(), int64(8*8*52); got != want {
			return fmt.Errorf("ran %d inner calls, want %d", got, want)
		}
		return nil
	})
}
