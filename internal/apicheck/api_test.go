package apicheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/exp/apidiff"
	"golang.org/x/tools/go/gcexportdata"

	"lepton/internal/testshared"
)

var update = flag.Bool("update", false, "rewrite the API snapshot in api/ to match the code (commit it with the change)")

// module is one Go module of the repository whose public packages are
// guarded.
type module struct {
	path string   // module path
	dir  string   // directory, relative to the repository root
	env  []string // environment of go list (platform, cgo)
	tags string   // build tags
}

// snapshotPlatform is the platform the core API is recorded for: the
// public API is the same on every platform, and fixing one keeps the
// snapshot identical wherever the test runs (a developer's arm64 laptop,
// the arm64 run under qemu in CI).
var snapshotPlatform = []string{"GOOS=linux", "GOARCH=amd64"}

var modules = []module{
	{path: "lepton", dir: ".", env: snapshotPlatform},
	// Its own module, type-checked with its tag; it needs cgo (see
	// TestAPI) and takes the host's platform, as its API has no
	// platform-specific part and cgo cannot cross-compile here.
	{path: "lepton/tokenize/hftokenizers", dir: "tokenize/hftokenizers", env: []string{"CGO_ENABLED=1"}, tags: "hftokenizers"},
}

// TestAPI compares the API of every public package with the snapshot in
// api/ and fails on any change, compatible or not, until the snapshot is
// updated (-update). The failure lists apidiff's verdict on each change.
func TestAPI(t *testing.T) {
	root := testshared.RepoRoot(t)
	apiDir := filepath.Join(root, "api")
	for _, mod := range modules {
		t.Run(mod.path, func(t *testing.T) {
			if mod.tags == "hftokenizers" && !haveCgo(t, filepath.Join(root, mod.dir)) {
				// Only this module needs a C compiler; CI has one and
				// type-checks the module with cgo in .ci/run as well.
				t.Skip("skipping: type-checking github.com/daulet/tokenizers needs cgo and a C compiler, and none was found")
			}
			cur := loadModule(t, root, mod)
			old := readSnapshot(t, apiDir, mod)
			checkModule(t, apiDir, mod, old, cur)
		})
	}
}

