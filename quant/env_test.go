package quant

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLeptonKernelEnv starts this test binary again with LEPTON_KERNEL set
// and checks what init made of it: a supported tier is used, an unknown or
// unsupported one leaves the best tier in use and surfaces as KernelError.
func TestLeptonKernelEnv(t *testing.T) {
	if os.Getenv("LEPTON_KERNEL_CHILD") != "" {
		return // the child's own run of this test
	}
	old := KernelName() // before probing: SetKernel below changes the tier
	defer func() { require.NoError(t, SetKernel(old)) }()
	cases := []struct{ env, want, errPart string }{
		{"generic", KernelGeneric, ""},
		{"bogus", defaultName(), "unknown tier"},
	}
	for _, name := range Kernels() {
		cases = append(cases, struct{ env, want, errPart string }{name, name, ""})
	}
	for _, missing := range []string{KernelVNNI, KernelAVXVNNI, KernelAVX2, KernelI8MM, KernelSDOT, KernelNEON} {
		if SetKernel(missing) != nil {
			cases = append(cases, struct{ env, want, errPart string }{missing, defaultName(), "not supported"})
		}
	}
	require.NoError(t, SetKernel(defaultName()))
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKernelEnvChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "LEPTON_KERNEL="+c.env, "LEPTON_KERNEL_CHILD=1",
			"WANT_KERNEL="+c.want, "WANT_ERR="+c.errPart)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Skipf("cannot re-run the test binary here (%v)", err)
		}
		require.NoError(t, err, "LEPTON_KERNEL=%s:\n%s", c.env, out)
		require.Contains(t, string(out), "--- PASS: TestKernelEnvChild", "LEPTON_KERNEL=%s", c.env)
	}
}

// defaultName is the tier init picks without LEPTON_KERNEL.
func defaultName() string {
	for _, t := range tiers {
		if !t.optIn {
			return t.name
		}
	}
	return KernelGeneric
}

// TestKernelEnvChild runs only inside TestLeptonKernelEnv's child process.
func TestKernelEnvChild(t *testing.T) {
	if os.Getenv("LEPTON_KERNEL_CHILD") == "" {
		t.Skip("helper for TestLeptonKernelEnv")
	}
	require.Equal(t, os.Getenv("WANT_KERNEL"), KernelName())
	if part := os.Getenv("WANT_ERR"); part != "" {
		require.ErrorIs(t, KernelError(), ErrKernel)
		require.True(t, strings.Contains(KernelError().Error(), part), "%v", KernelError())
	} else {
		require.NoError(t, KernelError())
	}
}
