package privacy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Regression tests for issue 13, finding 4: the ledger grew without a size
// check on write (the 476,737th charge wrote 67,109,000 bytes, over its own
// 64 MiB read limit, after which every Charge and OpenLedger failed with
// ErrLedgerIO until the file was edited by hand), and crashed charges left
// .NAME.tmp-* files behind that nothing removed.

func gaussCost(sigma float64) Cost {
	return Cost{Mechanism: MechGaussian, Epsilon: 0.5, Delta: 1e-8, Sensitivity: 1, Sigma: sigma}
}

// TestLedgerFullRefusedBeforeWriting: a charge that would take the file past
// its limit is refused with a *LedgerFullError that says how to go on,
// before anything is written; compaction frees the room and keeps the
// spend.
func TestLedgerFullRefusedBeforeWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.json")
	l, err := OpenLedger(path, Budget{Epsilon: 1e6, Delta: 1e-3})
	require.NoError(t, err)
	l.limit = 4 << 10
	n := 0
	for ; n < 1000; n++ {
		before, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = l.Charge(pureCost(0.01))
		if err != nil {
			require.ErrorIs(t, err, ErrLedgerFull)
			var fe *LedgerFullError
			require.True(t, errors.As(err, &fe))
			require.True(t, fe.Charge)
			require.Greater(t, fe.Size, int64(l.limit))
			require.Equal(t, int64(l.limit), fe.Limit)
			require.Contains(t, err.Error(), "lepton ledger compact "+path)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, before, after, "nothing written")
			require.LessOrEqual(t, len(after), l.limit)
			break
		}
	}
	require.Greater(t, n, 10)
	require.Equal(t, n, l.Spent().Releases, "the refused charge is not recorded")
	spent := l.Spent()

	archive := filepath.Join(t.TempDir(), "l.archive.json")
	got, err := l.Compact(archive)
	require.NoError(t, err)
	require.Equal(t, spent, got, "compaction keeps the spend bit for bit")
	require.Equal(t, spent, l.Spent())
	require.Empty(t, l.Entries())
	require.Equal(t, n, l.Carried().Releases)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Less(t, st.Size(), int64(600), "a compacted file is a few hundred bytes")

	// The archive holds the full history, and verifies.
	data, err := os.ReadFile(archive)
	require.NoError(t, err)
	body, err := parseLedger(data)
	require.NoError(t, err)
	require.Len(t, body.Entries, n)
	_, err = l.Compact(archive)
	require.ErrorIs(t, err, os.ErrExist, "an existing archive is never overwritten, even with nothing to fold")
	again := filepath.Join(t.TempDir(), "again.json")
	_, err = l.Compact(again)
	require.NoError(t, err, "nothing to fold")
	data, err = os.ReadFile(again)
	require.NoError(t, err)
	body, err = parseLedger(data)
	require.NoError(t, err)
	require.Empty(t, body.Entries, "the archive asked for is written anyway: the compacted file")
	_, err = l.Charge(pureCost(0.01))
	require.NoError(t, err)
	_, err = l.Compact(archive)
	require.ErrorIs(t, err, os.ErrExist, "an existing archive is never overwritten")

	// Charging goes on, with sequence numbers that continue.
	for range 5 {
		_, err = l.Charge(pureCost(0.01))
		require.NoError(t, err)
	}
	require.Equal(t, uint64(n+6), l.Entries()[5].Seq)
	re, err := OpenLedger(path, Budget{Epsilon: 1e6, Delta: 1e-3})
	require.NoError(t, err)
	require.Equal(t, n+6, re.Spent().Releases)
}

// TestLedgerCompactionExact: compacting at any point, any number of times,
// gives the same Spent, bit for bit, as never compacting, and the same
// charges are refused, with pure and Gaussian releases mixed (RDP and basic
// composition both depend on the folded sums).
func TestLedgerCompactionExact(t *testing.T) {
	b := Budget{Epsilon: 12, Delta: 1e-5}
	plain, err := OpenLedger(filepath.Join(t.TempDir(), "plain.json"), b)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "compacted.json")
	comp, err := OpenLedger(path, b)
	require.NoError(t, err)
	mem, err := NewMemoryLedger(b)
	require.NoError(t, err)
	costs := []Cost{pureCost(0.1), gaussCost(3), pureCost(0.7), gaussCost(1.5), gaussCost(2), pureCost(0.3)}
	refusals := 0
	for i := 0; i < 60; i++ {
		c := costs[i%len(costs)]
		_, e1 := plain.Charge(c)
		_, e2 := comp.Charge(c)
		_, e3 := mem.Charge(c)
		require.Equal(t, e1 == nil, e2 == nil, "charge %d", i)
		require.Equal(t, e1 == nil, e3 == nil, "charge %d", i)
		if e1 != nil {
			require.ErrorIs(t, e1, ErrBudgetExceeded)
			refusals++
		}
		if i%7 == 3 {
			_, err := comp.Compact("")
			require.NoError(t, err)
			_, err = mem.Compact("")
			require.NoError(t, err)
		}
		require.Equal(t, plain.Spent(), comp.Spent(), "after charge %d", i)
		require.Equal(t, plain.Spent(), mem.Spent(), "after charge %d", i)
		require.Equal(t, plain.Check(gaussCost(2), pureCost(0.2)) == nil, comp.Check(gaussCost(2), pureCost(0.2)) == nil)
	}
	require.Greater(t, refusals, 0, "the budget ran out along the way")
	require.GreaterOrEqual(t, comp.Carried().Compactions, 3)
	re, err := LoadLedger(path)
	require.NoError(t, err)
	require.Equal(t, plain.Spent(), re.Spent())
}

