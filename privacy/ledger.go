package privacy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Budget is a total privacy budget: every release charged to a ledger
// composes into a guarantee that must stay within (Epsilon, Delta).
type Budget struct {
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
}

// Validate returns the error a ledger would return for this budget (a
// *ParamError: epsilon not positive and finite, or delta outside [0, 1)),
// or nil. Callers taking a budget from users use it to refuse it early.
func (b Budget) Validate() error { return b.check() }

func (b Budget) check() error {
	if math.IsNaN(b.Epsilon) || math.IsInf(b.Epsilon, 0) || b.Epsilon <= 0 {
		return &ParamError{Param: "budget.epsilon", Value: b.Epsilon, Err: ErrInvalidEpsilon}
	}
	if !(b.Delta >= 0 && b.Delta < 1) {
		return &ParamError{Param: "budget.delta", Value: b.Delta, Err: ErrInvalidDelta}
	}
	return nil
}

// Spent is a composed privacy spend.
type Spent struct {
	// Epsilon and Delta are the best guarantee the accountant can state for
	// all releases so far: the smaller-epsilon one of basic composition and
	// (when Gaussian releases exist and the budget has a delta) RDP
	// composition of the Gaussian releases plus basic composition of the
	// rest.
	Epsilon float64 `json:"epsilon"`
	Delta   float64 `json:"delta"`
	// BasicEpsilon and BasicDelta are plain sums over all releases.
	BasicEpsilon float64 `json:"basic_epsilon"`
	BasicDelta   float64 `json:"basic_delta"`
	// Releases is the number of releases recorded.
	Releases int `json:"releases"`
}

// Entry is one recorded release.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Cost Cost      `json:"cost"`
}

// ledgerBody is the checksummed part of the file.
type ledgerBody struct {
	Format  string  `json:"format"`
	Version int     `json:"version"`
	Budget  Budget  `json:"budget"`
	Entries []Entry `json:"entries"`
}

const (
	ledgerFormat  = "lepton-privacy-ledger"
	ledgerVersion = 1
	// maxLedgerFile bounds what OpenLedger reads (64 MiB).
	maxLedgerFile = 64 << 20
	// budgetSlack is the relative tolerance of budget comparisons, so that
	// a budget written as 0.3 admits releases of 0.1 and 0.2 despite
	// float64 rounding (0.1+0.2 > 0.3 in binary). It is far below any
	// meaningful privacy difference.
	budgetSlack = 1e-12
)

// Ledger records every release with its cost, composes them and refuses a
// release that would exceed its budget. With a path it persists to a file
// atomically (write temp file, fsync, rename, fsync directory) before the
// release is handed out, so a crash can lose a release but never forget
// spent budget; a damaged file is reported as ErrLedgerCorrupt and never
// reset.
//
// A Ledger is safe for concurrent use, and several Ledgers (in one or
// several processes) may share a file: every Charge takes an exclusive
// lock on a sidecar file path+".lock", re-reads and verifies the ledger
// file, and only then composes and writes, so no process can overwrite
// another's charges. (On platforms without advisory locks, see
// lock_other.go, one process per file.) Each Charge rewrites the whole
// file, so a ledger is meant for thousands of releases, not millions.
type Ledger struct {
	mu      sync.Mutex
	path    string // "" for an in-memory ledger
	budget  Budget
	entries []Entry
	closed  bool

	now func() time.Time
	// beforeRename, when set (tests only), runs after the temp file is
	// written and synced and before it is renamed over the ledger; an
	// error simulates a crash at that point.
	beforeRename func(tmp string) error
}

// NewMemoryLedger returns a ledger that is not persisted: for tests,
// simulations and processes whose lifetime bounds the budget.
func NewMemoryLedger(b Budget) (*Ledger, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	return &Ledger{budget: b, now: time.Now}, nil
}

// OpenLedger opens the ledger file at path, creating it with budget b if it
// does not exist. An existing file must verify (format, version, SHA-256)
// and carry the same budget: otherwise ErrLedgerCorrupt or
// ErrLedgerMismatch, and the file is left untouched.
func OpenLedger(path string, b Budget) (*Ledger, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	l := &Ledger{path: path, budget: b, now: time.Now}
	// Hold the lock so that two processes creating the same ledger cannot
	// overwrite each other's first charges.
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: "lock: " + err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	defer unlock()
	data, err := readLimited(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := l.persist(nil); err != nil {
			return nil, err
		}
		return l, nil
	case err != nil:
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	body, err := parseLedger(data)
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerCorrupt}
	}
	if body.Budget != b {
		return nil, &LedgerError{Path: path, Reason: fmt.Sprintf("file budget (eps=%g, delta=%g), asked for (eps=%g, delta=%g)",
			body.Budget.Epsilon, body.Budget.Delta, b.Epsilon, b.Delta), Err: ErrLedgerMismatch}
	}
	l.entries = body.Entries
	return l, nil
}

