package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"lepton/privacy"
)

func init() {
	register("ledger", "show or compact a privacy budget ledger (--dp-ledger)", runLedger)
}

const ledgerUsage = `usage: lepton ledger show [--json] LEDGER
       lepton ledger compact [--archive FILE] LEDGER
show prints the ledger's budget and composed spend. compact folds every
release into one carried total, keeping the spend exactly: run it when a
charge fails with "ledger file full" (the file may hold up to 64 MiB, about
480,000 releases). --archive first copies the ledger, with its per-release
history, to FILE (which must not exist).
`

func runLedger(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "compact") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stderr, ledgerUsage)
			return flag.ErrHelp
		}
		got := "nothing"
		if len(args) > 0 {
			got = fmt.Sprintf("%q", args[0])
		}
		return errUsage{fmt.Sprintf("want 'lepton ledger show LEDGER' or 'lepton ledger compact LEDGER', got %s (see lepton ledger -h)", got)}
	}
	sub := args[0]
	fs := flag.NewFlagSet("ledger "+sub, flag.ContinueOnError)
	archive := fs.String("archive", "", "compact: first copy the ledger, with its per-release history, to this new file")
	asJSON := fs.Bool("json", false, "show: print one JSON object")
	pos, err := parseArgs(fs, args[1:], stderr, ledgerUsage)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{fmt.Sprintf("want exactly one ledger file, got %d arguments", len(pos))}
	}
	path := pos[0]
	switch sub {
	case "compact":
		if *asJSON {
			return errUsage{"--json is for show"}
		}
		before := fileSize(path)
		if *archive != "" {
			if _, err := os.Lstat(*archive); err == nil {
				return flagError("archive", fmt.Errorf("%s already exists (an archive is never overwritten)", *archive))
			}
		}
		s, err := privacy.CompactLedger(path, *archive)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d releases carried, spent epsilon %g delta %g; file %s -> %s\n",
			path, s.Releases, s.Epsilon, s.Delta, humanBytes(before), humanBytes(fileSize(path)))
		if *archive != "" {
			fmt.Fprintf(stdout, "history archived in %s\n", *archive)
		}
		return nil
	default:
		if *archive != "" {
			return errUsage{"--archive is for compact"}
		}
		l, err := privacy.LoadLedger(path)
		if err != nil {
			return err
		}
		return showLedger(stdout, l, *asJSON)
	}
}

// ledgerSummary is `lepton ledger show --json`'s output.
type ledgerSummary struct {
	Path      string           `json:"path"`
	Budget    privacy.Budget   `json:"budget"`
	Spent     privacy.Spent    `json:"spent"`
	Remaining float64          `json:"remaining_epsilon"`
	Carried   *privacy.Carried `json:"carried,omitempty"`
	Entries   int              `json:"entries"` // releases listed individually (since the last compaction)
	Bytes     int64            `json:"bytes"`
	Limit     int64            `json:"limit_bytes"`
	Last      *time.Time       `json:"last_release,omitempty"`
	Mechanism map[string]int   `json:"mechanisms,omitempty"` // entries by mechanism
}

func showLedger(w io.Writer, l *privacy.Ledger, asJSON bool) error {
	s := ledgerSummary{Path: l.Path(), Budget: l.Budget(), Spent: l.Spent(), Remaining: l.Remaining(), Carried: l.Carried(),
		Bytes: fileSize(l.Path()), Limit: privacy.MaxLedgerSize, Mechanism: map[string]int{}}
	entries := l.Entries()
	s.Entries = len(entries)
	for _, e := range entries {
		s.Mechanism[string(e.Cost.Mechanism)]++
	}
	if n := len(entries); n > 0 {
		t := entries[n-1].Time
		s.Last = &t
	} else if s.Carried != nil && !s.Carried.Last.IsZero() {
		t := s.Carried.Last
		s.Last = &t
	}
	if asJSON {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, "%s\n", s.Path)
	fmt.Fprintf(w, "  budget     epsilon %g, delta %g\n", s.Budget.Epsilon, s.Budget.Delta)
	fmt.Fprintf(w, "  spent      epsilon %g, delta %g over %d releases (basic composition: epsilon %g, delta %g)\n",
		s.Spent.Epsilon, s.Spent.Delta, s.Spent.Releases, s.Spent.BasicEpsilon, s.Spent.BasicDelta)
	fmt.Fprintf(w, "  remaining  epsilon %g\n", s.Remaining)
	if s.Carried != nil {
		fmt.Fprintf(w, "  carried    %d releases from %d compactions\n", s.Carried.Releases, s.Carried.Compactions)
	}
	fmt.Fprintf(w, "  file       %s of %s (%d releases listed)\n", humanBytes(s.Bytes), humanBytes(s.Limit), s.Entries)
	return nil
}

// fileSize returns the size of the file at path, or 0.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
