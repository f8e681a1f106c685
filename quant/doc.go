// Package quant holds Lepton's numeric core: symmetric int8 quantisation,
// the packed weight layout the GEMM kernels read straight from a model file,
// the int8 GEMM itself and the fp32 element-wise kernels of a BERT layer.
//
// Every kernel has a pure-Go reference in this package. Faster tiers
// (AVX-512 VNNI, AVX-VNNI, AVX2, arm64 I8MM and SDOT) plug in behind the
// same functions and must produce bit-identical results: integer
// accumulation is exact, and every float reduction follows the order fixed
// by the reference.
//
// # Weight layout
//
// A weight matrix W has N output channels and K inputs (PyTorch's Linear
// weight is [N][K]). It is quantised per output channel, symmetrically, to
// int8 in [-127, 127] with scale s[n] = max|W[n][:]| / 127, and packed as
// [Np/NR][Kp/KR][NR][KR]int8 where Np and Kp round N and K up to multiples of
// NR and KR; the padding is zero. ColSums[n] = sum over k of the packed int8
// values of column n, kept so kernels that add 128 to activations (VPDPBUSD
// multiplies unsigned by signed bytes) can subtract 128*ColSums[n] exactly.
//
// # Activations
//
// Activations are quantised per row (per token), symmetrically, with Acts.Bits
// of precision: 8 bits gives codes in [-127, 127] with scale
// a[m] = max|X[m][:]| / 127, 7 bits codes in [-63, 63] with scale
// max|X[m][:]| / 63 (zero rows get scale 0 and all-zero codes).
// Y[m][n] = float32(acc[m][n]) * (a[m] * s[n]) + bias[n]. Every tier
// computes the same exact integer sums at either precision.
//
// Why 7 bits exists: AVX2 has no signed-by-signed byte multiply. VPMADDUBSW
// multiplies unsigned by signed bytes and saturates pair sums to int16, so
// 8-bit activations need the sign moved onto the weights first (VPSIGNB: 4
// vector ops per 32 multiply-adds); 7-bit codes plus 64 are unsigned bytes
// <= 127 whose pair sums cannot saturate (3 ops; 64*ColSums is subtracted
// once per tile). That is about 1.25x faster per GEMM on a Zen 4 core
// (175-184 vs 138-148 GOPS on BERT-base shapes, against a ceiling of 204
// GOPS that BenchmarkPeakAVX2 measures there) for twice the activation
// rounding step; the lepton package measures what it costs
// (WithActivationBits). PyTorch's fbgemm backend makes the same trade.
// Kernels rely on codes staying in range (the AVX2 tier cannot negate -128
// and offsets 7-bit codes by 64); QuantizeRows guarantees it.
//
// # Kernel tiers
//
// The tier is chosen once at start-up from golang.org/x/sys/cpu, fastest
// first:
//
//   - "vnni": amd64 AVX-512 VNNI (Intel Ice Lake and later Xeons, Sapphire
//     Rapids, AMD Zen 4/5). VPDPBUSD adds four u8 x s8 products per int32
//     lane without saturation, so activations go in sign-flipped (a XOR
//     0x80 = a+128, made once per GEMM) and 128*ColSums comes off the exact
//     sums: 12 rows x 32 columns per call in zmm registers, epilogue
//     included. Its fp32 block products (attention), GELU and Softmax's exp
//     run in zmm too; the other fp32 loops are the AVX2 ones.
//   - "avxvnni": amd64 AVX-VNNI without AVX-512 (Intel Alder Lake and later
//     client cores): the same scheme with the VEX-encoded ymm VPDPBUSD
//     (BYTE-encoded by asmgen: Go's assembler only knows the EVEX form),
//     6 rows x 16 columns; fp32 loops in AVX2.
//   - "avx2": amd64 AVX2. GEMM uses VPMADDUBSW on |w| and a*sign(w) for
//     8-bit activations, on a+64 and w for 7-bit ones (exact either way:
//     pair sums stay below 32767), and VPMADDWD to widen, 5x16 tiles with
//     the dequantisation epilogue in assembly; fp32 kernels and
//     quantisation in ymm registers.
//   - "i8mm": arm64 with FEAT_I8MM (Apple M2 and later, Graviton 3/4,
//     Cortex-A710 and later): SMMLA (WORD-encoded), a 2x8 by 8x2 int8
//     product into a 2x2 int32 block, on activation row pairs and column
//     pairs zipped (ZIP1/ZIP2) from two k-steps of the packed panel, 8x16
//     tiles as two 8-column halves, the SDOT tier's epilogue and fp32
//     kernels. Opt-in (see Kernels): verified only under qemu
//     (QEMU_CPU=max in .ci/run), not yet on hardware.
//   - "sdot": arm64 with the dot-product extension (SDOT, WORD-encoded),
//     4x16 tiles with the epilogue in assembly (FMUL/FADD/SCVTF, also
//     WORD-encoded); Attention's block kernels and Softmax's exp use NEON.
//   - "neon": arm64 without SDOT (Cortex-A53/A72), SMULL/SADALP int16
//     products widened exactly into int32, 2x16 tiles, same epilogue.
//   - "generic": pure Go, always available, the reference.
//
// On the VNNI tiers the two activation precisions cost the same (one
// VPDPBUSD either way); 7 bits stays the default everywhere so that a model
// gives the same bits on every machine (see lepton.WithActivationBits).
// A tier is opt-in (listed by Kernels, used only when forced) until its
// kernels have run on hardware that has the instructions; which tiers were
// verified where is recorded in bench/peers/README.md.
//
// The build tag purego removes all assembly. LEPTON_KERNEL=vnni|avxvnni|
// avx2|i8mm|sdot|neon|generic forces a tier; a tier the CPU lacks is
// reported by KernelError (and the best tier is used). SetKernel and
// KernelName do the same at run time. Every tier gives the same bits:
// integer sums are exact, the epilogue is
// float32(float32(acc)*(a[m]*s[n])) + bias[n] with no FMA, and
// every float reduction keeps the reference's order (16 lanes, then the
// fixed tree of sumLanes; Attention's sums run in sequence, vectorised
// across keys or output columns instead, each step a fused multiply-add
// that Go reproduces with fma32). exp and erf are our own float32
// routines (mathfn.go: exp's steps fused, erf's not), so arm64 matches
// amd64 too;
// testdata/kernels.sha256 pins the amd64 generic outputs that every tier
// must reproduce.
//
// The assembly (gemm_amd64.s, gemm_arm64.s, gemm_i8mm_arm64.s, f32_amd64.s,
// f32_arm64.s) and its Go declarations are generated by quant/asmgen, a
// dependency-free Go program in its own module:
// cd quant/asmgen && go run . -out .. (CI fails when the committed files
// differ from its output).
//
// # Threads and memory
//
// GEMM and GEMMResidual run on a Pool of persistent workers (the package
// functions use DefaultPool, sized by SetThreads, default GOMAXPROCS). Work
// is split into chunks of a few column panels x up to 96 rows (per tier)
// claimed atomically, each
// assembly call covers one small tile so the scheduler stays responsive,
// and steady-state calls allocate nothing. Calls may nest (GEMM or For
// inside Pool.For): a caller waits only for chunks other goroutines have
// claimed and runs every unclaimed chunk itself.
package quant
