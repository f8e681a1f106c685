package privacy

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func pureCost(eps float64) Cost {
	return Cost{Mechanism: MechRandomizedResponse, Epsilon: eps, Sensitivity: 1}
}

func TestLedgerRefusesOverspend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.json")
	l, err := OpenLedger(path, Budget{Epsilon: 1})
	require.NoError(t, err)
	for _, e := range []float64{0.4, 0.4} {
		_, err := l.Charge(pureCost(e))
		require.NoError(t, err)
	}
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = l.Charge(pureCost(0.3))
	require.ErrorIs(t, err, ErrBudgetExceeded)
	var be *BudgetError
	require.True(t, errors.As(err, &be))
	require.InDelta(t, 0.8, be.Spent.Epsilon, 1e-15)
	require.Equal(t, 2, l.Spent().Releases)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused release must not touch the file")

	// exactly filling the budget is allowed (0.1 + 0.2 style rounding too)
	_, err = l.Charge(pureCost(0.2))
	require.NoError(t, err)
	require.InDelta(t, 0, l.Remaining(), 1e-12)

	// The releaser hands out nothing once the budget is gone.
	r, err := New(WithLedger(l), WithSource(NewTestingSource(1)))
	require.NoError(t, err)
	rel, err := r.Label(1, 4, 0.01)
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.Equal(t, LabelRelease{}, rel)
	v, err := r.Embedding([]float64{1, 2}, 1, 0.5, 1e-6)
	require.Error(t, err) // budget has no delta: neither composition fits
	require.Nil(t, v.Values)

	// Reopen: state survives.
	l2, err := OpenLedger(path, Budget{Epsilon: 1})
	require.NoError(t, err)
	require.Equal(t, 3, l2.Spent().Releases)
	require.InDelta(t, 1.0, l2.Spent().Epsilon, 1e-15)
	require.Equal(t, l.Entries(), l2.Entries())
}

func TestLedgerDecimalBudget(t *testing.T) {
	l, err := NewMemoryLedger(Budget{Epsilon: 0.3})
	require.NoError(t, err)
	_, err = l.Charge(pureCost(0.1))
	require.NoError(t, err)
	_, err = l.Charge(pureCost(0.2)) // 0.1+0.2 = 0.30000000000000004
	require.NoError(t, err)
	_, err = l.Charge(pureCost(1e-9))
	require.ErrorIs(t, err, ErrBudgetExceeded)
}

// TestLedgerCrashBeforeRename simulates a crash after the new state is
// written and fsynced to the temp file but before the rename: the charge
// fails, nothing is released, the old file is intact and a leftover temp
// file does not confuse the next open, which removes it (issue 13).
func TestLedgerCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.json")
	l, err := OpenLedger(path, Budget{Epsilon: 5})
	require.NoError(t, err)
	_, err = l.Charge(pureCost(1))
	require.NoError(t, err)
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	crash := errors.New("simulated power loss")
	var leftover string
	l.beforeRename = func(tmp string) error {
		// The new state is complete and durable in the temp file...
		data, err := os.ReadFile(tmp)
		require.NoError(t, err)
		body, err := parseLedger(data)
		require.NoError(t, err)
		require.Len(t, body.Entries, 2)
		// ...keep a copy as a real crash would leave it behind.
		leftover = filepath.Join(dir, "."+filepath.Base(path)+".tmp-123456789")
		require.NoError(t, os.WriteFile(leftover, data, 0o600))
		return crash
	}
	r, err := New(WithLedger(l), WithSource(NewTestingSource(2)))
	require.NoError(t, err)
	rel, err := r.Scalar(0.5, Range{0, 1}, 1)
	require.ErrorIs(t, err, ErrLedgerIO)
	require.ErrorIs(t, err, crash)
	require.Equal(t, ScalarRelease{}, rel, "nothing released")
	require.Equal(t, 1, l.Spent().Releases, "in-memory state unchanged")

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "old state intact")

	require.FileExists(t, leftover)
	l2, err := OpenLedger(path, Budget{Epsilon: 5})
	require.NoError(t, err)
	require.Equal(t, 1, l2.Spent().Releases)
	require.NoFileExists(t, leftover, "removed under the lock at open")
	_, err = l2.Charge(pureCost(1))
	require.NoError(t, err)
	l3, err := OpenLedger(path, Budget{Epsilon: 5})
	require.NoError(t, err)
	require.Equal(t, 2, l3.Spent().Releases)
}

