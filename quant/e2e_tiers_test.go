package quant_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/synth"
	"lepton/quant"
)

// TestEncoderTiersBitIdentical runs a whole synthetic encoder (with a
// classifier head) on a token-packed batch of mixed lengths once per kernel
// tier this host supports, single- and multi-threaded, and requires the
// final hidden states and logits to be identical bit for bit. Under qemu
// (.ci/run) this covers arm64's i8mm, sdot, neon and generic tiers.
func TestEncoderTiersBitIdentical(t *testing.T) {
	spec := synth.Tiny
	spec.Hidden, spec.Heads, spec.Intermediate = 96, 3, 200 // head size 32, odd tails
	spec.Labels = 3
	m, err := spec.Model()
	require.NoError(t, err)
	lengths := []int{2, 3, 17, 33, 64}
	ids, err := synth.Inputs(lengths, spec.Vocab, 7)
	require.NoError(t, err)
	var runBits func(pool *quant.Pool, actBits int) []uint32
	seqs := make([]bert.Sequence, len(ids))
	for i, s := range ids {
		seqs[i] = bert.Sequence{IDs: s, TypeIDs: make([]int32, len(s))}
	}
	// Both activation precisions, one after the other in the same bits.
	run := func(pool *quant.Pool) []uint32 {
		var bits []uint32
		for _, actBits := range []int{8, 7} {
			bits = append(bits, runBits(pool, actBits)...)
		}
		return bits
	}
	runBits = func(pool *quant.Pool, actBits int) []uint32 {
		w := &bert.Workspace{Pool: pool, ActBits: actBits}
		require.NoError(t, m.Forward(context.Background(), w, seqs))
		var bits []uint32
		for i := range seqs {
			for _, v := range w.Hidden(i) {
				bits = append(bits, math.Float32bits(v))
			}
		}
		logits, err := m.Logits(w)
		require.NoError(t, err)
		for _, v := range logits {
			bits = append(bits, math.Float32bits(v))
		}
		return bits
	}
	old := quant.KernelName()
	defer func() { require.NoError(t, quant.SetKernel(old)) }()
	require.NoError(t, quant.SetKernel(quant.KernelGeneric))
	serial := quant.NewPool(1)
	defer serial.Close()
	threaded := quant.NewPool(3)
	defer threaded.Close()
	want := run(serial)
	for _, tier := range quant.Kernels() {
		require.NoError(t, quant.SetKernel(tier))
		require.Equal(t, want, run(serial), "tier %s, 1 thread", tier)
		require.Equal(t, want, run(threaded), "tier %s, 3 threads", tier)
	}
	require.NotEqual(t, runBits(serial, 8), runBits(serial, 7), "7-bit activations must change the outputs (else the 7-bit path is not exercised)")
	// Across architectures: .ci/run sets LEPTON_E2E_HASH to a file per run
	// (amd64 native, arm64 under qemu) and requires the hashes to agree. A
	// golden would not do here: the forward pass is not this package's, and
	// its intended changes move the hash on every architecture alike.
	h := sha256.New()
	for _, b := range want {
		binary.Write(h, binary.LittleEndian, b)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	t.Logf("encoder output hash on %s: %s", runtime.GOARCH, sum)
	if path := os.Getenv("LEPTON_E2E_HASH"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(sum+"\n"), 0o644))
	}
}
