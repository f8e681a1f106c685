package lepfile_test

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/lepfile"
)

// TestVerifyStructure damages payloads consistently (CRCs recomputed) and
// checks Verify's structural checks catch what CRCs cannot. Non-finite
// small float tensors (scales, biases, LayerNorm) and negative scales are
// refused at open already (issue 13, finding 2); the fp32 weight copies by
// CheckFloatCopies.
func TestVerifyStructure(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, true, true)
	data := encode(t, m, testTokenizer, nil)
	l := parseLayout(t, data)
	le := binary.LittleEndian
	payload := func(d []byte, name string) []byte {
		e := l.tensors[name]
		off, n := le.Uint64(d[e+8:]), le.Uint64(d[e+16:])
		return d[off : off+n]
	}
	for _, tc := range []struct {
		name, tensor, want string
		atOpen             bool
		mutate             func(p []byte)
	}{
		{"code -128", "layer.0.attn_out.weight", "code -128", false, func(p []byte) { p[5] = 0x80 }},
		{"embedding code -128", "embeddings.word.weight", "code -128", false, func(p []byte) { p[len(p)-1] = 0x80 }},
		// Channel 18 of a 18-output matrix is padding (panel of 16: 16..31).
		{"padding", "layer.0.attn_out.weight", "padding", false, func(p []byte) { p[len(p)-1] = 1 }},
		{"column sum", "layer.1.output.colsums", "column sum", false, func(p []byte) { le.PutUint32(p, le.Uint32(p)+1) }},
		{"NaN scale", "layer.1.qkv.scales", "non-finite", true, func(p []byte) { le.PutUint32(p[8:], math.Float32bits(float32(math.NaN()))) }},
		{"negative scale", "embeddings.position.scales", "negative scale", true, func(p []byte) { le.PutUint32(p[4:], math.Float32bits(-1)) }},
		{"Inf bias", "classifier.bias", "non-finite", true, func(p []byte) { le.PutUint32(p, math.Float32bits(float32(math.Inf(1)))) }},
		{"NaN float weight", "layer.0.inter.weight_f32", "non-finite", false, func(p []byte) { le.PutUint32(p[4:], 0x7fc00001) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := slices.Clone(data)
			tc.mutate(payload(d, tc.tensor))
			fixAllCRCs(t, d)
			f, err := lepfile.OpenBytes(d)
			if tc.atOpen {
				require.ErrorIs(t, err, lepfile.ErrFormat)
				require.Contains(t, err.Error(), tc.tensor)
				require.Contains(t, err.Error(), tc.want)
				require.Contains(t, err.Error(), "written with it")
				return
			}
			require.NoError(t, err, "not checked at open")
			if strings.HasSuffix(tc.tensor, "_f32") {
				err := f.CheckFloatCopies()
				require.ErrorIs(t, err, lepfile.ErrFormat)
				require.Contains(t, err.Error(), tc.tensor)
			} else {
				require.NoError(t, f.CheckFloatCopies())
			}
			err = f.Verify()
			require.ErrorIs(t, err, lepfile.ErrFormat)
			require.Contains(t, err.Error(), strings.TrimSuffix(tc.tensor, "colsums"))
			require.Contains(t, err.Error(), tc.want)
		})
	}
	// Damage after writing (CRCs not fixed) is reported as such.
	d := slices.Clone(data)
	le.PutUint32(payload(d, "layer.0.attn_ln.gamma")[20:], math.Float32bits(float32(math.NaN())))
	_, err := lepfile.OpenBytes(d)
	require.ErrorIs(t, err, lepfile.ErrChecksum)
	require.Contains(t, err.Error(), "layer.0.attn_ln.gamma")
	require.Contains(t, err.Error(), "damaged")

	// Many damaged tensors: Verify reports them all (bounded), joined.
	d = slices.Clone(data)
	for name := range l.tensors {
		p := payload(d, name)
		p[0] ^= 0xff
	}
	f, err := lepfile.OpenBytes(d)
	require.NoError(t, err)
	err = f.Verify()
	require.ErrorIs(t, err, lepfile.ErrChecksum)
	require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 20)
}

// TestVerifyContext: a cancelled context stops verification with ctx.Err()
// and no verdict, before any payload is judged, damaged or not; a live one
// gives Verify's answer.
func TestVerifyContext(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, true, true)
	data := encode(t, m, testTokenizer, nil)
	bad := slices.Clone(data)
	l := parseLayout(t, bad)
	e := l.tensors["layer.0.qkv.weight"]
	off := binary.LittleEndian.Uint64(bad[e+8:])
	bad[off+3] ^= 0x01
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for i, d := range [][]byte{data, bad} {
		f, err := lepfile.OpenBytes(d)
		require.NoError(t, err)
		require.ErrorIs(t, f.VerifyContext(cancelled), context.Canceled)
		require.NotErrorIs(t, f.VerifyContext(cancelled), lepfile.ErrChecksum)
		err = f.VerifyContext(context.Background())
		if i == 0 {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, lepfile.ErrChecksum)
			require.Contains(t, err.Error(), "layer.0.qkv.weight")
		}
		require.Equal(t, f.Verify(), err)
		require.NoError(t, f.Close())
		require.ErrorIs(t, f.VerifyContext(context.Background()), lepfile.ErrClosed)
	}
}
