package bert

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePooling(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pooling
		name string // String() of the result
		dim  int    // Dim(4)
	}{
		{"", PoolCLS, "cls", 4},
		{"cls", PoolCLS, "cls", 4},
		{"CLS", PoolCLS, "cls", 4},
		{"mean", PoolMean, "mean", 4},
		{"MEAN", PoolMean, "mean", 4},
		{"max", PoolMax, "max", 4},
		{"mean_sqrt_len_tokens", PoolMeanSqrtLen, "mean_sqrt_len_tokens", 4},
		{"weightedmean", PoolWeightedMean, "weightedmean", 4},
		{"lasttoken", PoolLastToken, "lasttoken", 4},
		// Any order in, concatenation order out.
		{"mean+cls", PoolCLS | PoolMean, "cls+mean", 8},
		{"lasttoken+max+cls+mean+weightedmean+mean_sqrt_len_tokens", poolAll, "cls+max+mean+mean_sqrt_len_tokens+weightedmean+lasttoken", 24},
	} {
		p, err := ParsePooling(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, p, tc.in)
		require.Equal(t, tc.name, p.String(), tc.in)
		require.Equal(t, tc.dim, p.Dim(4), tc.in)
		back, err := ParsePooling(p.String())
		require.NoError(t, err)
		require.Equal(t, p, back, "String round-trips")
	}
	for _, bad := range []string{"median", "cls+", "+mean", "mean+mean", "Mean", "cls mean", "cls,mean"} {
		_, err := ParsePooling(bad)
		require.ErrorIs(t, err, ErrInput, bad)
	}
}

// TestPoolInto checks every mode on a hand-made 4-token, 2-dimension
// sequence against values worked out by hand from sentence-transformers'
// definitions, with and without leading tokens skipped (the prompt).
func TestPoolInto(t *testing.T) {
	hidden := []float32{
		1, -4, // [CLS]
		2, 8,
		-3, 0.5,
		4, 2, // [SEP]
	}
	const h = 2
	for _, tc := range []struct {
		name string
		mode Pooling
		skip int
		want []float32
	}{
		{"cls", PoolCLS, 0, []float32{1, -4}},
		{"cls ignores skip", PoolCLS, 3, []float32{1, -4}},
		{"max", PoolMax, 0, []float32{4, 8}},
		{"max skip 2", PoolMax, 2, []float32{4, 2}},
		{"max skip all", PoolMax, 4, []float32{-1e9, -1e9}},
		{"mean", PoolMean, 0, []float32{1, 6.5 / 4}},
		{"mean skip 1", PoolMean, 1, []float32{1, 10.5 / 3}},
		{"mean skip all", PoolMean, 9, []float32{0, 0}},
		{"mean_sqrt_len", PoolMeanSqrtLen, 0, []float32{4 / 2, 6.5 / 2}},
		{"mean_sqrt_len skip 3", PoolMeanSqrtLen, 3, []float32{4, 2}},
		{"weightedmean", PoolWeightedMean, 0, []float32{(1 + 4 - 9 + 16) / 10.0, (-4 + 16 + 1.5 + 8) / 10.0}},
		{"weightedmean skip 2", PoolWeightedMean, 2, []float32{(-9 + 16) / 7.0, (1.5 + 8) / 7.0}},
		{"lasttoken", PoolLastToken, 0, []float32{4, 2}},
		{"lasttoken skip all", PoolLastToken, 4, []float32{0, 0}},
		{"cls+mean+max in sentence-transformers' order", PoolMean | PoolCLS | PoolMax, 0, []float32{1, -4, 4, 8, 1, 6.5 / 4}},
		{"empty set is cls", 0, 0, []float32{1, -4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, tc.mode.Dim(h)+1)
			dst[len(dst)-1] = 42 // guard: PoolInto writes exactly Dim values
			PoolInto(dst, hidden, h, tc.mode, tc.skip, false)
			require.InDeltaSlice(t, tc.want, dst[:len(dst)-1], 1e-6)
			require.Equal(t, float32(42), dst[len(dst)-1])

			PoolInto(dst, hidden, h, tc.mode, tc.skip, true)
			var norm float64
			for _, v := range tc.want {
				norm += float64(v) * float64(v)
			}
			norm = math.Sqrt(norm)
			for i, v := range tc.want {
				want := float64(v)
				if norm > 0 {
					want /= norm
				}
				require.InDelta(t, want, dst[i], 1e-6, "normalised value %d (a zero vector stays zero)", i)
			}
		})
	}
	// One token: every masked mode sees just it.
	one := []float32{3, -1}
	dst := make([]float32, poolAll.Dim(2))
	PoolInto(dst, one, 2, poolAll, 0, false)
	require.Equal(t, []float32{3, -1, 3, -1, 3, -1, 3, -1, 3, -1, 3, -1}, dst)
}

func TestScore(t *testing.T) {
	require.Equal(t, float32(0.5), Score(0, "sigmoid"))
	require.InDelta(t, 1/(1+math.Exp(-2.5)), Score(2.5, "sigmoid"), 1e-7)
	require.InDelta(t, math.Tanh(-0.7), Score(-0.7, "tanh"), 1e-7)
	require.Equal(t, float32(-3.25), Score(-3.25, "identity"))
	require.Equal(t, float32(-3.25), Score(-3.25, ""))
	require.Equal(t, float32(1), Score(200, "sigmoid"))
	require.Equal(t, float32(0), Score(-200, "sigmoid"))
}

// TestPoolerReLU: DistilBERT's head (pre_classifier + ReLU) on the int8
// path agrees with the float reference path, and differs from BERT's tanh.
func TestPoolerReLU(t *testing.T) {
	cfg := smallConfig()
	m := randomModel(t, cfg, 3, 21)
	require.NotNil(t, m.Pooler)
	seqs := randomSeqs(cfg, []int{5, 17}, 22)
	ctx := context.Background()
	logits := func() [][]float32 {
		ws := &Workspace{Pool: serial, ActBits: 8}
		require.NoError(t, m.Forward(ctx, ws, seqs))
		l, err := m.Logits(ws)
		require.NoError(t, err)
		n := m.Classifier.W.N
		var out [][]float32
		for i := range seqs {
			ref, err := m.Reference(ctx, seqs[i])
			require.NoError(t, err)
			require.InDeltaSlice(t, ref.Logits, l[i*n:(i+1)*n], 0.2, "int8 vs reference, %q", m.Config.PoolerActivation)
			out = append(out, ref.Logits)
		}
		return out
	}
	tanh := logits()
	m.Config.PoolerActivation = "relu"
	require.NoError(t, m.Validate())
	relu := logits()
	require.NotEqual(t, tanh, relu)
}
