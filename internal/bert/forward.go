package bert

import (
	"context"
	"fmt"
	"math"

	"lepton/quant"
)

// Sequence is one tokenised input: word-piece ids and, for text pairs, the
// token type (segment) of each id. A nil TypeIDs means all zero.
type Sequence struct {
	IDs     []int32
	TypeIDs []int32
}

// Workspace holds every scratch buffer of one forward pass, so that a
// steady stream of calls does no heap allocation once the buffers have grown
// to the largest batch seen. A Workspace is used by one call at a time; pool
// them with sync.Pool to serve concurrent callers.
//
// The batch is packed token-wise: row r of every [T][...] buffer is one real
// token of one sequence and there are no padding rows, so GEMMs do no wasted
// work on short sequences and attention needs no mask.
type Workspace struct {
	// Pool runs the GEMMs and the attention heads on its worker goroutines;
	// nil means quant.DefaultPool(). quant.NewPool(1) keeps a call on the
	// calling goroutine.
	Pool *quant.Pool
	// ActBits is the precision activations are quantised to before each
	// int8 GEMM (quant.Acts.Bits): 8 (or 0) or 7. 7 bits runs the AVX2
	// tier's faster kernel; every tier gives the same bits for either.
	ActBits int
	// MaxScratch, when > 0, bounds the scratch memory one batch may need
	// (Model.Scratch): Forward refuses a larger batch with ErrScratch
	// before allocating anything.
	MaxScratch int64

	start  []int     // [nseq+1] first row of each sequence
	x      []float32 // [T][H] hidden states (the output of Forward)
	qkv    []float32 // [T][3H]
	ctxb   []float32 // [T][H] attention context
	inter  []float32 // [T][I]
	acts   quant.Acts
	blk    quant.Acts           // a block of acts's rows (see gemm)
	attn   []quant.AttentionBuf // one scratch per attention chunk (see attendChunk)
	items  []attnItem           // attention work items of the batch
	cls    []float32            // [nseq][H]
	pooled []float32            // [nseq][H]
	logits []float32            // [nseq][labels], or [T][labels] for TokenLogits

	heads, headSz, hidden int
	attendFn              func(c int) // w.attendChunk, built once so Pool.For does not allocate
	rowFn                 func(c int) // w.rowItem, likewise

	// ctx is the context of the call in flight, looked at between blocks
	// of work (nil outside Forward and LogitsContext).
	ctx context.Context

	// The row step in flight (see rows).
	rOp               rowOp
	rX                []float32
	rK, rLo, rN, rPer int
	rLN               *LayerNorm
	rEps              float32
}

// attnItem is one unit of attention work: query rows [lo, hi) of one head
// of one sequence.
type attnItem struct {
	seq, head, lo, hi int32
}

// Work per block between two looks at the context. Each is a few
// milliseconds on one core, so a cancelled call stops within a few
// milliseconds of its deadline, and large enough that splitting costs well
// under 1% (a typical batch of short texts is one block). Variables only so
// that tests can shrink them.
var (
	// gemmBlockMACs is the work of one GEMM block: rows x N x (K +
	// gemmStoreMACs), N rounded up to the kernels' 16-column panels.
	gemmBlockMACs = 1 << 29
	// rowBlockValues is the values of one block of a row step (rows x
	// width): LayerNorm, GELU and quantisation.
	rowBlockValues = 1 << 20
	// attnBlockMACs is the work of one attention item, rows x tokens x
	// (2 x head size + attnScoreMACs): a head of a long sequence is split
	// into blocks of query rows.
	attnBlockMACs = 1 << 26
	// embedBlockValues is the values between context checks in the
	// embedding sum.
	embedBlockValues = 1 << 20
)

// attnScoreMACs is what one score costs beyond its dot product (an
// exponential, the softmax passes, the non-SIMD path of short heads),
// in multiply-adds.
const attnScoreMACs = 160

// gemmStoreMACs is what writing one output costs, in multiply-adds: with
// a short K (a hidden size of 4 and a huge intermediate, say) a GEMM is as
// slow as the memory it writes.
const gemmStoreMACs = 32

// gemmBlockQuantum: GEMM blocks of more than this many rows are a multiple
// of it, the row chunk the GEMM splits its work into, so blocking leaves
// its work decomposition unchanged.
const gemmBlockQuantum = 96