// TestLedgerCorrupt: every kind of damage is reported as ErrLedgerCorrupt
// and the file is left as it was (never reset).
func TestLedgerCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	l, err := OpenLedger(good, Budget{Epsilon: 5, Delta: 1e-6})
	require.NoError(t, err)
	_, err = l.Charge(pureCost(1.5))
	require.NoError(t, err)
	data, err := os.ReadFile(good)
	require.NoError(t, err)

	flipped := append([]byte(nil), data...)
	i := len(flipped) - 20 // inside the body
	flipped[i] ^= 0x01
	cases := map[string][]byte{
		"empty":     {},
		"truncated": data[:len(data)/2],
		"flipped":   flipped,
		"garbage":   []byte("not json at all"),
		"no body":   []byte(`{"sha256":"00"}`),
	}
	// Hand-edit the spent epsilon down without fixing the checksum.
	edited := []byte(string(data))
	for j := 0; j+3 < len(edited); j++ {
		if string(edited[j:j+3]) == "1.5" {
			edited[j] = '0'
			break
		}
	}
	cases["edited epsilon"] = edited
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.json")
			require.NoError(t, os.WriteFile(p, content, 0o600))
			_, err := OpenLedger(p, Budget{Epsilon: 5, Delta: 1e-6})
			require.ErrorIs(t, err, ErrLedgerCorrupt)
			var le *LedgerError
			require.True(t, errors.As(err, &le))
			got, _ := os.ReadFile(p)
			require.Equal(t, content, got, "never reset")
		})
	}
	_, err = OpenLedger(good, Budget{Epsilon: 6, Delta: 1e-6})
	require.ErrorIs(t, err, ErrLedgerMismatch)
}

// TestLedgerRDP: repeated Gaussian releases compose far better under the
// RDP accountant than under basic composition; the ledger admits releases
// basic composition would refuse, and still refuses past the RDP bound.
func TestLedgerRDP(t *testing.T) {
	l, err := NewMemoryLedger(Budget{Epsilon: 10, Delta: 1e-5})
	require.NoError(t, err)
	r, err := New(WithLedger(l), WithSource(NewTestingSource(3)))
	require.NoError(t, err)
	n := 0
	for {
		_, err := r.Embedding([]float64{0.1, 0.2, 0.3}, 1, 0.5, 1e-8)
		if err != nil {
			require.ErrorIs(t, err, ErrBudgetExceeded)
			break
		}
		n++
		require.Less(t, n, 1000)
	}
	s := l.Spent()
	require.Equal(t, n, s.Releases)
	require.Greater(t, n, 20, "basic composition alone would stop at 20")
	require.Greater(t, s.BasicEpsilon, 10.0)
	require.LessOrEqual(t, s.Epsilon, 10*(1+1e-12))
	e := l.Entries()[0].Cost
	rho := float64(n) * e.Sensitivity * e.Sensitivity / (2 * e.Sigma * e.Sigma)
	require.InDelta(t, RDPToDP(rho, 1e-5), s.Epsilon, 1e-12)
	require.Equal(t, 1e-5, s.Delta)
	// one more would exceed
	rho1 := float64(n+1) * e.Sensitivity * e.Sensitivity / (2 * e.Sigma * e.Sigma)
	require.Greater(t, RDPToDP(rho1, 1e-5), 10.0)

	// Pure releases add on top of the RDP bound.
	l2, _ := NewMemoryLedger(Budget{Epsilon: 10, Delta: 1e-5})
	_, err = l2.Charge(pureCost(2))
	require.NoError(t, err)
	_, err = l2.Charge(e)
	require.NoError(t, err)
	s2 := l2.Spent()
	require.InDelta(t, math.Min(2+0.5, 2+RDPToDP(e.Sensitivity*e.Sensitivity/(2*e.Sigma*e.Sigma), 1e-5)), s2.Epsilon, 1e-12)
}

func TestLedgerMisc(t *testing.T) {
	_, err := NewMemoryLedger(Budget{Epsilon: 0})
	require.ErrorIs(t, err, ErrInvalidEpsilon)
	_, err = NewMemoryLedger(Budget{Epsilon: 1, Delta: 1})
	require.ErrorIs(t, err, ErrInvalidDelta)
	_, err = OpenLedger(filepath.Join(t.TempDir(), "no", "such", "dir", "l.json"), Budget{Epsilon: 1})
	require.ErrorIs(t, err, ErrLedgerIO)
	l, _ := NewMemoryLedger(Budget{Epsilon: 1})
	_, err = l.Charge(Cost{Mechanism: "bogus", Epsilon: 1, Sensitivity: 1})
	require.ErrorIs(t, err, ErrInvalidBound)
	_, err = l.Charge(Cost{Mechanism: MechLaplace, Epsilon: 1, Delta: 0.1, Sensitivity: 1})
	require.ErrorIs(t, err, ErrInvalidDelta)
	require.NoError(t, l.Close())
	_, err = l.Charge(pureCost(0.1))
	require.ErrorIs(t, err, ErrClosed)
}

