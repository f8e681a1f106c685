// Package testshared holds the test helpers shared by the packages whose
// acceptance tests read ../shared: the trained models and data sets that
// sit beside the repository (read in place, never copied into it).
//
// Those tests skip when ../shared is absent, so that a plain clone still
// passes `go test ./...`. CI always has ../shared, and there a skip would
// hide the acceptance figures, so setting LEPTON_REQUIRE_SHARED=1 turns
// every such skip into a failure.
//
// The package imports "testing" and is meant for _test.go files only.
package testshared

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that, set to 1, makes a missing
// ../shared a test failure instead of a skip.
const RequireEnv = "LEPTON_REQUIRE_SHARED"

// Required reports whether RequireEnv asks for ../shared to be present.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// RepoRoot walks up from the working directory (the package under test) to
// the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testshared: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testshared: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Path returns ../shared/rel (rel in slash form) relative to the repository
// root. When it does not exist the test is skipped with a message saying
// what is missing, or fails when RequireEnv is set.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		Missing(t, "../shared/%s not found (%v): this acceptance test needs ../shared beside the repository", rel, err)
	}
	return p
}

// Missing ends the test because shared data is absent: a skip, or a
// failure when RequireEnv is set.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: shared data is required)", msg, RequireEnv)
	}
	t.Skipf("%s (set %s=1 to make this a failure)", msg, RequireEnv)
}

// ReadSST2 reads the SST-2 validation file at path (a header line, then
// sentence<TAB>label lines) and returns the sentences and labels. A missing
// file ends the test through Missing; a malformed one fails it.
func ReadSST2(t testing.TB, path string) ([]string, []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		Missing(t, "SST-2 validation data not found: %v", err)
	}
	defer f.Close()
	var texts []string
	var labels []int
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		if i == 0 {
			continue // header
		}
		text, lab, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("%s line %d: no tab", path, i+1)
		}
		l, err := strconv.Atoi(lab)
		if err != nil {
			t.Fatalf("%s line %d: label: %v", path, i+1, err)
		}
		texts = append(texts, text)
		labels = append(labels, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return texts, labels
}
