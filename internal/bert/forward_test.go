package bert

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/quant"
)

// serial runs every GEMM and attention item on the calling goroutine.
var serial = quant.NewPool(1)

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestForwardMatchesReference compares the int8 path with the float
// reference on random models: against dequantised weights (only activation
// quantisation differs) and against the float weights (all int8 error).
func TestForwardMatchesReference(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 1)
	lens := []int{1, 2, 5, 16, 17, 40}
	seqs := randomSeqs(cfg, lens, 2)
	ws := &Workspace{Pool: serial}
	require.NoError(t, m.Forward(context.Background(), ws, seqs))
	logits, err := m.Logits(ws)
	require.NoError(t, err)
	require.Len(t, logits, len(seqs)*3)

	// The same model without float copies: the reference then runs on the
	// dequantised int8 weights.
	deq := *m
	deq.Word.F32, deq.Position.F32, deq.TokenType.F32 = nil, nil, nil
	deq.Layers = append([]Layer(nil), m.Layers...)
	for i := range deq.Layers {
		l := &deq.Layers[i]
		l.QKV.F32, l.AttnOut.F32, l.Inter.F32, l.Output.F32 = nil, nil, nil, nil
	}
	p, c := *m.Pooler, *m.Classifier
	p.F32, c.F32 = nil, nil
	deq.Pooler, deq.Classifier = &p, &c

	for i, s := range seqs {
		for _, tc := range []struct {
			name      string
			model     *Model
			maxHidden float64
			minCos    float64
		}{
			{"dequantised", &deq, 0.1, 0.995},
			{"float", m, 0.2, 0.98},
		} {
			ref, err := tc.model.Reference(context.Background(), s)
			require.NoError(t, err)
			got := ws.Hidden(i)
			require.Len(t, got, len(ref.Hidden))
			d := maxAbsDiff(got, ref.Hidden)
			t.Logf("len %2d %-11s: max |hidden diff| %.4f, logits %v vs %v", lens[i], tc.name, d, logits[i*3:i*3+3], ref.Logits)
			require.Less(t, d, tc.maxHidden, "seq %d %s", i, tc.name)
			for r := 0; r < lens[i]; r++ {
				require.Greater(t, cosine(got[r*32:(r+1)*32], ref.Hidden[r*32:(r+1)*32]), tc.minCos, "seq %d row %d %s", i, r, tc.name)
			}
			require.Less(t, maxAbsDiff(logits[i*3:i*3+3], ref.Logits), 4*tc.maxHidden, "seq %d %s logits", i, tc.name)
		}
	}
}

// TestBatchAndThreadInvariance: a sequence's outputs do not depend on its
// batch-mates nor on the thread count, bit for bit (everything is per row or
// per sequence, and each GEMM row is computed by exactly one goroutine).
func TestBatchAndThreadInvariance(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 3)
	lens := []int{7, 1, 33, 12, 40, 2, 19}
	seqs := randomSeqs(cfg, lens, 4)
	ctx := context.Background()

	batch := &Workspace{Pool: serial}
	require.NoError(t, m.Forward(ctx, batch, seqs))
	bl, err := m.Logits(batch)
	require.NoError(t, err)
	bl = append([]float32(nil), bl...)

	for _, threads := range []int{2, 3, 8} {
		pool := quant.NewPool(threads)
		defer pool.Close()
		ws := &Workspace{Pool: pool}
		require.NoError(t, m.Forward(ctx, ws, seqs))
		for i := range seqs {
			require.Equal(t, batch.Hidden(i), ws.Hidden(i), "threads %d seq %d", threads, i)
		}
		l, err := m.Logits(ws)
		require.NoError(t, err)
		require.Equal(t, bl, l, "threads %d", threads)
	}
	solo := &Workspace{}
	for i, s := range seqs {
		require.NoError(t, m.Forward(ctx, solo, []Sequence{s}))
		require.Equal(t, batch.Hidden(i), solo.Hidden(0), "seq %d alone", i)
		l, err := m.Logits(solo)
		require.NoError(t, err)
		require.Equal(t, bl[i*3:i*3+3], l, "seq %d alone", i)
	}
}

