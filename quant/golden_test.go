package quant

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/kernels.sha256 (only on amd64, from the generic tier)")

// goldenPath holds the SHA-256 of kernelOutputs as computed by the generic
// tier on amd64, the reference definition of the kernels. Every tier on
// every architecture (arm64 under qemu in .ci/run) must reproduce it, which
// is the cross-architecture bit-identity check. Regenerate with
// `go test ./quant -run TestKernelGolden -update` on amd64 after an
// intended change to the kernels' arithmetic.
const goldenPath = "testdata/kernels.sha256"

// uniform returns n deterministic values in [-scale, scale). It avoids
// NormFloat64, whose float arithmetic could itself differ across
// architectures.
func uniform(rng *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(float32(rng.Float32()*2)-1) * scale
	}
	return x
}

// kernelOutputs runs QuantizeRows and GEMM (with and without bias and
// residual, on awkward shapes, with 8- and 7-bit activations), every fp32
// kernel and Attention on fixed inputs and hashes the bits of all outputs.
func kernelOutputs(t *testing.T) string {
	h := sha256.New()
	put := func(xs []float32) {
		for _, v := range xs {
			binary.Write(h, binary.LittleEndian, math.Float32bits(v))
		}
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{1, 1, 1}, {5, 17, 33}, {17, 49, 31}, {33, 64, 129}, {130, 100, 772}} {
		m, n, k := s[0], s[1], s[2]
		x := uniform(rng, m*k, 3)
		w, err := QuantizePack(uniform(rng, n*k, 0.1), n, k)
		require.NoError(t, err)
		bias := uniform(rng, n, 1)
		for _, bits := range []int{8, 7} {
			a := Acts{Bits: bits}
			QuantizeRows(&a, x, m, k)
			put(a.Scales)
			for _, q := range a.Data {
				h.Write([]byte{byte(q)})
			}
			dst := make([]float32, m*n)
			GEMM(dst, &a, &w, nil)
			put(dst)
			GEMM(dst, &a, &w, bias)
			put(dst)
			GEMMResidual(dst, &a, &w, bias)
			put(dst)
		}
	}
	for _, n := range []int{0, 1, 15, 16, 17, 384, 1000} {
		a, b := uniform(rng, n, 2), uniform(rng, n, 2)
		put([]float32{Dot(a, b), Sum(a)})
		g, be := uniform(rng, n, 1), uniform(rng, n, 1)
		ln := make([]float32, n)
		LayerNorm(ln, a, g, be, 1e-12)
		put(ln)
		ge := append([]float32(nil), a...)
		for i := range ge {
			ge[i] *= 3
		}
		GELU(ge)
		put(ge)
		sm := append([]float32(nil), b...)
		for i := range sm {
			sm[i] *= 20
		}
		Softmax(sm)
		put(sm)
	}
	var buf AttentionBuf
	for _, s := range [][2]int{{1, 16}, {3, 24}, {17, 32}, {33, 64}} {
		n, d := s[0], s[1]
		ld := 3*d + 1
		qkv := uniform(rng, n*ld, 2)
		out := make([]float32, n*d)
		Attention(out, d, qkv, qkv[d:], qkv[2*d:], ld, n, d, 0.17677669, &buf)
		put(out)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestKernelGolden(t *testing.T) {
	if *updateGolden {
		require.Equal(t, "amd64", runtime.GOARCH, "the golden is defined by amd64's generic tier")
		old := KernelName()
		require.NoError(t, SetKernel(KernelGeneric))
		sum := kernelOutputs(t)
		require.NoError(t, SetKernel(old))
		require.NoError(t, os.WriteFile(filepath.FromSlash(goldenPath), []byte(sum+"\n"), 0o644))
	}
	want, err := os.ReadFile(filepath.FromSlash(goldenPath))
	require.NoError(t, err)
	forEachTier(t, func(t *testing.T) {
		require.Equal(t, strings.TrimSpace(string(want)), kernelOutputs(t),
			"%s on %s differs from the amd64 generic reference", KernelName(), runtime.GOARCH)
	})
}
