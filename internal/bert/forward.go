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

// Pooling selects how a sequence's token vectors become one embedding.
type Pooling uint8

// Pooling modes.
const (
	PoolCLS  Pooling = iota // the final hidden state of the first ([CLS]) token
	PoolMean                // the mean over all the sequence's tokens (the attention mask)
)

// ParsePooling maps "cls" and "mean" (the names stored in a model's config)
// to a Pooling. An empty name means PoolCLS.
func ParsePooling(s string) (Pooling, error) {
	switch s {
	case "cls", "", "CLS":
		return PoolCLS, nil
	case "mean", "MEAN":
		return PoolMean, nil
	}
	return 0, fmt.Errorf("%w: unknown pooling %q (want cls or mean)", ErrInput, s)
}

// String returns the config name of p.
func (p Pooling) String() string {
	if p == PoolMean {
		return "mean"
	}
	return "cls"
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

	start  []int     // [nseq+1] first row of each sequence
	x      []float32 // [T][H] hidden states (the output of Forward)
	qkv    []float32 // [T][3H]
	ctxb   []float32 // [T][H] attention context
	inter  []float32 // [T][I]
	acts   quant.Acts
	attn   []quant.AttentionBuf // one scratch per attention chunk (see attendChunk)
	cls    []float32            // [nseq][H]
	pooled []float32            // [nseq][H]
	logits []float32            // [nseq][labels], or [T][labels] for TokenLogits

	heads, headSz, hidden int
	attendFn              func(c int) // w.attendChunk, built once so Pool.For does not allocate
	rowFn                 func(c int) // w.rowItem, likewise

	// The row step in flight (see rows).
	rOp          rowOp
	rX           []float32
	rK, rN, rPer int
	rLN          *LayerNorm
	rEps         float32
}

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
// everything else is fp32. ctx is checked before each layer, so a cancelled
// call returns ctx.Err() after at most one layer of work.
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
	w.hidden, w.heads, w.headSz = h, c.Heads, h/c.Heads
	if cap(w.start) < len(seqs)+1 {
		w.start = make([]int, len(seqs)+1)
	}
	w.start = w.start[:len(seqs)+1]
	t := 0
	for i, s := range seqs {
		w.start[i] = t
		t += len(s.IDs)
	}
	w.start[len(seqs)] = t
	w.x = grow(w.x, t*h)
	w.qkv = grow(w.qkv, t*3*h)
	w.ctxb = grow(w.ctxb, t*h)
	w.inter = grow(w.inter, t*c.Intermediate)
	w.growAttn(len(seqs) * c.Heads)
	if w.attendFn == nil {
		w.attendFn = w.attendChunk
	}
	if w.rowFn == nil {
		w.rowFn = w.rowItem
	}

	m.embed(w, seqs)
	w.rows(rowQuant, w.x, h, t, nil, 0)
	for li := range m.Layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.layer(w, &m.Layers[li], t, li == len(m.Layers)-1)
	}
	return nil
}