// TestLedgerCompactWhileShared: a Ledger open on a file that another
// compacts keeps charging correctly (it reloads under the lock), and a
// compaction is not mistaken for a rollback.
func TestLedgerCompactWhileShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.json")
	b := Budget{Epsilon: 100}
	a, err := OpenLedger(path, b)
	require.NoError(t, err)
	c, err := OpenLedger(path, b)
	require.NoError(t, err)
	for range 10 {
		_, err := a.Charge(pureCost(1))
		require.NoError(t, err)
	}
	s, err := CompactLedger(path, "")
	require.NoError(t, err)
	require.Equal(t, 10, s.Releases)
	_, err = c.Charge(pureCost(1))
	require.NoError(t, err)
	_, err = a.Charge(pureCost(1))
	require.NoError(t, err)
	require.Equal(t, 12, a.Spent().Releases)
	require.InDelta(t, 12, a.Spent().Epsilon, 1e-12)
	re, err := LoadLedger(path)
	require.NoError(t, err)
	require.Equal(t, a.Spent(), re.Spent())
	_, err = a.Charge(pureCost(89))
	require.ErrorIs(t, err, ErrBudgetExceeded)
}

// TestLedgerOverLimitFileRescued: a file that an earlier version let grow
// past the read limit (64 MiB; here 64 KiB stands in for it, and the file
// is padded with JSON whitespace, which the checksum covers) is refused at
// open with ErrLedgerFull, not a bare I/O error, and CompactLedger reads it
// anyway and shrinks it. TestLedgerFullAtRealLimit does it at full size.
func TestLedgerOverLimitFileRescued(t *testing.T) {
	defer func(old int64) { readLimit = old }(readLimit)
	readLimit = 64 << 10
	path := filepath.Join(t.TempDir(), "big.json")
	b := Budget{Epsilon: 10}
	body := newBody(b, nil, []Entry{{Seq: 1, Time: time.Unix(1, 0).UTC(), Cost: pureCost(2)}})
	small, err := encodeLedger(body)
	require.NoError(t, err)
	var wrap bytes.Buffer
	raw := small[bytes.Index(small, []byte(`"body":`))+7 : len(small)-2] // the body's bytes
	padded := append(append([]byte(nil), raw[:len(raw)-1]...), bytes.Repeat([]byte(" "), int(readLimit))...)
	padded = append(padded, '}')
	wrap.WriteString(`{"sha256":"` + sha256Hex(padded) + `","body":`)
	wrap.Write(padded)
	wrap.WriteString("}\n")
	require.NoError(t, os.WriteFile(path, wrap.Bytes(), 0o600))
	_, err = parseLedger(wrap.Bytes())
	require.NoError(t, err, "a valid ledger, only too big")

	_, err = OpenLedger(path, b)
	require.ErrorIs(t, err, ErrLedgerFull)
	require.Contains(t, err.Error(), "lepton ledger compact")
	_, err = LoadLedger(path)
	require.ErrorIs(t, err, ErrLedgerFull)

	s, err := CompactLedger(path, "")
	require.NoError(t, err)
	require.Equal(t, 1, s.Releases)
	require.Equal(t, 2.0, s.Epsilon)
	l, err := OpenLedger(path, b)
	require.NoError(t, err)
	_, err = l.Charge(pureCost(8))
	require.NoError(t, err)
	_, err = l.Charge(pureCost(0.1))
	require.ErrorIs(t, err, ErrBudgetExceeded, "the carried spend still counts")
}

