package bert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/quant"
)

// allocated returns the bytes f allocates on the heap (Go's TotalAlloc
// counter: every allocation, whether or not it is still live). The counter
// is process-wide and the runtime now and then allocates a few KiB in the
// background, so it runs f three times and keeps the least.
func allocated(f func()) int64 {
	least := int64(math.MaxInt64)
	for range 3 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, int64(after.TotalAlloc-before.TotalAlloc))
	}
	return least
}

// TestScratchBoundHolds: Model.Scratch is an upper bound on what Forward
// and Logits allocate on a fresh workspace, and not a loose one, for
// awkward shapes, batch mixes, thread counts and blocked work (a head
// split into query blocks).
func TestScratchBoundHolds(t *testing.T) {
	defer func(old int) { attnBlockMACs = old }(attnBlockMACs)
	for _, tc := range []struct {
		name    string
		cfg     func(c *Config)
		lens    []int
		threads int
		attnMAC int
	}{
		{"small", func(c *Config) {}, []int{1, 2, 5, 16, 17, 40}, 1, 1 << 25},
		{"one token", func(c *Config) {}, []int{1}, 1, 1 << 25},
		{"wide FFN", func(c *Config) { c.Hidden, c.Heads, c.Intermediate = 4, 1, 3000 }, []int{40, 3}, 2, 1 << 25},
		{"odd sizes", func(c *Config) { c.Hidden, c.Heads, c.Intermediate = 18, 3, 23 }, []int{7, 13, 40}, 3, 1 << 25},
		{"blocked heads", func(c *Config) { c.MaxPositions = 300 }, []int{300, 299, 9}, 4, 1 << 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attnBlockMACs = tc.attnMAC
			cfg := smallConfig()
			tc.cfg(&cfg)
			m := randomModel(t, cfg, 3, 21)
			seqs := randomSeqs(cfg, tc.lens, 22)
			pool := quant.NewPool(tc.threads)
			defer pool.Close()
			// Warm the pool (its jobs are allocated once per pool).
			require.NoError(t, m.Forward(context.Background(), &Workspace{Pool: pool}, seqs))
			tokens, longest := 0, 0
			for _, s := range seqs {
				tokens += len(s.IDs)
				longest = max(longest, len(s.IDs))
			}
			bound := m.Scratch(Batch{Tokens: tokens, Seqs: len(seqs), Longest: longest, Threads: tc.threads})
			var ws *Workspace
			got := allocated(func() {
				ws = &Workspace{Pool: pool}
				if err := m.Forward(context.Background(), ws, seqs); err != nil {
					t.Error(err)
				}
				if _, err := m.Logits(ws); err != nil {
					t.Error(err)
				}
			})
			t.Logf("%s: allocated %d bytes, bound %d (%.0f%%)", tc.name, got, bound, 100*float64(got)/float64(bound))
			require.LessOrEqual(t, got, bound)
			require.GreaterOrEqual(t, got, bound/2, "the bound is not loose")
			// The workspace keeps its buffers: the same batch again
			// allocates nothing more.
			again := allocated(func() {
				if err := m.Forward(context.Background(), ws, seqs); err != nil {
					t.Error(err)
				}
			})
			if tc.threads == 1 { // helpers allocate their own scratch when they first run
				require.Less(t, again, int64(1024))
			}
		})
	}
}

// TestScratchRefusedBeforeAllocating: a batch whose scratch exceeds
// Workspace.MaxScratch is refused with a ScratchError naming the figures,
// before its buffers are allocated; one that fits runs.
func TestScratchRefusedBeforeAllocating(t *testing.T) {
	cfg := smallConfig()
	cfg.Hidden, cfg.Heads, cfg.Intermediate = 4, 1, 60000
	m := randomModel(t, cfg, 0, 23)
	seqs := randomSeqs(cfg, []int{40, 40}, 24)
	need := m.Scratch(Batch{Tokens: 80, Seqs: 2, Longest: 40, Threads: 1})
	require.Greater(t, need, int64(80*60000*5))
	ws := &Workspace{Pool: serial, MaxScratch: need - 1}
	var err error
	got := allocated(func() { err = m.Forward(context.Background(), ws, seqs) })
	require.ErrorIs(t, err, ErrScratch)
	var se *ScratchError
	require.True(t, errors.As(err, &se))
	require.Equal(t, need, se.Need)
	require.Contains(t, err.Error(), "80 tokens")
	require.Contains(t, err.Error(), FormatBytes(need))
	require.Less(t, got, need/100, "nothing of the batch's size was allocated")
	ws.MaxScratch = need
	require.NoError(t, m.Forward(context.Background(), ws, seqs))
}