// LoadLedger opens an existing ledger file with the budget recorded in it
// (for tools that charge to a ledger created earlier). A missing file is an
// ErrLedgerIO error wrapping fs.ErrNotExist; nothing is created.
func LoadLedger(path string) (*Ledger, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	body, err := parseLedger(data)
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerCorrupt}
	}
	return OpenLedger(path, body.Budget)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLedgerFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxLedgerFile {
		return nil, fmt.Errorf("ledger file larger than %d bytes", maxLedgerFile)
	}
	return data, nil
}

// parseLedger verifies and decodes a ledger file's bytes. The file is
//
//	{"sha256":"<hex of body bytes>","body":<body JSON>}\n
//
// and the checksum covers the body's exact bytes.
func parseLedger(data []byte) (*ledgerBody, error) {
	var wrap struct {
		Sha256 string          `json:"sha256"`
		Body   json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(data, &wrap); err != nil {
		return nil, fmt.Errorf("not a ledger: %v", err)
	}
	if len(wrap.Body) == 0 {
		return nil, errors.New("missing body")
	}
	sum := sha256.Sum256(wrap.Body)
	if wrap.Sha256 != hex.EncodeToString(sum[:]) {
		return nil, errors.New("checksum mismatch")
	}
	var body ledgerBody
	dec := json.NewDecoder(bytes.NewReader(wrap.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("bad body: %v", err)
	}
	if body.Format != ledgerFormat || body.Version != ledgerVersion {
		return nil, fmt.Errorf("unknown format %q version %d", body.Format, body.Version)
	}
	if err := body.Budget.check(); err != nil {
		return nil, fmt.Errorf("bad budget: %v", err)
	}
	for i, e := range body.Entries {
		if e.Seq != uint64(i+1) {
			return nil, fmt.Errorf("entry %d has seq %d", i, e.Seq)
		}
		if err := e.Cost.valid(); err != nil {
			return nil, fmt.Errorf("entry %d: %v", i, err)
		}
	}
	return &body, nil
}

// encodeLedger is the inverse of parseLedger.
func encodeLedger(body *ledgerBody) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	var out bytes.Buffer
	out.WriteString(`{"sha256":"`)
	out.WriteString(hex.EncodeToString(sum[:]))
	out.WriteString(`","body":`)
	out.Write(b)
	out.WriteString("}\n")
	return out.Bytes(), nil
}

// persist writes entries to the ledger file atomically. On error the file
// on disk still holds the previous state.
func (l *Ledger) persist(entries []Entry) (err error) {
	if l.path == "" {
		return nil
	}
	fail := func(step string, e error) error {
		return &LedgerError{Path: l.path, Reason: step + ": " + e.Error(), Err: ErrLedgerIO, Cause: e}
	}
	if entries == nil {
		entries = []Entry{}
	}
	data, err := encodeLedger(&ledgerBody{Format: ledgerFormat, Version: ledgerVersion, Budget: l.budget, Entries: entries})
	if err != nil {
		return fail("encode", err)
	}
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(l.path)+".tmp-*")
	if err != nil {
		return fail("create temp", err)
	}
	tmpName := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fail("write", err)
	}
	if err := tmp.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := tmp.Close(); err != nil {
		return fail("close", err)
	}
	if l.beforeRename != nil {
		if err := l.beforeRename(tmpName); err != nil {
			return fail("before rename", err)
		}
	}
	if err := os.Rename(tmpName, l.path); err != nil {
		return fail("rename", err)
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return fail("fsync dir", err)
	}
	return nil
}

// Budget returns the ledger's budget.
func (l *Ledger) Budget() Budget { return l.budget }

// Path returns the ledger file, "" for a memory ledger.
func (l *Ledger) Path() string { return l.path }

// Entries returns a copy of the recorded releases.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.entries...)
}

// Spent returns the composed spend so far.
func (l *Ledger) Spent() Spent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return compose(l.entries, l.budget)
}

// Remaining returns the epsilon left under the best composition of what
// has been spent (it ignores delta).
func (l *Ledger) Remaining() float64 {
	s := l.Spent()
	return math.Max(0, l.budget.Epsilon-s.Epsilon)
}

