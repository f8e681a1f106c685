package quant

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttentionRows: a head's query rows split over several AttentionRows
// calls, at block edges or not, give Attention's bits on every tier, and
// rows outside [lo, hi) are left alone.
func TestAttentionRows(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		var whole, part AttentionBuf
		rng := rand.New(rand.NewPCG(71, 72))
		for _, d := range []int{1, 4, 16, 24} {
			for _, n := range []int{1, 5, 6, 7, 13, 31, 64, 129} {
				q, k, v, ld := attnInputs(rng, n, d, false)
				scale := 1 / float32(d)
				want := make([]float32, n*d)
				Attention(want, d, q, k, v, ld, n, d, scale, &whole)
				for _, step := range []int{1, 5, 6, 12, 64} {
					got := make([]float32, n*d)
					for lo := 0; lo < n; lo += step {
						AttentionRows(got, d, q, k, v, ld, n, d, lo, min(lo+step, n), scale, &part)
					}
					sameBits(t, want, got, fmt.Sprintf("d=%d n=%d step=%d", d, n, step))
				}
				if n > 2 {
					got := make([]float32, n*d)
					for i := range got {
						got[i] = -7
					}
					AttentionRows(got, d, q, k, v, ld, n, d, 1, 2, scale, &part)
					sameBits(t, want[d:2*d], got[d:2*d], "one row")
					require.Equal(t, float32(-7), got[0])
					require.Equal(t, float32(-7), got[2*d])
				}
			}
		}
	})
	var buf AttentionBuf
	require.Panics(t, func() {
		AttentionRows(make([]float32, 8), 4, make([]float32, 8), make([]float32, 8), make([]float32, 8), 4, 2, 4, 1, 3, 1, &buf)
	})
	require.Panics(t, func() {
		AttentionRows(make([]float32, 8), 4, make([]float32, 8), make([]float32, 8), make([]float32, 8), 4, 2, 4, 2, 1, 1, &buf)
	})
}

// TestAttentionScratch: AttentionScratch is what an AttentionBuf holds
// after a head of that shape.
func TestAttentionScratch(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for _, d := range []int{1, 4, 64} {
		for _, n := range []int{1, 16, 17, 512} {
			var buf AttentionBuf
			q, k, v, ld := attnInputs(rng, n, d, false)
			Attention(make([]float32, n*d), d, q, k, v, ld, n, d, 1, &buf)
			require.Equal(t, AttentionScratch(n, d), 4*(cap(buf.kt)+cap(buf.s)), "n=%d d=%d", n, d)
			var reserved AttentionBuf
			reserved.Reserve(n, d)
			require.Equal(t, AttentionScratch(n, d), 4*(cap(reserved.kt)+cap(reserved.s)))
			out := make([]float32, n*d)
			require.Zero(t, testing.AllocsPerRun(2, func() { Attention(out, d, q, k, v, ld, n, d, 1, &reserved) }))
		}
	}
}

// TestPoolThreadsCapped is the quant half of issue 13's finding 6:
// NewPool(100000) started 99,999 goroutines. Pools are capped at
// MaxThreads.
func TestPoolThreadsCapped(t *testing.T) {
	before := runtime.NumGoroutine()
	p := NewPool(100_000)
	defer p.Close()
	require.Equal(t, MaxThreads, p.Threads())
	require.Less(t, runtime.NumGoroutine()-before, MaxThreads+8)
	p.SetThreads(1 << 30)
	require.Equal(t, MaxThreads, p.Threads())
	p.SetThreads(3)
	require.Equal(t, 3, p.Threads())
}