// TestBlocksSameBits: splitting GEMMs, row steps and attention heads into
// the smallest blocks gives the same bits as running them whole, on one
// thread and on several.
func TestBlocksSameBits(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 25)
	seqs := randomSeqs(cfg, []int{1, 7, 40, 33, 2}, 26)
	run := func(pool *quant.Pool) ([]float32, []float32) {
		ws := &Workspace{Pool: pool}
		require.NoError(t, m.Forward(context.Background(), ws, seqs))
		logits, err := m.Logits(ws)
		require.NoError(t, err)
		return append([]float32(nil), ws.x...), append([]float32(nil), logits...)
	}
	wantX, wantL := run(serial)
	defer func(g, r, a, e int) { gemmBlockMACs, rowBlockValues, attnBlockMACs, embedBlockValues = g, r, a, e }(
		gemmBlockMACs, rowBlockValues, attnBlockMACs, embedBlockValues)
	gemmBlockMACs, rowBlockValues, attnBlockMACs, embedBlockValues = 1, 1, 1, 1
	for _, threads := range []int{1, 3} {
		pool := quant.NewPool(threads)
		gotX, gotL := run(pool)
		pool.Close()
		require.Equal(t, wantX, gotX, "threads %d", threads)
		require.Equal(t, wantL, gotL, "threads %d", threads)
	}
	// The blocks really are small: one 40-token sequence's head makes 5
	// items of 8 query rows.
	require.Equal(t, 4*5, attnItems(40, cfg.Heads, cfg.Hidden/cfg.Heads))
}

// TestReferenceCancelMidway: the float reference path looks at its context
// inside each layer, not only between layers.
func TestReferenceCancelMidway(t *testing.T) {
	cfg := smallConfig()
	cfg.Layers = 1
	m := randomModel(t, cfg, 3, 27)
	s := randomSeqs(cfg, []int{40}, 28)[0]
	probe := &countdownCtx{Context: context.Background(), n: 1 << 30}
	_, err := m.Reference(probe, s)
	require.NoError(t, err)
	checks := 1<<30 - probe.n
	require.Greater(t, checks, 4*40, "a check per row of each product and per attention row")
	for _, k := range []int{0, 1, 40, 100, checks / 2, checks - 1} {
		_, err := m.Reference(&countdownCtx{Context: context.Background(), n: k}, s)
		require.ErrorIs(t, err, context.Canceled, fmt.Sprint("after ", k))
	}
}

// TestReferenceScratchBound: ReferenceScratch bounds what Reference
// allocates (float weights present).
func TestReferenceScratchBound(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 29)
	for _, n := range []int{1, 17, 40} {
		s := randomSeqs(cfg, []int{n}, 30)[0]
		got := allocated(func() {
			if _, err := m.Reference(context.Background(), s); err != nil {
				t.Error(err)
			}
		})
		bound := m.ReferenceScratch(n) * int64(cfg.Layers)
		t.Logf("n=%d: allocated %d, per-layer bound %d x %d layers", n, got, m.ReferenceScratch(n), cfg.Layers)
		require.LessOrEqual(t, got, bound)
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB (1024 bytes)"}, {1 << 30, "1 GiB (1073741824 bytes)"},
		{1342177280, "1.25 GiB (1342177280 bytes)"}, {21_474_836_480, "20 GiB (21474836480 bytes)"},
	} {
		require.Equal(t, tc.want, FormatBytes(tc.n))
	}
}
