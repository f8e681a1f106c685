package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/safetensors"
)

// writeHFDir writes a tiny random BertForSequenceClassification checkpoint
// (config.json, model.safetensors, vocab.txt) and returns its directory.
func lepWriteHFDir(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := bert.Config{Architecture: "BertForSequenceClassification", Layers: 1, Hidden: 8, Heads: 2,
		Intermediate: 12, Vocab: 10, MaxPositions: 16, TypeVocab: 2, LayerNormEps: 1e-12,
		Activation: "gelu", Pooling: "cls", Labels: []string{"NEG", "POS"}}
	conf := fmt.Sprintf(`{"architectures":[%q],"model_type":"bert","vocab_size":10,"hidden_size":8,
		"num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":12,"max_position_embeddings":16,
		"type_vocab_size":2,"hidden_act":"gelu","id2label":{"0":"NEG","1":"POS"}}`, arch)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(conf), 0o644))
	ts := convert.Random(cfg, 5)
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	var tensors []safetensors.Tensor
	for _, n := range names {
		name := "bert." + n
		if strings.HasPrefix(n, "classifier") {
			name = n
		}
		shape := []int{len(ts[n])}
		if strings.HasSuffix(n, ".weight") && !strings.Contains(n, "LayerNorm") {
			shape = []int{len(ts[n]) / 8, 8}
			if strings.HasSuffix(n, "layer.0.output.dense.weight") {
				shape = []int{8, 12}
			}
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: "F32", Shape: shape, Data: safetensors.F32Bytes(ts[n])})
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, tensors, nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), buf.Bytes(), 0o644))
	vocab := "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nbad\nfilm\n##s\n.\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(vocab), 0o644))
	return dir
}

// cli runs one command line and returns its exit status and outputs.
func lepCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func lepListDir(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestQuantizeVerifyInfo(t *testing.T) {
	src := lepWriteHFDir(t, "BertForSequenceClassification")
	outDir := t.TempDir()
	out := filepath.Join(outDir, "m.lep")

	code, stdout, stderr := lepCLI("quantize", src, "-o", out, "--meta", "note=unit test")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "wrote "+out)
	require.Equal(t, []string{"m.lep"}, lepListDir(t, outDir), "no temporary files left")

	code, stdout, stderr = lepCLI("verify", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "OK")
	code, _, stderr = lepCLI("verify", "-m", out)
	require.Equal(t, 0, code, stderr)

	code, stdout, stderr = lepCLI("info", out, "--json")
	require.Equal(t, 0, code, stderr)
	var info infoJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &info))
	require.Equal(t, []string{"NEG", "POS"}, info.Config.Labels)
	require.Equal(t, "BertForSequenceClassification", info.Config.Architecture)
	require.Equal(t, "unit test", info.Metadata["note"])
	require.Equal(t, "lepton", info.TokenizerFormat)
	require.NotEmpty(t, info.Kernel)
	require.False(t, info.HasFloat)
	require.Len(t, info.Tensors, 3*2+2+(4*4+2*2)+2*4) // 3 embeddings + LN; 4 linears + 2 LNs per layer; pooler, classifier

	code, stdout, stderr = lepCLI("info", "-m", out)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"BertForSequenceClassification", "NEG, POS", "layer.0.qkv.weight", "I8P16K4", "kernel"} {
		require.Contains(t, stdout, want)
	}

	// Flags before the directory, float copies kept, output replaced.
	code, _, stderr = lepCLI("quantize", "--keep-fp32", "-o", out, src)
	require.Equal(t, 0, code, stderr)
	code, stdout, _ = lepCLI("info", "--json", out)
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &info))
	require.True(t, info.HasFloat)

	// A corrupted payload: verify fails with one line, info still opens
	// (payloads are not read at open).
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	data[len(data)-3] ^= 0x10
	bad := filepath.Join(outDir, "bad.lep")
	require.NoError(t, os.WriteFile(bad, data, 0o644))
	code, stdout, stderr = lepCLI("verify", bad)
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "checksum mismatch")
	require.Contains(t, stderr, bad+" is damaged")
	require.NotContains(t, stderr, "lepfile", "user-facing wording, not the package name")
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)

	// --verify makes the model commands run the same checks before they
	// run the model (lepton.WithVerify), and refuse the damaged file.
	for _, cmd := range []string{"classify", "embed"} {
		code, stdout, stderr = lepCLI(cmd, "--verify", "-m", bad, "fever")
		require.Equal(t, 1, code, cmd)
		require.Empty(t, stdout, cmd)
		require.Contains(t, stderr, "invalid model file", cmd)
		require.Contains(t, stderr, "checksum mismatch", cmd)
		require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		code, _, stderr = lepCLI(cmd, "--verify", "-m", out, "fever")
		require.Equal(t, 0, code, "%s --verify on an intact file: %s", cmd, stderr)
	}
}

