package clinic_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/models/clinic"
)

// TestBuiltIn checks what the CLI and the README promise about the
// embedded model: it opens, it is a 24-way classifier that fits the size
// budget, and its metadata says what it is and how accurate it is.
func TestBuiltIn(t *testing.T) {
	b := clinic.Bytes()
	require.NotEmpty(t, b)
	require.Less(t, len(b), 8<<20, "the built-in model must stay under 8 MiB")

	m, err := clinic.Open(lepton.WithThreads(1))
	require.NoError(t, err)
	defer m.Close()
	info := m.Info()
	require.Equal(t, "BertForSequenceClassification", info.Architecture)
	require.Len(t, info.Labels, 24)
	require.Contains(t, info.Labels, "Malaria")
	for _, k := range []string{"name", "description", "training", "data", "evaluation",
		"test_accuracy_int8", "test_macro_f1_int8", "test_accuracy_fp32", "test_baseline_tfidf_logreg"} {
		require.NotEmpty(t, info.Metadata[k], "metadata %q", k)
	}
	acc, err := strconv.ParseFloat(info.Metadata["test_accuracy_int8"], 64)
	require.NoError(t, err)
	require.Greater(t, acc, 0.5, "a 24-way classifier far above chance (0.042)")

	res, err := m.Classify(context.Background(), []string{
		"My skin is covered in red, itchy patches with silvery scales on my elbows and knees",
		"",
	})
	require.NoError(t, err)
	require.Equal(t, "Psoriasis", res[0].Label)
	var sum float32
	for _, p := range res[1].Probs {
		sum += p
	}
	require.InDelta(t, 1, sum, 1e-4, "an empty text still gets a distribution")

	// Opening it again while the first is open works: the bytes are read-only.
	m2, err := clinic.Open()
	require.NoError(t, err)
	require.NoError(t, m2.Close())

	// Bytes is a copy: changing it changes neither later copies nor what
	// Open opens.
	b[len(b)/2] ^= 0xff
	require.NotEqual(t, b, clinic.Bytes())
	m3, err := clinic.Open(lepton.WithVerify(true))
	require.NoError(t, err, "the embedded model is intact")
	require.NoError(t, m3.Close())
}
