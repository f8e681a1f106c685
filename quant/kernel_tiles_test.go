package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernelTiles calls every tier's micro-kernel directly, for every row
// count 1..mr and panel count 1..np (and the tall one-panel tiles up to
// tallMR rows), k-steps 1..9 (odd and even: the I8MM
// kernels pair k-steps), raw and with every epilogue flag, and compares it
// with kernGeneric bit for bit. The inputs span all of int8 in the weights
// (-128 included) and [-127, 127] in the activations (codes QuantizeRows
// can produce; 7-bit kernels get [-63, 63]). Guard values around the tile
// prove that no kernel writes outside its rows x 16*panels block of dst or
// raw.
func TestKernelTiles(t *testing.T) {
	const guard = 12345.678
	const guardRaw = int32(0x5eadbeef)
	rng := rand.New(rand.NewPCG(21, 22))
	guarded := newGuardedBytes(t)
	for _, tr := range tiers {
		for _, bits := range []int{8, 7} {
			kern := tr.kern
			if bits == 7 && tr.kern7 != nil {
				kern = tr.kern7
			}
			t.Run(fmt.Sprintf("%s/bits%d", tr.name, bits), func(t *testing.T) {
				amax := int32(127)
				if bits == 7 {
					amax = 63
				}
				for ks := 1; ks <= 9; ks++ {
					for np := 1; np <= tr.np; np++ {
						for rows := 1; rows <= tr.mr; rows++ {
							testTile(t, rng, guarded, tr, kern, rows, np, ks, amax, guard, guardRaw)
						}
					}
					for rows := tr.mr + 1; rows <= tr.tallMR; rows++ {
						testTile(t, rng, guarded, tr, kern, rows, 1, ks, amax, guard, guardRaw)
					}
				}
			})
		}
	}
}

func testTile(t *testing.T, rng *rand.Rand, guarded func(n, which int) []int8, tr *tier, kern func(*kargs, int, int), rows, np, ks int, amax int32, guard float32, guardRaw int32) {
	t.Helper()
	kp := ks * KR
	cols := np * NR
	// Activation rows are exactly kp bytes apart and the last row, like
	// the last panel, ends where an inaccessible page begins (on Unix), so
	// a kernel reading past a row's or a panel's last k-step faults.
	a := guarded(rows*kp, 0)
	for i := range a {
		a[i] = int8(rng.Int32N(2*amax+1) - amax)
	}
	if rows > 1 {
		for k := range kp { // one row at the extremes
			a[kp+k] = int8(amax * (1 - 2*int32(k%2)))
		}
	}
	// flipActs tiers read a+128 as unsigned bytes (a XOR 0x80), a copy
	// GEMM makes before calling them.
	ak := a
	if tr.flipActs {
		ak = guarded(rows*kp, 2)
		for i, v := range a {
			ak[i] = v ^ -0x80
		}
	}
	w := guarded(np*kp*NR, 1)
	for i := range w {
		w[i] = int8(rng.Int32N(256) - 128)
	}
	as := make([]float32, rows)
	for i := range as {
		as[i] = rng.Float32() * 0.01
	}
	ws := make([]float32, cols)
	bias := make([]float32, cols)
	cs := make([]int32, cols)
	for i := range ws {
		ws[i] = rng.Float32() * 0.01
		bias[i] = float32(rng.NormFloat64())
	}
	for pn := range np {
		for c := range NR {
			for k := range kp {
				cs[pn*NR+c] += int32(w[pn*kp*NR+(k/KR)*NR*KR+c*KR+k%KR])
			}
		}
	}
	ldd := cols + 3 // 3 guard columns after each row
	for _, flags := range []uintptr{flagRaw, 0, flagBias, flagResidual, flagBias | flagResidual} {
		var out [2][]float32
		var raws [2][]int32
		for i, f := range []func(*kargs, int, int){kernGeneric, kern} {
			dst := make([]float32, (rows+1)*ldd)
			for j := range dst {
				if j < rows*ldd && j%ldd < cols {
					dst[j] = float32(j%7) - 3 // the residual
				} else {
					dst[j] = guard
				}
			}
			raw := make([]int32, (rows+1)*cols)
			for j := range raw {
				raw[j] = guardRaw
			}
			p := kargs{
				a: &a[0], lda: uintptr(kp), w: &w[0], ldw: uintptr(kp * NR), ksteps: uintptr(ks),
				dst: &dst[0], ldd: uintptr(ldd * 4), as: &as[0], ws: &ws[0], cs: &cs[0],
				bias: &bias[0], flags: flags, raw: &raw[0],
			}
			if i == 0 {
				// The reference, one row at a time (kernGeneric takes
				// at most 4 rows).
				for r := range rows {
					q := p
					q.a, q.as = &a[r*kp], &as[r]
					q.dst, q.raw = &dst[r*ldd], &raw[r*cols]
					f(&q, 1, np)
				}
			} else {
				p.a = &ak[0]
				f(&p, rows, np)
			}
			out[i], raws[i] = dst, raw
		}
		name := fmt.Sprintf("rows=%d panels=%d ksteps=%d flags=%d", rows, np, ks, flags)
		for j := range out[0] {
			if math.Float32bits(out[0][j]) != math.Float32bits(out[1][j]) {
				t.Fatalf("%s: dst[%d][%d]: want %v, got %v", name, j/ldd, j%ldd, out[0][j], out[1][j])
			}
		}
		for j := range raws[0] {
			if flags&flagRaw == 0 {
				break // raw is scratch without flagRaw
			}
			if raws[0][j] != raws[1][j] {
				t.Fatalf("%s: raw[%d][%d]: want %d, got %d", name, j/cols, j%cols, raws[0][j], raws[1][j])
			}
		}
		if out[1][rows*ldd] != guard || (flags&flagRaw == 0 && raws[1][0] != guardRaw) {
			t.Fatalf("%s: wrote outside the tile", name)
		}
	}
}
