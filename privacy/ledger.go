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
	"strings"
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

// Carried is the composed spend of releases a compaction folded into one
// total (see CompactLedger): the sums composition needs, in the order the
// releases were made, so that composing later releases on top gives
// exactly what composing them after every folded release would have.
type Carried struct {
	Releases     int     `json:"releases"`      // releases folded
	BasicEpsilon float64 `json:"basic_epsilon"` // sum of every release's epsilon
	BasicDelta   float64 `json:"basic_delta"`   // sum of every release's delta
	PureEpsilon  float64 `json:"pure_epsilon"`  // sum of the non-Gaussian releases' epsilon
	OtherDelta   float64 `json:"other_delta"`   // sum of the non-Gaussian releases' delta
	Rho          float64 `json:"rho"`           // sum of the Gaussian releases' zCDP rho
	Gaussian     bool    `json:"gaussian"`      // some folded release was Gaussian
	// Last is the time of the last release folded; Compactions counts the
	// compactions behind this total.
	Last        time.Time `json:"last"`
	Compactions int       `json:"compactions"`
}

// valid checks a carried total read from a file.
func (c *Carried) valid() error {
	for _, v := range []float64{c.BasicEpsilon, c.BasicDelta, c.PureEpsilon, c.OtherDelta, c.Rho} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("carried total has a sum of %v", v)
		}
	}
	if c.Releases < 1 || c.Compactions < 1 {
		return fmt.Errorf("carried total of %d releases from %d compactions", c.Releases, c.Compactions)
	}
	return nil
}

// ledgerBody is the checksummed part of the file.
type ledgerBody struct {
	Format  string   `json:"format"`
	Version int      `json:"version"`
	Budget  Budget   `json:"budget"`
	Carried *Carried `json:"carried,omitempty"` // version 2 only
	Entries []Entry  `json:"entries"`
}

// MaxLedgerSize is the largest ledger file OpenLedger reads and Charge
// writes: 64 MiB, about 480,000 releases. A charge that would grow the file
// past it is refused with a *LedgerFullError before anything is written;
// CompactLedger shrinks the file to a few hundred bytes, keeping the spent
// budget.
const MaxLedgerSize = 64 << 20

// readLimit is what OpenLedger, LoadLedger and Charge read: MaxLedgerSize
// (a variable only so that tests can stand in a small file for a 64 MiB
// one).
var readLimit int64 = MaxLedgerSize

const (
	ledgerFormat = "lepton-privacy-ledger"
	// ledgerVersion is the version of files without a carried total, which
	// earlier readers understand; compacted files are ledgerVersionCarried,
	// which those readers refuse (rather than misread the spend).
	ledgerVersion        = 1
	ledgerVersionCarried = 2
	// maxCompactRead bounds what CompactLedger reads: it rescues files
	// that an earlier version let grow past MaxLedgerSize.
	maxCompactRead = 1 << 30
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
	carried *Carried // releases folded by compactions; nil if none
	entries []Entry
	closed  bool
	limit   int // largest file Charge writes (MaxLedgerSize; tests lower it)

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
	return &Ledger{budget: b, now: time.Now, limit: MaxLedgerSize}, nil
}

// OpenLedger opens the ledger file at path, creating it with budget b if it
// does not exist. An existing file must verify (format, version, SHA-256)
// and carry the same budget: otherwise ErrLedgerCorrupt or
// ErrLedgerMismatch, and the file is left untouched. A file over
// MaxLedgerSize is a *LedgerFullError (compact it with CompactLedger).
//
// Under the file lock it also removes the temporary files that writers
// killed mid-charge leave beside the ledger (.NAME.tmp-*): writers create
// them only while holding the lock, so any found then are stale.
func OpenLedger(path string, b Budget) (*Ledger, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	l := &Ledger{path: path, budget: b, now: time.Now, limit: MaxLedgerSize}
	// Hold the lock so that two processes creating the same ledger cannot
	// overwrite each other's first charges.
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: "lock: " + err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	defer unlock()
	removeStaleTemps(path)
	body, err := readLedger(path, readLimit)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := l.persist(nil, nil); err != nil {
			return nil, err
		}
		return l, nil
	case err != nil:
		return nil, err
	}
	if body.Budget != b {
		return nil, &LedgerError{Path: path, Reason: fmt.Sprintf("file budget (eps=%g, delta=%g), asked for (eps=%g, delta=%g)",
			body.Budget.Epsilon, body.Budget.Delta, b.Epsilon, b.Delta), Err: ErrLedgerMismatch}
	}
	l.carried, l.entries = body.Carried, body.Entries
	return l, nil
}

