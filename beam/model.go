package leptonbeam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"lepton"
)

// Sentinel errors.
var (
	// ErrInvalidConfig is returned when a transform is built with options
	// that cannot work: no model or two, an unknown embedded model, a
	// negative batch size, an unknown pooling or input format.
	ErrInvalidConfig = errors.New("leptonbeam: invalid configuration")
	// ErrModel is returned by a DoFn's Setup when its model cannot be opened
	// (the error also wraps the cause: fs.ErrNotExist, lepton.ErrInvalidModel,
	// ...). It fails the bundle: no record is at fault.
	ErrModel = errors.New("leptonbeam: cannot open model")
)

// Model says where workers get the model from. Set Path or Embedded, not
// both. It is part of a DoFn's configuration, so it is serialised into the
// pipeline: a path or a name, never the model itself.
type Model struct {
	// Path is a .lep file. A plain path is opened where the worker runs
	// (and memory-mapped, so processes on one host share its pages); a URL
	// of a Beam file system the program imports (gs://, s3://, memfs://,
	// ...) is copied once per worker process to a temporary file, which is
	// mapped and kept while the process lives.
	Path string `json:"path,omitempty"`
	// Embedded names a model the program registered with RegisterEmbedded.
	Embedded string `json:"embedded,omitempty"`
	// Threads is lepton.WithThreads: goroutines per call, shared by the
	// calls of every bundle in the process (0: GOMAXPROCS).
	Threads int `json:"threads,omitempty"`
	// ActBits is lepton.WithActivationBits (0: lepton.DefaultActivationBits).
	ActBits int `json:"act_bits,omitempty"`
	// Verify checks every weight payload when the model is opened
	// (lepton.WithVerify): worth it for a model copied from remote storage.
	Verify bool `json:"verify,omitempty"`
	// Calls bounds the Lepton calls running at once on this model in one
	// worker process, whatever the number of bundles (0: one call when
	// Threads is 0, since a call then uses every CPU already; otherwise
	// GOMAXPROCS/Threads, at least one). Calls beyond it wait: concurrent
	// calls sharing one Model's threads cost more CPU and finish later
	// than the same calls one after the other (beam/README.md).
	Calls int `json:"calls,omitempty"`
}

func (m Model) validate() error {
	switch {
	case m.Path == "" && m.Embedded == "":
		return fmt.Errorf("%w: no model: set Model.Path or Model.Embedded", ErrInvalidConfig)
	case m.Path != "" && m.Embedded != "":
		return fmt.Errorf("%w: Model.Path %q and Model.Embedded %q are both set", ErrInvalidConfig, m.Path, m.Embedded)
	case m.Threads < 0:
		return fmt.Errorf("%w: Model.Threads %d is negative", ErrInvalidConfig, m.Threads)
	case m.Calls < 0:
		return fmt.Errorf("%w: Model.Calls %d is negative", ErrInvalidConfig, m.Calls)
	case m.ActBits != 0 && m.ActBits != 7 && m.ActBits != 8:
		return fmt.Errorf("%w: Model.ActBits %d: want 7 or 8 (0: default)", ErrInvalidConfig, m.ActBits)
	}
	if m.Embedded != "" {
		if _, ok := embedded.Load(m.Embedded); !ok {
			return fmt.Errorf("%w: no embedded model %q is registered (RegisterEmbedded)", ErrInvalidConfig, m.Embedded)
		}
	}
	return nil
}

func (m Model) options() []lepton.Option {
	opts := []lepton.Option{lepton.WithThreads(m.Threads), lepton.WithVerify(m.Verify)}
	if m.ActBits != 0 {
		opts = append(opts, lepton.WithActivationBits(m.ActBits))
	}
	return opts
}

// calls is the limit Calls documents.
func (m Model) calls() int {
	switch {
	case m.Calls > 0:
		return m.Calls
	case m.Threads == 0:
		return 1
	}
	return max(1, runtime.GOMAXPROCS(0)/m.Threads)
}

func (m Model) String() string {
	if m.Embedded != "" {
		return "embedded model " + m.Embedded
	}
	return m.Path
}

// embedded holds the models registered with RegisterEmbedded: name -> func() []byte.
var embedded sync.Map

