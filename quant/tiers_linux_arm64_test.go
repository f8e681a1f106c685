//go:build !purego

package quant

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/cpu"
	"golang.org/x/sys/unix"
)

// TestARM64Features logs the kernel's hwcaps (AT_HWCAP, AT_HWCAP2: under
// qemu-user, the emulated CPU's) and checks that the arm64 tiers follow
// them: sdot iff HWCAP_ASIMDDP (bit 20), i8mm iff HWCAP2_I8MM (bit 13), and
// that the opt-in i8mm tier is never the default.
func TestARM64Features(t *testing.T) {
	auxv, err := unix.Auxv()
	require.NoError(t, err)
	var hwcap, hwcap2 uintptr
	for _, kv := range auxv {
		switch kv[0] {
		case 16: // AT_HWCAP
			hwcap = kv[1]
		case 26: // AT_HWCAP2
			hwcap2 = kv[1]
		}
	}
	asimddp, i8mm := hwcap&(1<<20) != 0, hwcap2&(1<<13) != 0
	t.Logf("AT_HWCAP=%#x (asimddp %v) AT_HWCAP2=%#x (i8mm %v); x/sys/cpu: HasASIMDDP %v HasI8MM %v",
		hwcap, asimddp, hwcap2, i8mm, cpu.ARM64.HasASIMDDP, cpu.ARM64.HasI8MM)
	require.Equal(t, asimddp, cpu.ARM64.HasASIMDDP)
	require.Equal(t, i8mm, cpu.ARM64.HasI8MM)
	old := KernelName()
	defer func() { require.NoError(t, SetKernel(old)) }()
	require.Equal(t, asimddp, SetKernel(KernelSDOT) == nil, "sdot listed iff asimddp")
	require.Equal(t, i8mm, SetKernel(KernelI8MM) == nil, "i8mm listed iff HWCAP2_I8MM")
	require.NotEqual(t, KernelI8MM, defaultName(), "i8mm is opt-in")
}
