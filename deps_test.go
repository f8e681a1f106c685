package lepton

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// coreDeps lists the packages that a program importing the core links:
// the root package, the packages its API exposes, and the built-in model.
var corePackages = []string{"lepton", "lepton/quant", "lepton/tokenize", "lepton/privacy", "lepton/fairness", "lepton/models/clinic"}

// forbiddenDeps are import path prefixes that must never be linked into a
// program through the core: plotting, fonts, images, PDF and SVG writers
// (package lepton/fairness/report has them, for the CLI), network code,
// cgo, and the Rust tokenizer backend.
var forbiddenDeps = []string{
	"gonum.org/v1/plot", "codeberg.org/go-fonts", "codeberg.org/go-latex", "codeberg.org/go-pdf",
	"github.com/ajstarks/svgo", "git.sr.ht/~sbinet/gg", "github.com/golang/freetype", "golang.org/x/image",
	"image", "net", "crypto/tls", "runtime/cgo", "plugin", "os/exec",
	"github.com/daulet/tokenizers", "lepton/fairness/report", "lepton/tokenize/hftokenizers", "lepton/cmd",
}

// allowedModules are the only modules besides lepton and the standard
// library that the core may link.
var allowedModules = []string{"golang.org/x/sys", "golang.org/x/text"}

func hasPathPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// TestCoreImportGraph keeps the core light to embed: `go list -deps` of the
// core packages, on every platform Lepton ships for, with cgo enabled and
// with the purego tag, holds no forbidden package and no module outside
// the allowed ones. A new heavy dependency fails here with the chain of
// imports that brought it in.
func TestCoreImportGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped in -short mode")
	}
	for _, target := range []struct{ goos, goarch, tags string }{
		{"linux", "amd64", ""}, {"linux", "arm64", ""}, {"darwin", "arm64", ""}, {"windows", "amd64", ""}, {"linux", "amd64", "purego"},
	} {
		name := target.goos + "/" + target.goarch + "+" + target.tags
		args := []string{"list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \" \"}}"}
		if target.tags != "" {
			args = append(args, "-tags", target.tags)
		}
		cmd := exec.Command("go", append(args, corePackages...)...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(goEnvWithout("GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS"),
			"GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: go list: %v\n%s", name, err, out)
		}
		importedBy := map[string]string{}  // first importer, for the chain
		importers := map[string][]string{} // all importers
		var pkgs []string
		std := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				t.Fatalf("%s: go list line %q", name, line)
			}
			pkgs = append(pkgs, f[0])
			std[f[0]] = f[1] == "true"
			for _, imp := range f[2:] {
				if _, seen := importedBy[imp]; !seen {
					importedBy[imp] = f[0]
				}
				importers[imp] = append(importers[imp], f[0])
			}
		}
		if len(pkgs) < len(corePackages) {
			t.Fatalf("%s: go list returned %d packages", name, len(pkgs))
		}
		chain := func(p string) string {
			c := []string{p}
			for i := 0; i < 50; i++ {
				by, ok := importedBy[p]
				if !ok {
					break
				}
				c = append(c, by)
				p = by
			}
			return strings.Join(c, " <- ")
		}
		// The one exception: on Windows, golang.org/x/sys/windows (the
		// privacy ledger's file lock) imports net for its socket types.
		// Accepted only while nothing else imports net or net/netip; the
		// rest of net (net/http, crypto/tls, ...) stays forbidden.
		onlyFrom := func(p string, allowed ...string) bool {
			for _, by := range importers[p] {
				if !slices.Contains(allowed, by) {
					return false
				}
			}
			return true
		}
		windowsNet := target.goos == "windows" && onlyFrom("net", "golang.org/x/sys/windows") &&
			onlyFrom("net/netip", "net", "golang.org/x/sys/windows")
		for _, p := range pkgs {
			if windowsNet && (p == "net" || p == "net/netip") {
				continue
			}
			for _, bad := range forbiddenDeps {
				if hasPathPrefix(p, bad) {
					t.Errorf("%s: the core links %s: %s", name, p, chain(p))
				}
			}
			if std[p] || hasPathPrefix(p, "lepton") {
				continue
			}
			ok := false
			for _, m := range allowedModules {
				ok = ok || hasPathPrefix(p, m)
			}
			if !ok {
				t.Errorf("%s: the core links %s from a module outside %v: %s", name, p, allowedModules, chain(p))
			}
		}
	}
}

// TestCoreModuleRequirements: the core module's go.mod does not require
// the cgo tokenizer backend's library (it lives in the module
// lepton/tokenize/hftokenizers).
func TestCoreModuleRequirements(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "github.com/daulet/tokenizers") {
		t.Fatal("go.mod lists github.com/daulet/tokenizers: it belongs in tokenize/hftokenizers/go.mod")
	}
}

// goEnvWithout is the environment without the named variables.
func goEnvWithout(keys ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, key := range keys {
			drop = drop || k == key
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return env
}
