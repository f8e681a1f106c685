package quant

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// ErrKernel reports a kernel tier that is unknown or that this CPU (or this
// build: the purego tag) cannot run.
var ErrKernel = errors.New("quant: kernel tier unavailable")

// Tier names, as accepted by SetKernel and the LEPTON_KERNEL variable.
const (
	KernelVNNI    = "vnni"    // amd64 AVX-512 VNNI (VPDPBUSD on zmm)
	KernelAVXVNNI = "avxvnni" // amd64 AVX-VNNI (VEX VPDPBUSD on ymm, no AVX-512)
	KernelAVX2    = "avx2"    // amd64 AVX2 (VPMADDUBSW)
	KernelI8MM    = "i8mm"    // arm64 int8 matrix multiply (SMMLA)
	KernelSDOT    = "sdot"    // arm64 NEON dot product (SDOT)
	KernelNEON    = "neon"    // arm64 without SDOT: NEON SMULL/SADALP
	KernelGeneric = "generic" // pure Go, the reference every tier must match
)

// kargs is the single argument of every GEMM micro-kernel. It is a struct
// (not a long argument list) so the generated assembly reads its fields at
// fixed offsets; every field is 8 bytes wide and the offsets are pinned by
// TestKargsLayout. Strides are in bytes.
type kargs struct {
	a      *int8    // 0: first activation row of the tile
	lda    uintptr  // 8: bytes between activation rows (= Kp)
	w      *int8    // 16: first packed panel of the tile
	ldw    uintptr  // 24: bytes between panels (= Kp*NR)
	ksteps uintptr  // 32: Kp/KR
	dst    *float32 // 40: dst[m0][n0]
	ldd    uintptr  // 48: bytes between dst rows (= N*4)
	as     *float32 // 56: activation scales from row m0
	ws     *float32 // 64: weight scales from column n0
	cs     *int32   // 72: column sums from column n0
	bias   *float32 // 80: bias from column n0 (unused without flagBias)
	flags  uintptr  // 88: flag bits below
	raw    *int32   // 96: with flagRaw, exact int32 sums [rows][panels*NR]
	// pf, when not 0, asks kernels that can to prefetch into L2, as they
	// load each line of weights, the line pf bytes further on (see
	// gemmCall.prefetch); the target may lie past the matrix, where a
	// prefetch does nothing.
	pf uintptr // 104
}

// Micro-kernel flags.
const (
	flagBias     = 1 // add bias[n] after the scale product
	flagResidual = 2 // add the value already in dst last (dst += ...)
	flagRaw      = 4 // store exact int32 sums to raw; no epilogue
)

// tier is one implementation of the GEMM micro-kernel. kern computes a tile
// of rows (1..mr) activation rows times panels (1..np) full 16-column
// panels over the whole K, then either runs the epilogue into dst or, with
// flagRaw, stores the exact integer sums.
type tier struct {
	name string
	mr   int // maximum rows per call
	np   int // maximum panels per call
	// tallMR, if above mr, is the most rows of a one-panel call: a block
	// of mr+1..tallMR rows then runs as one tile of single panels (see
	// vnniTallMR) instead of two tiles.
	tallMR int
	kern   func(p *kargs, rows, panels int)
	// kern7, if set, replaces kern for 7-bit activations (Acts.Bits 7),
	// with the same rows/panels limits and the same results; tiers
	// without it run kern, which is exact for any code in [-127, 127].
	kern7 func(p *kargs, rows, panels int)
	// flipActs tiers read activations as unsigned bytes a+128 (a XOR
	// 0x80): GEMM makes that copy once per call (flipActs) instead of the
	// kernel flipping each broadcast.
	flipActs bool
	// chunkPanels x chunkRows is the GEMM work unit (0: the defaults
	// panelsPerChunk and rowsPerChunk); it decides which operand stays
	// in L1 while the other streams.
	chunkPanels, chunkRows int
	f32                    bool // the fp32 kernels and quantisation use the AVX2 loops
	avx512                 bool // ... and the AVX-512 ones where they exist
	rows                   bool // Attention (and arm64 Softmax) use the architecture's SIMD loops
	// optIn tiers are never chosen automatically, only by SetKernel or
	// LEPTON_KERNEL: they have not yet been validated on hardware that
	// runs them (tests iterate over them wherever they are supported).
	optIn bool
}

var (
	tiers      []*tier              // supported on this host, best first; generic last
	activeTier atomic.Pointer[tier] // the tier GEMM uses
	envErr     error                // problem with LEPTON_KERNEL, if any
)

func init() {
	tiers = append(hostTiers(), &genericTier)
	for _, t := range tiers {
		if !t.optIn {
			activeTier.Store(t)
			break
		}
	}
	envErr = kernelFromEnv(os.Getenv("LEPTON_KERNEL"))
}

// kernelFromEnv applies a LEPTON_KERNEL value ("" means automatic).
func kernelFromEnv(name string) error {
	if name == "" {
		return nil
	}
	if err := SetKernel(name); err != nil {
		return fmt.Errorf("LEPTON_KERNEL: %w", err)
	}
	return nil
}

// KernelName returns the tier GEMM uses now: "vnni", "avxvnni", "avx2",
// "i8mm", "sdot", "neon" or "generic".
func KernelName() string { return activeTier.Load().name }

// Kernels lists the tiers this CPU and build support, fastest first. The
// last one is always "generic". GEMM uses the first one that is not
// opt-in (see the tier table in the package documentation): "i8mm" (arm64
// FEAT_I8MM) is listed where the CPU has it but is used only when forced,
// as it has run only under qemu so far.
func Kernels() []string {
	names := make([]string, len(tiers))
	for i, t := range tiers {
		names[i] = t.name
	}
	return names
}

// SetKernel forces a tier by name. It fails with ErrKernel when the name is
// unknown or the CPU lacks the instructions, leaving the tier unchanged. It
// is meant for tests, benchmarks and the CLI: calls racing with running GEMMs
// are safe, but a GEMM already running finishes on the tier it started with.
func SetKernel(name string) error {
	for _, t := range tiers {
		if t.name == name {
			activeTier.Store(t)
			return nil
		}
	}
	switch name {
	case KernelVNNI, KernelAVXVNNI, KernelAVX2, KernelI8MM, KernelSDOT, KernelNEON, KernelGeneric:
		return fmt.Errorf("%w: %q is not supported here (have %s)", ErrKernel, name, strings.Join(Kernels(), ", "))
	}
	return fmt.Errorf("%w: unknown tier %q (want vnni, avxvnni, avx2, i8mm, sdot, neon or generic)", ErrKernel, name)
}

// KernelError reports why the LEPTON_KERNEL environment variable could not
// be honoured at start-up (nil when it is unset or valid). The variable is
// read in init, where a library must not panic or print, so the CLI and
// lepton.Open surface this error instead; meanwhile the best tier is used.
func KernelError() error { return envErr }
