package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/lepfile"
	"lepton/internal/synth"
	"lepton/privacy"
)

// TestClassifyRefusesNaNModel is finding 2 of issue 13 at the CLI: with the
// attention LayerNorm's gamma[5] = NaN, `lepton classify` printed
// "no 0.5018" with exit code 0. It now fails to
// open the model: exit code 1, one line naming the tensor, nothing on
// stdout.
func TestClassifyRefusesNaNModel(t *testing.T) {
	data, err := os.ReadFile(runFixture(t))
	require.NoError(t, err)
	f, err := lepfile.OpenBytes(data)
	require.NoError(t, err)
	var off int64
	for _, ti := range f.Tensors {
		if ti.Name == "layer.0.attn_ln.gamma" {
			off = ti.Offset
		}
	}
	require.NoError(t, f.Close())
	binary.LittleEndian.PutUint32(data[off+5*4:], math.Float32bits(float32(math.NaN())))
	path := filepath.Join(t.TempDir(), "nan.lep")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	code, out, errs := runCLI("", "classify", "-m", path, "fever", "cough", "a rash")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errs, "layer.0.attn_ln.gamma")
	require.Contains(t, errs, "non-finite")
	require.Equal(t, 1, strings.Count(errs, "\n"))
}

// TestModelFlagsLimits: --scratch-limit refuses a model whose calls could
// need more, --no-mmap reads the model into memory with the same results.
func TestModelFlagsLimits(t *testing.T) {
	model := runFixture(t)
	code, _, errs := runCLI("", "classify", "-m", model, "--scratch-limit", "1", "fever")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "scratch memory")
	require.Contains(t, errs, "WithScratchLimit")
	code, mapped, errs := runCLI("", "classify", "-m", model, "--json", "fever and chills")
	require.Equal(t, 0, code, errs)
	code, read, errs := runCLI("", "classify", "-m", model, "--json", "--no-mmap", "fever and chills")
	require.Equal(t, 0, code, errs)
	require.Equal(t, mapped, read)
	code, _, errs = runCLI("", "classify", "-m", model, "--threads", "100000", "fever")
	require.Equal(t, 2, code, "an out-of-range flag value is a usage error")
	require.Contains(t, errs, "threads 100000")
}

// TestQuantizeRefusesLayerMismatch is finding 6 at the CLI: a config.json
// that says 1 layer on a 12-layer checkpoint no longer gives a "verified"
// 1-layer model; nothing is written.
func TestQuantizeRefusesLayerMismatch(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, synth.WriteCheckpoint(synth.Spec{Name: "t", Layers: 12, Hidden: 8, Heads: 2, Intermediate: 16,
		Vocab: 120, MaxPositions: 16, TypeVocab: 2, Seed: 3}, src))
	conf := filepath.Join(src, "config.json")
	b, err := os.ReadFile(conf)
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	c["num_hidden_layers"] = 1
	b, err = json.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(conf, b, 0o644))
	outDir := t.TempDir()
	out := filepath.Join(outDir, "m.lep")
	code, stdout, errs := lepCLI("quantize", src, "-o", out, "--no-progress")
	require.Equal(t, 1, code, stdout)
	require.Contains(t, errs, "num_hidden_layers 1")
	require.Contains(t, errs, "encoder.layer.1.")
	require.Empty(t, lepListDir(t, outDir), "nothing written")
}

// TestLedgerCLI: `lepton ledger show` and `lepton ledger compact` (finding 4:
// the documented way out of a full ledger).
func TestLedgerCLI(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dp.json")
	l, err := privacy.OpenLedger(path, privacy.Budget{Epsilon: 10, Delta: 1e-5})
	require.NoError(t, err)
	r, err := privacy.New(privacy.WithLedger(l))
	require.NoError(t, err)
	for i := range 30 {
		_, err := r.Label(i%3, 3, 0.1)
		require.NoError(t, err)
	}
	spent := l.Spent()

	code, out, errs := runCLI("", "ledger", "show", path)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "over 30 releases")
	require.Contains(t, out, "30 releases listed")
	code, out, errs = runCLI("", "ledger", "show", "--json", path)
	require.Equal(t, 0, code, errs)
	var sum struct {
		Spent   privacy.Spent `json:"spent"`
		Entries int           `json:"entries"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	require.Equal(t, spent, sum.Spent)
	require.Equal(t, 30, sum.Entries)

	archive := filepath.Join(dir, "dp.archive.json")
	code, out, errs = runCLI("", "ledger", "compact", "--archive", archive, path)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "30 releases carried")
	require.Contains(t, out, "history archived in "+archive)
	require.FileExists(t, archive)
	code, out, errs = runCLI("", "ledger", "show", "--json", path)
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	require.Equal(t, spent, sum.Spent, "compaction keeps the spend")
	require.Equal(t, 0, sum.Entries)

	// The ledger keeps working from the classify flags' point of view.
	code, _, errs = runCLI("", "classify", "-m", runFixture(t), "--dp-label-epsilon", "0.5", "--dp-ledger", path, "fever")
	require.Equal(t, 0, code, errs)
	l2, err := privacy.LoadLedger(path)
	require.NoError(t, err)
	require.Equal(t, 31, l2.Spent().Releases)

	for _, args := range [][]string{
		{"ledger"}, {"ledger", "list", path}, {"ledger", "show"}, {"ledger", "compact", path, path},
		{"ledger", "show", "--archive", "x", path}, {"ledger", "compact", "--json", path},
	} {
		code, _, errs := runCLI("", args...)
		require.Equal(t, 2, code, "%v: %s", args, errs)
	}
	code, _, errs = runCLI("", "ledger", "compact", "--archive", archive, path)
	require.Equal(t, 1, code, "an existing archive")
	require.Contains(t, errs, "already exists")
	code, _, errs = runCLI("", "ledger", "show", filepath.Join(dir, "missing.json"))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "no such file")
	code, _, _ = runCLI("", "ledger", "-h")
	require.Equal(t, 0, code)
}
