package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/x448/float16"

	"lepton/internal/safetensors"
)

// build makes a file from a raw JSON header and data region, the way a
// hostile or buggy writer could.
func build(header string, body []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, body...)
}

func TestRoundTripAndDTypes(t *testing.T) {
	vals := []float32{0, 1, -2.5, 65504, 1e-3, float32(math.Inf(-1))}
	f16 := make([]byte, 2*len(vals))
	bf16 := make([]byte, 2*len(vals))
	f64 := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(f16[2*i:], float16.Fromfloat32(v).Bits())
		binary.LittleEndian.PutUint16(bf16[2*i:], uint16(math.Float32bits(v)>>16))
		binary.LittleEndian.PutUint64(f64[8*i:], math.Float64bits(float64(v)))
	}
	tensors := []safetensors.Tensor{
		{Name: "a.f32", DType: "F32", Shape: []int{2, 3}, Data: safetensors.F32Bytes(vals)},
		{Name: "b.f16", DType: "F16", Shape: []int{6}, Data: f16},
		{Name: "c.bf16", DType: "BF16", Shape: []int{3, 2}, Data: bf16},
		{Name: "d.f64", DType: "F64", Shape: []int{1, 6}, Data: f64},
		{Name: "e.i64", DType: "I64", Shape: []int{2}, Data: make([]byte, 16)},
		{Name: "f.scalar", DType: "F32", Shape: []int{}, Data: safetensors.F32Bytes([]float32{7})},
		{Name: "g.empty", DType: "F32", Shape: []int{0, 4}, Data: nil},
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, tensors, map[string]string{"format": "pt"}))
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	require.Equal(t, []string{"a.f32", "b.f16", "c.bf16", "d.f64", "e.i64", "f.scalar", "g.empty"}, f.Names())
	for _, name := range []string{"a.f32", "b.f16", "c.bf16", "d.f64"} {
		tt, ok := f.Lookup(name)
		require.True(t, ok)
		got, err := tt.Float32()
		require.NoError(t, err)
		require.Len(t, got, 6)
		for i, v := range vals {
			want := v
			if name == "c.bf16" {
				want = math.Float32frombits(math.Float32bits(v) &^ 0xffff) // truncated mantissa
			}
			if name == "b.f16" {
				want = float16.Fromfloat32(v).Float32()
			}
			require.Equal(t, want, got[i], "%s[%d]", name, i)
		}
	}
	sc, _ := f.Lookup("f.scalar")
	require.Equal(t, 1, sc.Elements())
	e, _ := f.Lookup("e.i64")
	_, err = e.Float32()
	require.ErrorIs(t, err, safetensors.ErrDType)
	_, ok := f.Lookup("nope")
	require.False(t, ok)
}