// LoadLedger opens an existing ledger file with the budget recorded in it
// (for tools that charge to a ledger created earlier). A missing file is an
// ErrLedgerIO error wrapping fs.ErrNotExist; nothing is created.
func LoadLedger(path string) (*Ledger, error) {
	body, err := readLedger(path, readLimit)
	if err != nil {
		return nil, err
	}
	return OpenLedger(path, body.Budget)
}

// readLedger reads, verifies and decodes the ledger file at path, refusing
// files over limit bytes with a *LedgerFullError.
func readLedger(path string, limit int64) (*ledgerBody, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	if int64(len(data)) > limit {
		size := int64(len(data))
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		return nil, &LedgerFullError{Path: path, Size: size, Limit: limit}
	}
	body, err := parseLedger(data)
	if err != nil {
		return nil, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerCorrupt}
	}
	return body, nil
}

// tempPrefix is the start of the names of a ledger's temporary files.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// removeStaleTemps deletes the temporary files of path's ledger, called
// with the file lock held (so no live writer has one) and returns how many
// it removed. Failures are ignored: a leftover is harmless, never read.
func removeStaleTemps(path string) int {
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return 0
	}
	prefix, n := tempPrefix(path), 0
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || !e.Type().IsRegular() || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		if os.Remove(filepath.Join(filepath.Dir(path), e.Name())) == nil {
			n++
		}
	}
	return n
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
	if body.Format != ledgerFormat || (body.Version != ledgerVersion && body.Version != ledgerVersionCarried) {
		return nil, fmt.Errorf("unknown format %q version %d", body.Format, body.Version)
	}
	if (body.Carried != nil) != (body.Version == ledgerVersionCarried) {
		return nil, fmt.Errorf("version %d with carried total %v", body.Version, body.Carried != nil)
	}
	if err := body.Budget.check(); err != nil {
		return nil, fmt.Errorf("bad budget: %v", err)
	}
	first := uint64(1)
	if body.Carried != nil {
		if err := body.Carried.valid(); err != nil {
			return nil, err
		}
		first += uint64(body.Carried.Releases)
	}
	for i, e := range body.Entries {
		if e.Seq != first+uint64(i) {
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

// persist writes the carried total and entries to the ledger file
// atomically. A file that would exceed l.limit is refused with a
// *LedgerFullError before anything is written. On error the file on disk
// still holds the previous state.
func (l *Ledger) persist(carried *Carried, entries []Entry) (err error) {
	if l.path == "" {
		return nil
	}
	fail := func(step string, e error) error {
		return &LedgerError{Path: l.path, Reason: step + ": " + e.Error(), Err: ErrLedgerIO, Cause: e}
	}
	data, err := encodeLedger(newBody(l.budget, carried, entries))
	if err != nil {
		return fail("encode", err)
	}
	if len(data) > l.limit {
		return &LedgerFullError{Path: l.path, Size: int64(len(data)), Limit: int64(l.limit), Charge: true}
	}
	return writeAtomic(l.path, data, l.beforeRename)
}

// newBody is the file body for a carried total and entries: version 1
// unless there is a carried total.
func newBody(b Budget, carried *Carried, entries []Entry) *ledgerBody {
	if entries == nil {
		entries = []Entry{}
	}
	v := ledgerVersion
	if carried != nil {
		v = ledgerVersionCarried
	}
	return &ledgerBody{Format: ledgerFormat, Version: v, Budget: b, Carried: carried, Entries: entries}
}

// writeAtomic replaces the file at path by data: temp file in the same
// directory, write, fsync, rename, fsync of the directory. beforeRename
// (tests only) simulates a crash before the rename.
func writeAtomic(path string, data []byte, beforeRename func(tmp string) error) error {
	fail := func(step string, e error) error {
		return &LedgerError{Path: path, Reason: step + ": " + e.Error(), Err: ErrLedgerIO, Cause: e}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
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
	if beforeRename != nil {
		if err := beforeRename(tmpName); err != nil {
			return fail("before rename", err)
		}
	}
	if err := os.Rename(tmpName, path); err != nil {
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

// Entries returns a copy of the recorded releases, those since the last
// compaction (Carried holds the ones before).
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.entries...)
}

// Carried returns the total that compactions folded the earlier releases
// into, or nil if the ledger was never compacted.
func (l *Ledger) Carried() *Carried {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.carried == nil {
		return nil
	}
	c := *l.carried
	return &c
}

// Spent returns the composed spend so far, compacted releases included.
func (l *Ledger) Spent() Spent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return compose(l.carried, l.entries, l.budget)
}

// Remaining returns the epsilon left under the best composition of what
// has been spent (it ignores delta).
func (l *Ledger) Remaining() float64 {
	s := l.Spent()
	return math.Max(0, l.budget.Epsilon-s.Epsilon)
}

// fold adds entries, in order, to the sums of carried (nil: none) and
// returns the new total; Compactions and Last are left to the caller.
func fold(carried *Carried, entries []Entry) Carried {
	var c Carried
	if carried != nil {
		c = *carried
	}
	for _, e := range entries {
		c.BasicEpsilon += e.Cost.Epsilon
		c.BasicDelta += e.Cost.Delta
		if e.Cost.Mechanism == MechGaussian {
			c.Gaussian = true
			c.Rho += e.Cost.Sensitivity * e.Cost.Sensitivity / (2 * e.Cost.Sigma * e.Cost.Sigma)
		} else {
			c.PureEpsilon += e.Cost.Epsilon
			c.OtherDelta += e.Cost.Delta
		}
	}
	c.Releases += len(entries)
	return c
}

// compose applies basic composition to all releases (carried and entries)
// and, when there are Gaussian releases and the budget has a delta, RDP
// composition of the Gaussian ones converted at the budget's delta minus
// the other releases' delta, plus basic composition of the rest. It
// returns the smaller-epsilon guarantee that fits the delta budget.
func compose(carried *Carried, entries []Entry, b Budget) Spent {
	c := fold(carried, entries)
	s := Spent{BasicEpsilon: c.BasicEpsilon, BasicDelta: c.BasicDelta, Releases: c.Releases}
	s.Epsilon, s.Delta = s.BasicEpsilon, s.BasicDelta
	if c.Gaussian && b.Delta > c.OtherDelta {
		d := b.Delta - c.OtherDelta
		if e := c.PureEpsilon + RDPToDP(c.Rho, d); e < s.Epsilon || s.BasicDelta > b.Delta*(1+budgetSlack) {
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
	first := l.nextSeq()
	for i, c := range costs {
		next[len(l.entries)+i] = Entry{Seq: first + uint64(i), Cost: c}
		total.Epsilon += c.Epsilon
		total.Delta += c.Delta
	}
	if !within(compose(l.carried, next, l.budget), l.budget) {
		return &BudgetError{Requested: total, Spent: compose(l.carried, l.entries, l.budget), Budget: l.budget}
	}
	return nil
}

// nextSeq is the sequence number of the next release.
func (l *Ledger) nextSeq() uint64 {
	n := uint64(len(l.entries)) + 1
	if l.carried != nil {
		n += uint64(l.carried.Releases)
	}
	return n
}

// releases is the number of releases recorded, compacted ones included.
func (l *Ledger) releases() int {
	n := len(l.entries)
	if l.carried != nil {
		n += l.carried.Releases
	}
	return n
}

// Charge records a release of cost c if the composed spend stays within
// the budget, persisting it before returning. It returns a *BudgetError
// (ErrBudgetExceeded) when it would not, a *LedgerFullError
// (ErrLedgerFull) when the file would grow past MaxLedgerSize (compact it),
// and a *LedgerError when the charge could not be made durable; in every
// case nothing is recorded and the caller must not release.
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
	next = append(next, Entry{Seq: l.nextSeq(), Time: l.now().UTC(), Cost: c})
	after := compose(l.carried, next, l.budget)
	if !within(after, l.budget) {
		return Spent{}, &BudgetError{Requested: c, Spent: compose(l.carried, l.entries, l.budget), Budget: l.budget}
	}
	if err := l.persist(l.carried, next); err != nil {
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
	body, err := readLedger(l.path, readLimit)
	if err != nil {
		return err
	}
	if body.Budget != l.budget {
		return &LedgerError{Path: l.path, Reason: "budget changed on disk", Err: ErrLedgerMismatch}
	}
	if n := fold(body.Carried, body.Entries).Releases; n < l.releases() {
		// The file lost releases this Ledger made: rolled back or replaced.
		return &LedgerError{Path: l.path, Reason: fmt.Sprintf("file has %d releases, %d were recorded", n, l.releases()), Err: ErrLedgerCorrupt}
	}
	l.carried, l.entries = body.Carried, body.Entries
	return nil
}

// CompactLedger folds every release recorded in the ledger file at path
// into the file's carried total, leaving no entries: the file shrinks to a
// few hundred bytes, the composed spend (Spent) is unchanged bit for bit,
// and later releases compose on top of it exactly as they would have on top
// of the individual releases. What goes is the per-release history
// (Entries: times, mechanisms, parameters). When archive is not "", the
// file as it was is first copied there (atomically, fsynced; an existing
// archive is an error), so nothing is thrown away: rotation is compaction
// with an archive. It returns the spend carried.
//
// It runs under the file lock, so charges in other processes wait for it
// and then continue on the compacted file (Ledgers open on it reload it
// at their next Charge). It reads files of up to 1 GiB, so it also rescues
// a ledger that an earlier version let grow past MaxLedgerSize. Stale
// temporary files are removed, as at open. A compacted file is format
// version 2, which earlier versions refuse rather than misread.
func CompactLedger(path, archive string) (Spent, error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return Spent{}, &LedgerError{Path: path, Reason: "lock: " + err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	defer unlock()
	removeStaleTemps(path)
	f, err := os.Open(path)
	if err != nil {
		return Spent{}, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, max(maxCompactRead, readLimit)+1))
	f.Close()
	if err != nil {
		return Spent{}, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	if int64(len(data)) > max(maxCompactRead, readLimit) {
		return Spent{}, &LedgerFullError{Path: path, Size: int64(len(data)), Limit: maxCompactRead}
	}
	body, err := parseLedger(data)
	if err != nil {
		return Spent{}, &LedgerError{Path: path, Reason: err.Error(), Err: ErrLedgerCorrupt}
	}
	before := compose(body.Carried, body.Entries, body.Budget)
	// The archive is written (and an existing one refused) whether or not
	// there is anything to fold, so that a caller who asked for one always
	// has it.
	if archive != "" {
		if _, err := os.Lstat(archive); err == nil {
			return Spent{}, &LedgerError{Path: path, Reason: "archive " + archive + " already exists", Err: ErrLedgerIO, Cause: fs.ErrExist}
		}
		if err := writeAtomic(archive, data, nil); err != nil {
			return Spent{}, err
		}
	}
	if len(body.Entries) == 0 {
		return before, nil // nothing to fold
	}
	c := fold(body.Carried, body.Entries)
	c.Compactions++
	c.Last = body.Entries[len(body.Entries)-1].Time
	out, err := encodeLedger(newBody(body.Budget, &c, nil))
	if err != nil {
		return Spent{}, &LedgerError{Path: path, Reason: "encode: " + err.Error(), Err: ErrLedgerIO, Cause: err}
	}
	if err := writeAtomic(path, out, nil); err != nil {
		return Spent{}, err
	}
	after := compose(&c, nil, body.Budget)
	if after != before {
		// Cannot happen: fold adds in the same order compose does.
		return Spent{}, fmt.Errorf("privacy: compaction changed the spend from %+v to %+v", before, after)
	}
	return after, nil
}

// Compact is CompactLedger on l's file (archive as there), or on l's
// entries for a memory ledger (archive must be ""). l stays usable: its
// Entries then start after the compaction and Carried holds the rest.
func (l *Ledger) Compact(archive string) (Spent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Spent{}, ErrClosed
	}
	if l.path == "" {
		if archive != "" {
			return Spent{}, fmt.Errorf("%w: a memory ledger has no file to archive", ErrLedgerIO)
		}
		if len(l.entries) > 0 {
			c := fold(l.carried, l.entries)
			c.Compactions++
			c.Last = l.entries[len(l.entries)-1].Time
			l.carried, l.entries = &c, nil
		}
		return compose(l.carried, nil, l.budget), nil
	}
	if _, err := CompactLedger(l.path, archive); err != nil {
		return Spent{}, err
	}
	unlock, err := l.lockAndReload()
	if err != nil {
		return Spent{}, err
	}
	unlock()
	return compose(l.carried, l.entries, l.budget), nil
}

// Close marks the ledger closed; later charges fail with ErrClosed. Every
// charge is already durable, so Close has nothing to flush.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}