func TestQuantizeErrors(t *testing.T) {
	outDir := t.TempDir()
	out := filepath.Join(outDir, "m.lep")
	for _, tc := range []struct {
		name string
		args func() []string
		code int
		want string
	}{
		{"unsupported architecture", func() []string { return []string{"quantize", lepWriteHFDir(t, "BertForMaskedLM"), "-o", out} }, 1, "BertForMaskedLM"},
		{"missing directory", func() []string { return []string{"quantize", filepath.Join(outDir, "nope"), "-o", out} }, 1, "nope does not exist"},
		{"no output", func() []string { return []string{"quantize", lepWriteHFDir(t, "BertForSequenceClassification")} }, 2, "-o MODEL.lep is required"},
		{"two directories", func() []string { return []string{"quantize", "a", "b", "-o", out} }, 2, "exactly one"},
		{"bad pooling", func() []string { return []string{"quantize", "a", "-o", out, "--pooling", "median"} }, 2, "--pooling"},
		{"bad score activation", func() []string { return []string{"quantize", "a", "-o", out, "--score-activation", "softmax"} }, 2, "--score-activation"},
		{"unknown flag", func() []string { return []string{"quantize", "--frobnicate"} }, 2, "frobnicate"},
		{"corrupt safetensors", func() []string {
			d := lepWriteHFDir(t, "BertForSequenceClassification")
			require.NoError(t, os.WriteFile(filepath.Join(d, "model.safetensors"), []byte("garbage!garbage!"), 0o644))
			return []string{"quantize", d, "-o", out}
		}, 1, "invalid safetensors file"},
		{"output dir missing", func() []string {
			return []string{"quantize", lepWriteHFDir(t, "BertForSequenceClassification"), "-o", filepath.Join(outDir, "x", "m.lep")}
		}, 1, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := lepCLI(tc.args()...)
			require.Equal(t, tc.code, code, stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.want)
			// Usage errors (2) as well as failures (1): one line.
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			require.NotRegexp(t, `(^|\s)(lepfile|convert|safetensors): `, stderr, "user-facing wording, not package names")
			require.Empty(t, lepListDir(t, outDir), "nothing half-written")
		})
	}
}

func TestInfoVerifyErrors(t *testing.T) {
	dir := t.TempDir()
	notLep := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(notLep, []byte("{}\n"), 0o644))
	for _, cmd := range []string{"info", "verify"} {
		code, _, stderr := lepCLI(cmd, notLep)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "not a .lep file")
		require.NotContains(t, stderr, "lepfile", "user-facing wording, not the package name")
		code, _, stderr = lepCLI(cmd, filepath.Join(dir, "missing.lep"))
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "no such file")
		code, _, _ = lepCLI(cmd, "-m", "a", "b")
		require.Equal(t, 2, code)
		code, _, stderr = lepCLI(cmd, "-h")
		require.Equal(t, 0, code)
		require.Contains(t, stderr, "built-in")
	}
}

// TestInfoVerifyDefaultModel: without a model, info and verify describe
// the built-in model that classify and embed run without -m.
func TestInfoVerifyDefaultModel(t *testing.T) {
	code, stdout, stderr := lepCLI("verify")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "built-in clinic model")
	require.Contains(t, stdout, ": OK")

	code, stdout, stderr = lepCLI("info", "--json")
	require.Equal(t, 0, code, stderr)
	var info infoJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &info))
	require.Contains(t, info.Path, "built-in clinic model")
	require.Len(t, info.Config.Labels, 24)
	require.Contains(t, info.Config.Labels, "Psoriasis")

	code, stdout, stderr = lepCLI("info")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "Psoriasis")
}
