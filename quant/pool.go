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
// Calls may nest: fn passed to For may itself call For, GEMM or
// GEMMResidual on the same pool. A call never waits for a helper to become
// free: helpers are offered the job, the caller claims chunks like any
// helper, and it then waits only for chunks other goroutines have already
// claimed (and are running). Steady-state calls do not allocate.
type Pool struct {
	threads atomic.Int32
	mu      sync.RWMutex // guards started and closed; held (read) while offering work
	started int          // worker goroutines running
	closed  bool
	work    chan offer // jobs offered to helpers
	free    chan *job  // recycled jobs, so calls do not allocate
}

// offer is a job handed to a helper, tagged with the generation it was
// offered for: jobs are recycled, and an offer that a helper receives after
// its call has returned must not claim chunks of a later call.
type offer struct {
	j   *job
	gen uint32
	n   uint32 // chunk count of that generation
}

// MaxThreads caps the goroutines of one Pool: more would only add
// scheduling and memory (each worker idles polling for work), and a
// hostile or mistaken setting could otherwise start any number.
const MaxThreads = 256

// NewPool returns a pool that uses up to threads goroutines per call (the
// caller included); threads <= 0 means runtime.GOMAXPROCS(0). Either is
// capped at MaxThreads.
func NewPool(threads int) *Pool {
	p := &Pool{work: make(chan offer, 64), free: make(chan *job, 64)}
	p.SetThreads(threads)
	return p
}

// SetThreads changes how many goroutines later calls use (<= 0 means
// GOMAXPROCS; at most MaxThreads). Workers are started on demand and never
// stopped before Close.
func (p *Pool) SetThreads(threads int) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, MaxThreads)
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
// makes GEMM allocation-free. A GEMM chunk never calls back into the pool,
// so a worker's scratch is used by one chunk at a time even when calls nest.
type scratch struct {
	k   kargs
	raw [16 * NR]int32 // one raw tile: up to 16 rows of one panel
}

func (p *Pool) worker() {
	s := new(scratch)
	for {
		o, ok := p.nextOffer()
		if !ok {
			return
		}
		if o.j.drain(o.gen, o.n, s) {
			o.j.fin <- struct{}{}
		}
	}
}

// spinPolls is how many times an idle worker, or a caller waiting for a
// helper's last chunk, polls its channel before parking (a few tens of
// microseconds). A forward pass issues a GEMM or a row step every 0.1-1 ms;
// waking a parked goroutine costs tens of microseconds on a VM, which was
// most of the 2-thread loss on GEMMs of 0.1-0.4 ms.
const spinPolls = 2000

// nextOffer returns the next offered job, polling for a while before it
// parks; ok is false once the pool is closed.
func (p *Pool) nextOffer() (o offer, ok bool) {
	for i := range spinPolls {
		select {
		case o, ok = <-p.work:
			return o, ok
		default:
		}
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	o, ok = <-p.work
	return o, ok
}

// waitLast waits for the helper that finishes j's last chunk, polling
// before it parks (see spinPolls).
func (j *job) waitLast() {
	for i := range spinPolls {
		select {
		case <-j.fin:
			return
		default:
		}
		if i%64 == 63 {
			runtime.Gosched()
		}
	}
	<-j.fin
}

// job is one parallel call. Its chunks 0..n-1 are claimed one at a time by
// the caller and by any helper that picks up an offer; the goroutine that
// finishes the last chunk reports it, so the caller waits for chunks, not
// for helpers (a helper busy elsewhere, e.g. in the call this one is
// nested in, is simply never counted).
type job struct {
	// state is gen<<32 | next chunk to claim. Claims are compare-and-swaps
	// that check the generation, so a stale offer claims nothing; next
	// never passes n.
	state atomic.Uint64
	done  atomic.Uint32 // chunks finished in this generation
	gen   uint32        // current generation; written by the caller only
	fin   chan struct{} // the last chunk's finisher, if a helper, signals here

	g  gemmCall    // for GEMM jobs
	fn func(i int) // for For jobs
	s  scratch     // the calling goroutine's scratch
	// flipped holds the activations as a flipActs tier reads them; it
	// grows to the largest GEMM the job has run and is then reused.
	flipped []int8
}

// drain runs chunks of generation gen (of n chunks) until none is left to
// claim, and reports whether it finished the job's last chunk.
func (j *job) drain(gen, n uint32, s *scratch) (last bool) {
	for {
		v := j.state.Load()
		c := uint32(v)
		if uint32(v>>32) != gen || c >= n {
			return last
		}
		if !j.state.CompareAndSwap(v, v+1) {
			continue
		}
		// The claim synchronises with the caller's store of this
		// generation, so fn and g are the ones it wrote; the job cannot be
		// recycled before this chunk is counted done.
		if j.fn != nil {
			j.fn(int(c))
		} else {
			j.g.chunk(int(c), s)
		}
		if j.done.Add(1) == n {
			last = true
		}
	}
}

func (p *Pool) getJob() *job {
	select {
	case j := <-p.free:
		return j
	default:
		return &job{fin: make(chan struct{}, 1)}
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

// run executes the job's n chunks on up to Threads goroutines: it offers
// the job to up to Threads-1 helpers without ever blocking, runs chunks
// itself, and then waits only if a helper still holds unfinished chunks.
func (p *Pool) run(j *job, n int) {
	j.gen++
	gen, un := j.gen, uint32(n)
	j.done.Store(0)
	j.state.Store(uint64(gen) << 32) // publishes fn, g and done to claimers
	helpers := min(p.Threads(), n) - 1
	// The read lock keeps Close from closing p.work while jobs are offered.
	// Offers never block: when the queue is full (helpers busy, e.g. in
	// the call this one is nested in) the caller does the work. A Pool
	// used after Close simply runs everything on the caller.
	p.mu.RLock()
	if p.closed {
		helpers = 0
	}
	helpers = min(helpers, p.started)
	for range helpers {
		select {
		case p.work <- offer{j, gen, un}:
		default:
		}
	}
	p.mu.RUnlock()
	if !j.drain(gen, un, &j.s) {
		j.waitLast()
	}
}

// For calls fn(i) for every i in [0, n), spread over the pool's threads, and
// returns when all calls have returned. fn must be safe to call
// concurrently; pass a long-lived func value (a method value or closure
// built once) to keep the call free of allocations. fn may call For, GEMM
// or GEMMResidual on the same pool (see Pool): nested calls run on
// whichever goroutines are free, and at worst on the calling one.
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
