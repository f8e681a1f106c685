//go:build linux || darwin

package lepfile_test

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/lepfile"
)

// TestMappingIsReadOnly writes through a tensor view of a mapped file and
// expects a fault (turned into a recoverable panic by SetPanicOnFault): the
// mapping is PROT_READ, so no bug can change the model in memory or on disk.
func TestMappingIsReadOnly(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, false, true)
	path := filepath.Join(t.TempDir(), "m.lep")
	require.NoError(t, os.WriteFile(path, encode(t, m, testTokenizer, nil), 0o644))
	f, err := lepfile.Open(path)
	require.NoError(t, err)
	defer f.Close()
	require.True(t, f.Mapped)
	before := f.Model.Layers[0].QKV.W.Data[0]

	faulted := func() (faulted bool) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { faulted = recover() != nil }()
		f.Model.Layers[0].QKV.W.Data[0] = before + 1
		return false
	}()
	require.True(t, faulted, "writing to the mapping must fault")
	require.Equal(t, before, f.Model.Layers[0].QKV.W.Data[0])
	require.NoError(t, f.Verify())
}
