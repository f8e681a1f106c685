package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/fairness"
	"lepton/internal/testshared"
)

func TestFairTriage(t *testing.T) {
	data, err := defaultData()
	require.NoError(t, err)
	if _, err := os.Stat(data); err != nil {
		testshared.Missing(t, "shared data absent (%s): the example needs ../shared beside the repository", data)
	}
	var out bytes.Buffer
	sum, err := run(&out, "", fairness.Platt, fairness.EqualizedOdds, []byte("test-key"))
	require.NoError(t, err)
	require.False(t, sum.skipped)
	require.Equal(t, 4884, sum.fitRows)
	require.Equal(t, 4884, sum.evalRows)
	// Calibration fitted on one half improves calibration on the other.
	require.Less(t, sum.calib.Overall.ECE.Value, sum.before.Overall.ECE.Value)
	for _, g := range sum.before.Groups {
		a, ok := sum.calib.Group(g.Group)
		require.True(t, ok)
		require.Less(t, a.ECE.Value, g.ECE.Value, "group %s", g.Group)
	}
	// The equalized-odds rule narrows the TPR gap on held-out data.
	require.Less(t, sum.decision.EqualOpportunityDifference.Value, sum.before.EqualOpportunityDifference.Value)
	s := out.String()
	require.Contains(t, s, "income.csv: 4884 rows fit, 4884 held out")
	require.Equal(t, 3, strings.Count(s, "->0.")/5, "three table rows of five columns")
}

func TestFairTriageMissingData(t *testing.T) {
	var out bytes.Buffer
	sum, err := run(&out, filepath.Join(t.TempDir(), "absent.csv"), fairness.Platt, fairness.EqualizedOdds, nil)
	require.NoError(t, err)
	require.True(t, sum.skipped)
	require.Contains(t, out.String(), "skipping")
}
