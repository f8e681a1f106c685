//go:build unix

package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newGuardedBytes returns guarded, which returns an n-byte slice (n <= 64
// KiB) that ends exactly where an inaccessible page begins, so reading
// past its end faults. Three buffers (which = 0, 1, 2) can be live at
// once; each call overwrites the previous buffer of the same which.
func newGuardedBytes(t *testing.T) func(n, which int) []int8 {
	page := unix.Getpagesize()
	const maxN = 64 << 10
	size := (maxN+page-1)/page*page + page
	var bufs [3][]byte
	for i := range bufs {
		b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			t.Fatalf("mmap: %v", err)
		}
		if err := unix.Mprotect(b[size-page:], unix.PROT_NONE); err != nil {
			t.Fatalf("mprotect: %v", err)
		}
		bufs[i] = b
		t.Cleanup(func() { unix.Munmap(b) })
	}
	return func(n, which int) []int8 {
		if n > maxN {
			t.Fatalf("guarded buffer of %d bytes: at most %d", n, maxN)
		}
		b := bufs[which][size-page-n : size-page]
		clear(b)
		return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), n)
	}
}

// TestSoftmaxGuarded: Softmax's masked tail (the AVX-512 kernel loads and
// stores the last n%16 values under a mask) never touches memory past the
// row: each row ends where an inaccessible page begins, on every tier.
func TestSoftmaxGuarded(t *testing.T) {
	guarded := newGuardedBytes(t)
	forEachTier(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(63, 64))
		for n := 1; n <= 49; n++ {
			b := guarded(4*n, 0)
			x := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
			copy(x, uniform(rng, n, 6))
			want := append([]float32(nil), x...)
			softmaxDef(want)
			Softmax(x)
			sameBits(t, want, x, fmt.Sprintf("n=%d", n))
		}
	})
}
