package bert

import (
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"lepton/quant"
)

// ErrScratch reports a batch whose scratch memory would exceed the
// workspace's limit (Workspace.MaxScratch); see ScratchError.
var ErrScratch = errors.New("bert: scratch memory limit exceeded")

// Batch is the shape of one Forward call, for Model.Scratch.
type Batch struct {
	Tokens  int // tokens of all sequences
	Seqs    int // sequences
	Longest int // tokens of the longest sequence
	Threads int // goroutines of the workspace's pool
}

// Scratch returns the bytes of workspace memory Forward, Logits and TokenLogits allocate
// for a batch of shape b on a fresh Workspace: an upper bound, counted
// buffer by buffer with Go's allocation rounding, that tests check against
// the bytes Go's allocator reports. A Workspace keeps its buffers, so after
// several batches it holds at most Scratch of a batch as large as the
// largest of each: callers that bound every batch by a worst case (as
// lepton.Open does) bound the workspace by the same figure.
//
// Dominant terms per token: the hidden states, fused QKV, attention
// context and FFN activations in fp32 (4*(5*hidden + intermediate) bytes)
// and their int8 quantisation (max(hidden, intermediate) bytes); per
// attention chunk (at most 4 per thread) one head of the longest sequence
// (quant.AttentionScratch); and the copy of one GEMM block's activations
// that some kernel tiers make (at most a block of the widest matrix).
func (m *Model) Scratch(b Batch) int64 {
	c := &m.Config
	h, in := int64(c.Hidden), int64(c.Intermediate)
	d := c.Hidden / max(1, c.Heads)
	t, n := int64(b.Tokens), int64(b.Seqs)
	labels, tokenLabels := int64(0), int64(0)
	if m.Classifier != nil {
		labels = int64(m.Classifier.W.N)
	}
	if m.TokenClassifier != nil {
		tokenLabels = int64(m.TokenClassifier.W.N)
	}
	kp := int64(quant.RoundUp(max(c.Hidden, c.Intermediate), quant.KR))
	items := n * int64(attnItems(b.Longest, c.Heads, d))
	chunks := min(items, 4*int64(max(1, b.Threads)))
	total := int64(scratchSlack)
	for _, size := range []int64{
		4 * t * h, 4 * t * 3 * h, 4 * t * h, 4 * t * in, // x, qkv, ctxb, inter
		t * kp, 4 * t, // quantised activations and their scales
		8 * (n + 1), // sequence starts
		2 * items * int64(unsafe.Sizeof(attnItem{})), // attention items (append may double them)
		2 * chunks * int64(unsafe.Sizeof(quant.AttentionBuf{})),
		4 * n * h, 4 * n * h, 4 * n * labels, // Logits: [CLS] rows, pooler output, logits
		4 * t * tokenLabels, // TokenLogits
	} {
		total += allocSize(size)
	}
	// The GEMM's own copy of a block's activations (kernel tiers that read
	// them sign-flipped keep one per job of the pool): the widest block.
	gemm := 0
	for _, nk := range [][2]int{{3 * c.Hidden, c.Hidden}, {c.Hidden, c.Hidden}, {c.Intermediate, c.Hidden}, {c.Hidden, c.Intermediate}} {
		gemm = max(gemm, min(b.Tokens, gemmRows(nk[0], nk[1]))*quant.RoundUp(nk[1], quant.KR))
	}
	total += allocSize(int64(gemm))
	// Per chunk: the keys and the scores of one head, two buffers.
	scores := int64(quant.AttentionScratch(b.Longest, 0))
	keys := int64(quant.AttentionScratch(b.Longest, d)) - scores
	return total + chunks*(allocSize(keys)+allocSize(scores))
}

// ReferenceScratch returns the bytes the float reference path (Reference)
// allocates for one sequence of n tokens, per layer, with float weights in
// the file: float64 QKV, context, scores, attention output, FFN
// activations and FFN output (8*n*(6*hidden + intermediate) bytes), plus
// the embeddings and float32 results it allocates once. Each layer's
// buffers are garbage once the next has run, so the live memory stays
// under twice this figure. Without float weights it also dequantises each
// matrix it meets (not counted: lepton refuses WithFloat32 on such files).
func (m *Model) ReferenceScratch(n int) int64 {
	c := &m.Config
	h, in, t := int64(c.Hidden), int64(c.Intermediate), int64(n)
	labels := int64(0)
	if m.Classifier != nil {
		labels = int64(m.Classifier.W.N)
	}
	if m.TokenClassifier != nil {
		// Token logits: n rows, in float64 and then float32.
		labels = t * int64(m.TokenClassifier.W.N)
	}
	total := int64(0)
	for _, size := range []int64{
		8 * t * 3 * h, 8 * t * h, 8 * t, 8 * t * h, 8 * t * in, 8 * t * h, // one layer
		8 * t * h, 4 * t * h, // embeddings, final hidden states
		8 * h, 8 * labels, 4 * h, 4 * labels, 32 * 8, // pooler, logits, the result
	} {
		total += allocSize(size)
	}
	return total
}

// scratchSlack covers the small allocations of a call besides its buffers
// (the pool's job records, closures).
const scratchSlack = 4 << 10

// allocPage is the granularity of Go's large allocations; smaller ones
// come from size classes at most 1/8 larger than asked.
const allocPage = 8192

// allocSize bounds what Go allocates for a request of n bytes.
func allocSize(n int64) int64 {
	if n <= 32<<10 {
		return n + n/8 + 16
	}
	return (n + allocPage - 1) / allocPage * allocPage
}

// ScratchError reports a batch refused because its scratch (Need bytes,
// Model.Scratch) exceeds Limit (Workspace.MaxScratch). It wraps ErrScratch.
type ScratchError struct {
	Need, Limit int64
	Batch       Batch
}

func (e *ScratchError) Error() string {
	return fmt.Sprintf("%v: a batch of %d tokens in %d sequences (longest %d) needs %s of scratch, over the limit of %s",
		ErrScratch, e.Batch.Tokens, e.Batch.Seqs, e.Batch.Longest, FormatBytes(e.Need), FormatBytes(e.Limit))
}

// Unwrap returns ErrScratch.
func (e *ScratchError) Unwrap() error { return ErrScratch }

// FormatBytes renders a byte count for messages: "917 B", "12.5 KiB",
// "1.29 GiB", with the exact count in parentheses above 1 KiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit && exp < 4; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.3g %ciB (%d bytes)", float64(n)/float64(div), "KMGTP"[exp], n)
}
