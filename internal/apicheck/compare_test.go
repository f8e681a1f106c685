package apicheck

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/go/gcexportdata"
)

// checkSource type-checks one file of Go source as package path.
func checkSource(t *testing.T, path, src string) *types.Package {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := (&types.Config{}).Check(path, fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pkgFset[pkg] = fset
	return pkg
}

// snapshotOf writes pkg's snapshot into apiDir as -update does and reads
// its export data back, as TestAPI reads the committed one.
func snapshotOf(t *testing.T, apiDir string, pkg *types.Package) *types.Package {
	t.Helper()
	writeSnapshot(t, apiDir, pkg.Path(), pkg)
	data, err := os.ReadFile(snapshotFile(apiDir, pkg.Path(), ".x"))
	if err != nil {
		t.Fatal(err)
	}
	back, err := gcexportdata.Read(bytes.NewReader(data), token.NewFileSet(), map[string]*types.Package{}, pkg.Path())
	if err != nil {
		t.Fatal(err)
	}
	return back
}

// TestCompare runs the comparison TestAPI makes on small packages, through
// a snapshot written and read back, and checks what it lets through and
// what it stops: renamed parameters and unexported changes pass; a changed
// signature, a removed method or package, an interface method added, are
// incompatible; an addition is compatible but still needs the snapshot
// updated; a hand-edited listing is caught.
func TestCompare(t *testing.T) {
	const base = `package p
type T struct{ A int; b string }
func (T) M(x int) error { return nil }
type I interface{ N() }
type Opt interface{ apply() }
const C = 3
func F(n int, s ...string) (int, error) { return 0, nil }
func helper() {}
`
	for _, tc := range []struct {
		name             string
		new              string // "" removes the package
		incompatible     []string
		compatible       []string
		stale, unchanged bool
	}{
		{name: "identical", new: base, unchanged: true},
		{name: "parameter renamed, unexported added", unchanged: true,
			new: strings.Replace(base, "func F(n int, s ...string)", "func F(count int, rest ...string)", 1) + "func other() {}\n"},
		{name: "signature changed", new: strings.Replace(base, "func F(n int, s ...string)", "func F(n int64, s ...string)", 1),
			incompatible: []string{"F: changed from func(int, ...string) (int, error) to func(int64, ...string) (int, error)"}},
		{name: "method removed", new: strings.Replace(base, "func (T) M(x int) error { return nil }", "", 1),
			incompatible: []string{"T.M: removed"}},
		{name: "interface method added", new: strings.Replace(base, "interface{ N() }", "interface{ N(); O() }", 1),
			incompatible: []string{"I.O: added"}},
		{name: "constant changed", new: strings.Replace(base, "const C = 3", "const C = 4", 1),
			incompatible: []string{"C: value changed from 3 to 4"}},
		{name: "function added", new: base + "func G() {}\n", compatible: []string{"G: added"}},
		{name: "field added", new: strings.Replace(base, "A int;", "A int; Z float64;", 1), compatible: []string{"T.Z: added"}},
		{name: "package removed", incompatible: []string{"package example.com/p: removed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiDir := t.TempDir()
			old := map[string]*types.Package{"example.com/p": snapshotOf(t, apiDir, checkSource(t, "example.com/p", base))}
			cur := map[string]*types.Package{}
			if tc.new != "" {
				cur["example.com/p"] = checkSource(t, "example.com/p", tc.new)
			}
			d := compare(apiDir, old, cur)
			if tc.unchanged {
				if len(d.rewrite)+len(d.remove) != 0 {
					t.Fatalf("want no change, got\n%s", apiReport("example.com/p", d))
				}
				return
			}
			if len(d.rewrite)+len(d.remove) == 0 {
				t.Fatal("the change went through unnoticed")
			}
			for _, want := range tc.incompatible {
				if !containsSuffix(d.incompatible, want) {
					t.Errorf("incompatible changes %q lack %q", d.incompatible, want)
				}
			}
			for _, want := range tc.compatible {
				if !containsSuffix(d.compatible, want) {
					t.Errorf("compatible changes %q lack %q", d.compatible, want)
				}
			}
			if len(tc.incompatible) == 0 && len(d.incompatible) > 0 {
				t.Errorf("unexpected incompatible changes %q", d.incompatible)
			}
			if !strings.Contains(apiReport("lepton", d), "-") {
				t.Error("empty report")
			}
		})
	}

	// After -update the snapshot matches again.
	apiDir := t.TempDir()
	changed := checkSource(t, "example.com/p", base+"func G() {}\n")
	old := map[string]*types.Package{"example.com/p": snapshotOf(t, apiDir, changed)}
	if d := compare(apiDir, old, map[string]*types.Package{"example.com/p": changed}); len(d.rewrite) != 0 {
		t.Fatalf("a fresh snapshot differs:\n%s", apiReport("example.com/p", d))
	}
	// A hand-edited listing no longer matches the export data.
	txt := snapshotFile(apiDir, "example.com/p", ".txt")
	if err := os.WriteFile(txt, []byte("pkg example.com/p, func G()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := compare(apiDir, old, map[string]*types.Package{"example.com/p": changed})
	if len(d.stale) == 0 || len(d.rewrite) == 0 {
		t.Fatalf("an edited listing went unnoticed: %+v", d)
	}
	if _, err := os.Stat(filepath.Join(apiDir, "example.com", "p.x")); err != nil {
		t.Fatalf("snapshot layout: %v", err)
	}
}

func containsSuffix(msgs []string, want string) bool {
	for _, m := range msgs {
		if strings.HasSuffix(m, want) {
			return true
		}
	}
	return false
}

// TestRender pins the listing format on a package with every kind of
// declaration.
func TestRender(t *testing.T) {
	pkg := checkSource(t, "example.com/r", `package r
type Num interface{ ~int | ~float64 }
type Pair[K comparable, V any] struct{ Key K; Val V; n int }
func (p *Pair[K, V]) Set(v V) {}
func (p Pair[K, V]) Get() V { return p.Val }
type Embeds struct{ *Inner; X int }
type Inner struct{}
func (*Inner) Hello() string { return "" }
type Alias = Inner
type Kind uint8
func Sum[T Num](xs ...T) T { var s T; return s }
var V, w = 1.5, 2
const S = "s"
type Opt interface{ Apply(int) error; private() }
`)
	want := []string{
		"pkg example.com/r, const S untyped string = \"s\"",
		"pkg example.com/r, func Sum[T Num](...T) T",
		"pkg example.com/r, method (*Inner) Hello() string",
		"pkg example.com/r, method (*Pair) Set(V)",
		"pkg example.com/r, method (Embeds) Hello() string", // promoted through *Inner
		"pkg example.com/r, method (Pair) Get() V",
		"pkg example.com/r, type Alias = Inner",
		"pkg example.com/r, type Embeds struct",
		"pkg example.com/r, type Embeds struct, X int",
		"pkg example.com/r, type Embeds struct, embedded *Inner",
		"pkg example.com/r, type Inner struct",
		"pkg example.com/r, type Kind uint8",
		"pkg example.com/r, type Num interface{~int | ~float64}",
		"pkg example.com/r, type Opt interface",
		"pkg example.com/r, type Opt interface, Apply(int) error",
		"pkg example.com/r, type Opt interface, unexported methods",
		"pkg example.com/r, type Pair struct, Key K",
		"pkg example.com/r, type Pair struct, Val V",
		"pkg example.com/r, type Pair[K comparable, V any] struct",
		"pkg example.com/r, var V float64",
	}
	got := render(pkg)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("render:\n%s\nwant:\n%s\ndiff:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")))
	}
}
