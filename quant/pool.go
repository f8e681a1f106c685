package quant

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool is a set of persistent worker goroutines that GEMM (and For) split
// their work over. The calling goroutine always takes part, so a Pool of 1
// thread runs everything inline. Work is cut into chunks that each take a
// few microseconds to tens of microseconds, and every assembly call covers
// one small tile, so the Go scheduler can preempt between calls.
//
// A Pool is safe for concurrent use: concurrent GEMMs share the workers.
// Steady-state calls do not allocate.
type Pool struct {
	threads atomic.Int32
	mu      sync.RWMutex // guards started and closed; held (read) while offering work
	started int          // worker goroutines running
	closed  bool
	work    chan *job // jobs offered to helpers
	free    chan *job // recycled jobs, so calls do not allocate
}

// NewPool returns a pool that uses up to threads goroutines per call (the
// caller included); threads <= 0 means runtime.GOMAXPROCS(0).
func NewPool(threads int) *Pool {
	p := &Pool{work: make(chan *job, 64), free: make(chan *job, 64)}
	p.SetThreads(threads)
	return p
}

// SetThreads changes how many goroutines later calls use (<= 0 means
// GOMAXPROCS). Workers are started on demand and never stopped before Close.
func (p *Pool) SetThreads(threads int) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for ; p.started < threads-1 && !p.closed; p.started++ {
		go p.worker()
	}
	p.threads.Store(int32(threads))
}

// Threads returns the number of goroutines a call may use.
func (p *Pool) Threads() int { return int(p.threads.Load()) }

// Close stops the workers. Later calls still work but run on the calling
// goroutine alone. The default pool behind the package-level GEMM is never
// closed.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.work)
	}
}

// scratch is the per-goroutine working memory of a chunk. Kernels are
// called through func values, so their arguments escape: keeping them in a
// long-lived scratch (one per worker, one per job for the caller) is what
// makes GEMM allocation-free.
type scratch struct {
	k   kargs
	raw [8 * NR]int32
}

func (p *Pool) worker() {
	s := new(scratch)
	for j := range p.work {
		j.drain(s)
		j.wg.Done()
	}
}

// job is one parallel call: chunks 0..n-1 are claimed with an atomic
// counter by the caller and the helpers alike.
type job struct {
	n    int32
	next atomic.Int32
	wg   sync.WaitGroup

	g  gemmCall    // for GEMM jobs
	fn func(i int) // for For jobs
	s  scratch     // the calling goroutine's scratch
}

func (j *job) drain(s *scratch) {
	for {
		c := j.next.Add(1) - 1
		if c >= j.n {
			return
		}
		if j.fn != nil {
			j.fn(int(c))
		} else {
			j.g.chunk(int(c), s)
		}
	}
}

func (p *Pool) getJob() *job {
	select {
	case j := <-p.free:
		return j
	default:
		return new(job)
	}
}

func (p *Pool) putJob(j *job) {
	j.g = gemmCall{}
	j.fn = nil
	select {
	case p.free <- j:
	default:
	}
}

// run executes the job's n chunks on up to Threads goroutines.
func (p *Pool) run(j *job, n int) {
	j.n = int32(n)
	j.next.Store(0)
	helpers := min(p.Threads(), n) - 1
	// The read lock keeps Close from closing p.work while jobs are offered;
	// workers never take the lock, so sends always complete. A Pool used
	// after Close simply runs everything on the caller.
	p.mu.RLock()
	if p.closed {
		helpers = 0
	}
	helpers = min(helpers, p.started)
	if helpers > 0 {
		j.wg.Add(helpers)
		for range helpers {
			p.work <- j
		}
	}
	p.mu.RUnlock()
	j.drain(&j.s)
	j.wg.Wait()
}

// For calls fn(i) for every i in [0, n), spread over the pool's threads, and
// returns when all calls have returned. fn must be safe to call
// concurrently; pass a long-lived func value (a method value or closure
// built once) to keep the call free of allocations. fn must not call For,
// GEMM or GEMMResidual on the same pool: the inner call waits for helpers
// that may all be busy in the outer one, and deadlocks.
func (p *Pool) For(n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	if n == 1 || p.Threads() == 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	j := p.getJob()
	j.fn = fn
	p.run(j, n)
	p.putJob(j)
}

// defaultPool serves the package-level GEMM functions.
var defaultPool = NewPool(0)

// SetThreads sets how many goroutines the package-level GEMM and
// GEMMResidual use (<= 0 means GOMAXPROCS; the default is GOMAXPROCS as it
// was when the package was initialised).
func SetThreads(threads int) { defaultPool.SetThreads(threads) }

// Threads returns the thread count of the package-level GEMM.
func Threads() int { return defaultPool.Threads() }

// DefaultPool returns the pool behind the package-level functions, for
// callers that want For on the same workers.
func DefaultPool() *Pool { return defaultPool }
