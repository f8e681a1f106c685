package quant

import (
	"cmp"
	"fmt"
)

// GEMM computes dst[M][N] = dequant(a x w^T) + bias, where bias may be nil.
// It is the narrow interface the forward pass calls; the kernel tier in use
// decides how it runs, and every tier gives the same bits as gemmGeneric.
// It runs on the default pool (see SetThreads). Inconsistent shapes panic,
// as they are programming errors, never data errors.
func GEMM(dst []float32, a *Acts, w *PackedWeights, bias []float32) {
	defaultPool.gemm(dst, a, w, bias, 0)
}

// GEMMResidual is GEMM with the residual connection fused into the
// epilogue: dst[m][n] += dequant(a x w^T)[m][n] + bias[n], i.e. per element
//
//	v := float32(float32(acc) * (aScale[m] * wScale[n])) + bias[n]
//	dst[m][n] = dst[m][n] + v
func GEMMResidual(dst []float32, a *Acts, w *PackedWeights, bias []float32) {
	defaultPool.gemm(dst, a, w, bias, flagResidual)
}

// GEMM is the package-level GEMM on this pool's threads.
func (p *Pool) GEMM(dst []float32, a *Acts, w *PackedWeights, bias []float32) {
	p.gemm(dst, a, w, bias, 0)
}

// GEMMResidual is the package-level GEMMResidual on this pool's threads.
func (p *Pool) GEMMResidual(dst []float32, a *Acts, w *PackedWeights, bias []float32) {
	p.gemm(dst, a, w, bias, flagResidual)
}

// Work decomposition: a chunk is a group of column panels times a block of
// rows, tier.chunkPanels x tier.chunkRows (defaults below when 0). With the
// defaults, 3 panels of weights (48 KiB at K=768) stay in L1/L2 while up to
// 96 rows of activations (96 KiB at K=768) stream past them from L2.
const (
	panelsPerChunk = 3
	rowsPerChunk   = 96
	// serialOps is the work (M*N*K) below which splitting is not worth a
	// wake-up of the helpers.
	serialOps = 1 << 20
)

// gemmCall is one GEMM in flight, shared by the goroutines working on it.
type gemmCall struct {
	t         *tier
	kern      func(p *kargs, rows, panels int) // t.kern, or t.kern7 for 7-bit activations
	dst       []float32
	a         *Acts
	aData     []int8 // a.Data, or its sign-flipped copy for flipActs tiers
	w         *PackedWeights
	bias      []float32
	flags     uintptr
	m, n      int
	kp        int
	rowsPer   int // rows per chunk, a multiple of t.mr
	panelsPer int // panels per chunk
	mChunks   int
}

func (p *Pool) gemm(dst []float32, a *Acts, w *PackedWeights, bias []float32, flags uintptr) {
	m, n, k := a.M, w.N, w.K
	kp := RoundUp(k, KR)
	if a.K != k || m < 0 || n <= 0 || len(dst) < m*n || (bias != nil && len(bias) < n) ||
		len(a.Data) < m*kp || len(a.Scales) < m ||
		len(w.Data) < PackedLen(n, k) || len(w.Scales) < n || len(w.ColSums) < RoundUp(n, NR) ||
		(a.Bits != 0 && a.Bits != 7 && a.Bits != 8) {
		panic(fmt.Sprintf("quant: GEMM shape mismatch: acts %dx%d (data %d, scales %d, bits %d), weights %dx%d (data %d, scales %d, colsums %d), dst %d, bias %d",
			a.M, a.K, len(a.Data), len(a.Scales), a.Bits, n, k, len(w.Data), len(w.Scales), len(w.ColSums), len(dst), len(bias)))
	}
	if m == 0 {
		return
	}
	if bias != nil {
		flags |= flagBias
	}
	t := activeTier.Load()
	g := gemmCall{t: t, kern: t.kern, dst: dst, a: a, aData: a.Data, w: w, bias: bias, flags: flags, m: m, n: n, kp: kp}
	if a.Bits == 7 && t.kern7 != nil {
		g.kern = t.kern7
	}
	j := p.getJob()
	if t.flipActs {
		if cap(j.flipped) < m*kp {
			j.flipped = make([]int8, m*kp)
		}
		g.aData = j.flipped[:m*kp]
		flipActs(g.aData, a.Data[:m*kp])
	}
	g.panelsPer = cmp.Or(t.chunkPanels, panelsPerChunk)
	g.rowsPer = RoundUp(min(cmp.Or(t.chunkRows, rowsPerChunk), m), t.mr)
	g.mChunks = (m + g.rowsPer - 1) / g.rowsPer
	panels := RoundUp(n, NR) / NR
	parallel := p.Threads() > 1 && m*n*k >= serialOps
	if want := 4 * p.Threads(); parallel && g.mChunks*((panels+g.panelsPer-1)/g.panelsPer) < want {
		// Too few chunks to keep every thread busy to the end (a short
		// batch is one row chunk): narrow them, down to one kernel call's
		// panels.
		per := (panels*g.mChunks + want - 1) / want
		g.panelsPer = max(t.np, min(g.panelsPer, RoundUp(per, t.np)))
	}
	chunks := g.mChunks * ((panels + g.panelsPer - 1) / g.panelsPer)
	if !parallel || chunks == 1 {
		for c := range chunks {
			g.chunk(c, &j.s)
		}
	} else {
		j.g = g
		p.run(j, chunks)
	}
	p.putJob(j)
}