// compose applies basic composition to all entries and, when there are
// Gaussian entries and the budget has a delta, RDP composition of the
// Gaussian ones converted at the budget's delta minus the other entries'
// delta, plus basic composition of the rest. It returns the smaller-epsilon
// guarantee that fits the delta budget.
func compose(entries []Entry, b Budget) Spent {
	var s Spent
	var pureEps, otherDelta, rho float64
	gauss := false
	for _, e := range entries {
		s.BasicEpsilon += e.Cost.Epsilon
		s.BasicDelta += e.Cost.Delta
		if e.Cost.Mechanism == MechGaussian {
			gauss = true
			rho += e.Cost.Sensitivity * e.Cost.Sensitivity / (2 * e.Cost.Sigma * e.Cost.Sigma)
		} else {
			pureEps += e.Cost.Epsilon
			otherDelta += e.Cost.Delta
		}
	}
	s.Releases = len(entries)
	s.Epsilon, s.Delta = s.BasicEpsilon, s.BasicDelta
	if gauss && b.Delta > otherDelta {
		d := b.Delta - otherDelta
		if e := pureEps + RDPToDP(rho, d); e < s.Epsilon || s.BasicDelta > b.Delta*(1+budgetSlack) {
			s.Epsilon, s.Delta = e, b.Delta
		}
	}
	return s
}

func within(s Spent, b Budget) bool {
	return s.Epsilon <= b.Epsilon*(1+budgetSlack) && s.Delta <= b.Delta*(1+budgetSlack)
}

// Check reports whether releases of the given costs, on top of what has
// been spent, would fit the budget, without recording anything: a
// *BudgetError (ErrBudgetExceeded) if not. Callers releasing a batch use it
// to refuse up front rather than spend part of the budget on a batch that
// cannot complete. Charge still enforces the budget for each release.
func (l *Ledger) Check(costs ...Cost) error {
	for _, c := range costs {
		if err := c.valid(); err != nil {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	unlock, err := l.lockAndReload()
	if err != nil {
		return err
	}
	defer unlock()
	next := append(append([]Entry(nil), l.entries...), make([]Entry, len(costs))...)
	var total Cost
	for i, c := range costs {
		next[len(l.entries)+i] = Entry{Seq: uint64(len(l.entries) + i + 1), Cost: c}
		total.Epsilon += c.Epsilon
		total.Delta += c.Delta
	}
	if !within(compose(next, l.budget), l.budget) {
		return &BudgetError{Requested: total, Spent: compose(l.entries, l.budget), Budget: l.budget}
	}
	return nil
}

// Charge records a release of cost c if the composed spend stays within
// the budget, persisting it before returning. It returns a *BudgetError
// (ErrBudgetExceeded) when it would not, and a *LedgerError when the
// charge could not be made durable; in both cases nothing is recorded and
// the caller must not release.
func (l *Ledger) Charge(c Cost) (Spent, error) {
	if err := c.valid(); err != nil {
		return Spent{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	unlock, err := l.lockAndReload()
	if err != nil {
		return Spent{}, err
	}
	defer unlock()
	next := make([]Entry, len(l.entries), len(l.entries)+1)
	copy(next, l.entries)
	next = append(next, Entry{Seq: uint64(len(l.entries) + 1), Time: l.now().UTC(), Cost: c})
	after := compose(next, l.budget)
	if !within(after, l.budget) {
		return Spent{}, &BudgetError{Requested: c, Spent: compose(l.entries, l.budget), Budget: l.budget}
	}
	if err := l.persist(next); err != nil {
		return Spent{}, err
	}
	l.entries = next
	return after, nil
}

// lockAndReload, called with l.mu held, fails with ErrClosed after Close
// and, for a file ledger, takes the file lock and reloads the file's
// entries. The caller must call unlock (a no-op for a memory ledger).
func (l *Ledger) lockAndReload() (unlock func(), err error) {
	if l.closed {
		return nil, ErrClosed
	}
	if l.path == "" {
		return func() {}, nil
	}
	unlock, err = lockFile(l.path + ".lock")
	if err != nil {
		return nil, &LedgerError{Path: l.path, Reason: "lock: " + err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	if err := l.reload(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// reload replaces the in-memory entries by the file's, so that charges made
// through other Ledgers on the same file count. Called with the file lock
// held.
func (l *Ledger) reload() error {
	data, err := readLimited(l.path)
	if err != nil {
		return &LedgerError{Path: l.path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	body, err := parseLedger(data)
	if err != nil {
		return &LedgerError{Path: l.path, Reason: err.Error(), Err: ErrLedgerCorrupt}
	}
	if body.Budget != l.budget {
		return &LedgerError{Path: l.path, Reason: "budget changed on disk", Err: ErrLedgerMismatch}
	}
	if len(body.Entries) < len(l.entries) {
		// The file lost releases this Ledger made: rolled back or replaced.
		return &LedgerError{Path: l.path, Reason: fmt.Sprintf("file has %d releases, %d were recorded", len(body.Entries), len(l.entries)), Err: ErrLedgerCorrupt}
	}
	l.entries = body.Entries
	return nil
}

// Close marks the ledger closed; later charges fail with ErrClosed. Every
// charge is already durable, so Close has nothing to flush.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}
