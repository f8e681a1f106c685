package quant

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostKernels logs the tiers this host supports and, when
// LEPTON_EXPECT_KERNELS lists them (space-separated, fastest first), requires
// exactly that list. .ci/run sets it for each emulated arm64 CPU, so a
// detection that silently drops a tier (and with it that tier's tests)
// fails CI instead of passing with less coverage.
func TestHostKernels(t *testing.T) {
	t.Logf("kernels: %s (default %s, active %s)", strings.Join(Kernels(), " "), defaultName(), KernelName())
	want := os.Getenv("LEPTON_EXPECT_KERNELS")
	if want == "" {
		return
	}
	require.Equal(t, strings.Fields(want), Kernels(), "LEPTON_EXPECT_KERNELS")
}
