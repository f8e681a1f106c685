package hftokenizers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHFBackend runs the hftokenizers comparison (parity_test.go) when
// the Rust static library is available, in a child `go test -tags
// hftokenizers`, because without the library the tagged test binary cannot
// even link. It looks for libtokenizers.a in the -L directories of
// CGO_LDFLAGS and in LIBRARY_PATH.
func TestHFBackend(t *testing.T) {
	var dirs []string
	for f := range strings.FieldsSeq(os.Getenv("CGO_LDFLAGS")) {
		if d, ok := strings.CutPrefix(f, "-L"); ok {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("LIBRARY_PATH"))...)
	found := ""
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "libtokenizers.a")); err == nil {
			found = d
			break
		}
	}
	if found == "" {
		t.Skip("skipping the Rust-backend comparison: libtokenizers.a (github.com/daulet/tokenizers v1.24.0, " +
			"built from Rust sources, needs crates access) is not in CGO_LDFLAGS -L dirs or LIBRARY_PATH; " +
			"set CGO_LDFLAGS=-L<dir> to run it")
	}
	if testing.Short() {
		t.Skip("skipping the Rust-backend comparison in -short mode")
	}
	cmd := exec.Command("go", "test", "-count=1", "-tags", "hftokenizers", "-run", "^TestHFBackendParity$", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hftokenizers comparison failed (library in %s):\n%s", found, out)
	}
	t.Logf("%s", out)
}