// checkActBits rejects an ActBits other than 0, 7 or 8.
func (w *Workspace) checkActBits() error {
	if w.ActBits != 0 && w.ActBits != 7 && w.ActBits != 8 {
		return fmt.Errorf("%w: activation bits %d (want 7 or 8)", ErrInput, w.ActBits)
	}
	return nil
}

// grow returns s resized to n, reusing its array when large enough.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Rows returns the number of token rows of the last batch.
func (w *Workspace) Rows() int {
	if len(w.start) == 0 {
		return 0
	}
	return w.start[len(w.start)-1]
}

// Seqs returns the number of sequences of the last batch.
func (w *Workspace) Seqs() int { return max(len(w.start)-1, 0) }

// Len returns the number of tokens of sequence i of the last batch.
func (w *Workspace) Len(i int) int { return w.start[i+1] - w.start[i] }

// Hidden returns the final hidden states of sequence i of the last batch as
// a [Len(i)][hidden] row-major view into the workspace, valid until the
// workspace is used again.
func (w *Workspace) Hidden(i int) []float32 {
	return w.x[w.start[i]*w.hidden : w.start[i+1]*w.hidden]
}

// Forward runs the embeddings and every encoder layer over seqs, leaving
// the final hidden states in w (see Workspace.Hidden). int8 weights multiply
// activations quantised per token row at run time with int32 accumulation;
// everything else is fp32.
//
// ctx is looked at between blocks of a few milliseconds of work inside
// every layer (GEMM row blocks, row-step blocks, attention items), so a
// cancelled call returns ctx.Err() within milliseconds, however large the
// batch or the model. The batch's scratch (Model.Scratch) is checked
// against w.MaxScratch before anything is allocated.
//
// m must have passed Validate.
func (m *Model) Forward(ctx context.Context, w *Workspace, seqs []Sequence) error {
	if len(seqs) == 0 {
		return fmt.Errorf("%w: no sequences", ErrInput)
	}
	if err := m.checkSeqs(seqs); err != nil {
		return err
	}
	if err := w.checkActBits(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &m.Config
	h := c.Hidden
	t, longest := 0, 0
	for _, s := range seqs {
		t += len(s.IDs)
		longest = max(longest, len(s.IDs))
	}
	b := Batch{Tokens: t, Seqs: len(seqs), Longest: longest, Threads: w.pool().Threads()}
	if need := m.Scratch(b); w.MaxScratch > 0 && need > w.MaxScratch {
		return &ScratchError{Need: need, Limit: w.MaxScratch, Batch: b}
	}
	w.hidden, w.heads, w.headSz = h, c.Heads, h/c.Heads
	if cap(w.start) < len(seqs)+1 {
		w.start = make([]int, len(seqs)+1)
	}
	w.start = w.start[:len(seqs)+1]
	t = 0
	for i, s := range seqs {
		w.start[i] = t
		t += len(s.IDs)
	}
	w.start[len(seqs)] = t
	w.x = grow(w.x, t*h)
	w.qkv = grow(w.qkv, t*3*h)
	w.ctxb = grow(w.ctxb, t*h)
	w.inter = grow(w.inter, t*c.Intermediate)
	// Size the quantised activations for the wider of the two row widths
	// once, rather than for the hidden size and then again (the first
	// buffer becoming garbage) for the intermediate one.
	w.acts.Bits = w.ActBits
	w.acts.Reset(t, max(h, c.Intermediate))
	w.planAttention(longest)
	if w.attendFn == nil {
		w.attendFn = w.attendChunk
	}
	if w.rowFn == nil {
		w.rowFn = w.rowItem
	}

	w.ctx = ctx
	defer func() { w.ctx = nil }() // a pooled workspace must not keep the caller's context
	if err := m.embed(w, seqs); err != nil {
		return err
	}
	if err := w.rows(rowQuant, w.x, h, t, nil, 0); err != nil {
		return err
	}
	for li := range m.Layers {
		if err := m.layer(w, &m.Layers[li], t, li == len(m.Layers)-1); err != nil {
			return err
		}
	}
	return nil
}

// embed writes LayerNorm(word + position + token type) into w.x.
func (m *Model) embed(w *Workspace, seqs []Sequence) error {
	h := m.Config.Hidden
	eps := m.Config.LayerNormEps
	every := max(1, embedBlockValues/h) // tokens between context checks
	n := 0
	for si, s := range seqs {
		base := w.start[si]
		for p, id := range s.IDs {
			if n++; n%every == 0 {
				if err := w.ctx.Err(); err != nil {
					return err
				}
			}
			var tt int32
			if s.TypeIDs != nil {
				tt = s.TypeIDs[p]
			}
			row := w.x[(base+p)*h : (base+p+1)*h]
			wr, ws := m.Word.Data[int(id)*h:int(id+1)*h], m.Word.Scales[id]
			pr, ps := m.Position.Data[p*h:(p+1)*h], m.Position.Scales[p]
			tr, ts := m.TokenType.Data[int(tt)*h:int(tt+1)*h], m.TokenType.Scales[tt]
			for d := range row {
				row[d] = float32(float32(wr[d])*ws) + float32(float32(pr[d])*ps) + float32(float32(tr[d])*ts)
			}
			quant.LayerNorm(row, row, m.EmbLN.Gamma, m.EmbLN.Beta, eps)
		}
	}
	return nil
}

// layer runs one encoder layer over the t rows of w.x in place. On entry
// w.acts holds w.x quantised; on exit too, unless last. It returns
// w.ctx.Err() as soon as it sees it, leaving w's contents undefined.
func (m *Model) layer(w *Workspace, l *Layer, t int, last bool) error {
	h := m.Config.Hidden
	inter := m.Config.Intermediate
	eps := m.Config.LayerNormEps
	lnLast := rowLNQuant
	if last {
		lnLast = rowLN
	}
	for _, step := range [...]func() error{
		// Fused Q, K, V projection.
		func() error { return w.gemm(w.qkv, &l.QKV, false) },
		// Per-sequence, per-head attention into w.ctxb.
		w.attention,
		// Output projection with the residual fused (x += ctx Wo + bo),
		// then LayerNorm and quantisation of x for the FFN in one pass
		// over the rows.
		func() error { return w.rows(rowQuant, w.ctxb, h, t, nil, 0) },
		func() error { return w.gemm(w.x, &l.AttnOut, true) },
		func() error { return w.rows(rowLNQuant, w.x, h, t, &l.AttnLN, eps) },
		// Feed-forward: x += GELU(x W1 + b1) W2 + b2, LayerNorm.
		func() error { return w.gemm(w.inter, &l.Inter, false) },
		func() error { return w.rows(rowGELUQuant, w.inter, inter, t, nil, 0) },
		func() error { return w.gemm(w.x, &l.Output, true) },
		func() error { return w.rows(lnLast, w.x, h, t, &l.OutLN, eps) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// gemmRows returns the rows of one GEMM block for an n x k weight.
func gemmRows(n, k int) int {
	per := max(1, gemmBlockMACs/(quant.RoundUp(n, quant.NR)*(k+gemmStoreMACs)))
	if per > gemmBlockQuantum {
		per -= per % gemmBlockQuantum
	}
	return per
}

// gemm computes out = acts W^T + b (residual: out += acts W^T + b) for the
// rows of w.acts, in blocks of about gemmBlockMACs multiply-adds with a
// look at the context before each. Blocks give the same bits as one call.
func (w *Workspace) gemm(out []float32, l *Linear, residual bool) error {
	pool := w.pool()
	t, n, k := w.acts.M, l.W.N, l.W.K
	per := gemmRows(n, k)
	kp := quant.RoundUp(k, quant.KR)
	for lo := 0; lo < t; lo += per {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+per, t)
		a := &w.acts
		if lo > 0 || hi < t {
			w.blk = quant.Acts{M: hi - lo, K: k, Data: w.acts.Data[lo*kp : hi*kp], Scales: w.acts.Scales[lo:hi], Bits: w.acts.Bits}
			a = &w.blk
		}
		if residual {
			pool.GEMMResidual(out[lo*n:hi*n], a, &l.W, l.Bias)
		} else {
			pool.GEMM(out[lo*n:hi*n], a, &l.W, l.Bias)
		}
	}
	w.blk = quant.Acts{}
	return nil
}

// Row-wise steps between the GEMMs. Each works on whole rows, so splitting
// the rows over threads gives the same bits as one pass.
type rowOp uint8

const (
	rowQuant     rowOp = iota // quantise rows into w.acts
	rowLN                     // LayerNorm rows in place
	rowLNQuant                // LayerNorm rows in place, then quantise them
	rowGELUQuant              // GELU rows in place, then quantise them
)

// rowChunkValues is the work (rows x width) below which a row step is not
// split: waking a helper costs more than the step.
const rowChunkValues = 1 << 14

// rows runs op over the t rows of width k of x on the workspace's pool, in
// blocks of about rowBlockValues values with a look at the context before
// each.
func (w *Workspace) rows(op rowOp, x []float32, k, t int, ln *LayerNorm, eps float32) error {
	if op != rowLN {
		w.acts.Bits = w.ActBits
		w.acts.Reset(t, k)
	}
	w.rOp, w.rX, w.rK, w.rLN, w.rEps = op, x, k, ln, eps
	defer func() { w.rX, w.rLN = nil, nil }()
	pool := w.pool()
	per := max(1, rowBlockValues/k)
	for lo := 0; lo < t; lo += per {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		n := min(per, t-lo)
		chunks := min(n, pool.Threads()*4, max(1, n*k/rowChunkValues))
		w.rLo, w.rN = lo, lo+n
		w.rPer = (n + chunks - 1) / chunks
		pool.For((n+w.rPer-1)/w.rPer, w.rowFn)
	}
	return nil
}

// rowItem runs the current row step on chunk c of the current block.
func (w *Workspace) rowItem(c int) {
	lo := w.rLo + c*w.rPer
	hi := min(lo+w.rPer, w.rN)
	k := w.rK
	x := w.rX[lo*k : hi*k]
	if w.rOp == rowLN {
		for r := 0; r < hi-lo; r++ {
			xr := x[r*k : (r+1)*k]
			quant.LayerNorm(xr, xr, w.rLN.Gamma, w.rLN.Beta, w.rEps)
		}
		return
	}
	// The fused quant helpers quantise each row while it is still in L1.
	kp := quant.RoundUp(k, quant.KR)
	sub := quant.Acts{Data: w.acts.Data[lo*kp : hi*kp], Scales: w.acts.Scales[lo:hi], Bits: w.acts.Bits}
	switch w.rOp {
	case rowLNQuant:
		quant.LayerNormQuantizeRows(&sub, x, hi-lo, k, w.rLN.Gamma, w.rLN.Beta, w.rEps)
	case rowGELUQuant:
		quant.GELUQuantizeRows(&sub, x, hi-lo, k)
	default:
		quant.QuantizeRows(&sub, x, hi-lo, k)
	}
}

func (w *Workspace) pool() *quant.Pool {
	if w.Pool != nil {
		return w.Pool
	}
	return quant.DefaultPool()
}

// attnRowsPer returns the query rows of one attention item for a sequence
// of n tokens and heads of d values: all of them unless the head's work
// exceeds attnBlockMACs.
func attnRowsPer(n, d int) int {
	return max(8, attnBlockMACs/max(1, n*(2*d+attnScoreMACs)))
}

// attnItems returns how many attention items a sequence of n tokens
// makes.
func attnItems(n, heads, d int) int {
	per := attnRowsPer(n, d)
	return heads * ((n + per - 1) / per)
}

// planAttention lists the batch's attention items (sequence, head, block
// of query rows) and sizes the scratch: one AttentionBuf per chunk, at most
// 4 chunks per thread (enough to balance sequences of mixed lengths), so
// the scratch grows with the thread count, not the batch.
func (w *Workspace) planAttention(longest int) {
	w.items = w.items[:0]
	d := w.headSz
	for s := range len(w.start) - 1 {
		n := w.start[s+1] - w.start[s]
		per := attnRowsPer(n, d)
		for hd := range w.heads {
			for lo := 0; lo < n; lo += per {
				w.items = append(w.items, attnItem{int32(s), int32(hd), int32(lo), int32(min(lo+per, n))})
			}
		}
	}
	chunks := min(len(w.items), 4*w.pool().Threads())
	if cap(w.attn) < chunks {
		w.attn = append(w.attn[:cap(w.attn)], make([]quant.AttentionBuf, chunks-cap(w.attn))...)
	}
	w.attn = w.attn[:chunks]
	for i := range w.attn {
		w.attn[i].Reserve(longest, d) // once, not in steps as longer heads come
	}
}

// attention runs every attention item of the batch into w.ctxb.
func (w *Workspace) attention() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.pool().For(len(w.attn), w.attendFn)
	return w.ctx.Err()
}

// attendChunk runs attention items c, c+chunks, c+2*chunks, ... with chunk
// c's scratch, skipping the rest once the context is done.
func (w *Workspace) attendChunk(c int) {
	buf := &w.attn[c]
	for i := c; i < len(w.items); i += len(w.attn) {
		if w.ctx.Err() != nil {
			return
		}
		w.attend(w.items[i], buf)
	}
}

// attend computes softmax(q k^T / sqrt(d)) v for one item (query rows of
// one head of one sequence) into w.ctxb. All rows of a sequence are real
// tokens, so no mask is needed.
func (w *Workspace) attend(it attnItem, buf *quant.AttentionBuf) {
	h, d := w.hidden, w.headSz
	head := int(it.head)
	r0, r1 := w.start[it.seq], w.start[it.seq+1]
	scale := float32(1 / math.Sqrt(float64(d)))
	st := 3 * h
	// Row j of this head's queries, keys and values at j*st, d values each.
	qkv := w.qkv[r0*st : r1*st]
	quant.AttentionRows(w.ctxb[r0*h+head*d:r1*h], h, qkv[head*d:], qkv[h+head*d:], qkv[2*h+head*d:], st, r1-r0, d,
		int(it.lo), int(it.hi), scale, buf)
}

// Logits runs the pooler (dense + tanh on [CLS]; DistilBERT's
// pre_classifier, dense + ReLU) and the classifier over
// every sequence of the last batch and returns their raw scores as a
// [nseq][labels] row-major view into w, valid until w is used again. It
// needs a model with a classifier head.
func (m *Model) Logits(w *Workspace) ([]float32, error) {
	return m.LogitsContext(context.Background(), w)
}

// LogitsContext is Logits that looks at ctx between blocks of its matrix
// products, as Forward does.
func (m *Model) LogitsContext(ctx context.Context, w *Workspace) ([]float32, error) {
	if m.Classifier == nil {
		return nil, fmt.Errorf("%w: model has no classifier head", ErrModel)
	}
	if err := w.checkActBits(); err != nil {
		return nil, err
	}
	w.ctx = ctx
	defer func() { w.ctx = nil }()
	h := m.Config.Hidden
	b := len(w.start) - 1
	w.cls = grow(w.cls, b*h)
	for i := 0; i < b; i++ {
		copy(w.cls[i*h:(i+1)*h], w.x[w.start[i]*h:w.start[i]*h+h])
	}
	in := w.cls
	if m.Pooler != nil {
		w.pooled = grow(w.pooled, b*h)
		w.acts.Bits = w.ActBits
		quant.QuantizeRows(&w.acts, w.cls, b, h)
		if err := w.gemm(w.pooled, m.Pooler, false); err != nil {
			return nil, err
		}
		poolerActivation(w.pooled, m.Config.PoolerActivation)
		in = w.pooled
	}
	n := m.Classifier.W.N
	w.logits = grow(w.logits, b*n)
	w.acts.Bits = w.ActBits
	quant.QuantizeRows(&w.acts, in, b, h)
	if err := w.gemm(w.logits, m.Classifier, false); err != nil {
		return nil, err
	}
	return w.logits, nil
}

// TokenLogits runs the token classifier over the final hidden state of
// every token of the last batch and returns their raw scores as a
// [Rows()][labels] row-major view into w (row r is token r of the packed
// batch: sequence i's tokens are rows start(i) .. start(i)+Len(i)-1), valid
// until w is used again. It needs a model with a token-classification head.
func (m *Model) TokenLogits(w *Workspace) ([]float32, error) {
	return m.TokenLogitsContext(context.Background(), w)
}

// TokenLogitsContext is TokenLogits that looks at ctx between blocks of
// its matrix product, as Forward does.
func (m *Model) TokenLogitsContext(ctx context.Context, w *Workspace) ([]float32, error) {
	if m.TokenClassifier == nil {
		return nil, fmt.Errorf("%w: model has no token classifier head", ErrModel)
	}
	if err := w.checkActBits(); err != nil {
		return nil, err
	}
	w.ctx = ctx
	defer func() { w.ctx = nil }()
	t := w.Rows()
	n := m.TokenClassifier.W.N
	w.logits = grow(w.logits, t*n)
	// The last layer left w.x unquantised (rowLN); quantise it for the head.
	if err := w.rows(rowQuant, w.x, m.Config.Hidden, t, nil, 0); err != nil {
		return nil, err
	}
	if err := w.gemm(w.logits, m.TokenClassifier, false); err != nil {
		return nil, err
	}
	return w.logits, nil
}

// Start returns the first row of sequence i of the last batch in the
// packed [Rows()][...] outputs (TokenLogits).
func (w *Workspace) Start(i int) int { return w.start[i] }

// Softmax returns the probabilities of one row of logits in dst
// (len(dst) == len(logits)).
func Softmax(dst, logits []float32) {
	copy(dst, logits)
	quant.Softmax(dst)
}