// TestLedgerFullAtRealLimit reproduces the finding at MaxLedgerSize itself
// (LEPTON_LEDGER_BIG=1; a minute and about 1 GiB of memory): a ledger just
// under 64 MiB, whose next charge used to write a file its own reader
// refuses. That charge is now refused, the file untouched, and compaction
// lets charging go on.
func TestLedgerFullAtRealLimit(t *testing.T) {
	if os.Getenv("LEPTON_LEDGER_BIG") != "1" {
		t.Skip("set LEPTON_LEDGER_BIG=1 to fill a ledger to MaxLedgerSize")
	}
	path := filepath.Join(t.TempDir(), "full.json")
	b := Budget{Epsilon: 1e9}
	one, err := encodeLedger(newBody(b, nil, []Entry{{Seq: 1, Time: time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC), Cost: pureCost(0.01)}}))
	require.NoError(t, err)
	two, err := encodeLedger(newBody(b, nil, []Entry{{Seq: 1, Time: time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC), Cost: pureCost(0.01)},
		{Seq: 2, Time: time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC), Cost: pureCost(0.01)}}))
	require.NoError(t, err)
	per := len(two) - len(one) // bytes per entry, a few more with longer sequence numbers
	n := (MaxLedgerSize - len(one)) / per
	var data []byte
	for {
		entries := make([]Entry, n)
		for i := range entries {
			entries[i] = Entry{Seq: uint64(i + 1), Time: time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC), Cost: pureCost(0.01)}
		}
		data, err = encodeLedger(newBody(b, nil, entries))
		require.NoError(t, err)
		gap := MaxLedgerSize - len(data)
		if gap >= 0 && gap < 5*per {
			break
		}
		// Aim at room for about two more entries of the size these have.
		perActual := float64(len(data)-len(one)) / float64(n-1)
		n += int(math.Floor(float64(gap-2*per) / perActual))
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	l, err := OpenLedger(path, b)
	require.NoError(t, err)
	for {
		_, err = l.Charge(pureCost(0.01))
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, ErrLedgerFull)
	t.Logf("%d releases fit in %d bytes; the next is refused: %v", l.Spent().Releases, MaxLedgerSize, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.LessOrEqual(t, st.Size(), int64(MaxLedgerSize))
	_, err = OpenLedger(path, b)
	require.NoError(t, err, "the file is still readable")
	_, err = l.Compact("")
	require.NoError(t, err)
	_, err = l.Charge(pureCost(0.01))
	require.NoError(t, err)
}

// TestLedgerStaleTempsRemoved: OpenLedger and CompactLedger remove the temp
// files of crashed writers (and only those).
func TestLedgerStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "budget.ledger")
	_, err := OpenLedger(path, Budget{Epsilon: 1})
	require.NoError(t, err)
	stale := []string{".budget.ledger.tmp-1", ".budget.ledger.tmp-2087123456"}
	keep := []string{".budget.ledger.tmp-", ".budget.ledger.tmp-12x", ".other.ledger.tmp-123", "budget.ledger.tmp-123", ".budget.ledger.tmp-99.bak"}
	for _, n := range append(append([]string(nil), stale...), keep...) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".budget.ledger.tmp-77"), 0o700)) // not a file: kept
	_, err = OpenLedger(path, Budget{Epsilon: 1})
	require.NoError(t, err)
	for _, n := range stale {
		require.NoFileExists(t, filepath.Join(dir, n))
	}
	for _, n := range keep {
		require.FileExists(t, filepath.Join(dir, n))
	}
	require.DirExists(t, filepath.Join(dir, ".budget.ledger.tmp-77"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, stale[0]), []byte("x"), 0o600))
	_, err = CompactLedger(path, "")
	require.NoError(t, err)
	require.NoFileExists(t, filepath.Join(dir, stale[0]))
}

// TestLedgerVersions: version 1 files have no carried total, version 2
// files must; anything else is corrupt.
func TestLedgerVersions(t *testing.T) {
	c := fold(nil, []Entry{{Seq: 1, Cost: pureCost(1)}})
	c.Compactions = 1
	for _, tc := range []struct {
		name string
		body *ledgerBody
		ok   bool
	}{
		{"v1", newBody(Budget{Epsilon: 2}, nil, []Entry{{Seq: 1, Cost: pureCost(1)}}), true},
		{"v2", newBody(Budget{Epsilon: 2}, &c, []Entry{{Seq: 2, Cost: pureCost(1)}}), true},
		{"v2 wrong seq", newBody(Budget{Epsilon: 2}, &c, []Entry{{Seq: 1, Cost: pureCost(1)}}), false},
		{"v1 with carried", &ledgerBody{Format: ledgerFormat, Version: 1, Budget: Budget{Epsilon: 2}, Carried: &c, Entries: []Entry{}}, false},
		{"v2 without carried", &ledgerBody{Format: ledgerFormat, Version: 2, Budget: Budget{Epsilon: 2}, Entries: []Entry{}}, false},
		{"v3", &ledgerBody{Format: ledgerFormat, Version: 3, Budget: Budget{Epsilon: 2}, Entries: []Entry{}}, false},
		{"negative carried", newBody(Budget{Epsilon: 2}, &Carried{Releases: 1, Compactions: 1, BasicEpsilon: -1}, nil), false},
		{"NaN carried", newBody(Budget{Epsilon: 2}, &Carried{Releases: 1, Compactions: 1, Rho: math.NaN()}, nil), false},
		{"empty carried", newBody(Budget{Epsilon: 2}, &Carried{}, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := encodeLedger(tc.body)
			if err != nil {
				require.False(t, tc.ok)
				return
			}
			_, err = parseLedger(data)
			require.Equal(t, tc.ok, err == nil, "%v", err)
		})
	}
	require.True(t, strings.HasPrefix(fmt.Sprint(newBody(Budget{Epsilon: 1}, nil, nil).Version), "1"))
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
