package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/quant"
)

// TestVersionCLI: `lepton version` prints the module version, a revision
// line, the Go version and platform, and the kernel tier in use; --json
// carries the same; arguments are a usage error.
func TestVersionCLI(t *testing.T) {
	code, stdout, stderr := lepCLI("version")
	require.Equal(t, 0, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.GreaterOrEqual(t, len(lines), 4, stdout)
	require.True(t, strings.HasPrefix(lines[0], "lepton "), stdout)
	require.Contains(t, stdout, "revision ")
	require.Contains(t, stdout, runtime.GOOS+"/"+runtime.GOARCH)
	require.Contains(t, stdout, "kernel    "+quant.KernelName())

	code, stdout, stderr = lepCLI("version", "--json")
	require.Equal(t, 0, code, stderr)
	var v versionJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &v))
	require.Equal(t, "lepton", v.Module)
	require.NotEmpty(t, v.Version)
	require.Equal(t, runtime.Version(), v.Go)
	require.Equal(t, quant.KernelName(), v.Kernel)
	require.Equal(t, quant.Kernels(), v.Kernels)

	code, _, stderr = lepCLI("version", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no arguments")
}

// TestBuildVersion covers the build information go build records in each
// situation: lepton as the main module with VCS stamping, as a replaced
// dependency of another module, and with no build information at all.
func TestBuildVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want versionJSON
		text []string
	}{
		{"main module, stamped", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "lepton", Version: "v0.0.0-20261206201028-699c9e92ac81+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "699c9e92ac8160db3fe70785c1f0fe0b0be0db9b"},
				{Key: "vcs.time", Value: "2026-12-06T20:10:28Z"}, {Key: "vcs.modified", Value: "true"}}},
			versionJSON{Version: "v0.0.0-20261206201028-699c9e92ac81+dirty", Revision: "699c9e92ac8160db3fe70785c1f0fe0b0be0db9b", Time: "2026-12-06T20:10:28Z", Modified: true, Go: "go1.26.8"},
			[]string{"lepton    v0.0.0-20261206201028-699c9e92ac81+dirty", "revision  699c9e92ac8160db3fe70785c1f0fe0b0be0db9b (2026-12-06T20:10:28Z, with uncommitted changes)", "go        go1.26.8 "}},
		{"main module, go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "lepton", Version: "(devel)"}},
			versionJSON{Version: "(devel)", Go: "go1.26.8"},
			[]string{"lepton    (devel)", "revision  unknown (no VCS information"}},
		{"dependency, replaced", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "example.com/clinic", Version: "(devel)"},
			Deps: []*debug.Module{{Path: "golang.org/x/sys", Version: "v0.50.0"}, {Path: "lepton", Version: "v0.0.0", Replace: &debug.Module{Path: "../lepton"}}},
			// The main module's VCS stamp is not lepton's revision.
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}},
			versionJSON{Version: "v0.0.0", Replace: "../lepton", Go: "go1.26.1"},
			[]string{"lepton       v0.0.0", "replaced by  ../lepton", "revision     unknown"}},
		{"no build information", nil, versionJSON{Version: "unknown", Go: runtime.Version()}, []string{"lepton    unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := buildVersion(tc.bi)
			want := tc.want
			want.Module = "lepton"
			want.Platform = runtime.GOOS + "/" + runtime.GOARCH
			want.Kernel, want.Kernels = quant.KernelName(), quant.Kernels()
			if err := quant.KernelError(); err != nil { // LEPTON_KERNEL set to a tier this CPU lacks
				want.KernelError = err.Error()
			}
			require.Equal(t, want, got)
			var b strings.Builder
			require.NoError(t, writeVersion(&b, got))
			for _, line := range tc.text {
				require.Contains(t, b.String(), line)
			}
		})
	}
}
