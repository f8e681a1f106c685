package safetensors_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/safetensors"
)

// TestGoldenPyTorch parses a file written by an independent encoder
// (testdata/golden/make_golden.py) and compares every float tensor with
// PyTorch's own float32 upcast, bit for bit (NaN, infinities, -0 and
// subnormals included).
func TestGoldenPyTorch(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	f, err := safetensors.ReadFile(filepath.Join(dir, "mixed.safetensors"))
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "mixed.json"))
	require.NoError(t, err)
	var want map[string]struct {
		Shape []int    `json:"shape"`
		DType string   `json:"dtype"`
		Bits  []string `json:"bits"`
	}
	require.NoError(t, json.Unmarshal(raw, &want))
	require.Equal(t, map[string]string{"format": "pt", "made_by": "make_golden.py"}, f.Metadata)
	require.Len(t, f.Tensors, len(want)+1, "the golden lists every float tensor; the I64 buffer is extra")
	for name, w := range want {
		tt, ok := f.Lookup(name)
		require.True(t, ok, name)
		require.Equal(t, w.DType, tt.DType, name)
		if len(w.Shape) == 0 {
			require.Empty(t, tt.Shape, name)
		} else {
			require.Equal(t, w.Shape, tt.Shape, name)
		}
		got, err := tt.Float32()
		require.NoError(t, err)
		require.Len(t, got, len(w.Bits), name)
		for i, b := range w.Bits {
			require.Equal(t, b, fmt.Sprintf("%08x", math.Float32bits(got[i])), "%s[%d]", name, i)
		}
	}
	ids, ok := f.Lookup("bert.embeddings.position_ids")
	require.True(t, ok)
	require.Equal(t, []int{1, 7}, ids.Shape)
	require.Equal(t, byte(6), ids.Data[6*8])
}