func TestPooling(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 0, 5)
	seqs := randomSeqs(cfg, []int{1, 9, 40}, 6)
	ws := &Workspace{}
	require.NoError(t, m.Forward(context.Background(), ws, seqs))
	_, err := m.Logits(ws)
	require.ErrorIs(t, err, ErrModel, "no classifier head")
	h := cfg.Hidden
	dst := make([]float32, h)
	for i := range seqs {
		hs := ws.Hidden(i)
		ws.Embed(dst, i, PoolCLS, false)
		require.Equal(t, hs[:h], dst)
		ws.Embed(dst, i, PoolMean, false)
		for d := 0; d < h; d++ {
			var s float64
			for r := 0; r < ws.Len(i); r++ {
				s += float64(hs[r*h+d])
			}
			require.InDelta(t, s/float64(ws.Len(i)), dst[d], 1e-6)
		}
		require.Equal(t, RefPool(hs, h, PoolMean, true), func() []float32 { ws.Embed(dst, i, PoolMean, true); return dst }())
		var n float64
		for _, v := range dst {
			n += float64(v) * float64(v)
		}
		require.InDelta(t, 1, n, 1e-5)
	}
	zero := make([]float32, 4)
	L2Normalize(zero)
	require.Equal(t, make([]float32, 4), zero)

	for _, tc := range []struct {
		in   string
		want Pooling
		err  bool
	}{{"cls", PoolCLS, false}, {"", PoolCLS, false}, {"mean", PoolMean, false}, {"max", PoolMax, false}, {"median", 0, true}} {
		p, err := ParsePooling(tc.in)
		if tc.err {
			require.ErrorIs(t, err, ErrInput)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, p)
		if tc.in != "" {
			require.Equal(t, tc.in, p.String())
		}
	}
}

func TestForwardBadInput(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 7)
	ws := &Workspace{}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		seqs []Sequence
	}{
		{"no sequences", nil},
		{"empty sequence", []Sequence{{IDs: []int32{}}}},
		{"too long", []Sequence{{IDs: make([]int32, cfg.MaxPositions+1)}}},
		{"negative id", []Sequence{{IDs: []int32{1, -1}}}},
		{"id past vocab", []Sequence{{IDs: []int32{int32(cfg.Vocab)}}}},
		{"type id past table", []Sequence{{IDs: []int32{1, 2}, TypeIDs: []int32{0, 2}}}},
		{"type ids length", []Sequence{{IDs: []int32{1, 2}, TypeIDs: []int32{0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, m.Forward(ctx, ws, tc.seqs), ErrInput)
			if len(tc.seqs) == 1 {
				_, err := m.Reference(ctx, tc.seqs[0])
				require.ErrorIs(t, err, ErrInput)
			}
		})
	}
	// The longest allowed sequence works.
	require.NoError(t, m.Forward(ctx, ws, []Sequence{{IDs: make([]int32, cfg.MaxPositions)}}))

	// An activation precision other than 7 or 8 (0 = 8) is an error, in
	// Forward and in Logits (ActBits changed after Forward), never a panic.
	for _, bits := range []int{-1, 6, 9} {
		bad := &Workspace{ActBits: bits}
		require.ErrorIs(t, m.Forward(ctx, bad, []Sequence{{IDs: []int32{1, 2}}}), ErrInput, "bits %d", bits)
		good := &Workspace{ActBits: 7}
		require.NoError(t, m.Forward(ctx, good, []Sequence{{IDs: []int32{1, 2}}}))
		good.ActBits = bits
		_, err := m.Logits(good)
		require.ErrorIs(t, err, ErrInput, "Logits, bits %d", bits)
	}
}

func TestForwardCancelled(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	seqs := randomSeqs(cfg, []int{4}, 1)
	err := m.Forward(ctx, &Workspace{}, seqs)
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
	_, err = m.Reference(ctx, seqs[0])
	require.ErrorIs(t, err, context.Canceled)
}