// chunk runs chunk c: panels [p0, p1) times rows [m0, m1). Full panels go
// through the tier's kernel with the epilogue in the kernel; a last partial
// panel (N not a multiple of 16) is computed raw and finished in Go, so the
// kernels never need column masks and never touch columns >= N.
func (g *gemmCall) chunk(c int, s *scratch) {
	t := g.t
	pg, mc := c/g.mChunks, c%g.mChunks
	panels := RoundUp(g.n, NR) / NR
	full := g.n / NR
	p0 := pg * g.panelsPer
	p1 := min(p0+g.panelsPer, panels)
	m0 := mc * g.rowsPer
	m1 := min(m0+g.rowsPer, g.m)
	kp := g.kp
	raw := &s.raw
	k := &s.k
	*k = kargs{
		lda:    uintptr(kp),
		ldw:    uintptr(kp * NR),
		ksteps: uintptr(kp / KR),
		ldd:    uintptr(g.n * 4),
		flags:  g.flags,
		raw:    &raw[0],
	}
	// A block of rows that fits one tall tile runs one panel at a time.
	tall := m1-m0 > t.mr && m1-m0 <= t.tallMR
	for pn := p0; pn < p1; {
		np := min(t.np, p1-pn)
		if tall {
			np = 1
		}
		tail := pn >= full
		if tail {
			np = 1
		} else {
			np = min(np, full-pn)
		}
		n0 := pn * NR
		k.w = &g.w.Data[pn*kp*NR]
		k.cs = &g.w.ColSums[n0]
		if !tail {
			k.ws = &g.w.Scales[n0]
			if g.bias != nil {
				k.bias = &g.bias[n0]
			}
		}
		// Spread the rows evenly over the fewest tiles (16 rows with a
		// 5-row kernel: 4+4+4+4, not 5+5+5+1), since a short tile pays the
		// per-k-step weight work for fewer rows.
		tiles := (m1 - m0 + t.mr - 1) / t.mr
		if tall {
			tiles = 1
		}
		base, extra := (m1-m0)/tiles, (m1-m0)%tiles
		r := m0
		for i := range tiles {
			rows := base
			if i < extra {
				rows++
			}
			k.pf = g.prefetch(mc, i)
			k.a = &g.aData[r*kp]
			k.as = &g.a.Scales[r]
			k.dst = &g.dst[r*g.n+n0]
			if tail {
				k.flags = g.flags | flagRaw
				g.kern(k, rows, 1)
				k.flags = g.flags
				g.tailEpilogue(raw[:rows*NR], r, n0)
			} else {
				g.kern(k, rows, np)
			}
			r += rows
		}
		pn += np
	}
}

// prefetch returns the kargs.pf of tile i of a chunk in row chunk mc: how
// far ahead of its weights the kernel should prefetch, or 0. Weights come
// from memory the first time a row chunk meets them, and a kernel that
// loads them only then waits for every line. So, where the kernels can:
//
//   - with one row chunk (a short batch: each weight used by few rows, the
//     kernels wait on memory), every tile prefetches the tile to its right;
//   - otherwise the first tile of each panel group in the second row chunk
//     prefetches the same panels of the next group, which the first row
//     chunk will read next (consecutive chunks run down the rows of one
//     group first), so that group arrives while this one is computed from
//     cache.
func (g *gemmCall) prefetch(mc, tile int) uintptr {
	ldw := uintptr(g.kp * NR)
	switch {
	case g.mChunks == 1 && g.m > g.t.mr && g.m <= g.t.tallMR:
		return ldw // one tall tile per panel
	case g.mChunks == 1:
		return uintptr(g.t.np) * ldw
	case mc == 1 && tile == 0:
		return uintptr(g.panelsPer) * ldw
	}
	return 0
}

// tailEpilogue finishes the columns [n0, N) of rows r.. from exact sums.
func (g *gemmCall) tailEpilogue(raw []int32, r, n0 int) {
	var bias []float32
	if g.bias != nil {
		bias = g.bias[n0:g.n]
	}
	for i := 0; i < len(raw)/NR; i++ {
		row := g.dst[(r+i)*g.n+n0 : (r+i+1)*g.n]
		epilogueRow(row, raw[i*NR:], g.a.Scales[r+i], g.w.Scales[n0:g.n], bias, g.flags)
	}
}
