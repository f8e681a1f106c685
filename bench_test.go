package lepton_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/internal/bert"
	"lepton/internal/lepfile"
	"lepton/internal/synth"
	"lepton/quant"
)

// End-to-end benchmarks and the steady-state allocation check, on
// deterministic random-weight models of real shapes (internal/synth) written
// to .lep files, so they run anywhere without downloads. Texts are built to
// tokenise to exact lengths, so the cases match `lepton bench` and the peer
// benchmark in bench/peers (which see only token ids: the figures here
// include tokenisation).
//
//	go test -run '^$' -bench 'Embed/minilm' -benchtime 20x .

// benchCases are the inputs: one sequence of 128 or 16 tokens, and a
// mixed batch of 8 with lengths 16, 32, ..., 128.
var benchCases = []struct {
	name    string
	lengths []int
}{
	{"b1s128", []int{128}},
	{"b1s16", []int{16}},
	{"mixed8", []int{16, 32, 48, 64, 80, 96, 112, 128}},
}

// writeSynth writes the preset as a .lep in dir and returns its path.
func writeSynth(tb testing.TB, dir string, spec synth.Spec) string {
	tb.Helper()
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.lep", spec.Name, spec.Labels))
	require.NoError(tb, synth.WriteLep(spec, path))
	return path
}

// texts returns inputs that tokenise to exactly the given lengths,
// [CLS] and [SEP] included.
func texts(tb testing.TB, lengths []int, vocab int) []string {
	tb.Helper()
	ids, err := synth.Inputs(lengths, vocab, 1)
	require.NoError(tb, err)
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = synth.Text(ids[i])
	}
	return out
}

func tokens(lengths []int) int {
	n := 0
	for _, l := range lengths {
		n += l
	}
	return n
}

// BenchmarkEmbed runs Model.Embed on MiniLM-L6 and BERT-base shapes, 1 and
// 2 threads, reporting ms per call, texts/s and tokens/s.
func BenchmarkEmbed(b *testing.B) {
	dir := b.TempDir()
	for _, spec := range []synth.Spec{synth.MiniLM, synth.Base} {
		b.Run(spec.Name, func(b *testing.B) {
			path := writeSynth(b, dir, spec) // inside b.Run: -bench filters skip it
			for _, bc := range benchCases {
				in := texts(b, bc.lengths, spec.Vocab)
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/threads=%d", bc.name, threads), func(b *testing.B) {
						m, err := lepton.Open(path, lepton.WithThreads(threads))
						require.NoError(b, err)
						defer m.Close()
						ctx := context.Background()
						_, err = m.Embed(ctx, in) // grow the scratch buffers
						require.NoError(b, err)
						b.ReportAllocs()
						for b.Loop() {
							if _, err := m.Embed(ctx, in); err != nil {
								b.Fatal(err)
							}
						}
						reportRates(b, len(in), tokens(bc.lengths))
					})
				}
			}
		})
	}
}

// BenchmarkClassify runs Model.Classify (encoder, pooler and classifier) on
// a MiniLM-shaped classifier with 2 labels.
func BenchmarkClassify(b *testing.B) {
	spec := synth.MiniLM
	spec.Labels = 2
	path := writeSynth(b, b.TempDir(), spec)
	for _, bc := range benchCases {
		in := texts(b, bc.lengths, spec.Vocab)
		b.Run(bc.name, func(b *testing.B) {
			m, err := lepton.Open(path, lepton.WithThreads(1))
			require.NoError(b, err)
			defer m.Close()
			ctx := context.Background()
			_, err = m.Classify(ctx, in)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Classify(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			reportRates(b, len(in), tokens(bc.lengths))
		})
	}
}

// BenchmarkOpen measures lepton.Open of a BERT-base-sized file: mapping and
// validating the header and tensor directory, independent of the weights'
// size.
func BenchmarkOpen(b *testing.B) {
	path := writeSynth(b, b.TempDir(), synth.Base)
	for b.Loop() {
		m, err := lepton.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/open")
}

func reportRates(b *testing.B, texts, tokens int) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/op")
	b.ReportMetric(float64(texts)/sec, "texts/s")
	b.ReportMetric(float64(tokens)/sec, "tokens/s")
}

// resultAllocs is what Embed and Classify allocate per call for the values
// they return (the outer slice and one backing array for every vector); the
// inference itself must add nothing.
const resultAllocs = 2

// TestSteadyStateAllocs checks that, once warm, a call does no heap
// allocation beyond its results: the forward pass itself (workspace, worker
// pool, kernels) allocates nothing, with 1 and 2 threads, for single inputs
// and mixed-length batches.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector, which allocates for its own bookkeeping")
	}
	dir := t.TempDir()
	enc := synth.Tiny
	cls := synth.Tiny
	cls.Labels = 3
	encPath, clsPath := writeSynth(t, dir, enc), writeSynth(t, dir, cls)
	ctx := context.Background()
	for _, threads := range []int{1, 2} {
		for _, lengths := range [][]int{{2}, {16}, {5, 40, 17, 64}} {
			name := fmt.Sprintf("threads=%d/lengths=%v", threads, lengths)
			in := texts(t, lengths, enc.Vocab)
			t.Run("Embed/"+name, func(t *testing.T) {
				m, err := lepton.Open(encPath, lepton.WithThreads(threads))
				require.NoError(t, err)
				defer m.Close()
				_, err = m.Embed(ctx, in)
				require.NoError(t, err)
				allocs := testing.AllocsPerRun(20, func() {
					if _, err := m.Embed(ctx, in); err != nil {
						t.Fatal(err)
					}
				})
				require.LessOrEqual(t, allocs, float64(resultAllocs), "allocations per Embed beyond its results")
			})
			t.Run("Classify/"+name, func(t *testing.T) {
				m, err := lepton.Open(clsPath, lepton.WithThreads(threads))
				require.NoError(t, err)
				defer m.Close()
				_, err = m.Classify(ctx, in)
				require.NoError(t, err)
				allocs := testing.AllocsPerRun(20, func() {
					if _, err := m.Classify(ctx, in); err != nil {
						t.Fatal(err)
					}
				})
				require.LessOrEqual(t, allocs, float64(resultAllocs), "allocations per Classify beyond its results")
			})
			t.Run("Forward/"+name, func(t *testing.T) {
				// The inference alone, results written into caller buffers:
				// exactly zero.
				f, err := lepfile.Open(clsPath)
				require.NoError(t, err)
				defer f.Close()
				ids, err := synth.Inputs(lengths, cls.Vocab, 1)
				require.NoError(t, err)
				seqs := make([]bert.Sequence, len(ids))
				for i := range ids {
					seqs[i] = bert.Sequence{IDs: ids[i]}
				}
				pool := quant.NewPool(threads)
				defer pool.Close()
				ws := &bert.Workspace{Pool: pool}
				dst := make([]float32, cls.Hidden)
				step := func() {
					if err := f.Model.Forward(ctx, ws, seqs); err != nil {
						t.Fatal(err)
					}
					for i := range seqs {
						ws.Embed(dst, i, bert.PoolMean, true)
					}
					if _, err := f.Model.Logits(ws); err != nil {
						t.Fatal(err)
					}
				}
				step()
				require.Zero(t, testing.AllocsPerRun(20, step), "allocations per forward pass")
			})
		}
	}
}
