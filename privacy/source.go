package privacy

import (
	"crypto/rand"
	"encoding/binary"
	"math/big"
	"math/bits"
	mrand "math/rand/v2"
	"sync"
)

// Source is the randomness behind every release. It is deliberately sealed:
// the only ways to get one are CryptoSource (the default, backed by
// crypto/rand) and NewTestingSource (seeded and insecure, for tests). A
// caller cannot plug in math/rand by accident.
//
// A Source is safe for concurrent use.
type Source struct {
	mu       sync.Mutex
	gen      *mrand.ChaCha8 // nil: crypto/rand
	buf      [256]byte
	off      int
	insecure bool
}

// CryptoSource returns a Source reading from crypto/rand. Releasers use one
// by default.
func CryptoSource() *Source {
	return &Source{off: len(Source{}.buf)}
}

// NewTestingSource returns a deterministic Source seeded with seed.
//
// INSECURE: its output is predictable from the seed, so noise drawn from it
// protects nothing. It exists only so that statistical tests and
// reproducible simulations can fix their randomness. Never use it for data
// that leaves a device.
func NewTestingSource(seed uint64) *Source {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], "lepton privacy testing source!!")
	return &Source{gen: mrand.NewChaCha8(key), insecure: true}
}

// Insecure reports whether s came from NewTestingSource.
func (s *Source) Insecure() bool { return s.insecure }

// uint64 returns 64 uniform random bits.
func (s *Source) uint64() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != nil {
		return s.gen.Uint64()
	}
	if s.off+8 > len(s.buf) {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+
		// crashes the program instead of returning weak randomness).
		_, _ = rand.Read(s.buf[:])
		s.off = 0
	}
	v := binary.LittleEndian.Uint64(s.buf[s.off:])
	s.off += 8
	return v
}

// uniform returns a uniform integer in [0, n); n must be > 0. It uses
// Lemire's multiply-and-reject method, which is exact (no modulo bias).
func (s *Source) uniform(n uint64) uint64 {
	hi, lo := bits.Mul64(s.uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(s.uint64(), n)
		}
	}
	return hi
}

// uniformBig returns a uniform integer in [0, n); n must be > 0. It draws
// bitlen(n) random bits and rejects values >= n (acceptance >= 1/2).
func (s *Source) uniformBig(n *big.Int) *big.Int {
	if n.IsUint64() {
		return new(big.Int).SetUint64(s.uniform(n.Uint64()))
	}
	nb := n.BitLen()
	words := (nb + 63) / 64
	ws := make([]big.Word, 0, words*2)
	out := new(big.Int)
	for {
		ws = ws[:0]
		for i := 0; i < words; i++ {
			v := s.uint64()
			if bits.UintSize == 64 {
				ws = append(ws, big.Word(v))
			} else {
				ws = append(ws, big.Word(uint32(v)), big.Word(v>>32))
			}
		}
		out.SetBits(ws)
		// keep only the low nb bits
		if extra := out.BitLen() - nb; extra > 0 {
			mask := new(big.Int).Lsh(big.NewInt(1), uint(nb))
			mask.Sub(mask, big.NewInt(1))
			out.And(out, mask)
		}
		if out.Cmp(n) < 0 {
			return new(big.Int).Set(out)
		}
	}
}