// FuzzParseLedger: arbitrary bytes never panic the parser, and whatever
// parses re-encodes to something that parses to the same entries.
func FuzzParseLedger(f *testing.F) {
	body := &ledgerBody{Format: ledgerFormat, Version: ledgerVersion, Budget: Budget{Epsilon: 1, Delta: 1e-6},
		Entries: []Entry{{Seq: 1, Cost: pureCost(0.5)}}}
	good, err := encodeLedger(body)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	carried := fold(nil, body.Entries)
	carried.Compactions = 1
	compacted, err := encodeLedger(newBody(body.Budget, &carried, []Entry{{Seq: 2, Cost: gaussCost(2)}}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(compacted)
	f.Add([]byte(`{"sha256":"","body":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseLedger(data)
		if err != nil {
			return
		}
		again, err := encodeLedger(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := parseLedger(again)
		if err != nil {
			t.Fatalf("re-encoded ledger does not parse: %v", err)
		}
		if len(b2.Entries) != len(b.Entries) || (b2.Carried == nil) != (b.Carried == nil) {
			t.Fatal("entries changed")
		}
		// (Compared as text: a hostile cost can make a sum NaN.)
		if s := compose(b.Carried, b.Entries, b.Budget); fmt.Sprint(s) != fmt.Sprint(compose(b2.Carried, b2.Entries, b2.Budget)) || s.Releases < len(b.Entries) {
			t.Fatalf("spend changed on re-encoding: %+v", s)
		}
	})
}

// TestLedgerShared: two Ledgers on one file (as two CLI processes would
// have) see each other's charges; neither overwrites the other, and the
// budget holds across them. Concurrent goroutines exercise the file lock.
func TestLedgerShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.json")
	b := Budget{Epsilon: 10}
	a, err := OpenLedger(path, b)
	require.NoError(t, err)
	c, err := OpenLedger(path, b)
	require.NoError(t, err)
	done := make(chan error, 2)
	for _, l := range []*Ledger{a, c} {
		go func() {
			for i := 0; i < 10; i++ {
				if _, err := l.Charge(pureCost(0.25)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	re, err := OpenLedger(path, b)
	require.NoError(t, err)
	require.Equal(t, 20, re.Spent().Releases)
	require.InDelta(t, 5, re.Spent().Epsilon, 1e-12)
	// a sees c's charges when it next charges: 5 + 5.5 > 10 is refused
	_, err = a.Charge(pureCost(5.5))
	require.ErrorIs(t, err, ErrBudgetExceeded)
	require.Equal(t, 20, a.Spent().Releases)

	// A file rolled back behind a Ledger's back is detected.
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	_, err = a.Charge(pureCost(1))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, old, 0o600))
	_, err = a.Charge(pureCost(1))
	require.ErrorIs(t, err, ErrLedgerCorrupt)
}

func TestLedgerCheckAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.json")
	_, err := LoadLedger(path)
	require.ErrorIs(t, err, ErrLedgerIO)
	require.ErrorIs(t, err, os.ErrNotExist)
	l, err := OpenLedger(path, Budget{Epsilon: 1, Delta: 1e-6})
	require.NoError(t, err)
	require.NoError(t, l.Check(pureCost(0.5), pureCost(0.5)))
	require.ErrorIs(t, l.Check(pureCost(0.5), pureCost(0.6)), ErrBudgetExceeded)
	require.Equal(t, 0, l.Spent().Releases, "Check records nothing")
	_, err = l.Charge(pureCost(0.5))
	require.NoError(t, err)
	l2, err := LoadLedger(path)
	require.NoError(t, err)
	require.Equal(t, Budget{Epsilon: 1, Delta: 1e-6}, l2.Budget())
	require.Equal(t, 1, l2.Spent().Releases)
	require.ErrorIs(t, l2.Check(pureCost(0.6)), ErrBudgetExceeded)
	require.ErrorIs(t, l2.Check(Cost{Mechanism: "x"}), ErrInvalidBound)
}