// RegisterEmbedded makes a model compiled into the program available to
// DoFns as Model{Embedded: name}. Call it from an init function (or before
// the pipeline runs, in every process): Beam's Go workers run the same
// binary as the launcher, so the registration exists wherever the DoFn
// runs. data is called once per worker process (for each set of open
// options); the Model then uses its result in place and it must not be
// modified. For example, the built-in clinic model:
//
//	func init() { leptonbeam.RegisterEmbedded("clinic", clinic.Bytes) }
//
// Like http.Handle, it panics on a programming error: an empty name, a nil
// func or a name registered twice.
func RegisterEmbedded(name string, data func() []byte) {
	if name == "" || data == nil {
		panic("leptonbeam: RegisterEmbedded needs a name and a data func")
	}
	if _, dup := embedded.LoadOrStore(name, data); dup {
		panic("leptonbeam: RegisterEmbedded called twice for " + name)
	}
}

// The models open in this process, shared by every DoFn instance that asks
// for the same model with the same open options, and closed when the last
// one tears down.
var models = struct {
	sync.Mutex
	open map[Model]*sharedModel
}{open: map[Model]*sharedModel{}}

type sharedModel struct {
	ready chan struct{} // closed once model or err is set
	model *lepton.Model
	calls chan struct{} // a token per call running (Model.Calls)
	err   error
	refs  int
}

// call runs fn while holding one of the model's call tokens.
func (sh *sharedModel) call(ctx context.Context, fn func()) error {
	select {
	case sh.calls <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sh.calls }()
	fn()
	return nil
}

// acquireModel returns the process's open model for m, opening it if no
// DoFn instance holds it, and the func that releases it.
func acquireModel(ctx context.Context, m Model) (*sharedModel, func(), error) {
	models.Lock()
	sh, ok := models.open[m]
	if !ok {
		sh = &sharedModel{ready: make(chan struct{}), calls: make(chan struct{}, m.calls())}
		models.open[m] = sh
	}
	sh.refs++
	models.Unlock()
	if !ok {
		sh.model, sh.err = openModel(ctx, m)
		if sh.err != nil {
			models.Lock()
			delete(models.open, m) // the next Setup tries again
			models.Unlock()
		}
		close(sh.ready)
	}
	select {
	case <-sh.ready:
	case <-ctx.Done():
		releaseModel(m, sh)
		return nil, nil, ctx.Err()
	}
	if sh.err != nil {
		return nil, nil, sh.err
	}
	var once sync.Once
	return sh, func() { once.Do(func() { releaseModel(m, sh) }) }, nil
}

func releaseModel(m Model, sh *sharedModel) {
	models.Lock()
	sh.refs--
	last := sh.refs == 0 && models.open[m] == sh && sh.model != nil
	if last {
		delete(models.open, m)
	}
	models.Unlock()
	if last {
		// Close waits for calls still running; an unmapping error leaves
		// nothing to recover in a read-only mapping, so it is dropped.
		_ = sh.model.Close()
	}
}

func openModel(ctx context.Context, m Model) (*lepton.Model, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var (
		model *lepton.Model
		err   error
	)
	switch {
	case m.Embedded != "":
		data, _ := embedded.Load(m.Embedded)
		model, err = lepton.OpenBytes(data.(func() []byte)(), m.options()...)
	case isURL(m.Path):
		var local string
		if local, err = localCopy(ctx, m.Path); err == nil {
			model, err = lepton.Open(local, m.options()...)
		}
	default:
		model, err = lepton.Open(m.Path, m.options()...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrModel, m, err)
	}
	return model, nil
}

// isURL reports whether path names a file on a Beam file system other than
// the local one.
func isURL(path string) bool {
	scheme, _, ok := strings.Cut(path, "://")
	return ok && scheme != "" && scheme != "file"
}

// The local copies of remote models, by URL: each is downloaded once per
// process.
var copies = struct {
	sync.Mutex
	path map[string]string
}{path: map[string]string{}}

// localCopy copies the file at url (on a Beam file system) to a temporary
// file, once per process, and returns its path.
func localCopy(ctx context.Context, url string) (string, error) {
	copies.Lock()
	defer copies.Unlock() // one download at a time: they compete for the same network
	if p, ok := copies.path[url]; ok {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	fs, err := filesystem.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, url)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := os.CreateTemp("", "lepton-beam-*.lep")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("copying %s: %w", url, err)
	}
	copies.path[url] = f.Name()
	return f.Name(), nil
}