// checkModule compares the snapshot old with the code cur and fails on any
// difference, or, under -update, rewrites the snapshot files of the
// packages that differ.
func checkModule(t *testing.T, apiDir string, mod module, old, cur map[string]*types.Package) {
	d := compare(apiDir, old, cur)
	if len(d.rewrite)+len(d.remove) == 0 {
		return
	}
	report := apiReport(mod.path, d)
	if !*update {
		t.Fatalf("%s\nIf the change is intended, record it in the same commit:\n\tgo test ./internal/apicheck -update\nand commit api/ with it (api/README.md).", report)
	}
	for _, path := range d.remove {
		for _, ext := range []string{".x", ".txt"} {
			if err := os.Remove(snapshotFile(apiDir, path, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	for _, path := range d.rewrite {
		writeSnapshot(t, apiDir, path, cur[path])
	}
	t.Logf("updated the API snapshot:\n%s", report)
}

// diff is how the code's API differs from the snapshot.
type diff struct {
	incompatible, compatible []string // apidiff's verdicts
	stale                    []string // listing problems apidiff does not see
	rewrite, remove          []string // snapshot packages to write, to delete
}

// compare compares the snapshot old (with its listings in apiDir) with the
// code cur, package by package.
func compare(apiDir string, old, cur map[string]*types.Package) diff {
	var d diff
	for _, path := range sortedKeys(old, cur) {
		o, n := old[path], cur[path]
		switch {
		case n == nil:
			d.incompatible = append(d.incompatible, "package "+path+": removed")
			d.remove = append(d.remove, path)
			continue
		case o == nil:
			d.compatible = append(d.compatible, "package "+path+": added")
			d.rewrite = append(d.rewrite, path)
			continue
		}
		changed := false
		for _, c := range apidiff.Changes(o, n).Changes {
			msg := path + ": " + c.Message
			if c.Compatible {
				d.compatible = append(d.compatible, msg)
			} else {
				d.incompatible = append(d.incompatible, msg)
			}
			changed = true
		}
		// The listing must be the snapshot's, and the snapshot the
		// code's, line for line.
		txt, err := os.ReadFile(snapshotFile(apiDir, path, ".txt"))
		want := strings.Join(render(o), "\n") + "\n"
		if err != nil || string(txt) != want {
			d.stale = append(d.stale, fmt.Sprintf("api/%s.txt is missing or does not match api/%s.x", path, path))
			changed = true
		}
		if got := strings.Join(render(n), "\n") + "\n"; got != want {
			if !changed {
				d.stale = append(d.stale, fmt.Sprintf("%s: API listing differs from api/%s.txt:\n%s", path, path, lineDiff(want, got)))
			}
			changed = true
		}
		if changed {
			d.rewrite = append(d.rewrite, path)
		}
	}
	return d
}

func apiReport(modPath string, d diff) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the public API of module %s differs from the snapshot in api/ (golang.org/x/exp/apidiff):\n", modPath)
	for _, sec := range []struct {
		title string
		msgs  []string
	}{{"INCOMPATIBLE changes (would break programs that use Lepton)", d.incompatible}, {"compatible changes", d.compatible}, {"snapshot out of date", d.stale}} {
		if len(sec.msgs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", sec.title)
		for _, m := range sec.msgs {
			fmt.Fprintf(&b, "  - %s\n", m)
		}
	}
	return b.String()
}

// snapshotFile is api/<import path><ext>.
func snapshotFile(apiDir, path, ext string) string {
	return filepath.Join(apiDir, filepath.FromSlash(path)+ext)
}

// readSnapshot reads the export data of every package of mod recorded in
// api/ (a package belongs to the module with the longest matching path).
func readSnapshot(t *testing.T, apiDir string, mod module) map[string]*types.Package {
	t.Helper()
	out := map[string]*types.Package{}
	err := filepath.WalkDir(apiDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".x") {
			return err
		}
		rel, err := filepath.Rel(apiDir, p)
		if err != nil {
			return err
		}
		path := strings.TrimSuffix(filepath.ToSlash(rel), ".x")
		if moduleOf(path) != mod.path {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		pkg, err := gcexportdata.Read(bytes.NewReader(data), token.NewFileSet(), map[string]*types.Package{}, path)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out[path] = pkg
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("reading the API snapshot: %v", err)
	}
	return out
}

func moduleOf(path string) string {
	best := ""
	for _, m := range modules {
		if (path == m.path || strings.HasPrefix(path, m.path+"/")) && len(m.path) > len(best) {
			best = m.path
		}
	}
	return best
}

// writeSnapshot writes api/<path>.x (export data) and api/<path>.txt (the
// listing, rendered from the export data just written, so that the two
// always agree).
func writeSnapshot(t *testing.T, apiDir, path string, pkg *types.Package) {
	t.Helper()
	var buf bytes.Buffer
	if err := gcexportdata.Write(&buf, portable(pkgFset[pkg]), pkg); err != nil {
		t.Fatalf("export data of %s: %v", path, err)
	}
	back, err := gcexportdata.Read(bytes.NewReader(buf.Bytes()), token.NewFileSet(), map[string]*types.Package{}, path)
	if err != nil {
		t.Fatalf("reading back the export data of %s: %v", path, err)
	}
	if r := apidiff.Changes(pkg, back); len(r.Changes) > 0 {
		t.Fatalf("export data of %s does not round-trip:\n%s", path, r)
	}
	x := snapshotFile(apiDir, path, ".x")
	if err := os.MkdirAll(filepath.Dir(x), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(x, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	txt := strings.Join(render(back), "\n") + "\n"
	if err := os.WriteFile(snapshotFile(apiDir, path, ".txt"), []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
}

// portable returns a copy of fset whose file names do not depend on the
// machine: the positions of declarations from dependencies come from the
// compiler's export data with absolute paths, which the snapshot must not
// record. Paths under the repository become relative to it, those under
// GOROOT or the module cache start with $GOROOT or $GOMODCACHE, and any
// other keeps its base name. Positions (bases, lines) are unchanged.
func portable(fset *token.FileSet) *token.FileSet {
	out := token.NewFileSet()
	fset.Iterate(func(f *token.File) bool {
		nf := out.AddFile(portableName(f.Name()), f.Base(), f.Size())
		nf.SetLines(f.Lines())
		return true
	})
	return out
}

// pathRoots are the directory prefixes portableName strips, set by
// loadModule.
var pathRoots []struct{ dir, name string }

func portableName(name string) string {
	if !filepath.IsAbs(name) {
		return filepath.ToSlash(name)
	}
	for _, r := range pathRoots {
		if rel, err := filepath.Rel(r.dir, name); err == nil && !strings.HasPrefix(rel, "..") {
			return path.Join(r.name, filepath.ToSlash(rel))
		}
	}
	return filepath.Base(name)
}

// pkgFset remembers the file set each loaded package was parsed with, for
// gcexportdata.Write.
var pkgFset = map[*types.Package]*token.FileSet{}

// listedPackage is what go list -json reports about a package.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	Export     string
	DepOnly    bool
	Standard   bool
	Error      *struct{ Err string }
}

// goList runs go list -json in dir with env added to the environment and
// decodes its package stream. GOOS and GOARCH are taken from env or left
// to the host, never inherited (CI runs the tests with GOARCH=arm64 under
// qemu; go list itself runs on the host).
func goList(t *testing.T, dir string, env []string, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Name,Dir,GoFiles,CgoFiles,Export,DepOnly,Standard,Error"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(hostEnv(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// hostEnv is the environment without the variables that would make go
// list build for another platform or with other flags than the module's.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// goEnv returns the go command's value of the variable key.
func goEnv(t *testing.T, key string) string {
	t.Helper()
	cmd := exec.Command("go", "env", key)
	cmd.Env = hostEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// haveCgo reports whether cgo can compile in dir: a C compiler is found.
func haveCgo(t *testing.T, dir string) bool {
	cmd := exec.Command("go", "env", "CC")
	cmd.Dir = dir
	cmd.Env = append(hostEnv(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env CC: %v", err)
	}
	cc := strings.Fields(string(out))
	if len(cc) == 0 {
		return false
	}
	_, err = exec.LookPath(cc[0])
	return err == nil
}

// isPublic reports whether a package of the module is public API: not a
// command, not internal.
func isPublic(p listedPackage) bool {
	if p.Name == "main" || len(p.GoFiles)+len(p.CgoFiles) == 0 {
		return false
	}
	for _, elem := range strings.Split(p.ImportPath, "/") {
		if elem == "internal" {
			return false
		}
	}
	return true
}

// loadModule type-checks every public package of mod from source, with
// its dependencies from the export data the go command builds (the same
// build cache as go test), and file names relative to the repository root
// so that the export data written from it does not depend on where the
// repository sits.
func loadModule(t *testing.T, root string, mod module) map[string]*types.Package {
	t.Helper()
	dir := filepath.Join(root, mod.dir)
	if pathRoots == nil {
		goroot, modcache := goEnv(t, "GOROOT"), goEnv(t, "GOMODCACHE")
		pathRoots = []struct{ dir, name string }{{root, ""}, {goroot, "$GOROOT"}, {modcache, "$GOMODCACHE"}}
	}
	var tagArgs []string
	if mod.tags != "" {
		tagArgs = []string{"-tags", mod.tags}
	}
	var public []string
	for _, p := range goList(t, dir, mod.env, append(tagArgs, "./...")...) {
		if isPublic(p) {
			public = append(public, p.ImportPath)
		}
	}
	if len(public) == 0 {
		t.Fatalf("no public packages found in %s", mod.path)
	}
	exports := map[string]string{}
	var targets []listedPackage
	for _, p := range goList(t, dir, mod.env, append(append(tagArgs, "-export", "-deps"), public...)...) {
		exports[p.ImportPath] = p.Export
		if !p.DepOnly && slices.Contains(public, p.ImportPath) {
			targets = append(targets, p)
		}
	}
	out := map[string]*types.Package{}
	for _, p := range targets {
		if len(p.CgoFiles) > 0 {
			t.Fatalf("%s has cgo files: the API check type-checks Go files only", p.ImportPath)
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, name := range p.GoFiles {
			full := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(full)
			if err != nil {
				t.Fatal(err)
			}
			rel, err := filepath.Rel(root, full)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, filepath.ToSlash(rel), src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			e := exports[path]
			if e == "" {
				return nil, fmt.Errorf("no export data for %s", path)
			}
			return os.Open(e)
		})}
		pkg, err := conf.Check(p.ImportPath, fset, files, nil)
		if err != nil {
			t.Fatalf("type-checking %s: %v", p.ImportPath, err)
		}
		pkgFset[pkg] = fset
		out[p.ImportPath] = pkg
	}
	return out
}

// render lists the exported API of pkg, one feature a line, sorted, in the
// spirit of the Go project's api/*.txt files: constants with their values,
// variables, functions and methods with their signatures (no parameter
// names, which are not API), types with their exported fields and
// interface methods.
func render(pkg *types.Package) []string {
	q := types.RelativeTo(pkg)
	var lines []string
	add := func(format string, args ...any) {
		lines = append(lines, "pkg "+pkg.Path()+", "+fmt.Sprintf(format, args...))
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		switch o := scope.Lookup(name).(type) {
		case *types.Const:
			if o.Exported() {
				add("const %s %s = %s", name, types.TypeString(o.Type(), q), o.Val().ExactString())
			}
		case *types.Var:
			if o.Exported() {
				add("var %s %s", name, types.TypeString(o.Type(), q))
			}
		case *types.Func:
			if o.Exported() {
				add("func %s%s", name, signature(o.Type().(*types.Signature), q))
			}
		case *types.TypeName:
			if o.Exported() {
				renderType(add, o, q)
			}
		}
	}
	slices.Sort(lines)
	return lines
}

func renderType(add func(string, ...any), o *types.TypeName, q types.Qualifier) {
	name := o.Name()
	if o.IsAlias() {
		add("type %s = %s", name, types.TypeString(types.Unalias(o.Type()), q))
		return
	}
	n, ok := o.Type().(*types.Named)
	if !ok {
		add("type %s %s", name, types.TypeString(o.Type(), q))
		return
	}
	decl := name + typeParams(n.TypeParams(), q)
	switch u := n.Underlying().(type) {
	case *types.Struct:
		add("type %s struct", decl)
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			switch {
			case f.Embedded():
				add("type %s struct, embedded %s", name, types.TypeString(f.Type(), q))
			case f.Exported():
				add("type %s struct, %s %s", name, f.Name(), types.TypeString(f.Type(), q))
			}
		}
	case *types.Interface:
		if !u.IsMethodSet() {
			add("type %s %s", decl, types.TypeString(u, q))
			return
		}
		add("type %s interface", decl)
		unexported := false
		for i := 0; i < u.NumMethods(); i++ {
			m := u.Method(i)
			if m.Exported() {
				add("type %s interface, %s%s", name, m.Name(), signature(m.Type().(*types.Signature), q))
			} else {
				unexported = true
			}
		}
		if unexported {
			add("type %s interface, unexported methods", name)
		}
		return
	default:
		add("type %s %s", decl, types.TypeString(u, q))
	}
	ptr := types.NewMethodSet(types.NewPointer(n))
	val := types.NewMethodSet(n)
	for i := 0; i < ptr.Len(); i++ {
		m := ptr.At(i).Obj()
		if !m.Exported() {
			continue
		}
		recv := "*" + name
		if val.Lookup(m.Pkg(), m.Name()) != nil {
			recv = name
		}
		add("method (%s) %s%s", recv, m.Name(), signature(m.Type().(*types.Signature), q))
	}
}

// signature formats a function type without parameter names.
func signature(sig *types.Signature, q types.Qualifier) string {
	var b strings.Builder
	b.WriteString(typeParams(sig.TypeParams(), q))
	b.WriteString("(")
	ps := sig.Params()
	for i := 0; i < ps.Len(); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		t := ps.At(i).Type()
		if s, ok := t.(*types.Slice); ok && sig.Variadic() && i == ps.Len()-1 {
			b.WriteString("..." + types.TypeString(s.Elem(), q))
		} else {
			b.WriteString(types.TypeString(t, q))
		}
	}
	b.WriteString(")")
	rs := sig.Results()
	switch rs.Len() {
	case 0:
	case 1:
		b.WriteString(" " + types.TypeString(rs.At(0).Type(), q))
	default:
		b.WriteString(" (")
		for i := 0; i < rs.Len(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(types.TypeString(rs.At(i).Type(), q))
		}
		b.WriteString(")")
	}
	return b.String()
}

func typeParams(tp *types.TypeParamList, q types.Qualifier) string {
	if tp == nil || tp.Len() == 0 {
		return ""
	}
	parts := make([]string, tp.Len())
	for i := range parts {
		p := tp.At(i)
		parts[i] = p.Obj().Name() + " " + types.TypeString(p.Constraint(), q)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if l != "" && !slices.Contains(g, l) {
			b.WriteString("  - " + l + "\n")
		}
	}
	for _, l := range g {
		if l != "" && !slices.Contains(w, l) {
			b.WriteString("  + " + l + "\n")
		}
	}
	return b.String()
}

func sortedKeys(ms ...map[string]*types.Package) []string {
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}