func TestParseErrors(t *testing.T) {
	f32 := safetensors.F32Bytes([]float32{1, 2, 3, 4})
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"7 bytes", make([]byte, 7), "too short"},
		{"header past end", build("{}", nil)[:9], "runs past the end"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<62), "exceeds"},
		{"not json", build("hello", nil), "not a JSON object"},
		{"json array", build("[1]", nil), "not a JSON object"},
		{"bad json", build(`{"a":`, nil), "header JSON"},
		{"not utf8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"entry not object", build(`{"a":1}`, nil), `tensor "a"`},
		{"unknown dtype", build(`{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}`, f32), "unknown dtype"},
		{"negative shape", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32), `tensor "a"`},
		{"too many dims", build(`{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}`, f32), "dimensions"},
		{"overflowing shape", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, f32), "2^40"},
		// Issue 13, finding 6: a zero dimension hid a 2^64-1 one, reported
		// back as [0 -1].
		{"zero hides a huge dimension", build(`{"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}`, f32), "2^40"},
		{"zero hides overflowing dimensions", build(`{"a":{"dtype":"F32","shape":[1099511627776,0,1099511627776],"data_offsets":[0,0]}}`, f32), "2^40"},
		{"one dimension over 2^40", build(`{"a":{"dtype":"F32","shape":[0,1099511627777],"data_offsets":[0,0]}}`, f32), "2^40"},
		{"offsets arity", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, f32), "data_offsets"},
		{"offsets reversed", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32), "outside"},
		{"offsets past end", build(`{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}`, f32), "outside"},
		{"offset wraps", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,3]}}`, f32), "outside"},
		{"length mismatch", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}`, f32), "needs 12"},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, f32), "overlap"},
		{"bad metadata", build(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := safetensors.Parse(tc.data)
			require.ErrorIs(t, err, safetensors.ErrFormat)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	// An empty tensor with a large but valid dimension is fine.
	f, err := safetensors.Parse(build(`{"a":{"dtype":"F32","shape":[0,1099511627776],"data_offsets":[0,0]}}`, nil))
	require.NoError(t, err)
	require.Equal(t, []int{0, 1 << 40}, f.Tensors[0].Shape)
	require.Zero(t, f.Tensors[0].Elements())

	// Valid odd cases: header padded with spaces, unused trailing bytes.
	f, err = safetensors.Parse(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}   `, f32))
	require.NoError(t, err)
	v, err := f.Tensors[0].Float32()
	require.NoError(t, err)
	require.Equal(t, []float32{2, 3}, v)

	_, err = safetensors.ReadFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	require.ErrorIs(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}}, nil), safetensors.ErrFormat)
	require.ErrorIs(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "a", DType: "X", Shape: []int{1}}}, nil), safetensors.ErrFormat)
	two := []safetensors.Tensor{{Name: "a", DType: "U8", Shape: []int{1}, Data: []byte{1}}, {Name: "a", DType: "U8", Shape: []int{1}, Data: []byte{2}}}
	require.ErrorIs(t, safetensors.Write(&buf, two, nil), safetensors.ErrFormat)
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	_ = safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "w", DType: "F32", Shape: []int{2, 2}, Data: safetensors.F32Bytes([]float32{1, 2, 3, 4})},
		{Name: "h", DType: "F16", Shape: []int{1}, Data: []byte{0, 0x3c}},
		{Name: "b", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0, 0}},
	}, map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, []byte{0, 0, 128, 63}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := safetensors.Parse(data)
		if err != nil {
			return
		}
		for i := range sf.Tensors {
			tt := &sf.Tensors[i]
			// Shapes are what the file says: no dimension wraps negative
			// or past 2^40 (issue 13: [0, 2^64-1] read back as [0 -1]).
			for _, d := range tt.Shape {
				if d < 0 || d > 1<<40 {
					t.Fatalf("%s: shape %v", tt.Name, tt.Shape)
				}
			}
			v, err := tt.Float32()
			if err != nil {
				continue
			}
			if len(v) != tt.Elements() {
				t.Fatalf("%s: %d values for shape %v", tt.Name, len(v), tt.Shape)
			}
		}
	})
}

// TestWriteFuzzCorpus regenerates the seed corpus when LEPTON_UPDATE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("LEPTON_UPDATE_CORPUS") != "1" {
		t.Skip("set LEPTON_UPDATE_CORPUS=1 to regenerate testdata/fuzz seeds")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "bert.embeddings.word_embeddings.weight", DType: "F32", Shape: []int{3, 2}, Data: safetensors.F32Bytes([]float32{1, 2, 3, 4, 5, 6})},
		{Name: "bert.pooler.dense.bias", DType: "F16", Shape: []int{2}, Data: []byte{0, 0x3c, 0, 0xbc}},
		{Name: "classifier.bias", DType: "BF16", Shape: []int{2}, Data: []byte{0x80, 0x3f, 0, 0}},
		{Name: "position_ids", DType: "I64", Shape: []int{1, 2}, Data: make([]byte, 16)},
	}, map[string]string{"format": "pt"}))
	for name, d := range map[string][]byte{
		"seed-valid":   buf.Bytes(),
		"seed-overlap": build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, make([]byte, 16)),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", d), 0o644))
	}
}

func TestOpenMapped(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, []safetensors.Tensor{{Name: "w", DType: "F32", Shape: []int{3}, Data: safetensors.F32Bytes([]float32{1, 2, 3})}}, nil))
	path := filepath.Join(dir, "m.safetensors")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	require.Equal(t, buf.Bytes(), f.Raw)
	w, ok := f.Lookup("w")
	require.True(t, ok)
	v, err := w.Float32()
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3}, v)
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "Close twice")
	_, ok = f.Lookup("w")
	require.False(t, ok, "closed files expose no tensors")

	_, err = safetensors.Open(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	for name, data := range map[string][]byte{"empty": nil, "garbage": []byte("0123456789abcdef")} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		_, err = safetensors.Open(p)
		require.ErrorIs(t, err, safetensors.ErrFormat, name)
		require.Contains(t, err.Error(), p)
	}
}