// embed writes LayerNorm(word + position + token type) into w.x.
func (m *Model) embed(w *Workspace, seqs []Sequence) {
	h := m.Config.Hidden
	eps := m.Config.LayerNormEps
	for si, s := range seqs {
		base := w.start[si]
		for p, id := range s.IDs {
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
}

// layer runs one encoder layer over the t rows of w.x in place. On entry
// w.acts holds w.x quantised; on exit too, unless last.
func (m *Model) layer(w *Workspace, l *Layer, t int, last bool) {
	h := m.Config.Hidden
	inter := m.Config.Intermediate
	eps := m.Config.LayerNormEps
	pool := w.pool()

	// Fused Q, K, V projection.
	pool.GEMM(w.qkv, &w.acts, &l.QKV.W, l.QKV.Bias)

	// Per-sequence, per-head attention into w.ctxb.
	pool.For(len(w.attn), w.attendFn)

	// Output projection with the residual fused (x += ctx Wo + bo), then
	// LayerNorm and quantisation of x for the FFN in one pass over the rows.
	w.rows(rowQuant, w.ctxb, h, t, nil, 0)
	pool.GEMMResidual(w.x, &w.acts, &l.AttnOut.W, l.AttnOut.Bias)
	w.rows(rowLNQuant, w.x, h, t, &l.AttnLN, eps)

	// Feed-forward: x += GELU(x W1 + b1) W2 + b2, LayerNorm.
	pool.GEMM(w.inter, &w.acts, &l.Inter.W, l.Inter.Bias)
	w.rows(rowGELUQuant, w.inter, inter, t, nil, 0)
	pool.GEMMResidual(w.x, &w.acts, &l.Output.W, l.Output.Bias)
	if last {
		w.rows(rowLN, w.x, h, t, &l.OutLN, eps)
	} else {
		w.rows(rowLNQuant, w.x, h, t, &l.OutLN, eps)
	}
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

// rows runs op over the t rows of width k of x on the workspace's pool.
func (w *Workspace) rows(op rowOp, x []float32, k, t int, ln *LayerNorm, eps float32) {
	if op != rowLN {
		w.acts.Bits = w.ActBits
		w.acts.Reset(t, k)
	}
	w.rOp, w.rX, w.rK, w.rLN, w.rEps, w.rN = op, x, k, ln, eps, t
	pool := w.pool()
	chunks := min(t, pool.Threads()*4, max(1, t*k/rowChunkValues))
	w.rPer = (t + chunks - 1) / chunks
	pool.For((t+w.rPer-1)/w.rPer, w.rowFn)
	w.rX, w.rLN = nil, nil
}

// rowItem runs the current row step on chunk c.
func (w *Workspace) rowItem(c int) {
	lo := c * w.rPer
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

// growAttn sizes the attention scratch for items = sequences x heads
// work items (see attendChunk): one AttentionBuf per chunk, at most 4
// chunks per thread (enough to balance sequences of mixed lengths), so the
// scratch grows with the thread count, not the batch.
func (w *Workspace) growAttn(items int) {
	chunks := min(items, 4*w.pool().Threads())
	if cap(w.attn) < chunks {
		w.attn = append(w.attn[:cap(w.attn)], make([]quant.AttentionBuf, chunks-cap(w.attn))...)
	}
	w.attn = w.attn[:chunks]
}

// attendChunk runs attention items c, c+chunks, c+2*chunks, ... (item i
// is head i%heads of sequence i/heads) with chunk c's scratch.
func (w *Workspace) attendChunk(c int) {
	buf := &w.attn[c]
	for i := c; i < (len(w.start)-1)*w.heads; i += len(w.attn) {
		w.attend(i/w.heads, i%w.heads, buf)
	}
}

// attend computes softmax(q k^T / sqrt(d)) v for one head of one sequence
// into w.ctxb. All rows of a sequence are real tokens, so no mask is
// needed.
func (w *Workspace) attend(seq, head int, buf *quant.AttentionBuf) {
	h, d := w.hidden, w.headSz
	r0, r1 := w.start[seq], w.start[seq+1]
	scale := float32(1 / math.Sqrt(float64(d)))
	st := 3 * h
	// Row j of this head's queries, keys and values at j*st, d values each.
	qkv := w.qkv[r0*st : r1*st]
	quant.Attention(w.ctxb[r0*h+head*d:r1*h], h, qkv[head*d:], qkv[h+head*d:], qkv[2*h+head*d:], st, r1-r0, d, scale, buf)
}

// Embed writes the embedding of sequence i of the last batch into dst
// (len hidden), optionally scaled to unit L2 norm. A zero vector stays zero.
func (w *Workspace) Embed(dst []float32, i int, mode Pooling, normalize bool) {
	h := w.hidden
	hs := w.Hidden(i)
	switch mode {
	case PoolMean:
		// Sum in float64: sequences can be hundreds of tokens long.
		n := len(hs) / h
		for d := 0; d < h; d++ {
			var s float64
			for r := 0; r < n; r++ {
				s += float64(hs[r*h+d])
			}
			dst[d] = float32(s / float64(n))
		}
	default:
		copy(dst[:h], hs[:h])
	}
	if normalize {
		L2Normalize(dst[:h])
	}
}

// L2Normalize scales v to unit Euclidean norm in place; a zero vector is
// left unchanged.
func L2Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}

// Logits runs the pooler (dense + tanh on [CLS]) and the classifier over
// every sequence of the last batch and returns their raw scores as a
// [nseq][labels] row-major view into w, valid until w is used again. It
// needs a model with a classifier head.
func (m *Model) Logits(w *Workspace) ([]float32, error) {
	if m.Classifier == nil {
		return nil, fmt.Errorf("%w: model has no classifier head", ErrModel)
	}
	if err := w.checkActBits(); err != nil {
		return nil, err
	}
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
		w.pool().GEMM(w.pooled, &w.acts, &m.Pooler.W, m.Pooler.Bias)
		for i, v := range w.pooled {
			w.pooled[i] = float32(math.Tanh(float64(v)))
		}
		in = w.pooled
	}
	n := m.Classifier.W.N
	w.logits = grow(w.logits, b*n)
	w.acts.Bits = w.ActBits
	quant.QuantizeRows(&w.acts, in, b, h)
	w.pool().GEMM(w.logits, &w.acts, &m.Classifier.W, m.Classifier.Bias)
	return w.logits, nil
}

// TokenLogits runs the token classifier over the final hidden state of
// every token of the last batch and returns their raw scores as a
// [Rows()][labels] row-major view into w (row r is token r of the packed
// batch: sequence i's tokens are rows start(i) .. start(i)+Len(i)-1), valid
// until w is used again. It needs a model with a token-classification head.
func (m *Model) TokenLogits(w *Workspace) ([]float32, error) {
	if m.TokenClassifier == nil {
		return nil, fmt.Errorf("%w: model has no token classifier head", ErrModel)
	}
	if err := w.checkActBits(); err != nil {
		return nil, err
	}
	t := w.Rows()
	n := m.TokenClassifier.W.N
	w.logits = grow(w.logits, t*n)
	// The last layer left w.x unquantised (rowLN); quantise it for the head.
	w.rows(rowQuant, w.x, m.Config.Hidden, t, nil, 0)
	w.pool().GEMM(w.logits, &w.acts, &m.TokenClassifier.W, m.TokenClassifier.Bias)
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
