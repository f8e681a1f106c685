package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"lepton/quant"
)

func init() {
	register("version", "print lepton's version and VCS revision, the Go version and the int8 kernel tier", runVersion)
}

// versionJSON is what `lepton version` reports (--json prints it as is).
type versionJSON struct {
	Module  string `json:"module"`  // module path of the lepton library in this binary
	Version string `json:"version"` // its module version: a tag, a pseudo-version or "(devel)"
	Replace string `json:"replace,omitempty"`
	// VCS information stamped by go build (-buildvcs, on by default in a
	// git checkout): commit, its time, and whether the tree had changes.
	Revision string   `json:"vcs_revision,omitempty"`
	Time     string   `json:"vcs_time,omitempty"`
	Modified bool     `json:"vcs_modified,omitempty"`
	Go       string   `json:"go"`       // Go version the binary was built with
	Platform string   `json:"platform"` // GOOS/GOARCH
	Kernel   string   `json:"kernel"`   // int8 kernel tier in use (quant.KernelName)
	Kernels  []string `json:"kernels"`
	// KernelError is set when LEPTON_KERNEL asked for a tier this CPU or
	// build does not have (the default tier is used).
	KernelError string `json:"kernel_error,omitempty"`
}

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton version [--json]
Prints the lepton module's version and VCS revision (from the build
information go build records), the Go version, and the int8 kernel tier
this CPU runs.
`)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errUsage{fmt.Sprintf("version takes no arguments, got %q", pos)}
	}
	bi, _ := debug.ReadBuildInfo()
	v := buildVersion(bi)
	if *asJSON {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return writeVersion(stdout, v)
}

// buildVersion collects what `lepton version` reports; bi may be nil (a
// binary built without module support).
func buildVersion(bi *debug.BuildInfo) versionJSON {
	v := versionJSON{
		Module: "lepton", Version: "unknown",
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Kernel: quant.KernelName(), Kernels: quant.Kernels(),
	}
	if err := quant.KernelError(); err != nil {
		v.KernelError = err.Error()
	}
	if bi == nil {
		return v
	}
	v.Go = bi.GoVersion
	// The lepton module is the main module when this command is built from
	// the repository (go build, go install ./cmd/lepton), a dependency when
	// another module builds it.
	mod := &bi.Main
	if mod.Path != "lepton" {
		for _, d := range bi.Deps {
			if d.Path == "lepton" {
				mod = d
				break
			}
		}
	}
	if mod.Path == "lepton" {
		v.Version = mod.Version
		if mod.Replace != nil {
			v.Replace = mod.Replace.Path
			if mod.Replace.Version != "" {
				v.Replace += " " + mod.Replace.Version
			}
		}
	}
	if mod == &bi.Main {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func writeVersion(w io.Writer, v versionJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "lepton\t%s\n", v.Version)
	if v.Replace != "" {
		fmt.Fprintf(tw, "replaced by\t%s\n", v.Replace)
	}
	switch {
	case v.Revision != "":
		rev := v.Revision
		var notes []string
		if v.Time != "" {
			notes = append(notes, v.Time)
		}
		if v.Modified {
			notes = append(notes, "with uncommitted changes")
		}
		if len(notes) > 0 {
			rev += " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(tw, "revision\t%s\n", rev)
	default:
		// go run, go test and -buildvcs=false record no VCS information.
		fmt.Fprintf(tw, "revision\tunknown (no VCS information: build with 'go build' or 'go install' in a git checkout, -buildvcs=true)\n")
	}
	fmt.Fprintf(tw, "go\t%s %s\n", v.Go, v.Platform)
	kernel := v.Kernel + " (available: " + strings.Join(v.Kernels, ", ") + ")"
	if v.KernelError != "" {
		kernel += "; " + v.KernelError
	}
	fmt.Fprintf(tw, "kernel\t%s\n", kernel)
	return tw.Flush()
}