func TestValidate(t *testing.T) {
	cfg := smallConfig()
	for _, tc := range []struct {
		name   string
		break_ func(m *Model)
	}{
		{"heads do not divide hidden", func(m *Model) { m.Config.Heads = 5 }},
		{"zero layers in config", func(m *Model) { m.Config.Layers = 0 }},
		{"layer count", func(m *Model) { m.Layers = m.Layers[:1] }},
		{"activation", func(m *Model) { m.Config.Activation = "relu" }},
		{"eps", func(m *Model) { m.Config.LayerNormEps = 0 }},
		{"pooling", func(m *Model) { m.Config.Pooling = "median" }},
		{"pooling twice", func(m *Model) { m.Config.Pooling = "mean+cls+mean" }},
		{"pooler activation", func(m *Model) { m.Config.PoolerActivation = "gelu" }},
		{"score activation", func(m *Model) { m.Config.ScoreActivation = "softmax" }},
		{"max length", func(m *Model) { m.Config.MaxLength = m.Config.MaxPositions + 1 }},
		{"negative max length", func(m *Model) { m.Config.MaxLength = -1 }},
		{"default prompt", func(m *Model) { m.Config.DefaultPrompt = "query" }},
		{"word rows", func(m *Model) { m.Word.Rows-- }},
		{"word scales", func(m *Model) { m.Word.Scales = m.Word.Scales[:3] }},
		{"word f32", func(m *Model) { m.Word.F32 = m.Word.F32[:3] }},
		{"position dim", func(m *Model) { m.Position.Dim++ }},
		{"qkv shape", func(m *Model) { m.Layers[1].QKV = m.Layers[1].AttnOut }},
		{"bias length", func(m *Model) { m.Layers[0].Inter.Bias = m.Layers[0].Inter.Bias[1:] }},
		{"packed data", func(m *Model) { m.Layers[0].Output.W.Data = m.Layers[0].Output.W.Data[1:] }},
		{"float weight", func(m *Model) { m.Layers[0].Output.F32 = m.Layers[0].Output.F32[1:] }},
		{"layer norm", func(m *Model) { m.Layers[0].OutLN.Beta = nil }},
		{"labels", func(m *Model) { m.Config.Labels = []string{"x"} }},
		{"pooler", func(m *Model) { m.Pooler = m.Classifier }},
		{"huge vocab", func(m *Model) { m.Config.Vocab = 1 << 40 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := randomModel(t, cfg, 3, 9)
			tc.break_(m)
			require.ErrorIs(t, m.Validate(), ErrModel)
		})
	}
}

// TestForwardNoAllocs: once the workspace has grown, a single-threaded
// forward pass and the heads allocate nothing.
func TestForwardNoAllocs(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 10)
	seqs := randomSeqs(cfg, []int{9, 31, 4}, 11)
	ws := &Workspace{Pool: serial}
	ctx := context.Background()
	dst := make([]float32, cfg.Hidden)
	step := func() {
		if err := m.Forward(ctx, ws, seqs); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Logits(ws); err != nil {
			t.Fatal(err)
		}
		ws.Embed(dst, 1, PoolMean, true)
	}
	step()
	require.Zero(t, testing.AllocsPerRun(5, step))
}

// countdownCtx reports cancellation once Err has been called n times, to
// cancel a forward pass in the middle.
type countdownCtx struct {
	context.Context
	n int
}

func (c *countdownCtx) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestForwardCancelMidway: cancellation is noticed at every check, inside
// layers as well as between them: cancelled after any number of checks
// short of a whole pass, Forward returns ctx.Err(); with enough it runs to
// the end. (One goroutine, so the checks come in a fixed order.)
func TestForwardCancelMidway(t *testing.T) {
	cfg := smallConfig()
	cfg.Layers = 4
	m := randomModel(t, cfg, 3, 12)
	seqs := randomSeqs(cfg, []int{5, 9}, 13)
	probe := &countdownCtx{Context: context.Background(), n: 1 << 30}
	require.NoError(t, m.Forward(probe, &Workspace{Pool: serial}, seqs))
	checks := 1<<30 - probe.n
	// Before the work, the embeddings' quantisation, and per layer at
	// least 4 GEMMs, 5 row steps and attention.
	require.GreaterOrEqual(t, checks, 2+cfg.Layers*10, "checks per pass")
	for k := 0; k < checks; k++ {
		ctx := &countdownCtx{Context: context.Background(), n: k}
		err := m.Forward(ctx, &Workspace{Pool: serial}, seqs)
		require.ErrorIs(t, err, context.Canceled, "cancelled after %d checks", k)
	}
	require.NoError(t, m.Forward(&countdownCtx{Context: context.Background(), n: checks}, &Workspace{Pool: serial}, seqs))
}
