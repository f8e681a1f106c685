package lepfile_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

// tinyTokenModel is tinyModel's token classifier (format 1.2).
func tinyTokenModel(t testing.TB, keepF32 bool) *bert.Model {
	t.Helper()
	cfg := tinyConfig(lepfile.ArchBertTokenClassification)
	cfg.Labels = []string{"O", "B-NAME", "I-NAME", "B-DATE", "I-DATE"}
	m, err := convert.FromFloat(cfg, convert.Random(cfg, 9), convert.Options{KeepF32: keepF32})
	require.NoError(t, err)
	require.NotNil(t, m.TokenClassifier)
	require.Nil(t, m.Pooler, "BertForTokenClassification has no pooler, even when the tensors have one")
	return m
}

// TestTokenClassifierRoundTrip writes and reads a token classifier: it is
// a 1.2 file (1.0 and 1.1 readers refuse its architecture by name), with a
// token_classifier linear; plain BERT files without one stay 1.0.
func TestTokenClassifierRoundTrip(t *testing.T) {
	for _, keep := range []bool{false, true} {
		m := tinyTokenModel(t, keep)
		data := encode(t, m, testTokenizer, lepfile.Metadata{"k": "v"})
		path := filepath.Join(t.TempDir(), "tok.lep")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		for _, open := range []func() (*lepfile.File, error){
			func() (*lepfile.File, error) { return lepfile.OpenBytes(data) },
			func() (*lepfile.File, error) { return lepfile.Open(path) },
		} {
			f, err := open()
			require.NoError(t, err)
			require.Equal(t, 1, f.Major)
			require.Equal(t, 2, f.Minor, "a token classifier is a 1.2 file")
			require.Equal(t, m, f.Model)
			require.NoError(t, f.Model.Validate())
			require.NoError(t, f.Verify())
			var names []string
			for _, ti := range f.Tensors {
				names = append(names, ti.Name)
			}
			require.Contains(t, names, "token_classifier.weight")
			require.Contains(t, names, "token_classifier.colsums")
			require.NotContains(t, names, "classifier.weight")
			require.NotContains(t, names, "pooler.weight")
			require.NoError(t, f.Close())
		}
	}
	for _, arch := range []string{lepfile.ArchBertModel, lepfile.ArchBertClassification} {
		f, err := lepfile.OpenBytes(encode(t, tinyModel(t, arch, false, true), nil, nil))
		require.NoError(t, err)
		require.Equal(t, 0, f.Minor, "%s files stay 1.0", arch)
	}
}

// TestTokenClassifierRefused covers files and models that break the
// architecture's rules.
func TestTokenClassifierRefused(t *testing.T) {
	m := tinyTokenModel(t, false)
	data := encode(t, m, nil, nil)

	// A 1.2 architecture in a file that says 1.1.
	d := slices.Clone(data)
	binary.LittleEndian.PutUint16(d[10:], 1)
	fixCRCs(d)
	_, err := lepfile.OpenBytes(d)
	require.ErrorIs(t, err, lepfile.ErrFormat)
	require.Contains(t, err.Error(), "1.2")

	for name, mutate := range map[string]func(m *bert.Model){
		"no head":        func(m *bert.Model) { m.TokenClassifier = nil },
		"sequence head":  func(m *bert.Model) { m.Classifier, m.TokenClassifier = m.TokenClassifier, nil },
		"both heads":     func(m *bert.Model) { m.Classifier = m.TokenClassifier },
		"label count":    func(m *bert.Model) { m.Config.Labels = m.Config.Labels[:2] },
		"no labels":      func(m *bert.Model) { m.Config.Labels = nil },
		"wrong head dim": func(m *bert.Model) { m.TokenClassifier.W.K = 5 },
	} {
		mm := tinyTokenModel(t, false)
		mutate(mm)
		require.ErrorIs(t, lepfile.Write(&bytes.Buffer{}, mm, nil, nil), lepfile.ErrModel, name)
	}
	// A token head on another architecture.
	seq := tinyModel(t, lepfile.ArchBertClassification, false, true)
	seq.TokenClassifier = seq.Classifier
	seq.Classifier = nil
	require.ErrorIs(t, lepfile.Write(&bytes.Buffer{}, seq, nil, nil), lepfile.ErrModel)
}
