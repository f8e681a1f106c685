package tokenize

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TruncationStrategy chooses which sequence loses tokens when an input is
// longer than EncodeOptions.MaxLength. The semantics are those of Hugging
// Face tokenizers.
type TruncationStrategy int

const (
	// LongestFirst removes tokens from the longer sequence of a pair (both
	// when both are too long), or from the only sequence.
	LongestFirst TruncationStrategy = iota
	// OnlyFirst truncates only the first sequence.
	OnlyFirst
	// OnlySecond truncates only the second sequence of a pair.
	OnlySecond
	// DoNotTruncate never truncates; MaxLength is then ignored unless
	// ErrorOnTruncate is set.
	DoNotTruncate
)

// PaddingStrategy chooses how encodings are padded.
type PaddingStrategy int

const (
	// NoPadding leaves encodings at their natural length.
	NoPadding PaddingStrategy = iota
	// PadLongest pads every encoding of a batch to the longest one. For a
	// single Encode it is a no-op.
	PadLongest
	// PadFixed pads to EncodeOptions.PadTo (or MaxLength when PadTo is 0).
	PadFixed
)

// MaxOverflowing bounds the number of overflowing windows one Encode may
// return. Hugging Face returns the cross product of both sequences' windows
// for pairs, which grows quadratically with the input; beyond this limit
// encoding fails with ErrTooLong instead.
const MaxOverflowing = 4096

// EncodeOptions control truncation and padding. The zero value encodes with
// special tokens, no length limit and no padding.
type EncodeOptions struct {
	// MaxLength is the maximum number of tokens, special tokens included;
	// 0 means no limit.
	MaxLength int
	// Truncation is the strategy used when the input exceeds MaxLength.
	Truncation TruncationStrategy
	// Stride is the number of tokens repeated between consecutive
	// overflowing windows (Hugging Face's stride).
	Stride int
	// ReturnOverflowing keeps the truncated-away tokens as further windows
	// in Encoding.Overflowing. As in Hugging Face, a pair yields every
	// combination of the two sequences' windows (see MaxOverflowing).
	ReturnOverflowing bool
	// Padding chooses the padding strategy; padding needs a padding token
	// ([PAD]) and fails with ErrInvalid without one.
	Padding PaddingStrategy
	// PadTo is the length for PadFixed (0: MaxLength).
	PadTo int
	// PadToMultipleOf, when > 0, rounds the padded length up to a
	// multiple of it (Hugging Face's pad_to_multiple_of), e.g. to match
	// kernel tile sizes. It only acts when Padding is set.
	PadToMultipleOf int
	// ErrorOnTruncate returns an error wrapping ErrTooLong instead of
	// truncating when the input does not fit in MaxLength.
	ErrorOnTruncate bool
}

// Encoding is the result of encoding one input (a text or a pair). All
// slices have the same length. Offsets are byte offsets [start, end) into the
// caller's original string (into a for tokens of the first sequence, into b
// for the second); special and padding tokens have (0, 0).
type Encoding struct {
	IDs               []int32
	TypeIDs           []int32
	AttentionMask     []uint8
	SpecialTokensMask []uint8
	Offsets           [][2]int
	// Tokens holds the token strings. Filled by Tokenizer.Encode and
	// friends; left empty by the reusable Encoder.
	Tokens []string
	// Overflowing holds the windows cut off by truncation when
	// EncodeOptions.ReturnOverflowing is set, each post-processed (special
	// tokens, padding) like the main encoding.
	Overflowing []Encoding
	// Truncated reports that the input had more tokens than
	// EncodeOptions.MaxLength and lost some to truncation, so that callers
	// can say so instead of answering about a text they did not read.
	Truncated bool
}

// Len returns the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

func (e *Encoding) reset() {
	e.IDs, e.TypeIDs = e.IDs[:0], e.TypeIDs[:0]
	e.AttentionMask, e.SpecialTokensMask = e.AttentionMask[:0], e.SpecialTokensMask[:0]
	e.Offsets, e.Tokens = e.Offsets[:0], e.Tokens[:0]
	e.Overflowing = e.Overflowing[:0]
	e.Truncated = false
}

func (e *Encoding) push(id, typ int32, off [2]int, attn, special uint8) {
	e.IDs = append(e.IDs, id)
	e.TypeIDs = append(e.TypeIDs, typ)
	e.AttentionMask = append(e.AttentionMask, attn)
	e.SpecialTokensMask = append(e.SpecialTokensMask, special)
	e.Offsets = append(e.Offsets, off)
}

// clone returns a deep copy that shares nothing with e. The per-token
// arrays share two backing allocations (capacity-limited sub-slices, so an
// append to one never runs into another).
func (e *Encoding) clone() Encoding {
	n := len(e.IDs)
	i32 := make([]int32, 2*n)
	u8 := make([]uint8, 2*n)
	c := Encoding{
		IDs:               i32[:n:n],
		TypeIDs:           i32[n : 2*n : 2*n],
		AttentionMask:     u8[:n:n],
		SpecialTokensMask: u8[n : 2*n : 2*n],
		Offsets:           append([][2]int(nil), e.Offsets...),
		Truncated:         e.Truncated,
	}
	copy(c.IDs, e.IDs)
	copy(c.TypeIDs, e.TypeIDs)
	copy(c.AttentionMask, e.AttentionMask)
	copy(c.SpecialTokensMask, e.SpecialTokensMask)
	if len(e.Tokens) > 0 {
		c.Tokens = append([]string(nil), e.Tokens...)
	}
	if len(e.Overflowing) > 0 {
		c.Overflowing = make([]Encoding, len(e.Overflowing))
		for i := range e.Overflowing {
			c.Overflowing[i] = e.Overflowing[i].clone()
		}
	}
	return c
}

func (t *Tokenizer) fillTokens(e *Encoding) {
	if cap(e.Tokens) < len(e.IDs) {
		e.Tokens = make([]string, 0, len(e.IDs))
	}
	e.Tokens = e.Tokens[:0]
	for _, id := range e.IDs {
		e.Tokens = append(e.Tokens, t.tokenString(id))
	}
	for i := range e.Overflowing {
		t.fillTokens(&e.Overflowing[i])
	}
}

// roundUp rounds n up to a multiple of m (m <= 0: unchanged).
func roundUp(n, m int) int {
	if m > 0 && n%m != 0 {
		n += m - n%m
	}
	return n
}

// padTo pads e (and its overflowing windows) on the right to n tokens.
func (t *Tokenizer) padTo(e *Encoding, n int) {
	for e.Len() < n {
		e.push(t.pad, t.padType, [2]int{}, 0, 1)
	}
	for i := range e.Overflowing {
		t.padTo(&e.Overflowing[i], n)
	}
}

// seq is one tokenized sequence before post-processing.
type seq struct {
	ids  []int32
	offs [][2]int
}

func (s *seq) reset() { s.ids, s.offs = s.ids[:0], s.offs[:0] }

func (s *seq) push(id int32, start, end int) {
	s.ids = append(s.ids, id)
	s.offs = append(s.offs, [2]int{start, end})
}

// charInfo is one normalised character of the current word: its end in the
// word's normalised bytes and the original byte span it came from.
type charInfo struct {
	end    int
	os, oe int
}

// Encoder is a reusable encoding state. After warm-up, Encode performs no
// allocation: the returned Encoding's slices are owned by the Encoder and
// overwritten by its next call. An Encoder is not safe for concurrent use;
// make one per goroutine with [Tokenizer.NewEncoder]. Encoding.Tokens is
// left empty on this path (use [Tokenizer.Token] when needed).
type Encoder struct {
	t     *Tokenizer
	a, b  seq
	cur   *seq
	word  []byte
	chars []charInfo
	hs    []uint32
	nfd   norm.Iter
	out   Encoding
	flat  Encoding // a batch worker's results, back to back
	winA  [][2]int
	winB  [][2]int
	// longEnd is the original end of the last character of the current
	// word, kept even when an over-long word stops storing characters.
	longEnd int

	// Stopping early (see tick and full). halt is set when the context
	// is done (err holds why) or when the sequence being tokenised has
	// reached limit tokens, beyond which nothing can be kept.
	ctx      context.Context // nil: never cancelled
	err      error           // ctx.Err() once seen
	work     int             // units of work since the context was last checked
	spent    int             // units of work of the current encode (read by tests)
	limit    int             // stop the current sequence at this many tokens; 0: never
	halt     bool
	cutShort bool // the current sequence stopped at limit tokens

	// Normalised-text buffer, used only by tokenizers with added tokens
	// matched after normalisation (normalized=true).
	buffering bool
	nbuf      []nchar
	nstr      []byte
	nstart    []int    // byte offset in nstr of each nbuf character
	nmatch    [][3]int // matches: start, end (characters), added index
}

// nchar is one normalised character and the original span it came from.
type nchar struct {
	r      rune
	os, oe int
}

// NewEncoder returns a reusable Encoder for t.
func (t *Tokenizer) NewEncoder() *Encoder { return &Encoder{t: t} }

// Encode encodes one text. The result is valid until the next call on e.
func (e *Encoder) Encode(text string, opt EncodeOptions) (*Encoding, error) {
	return e.EncodeContext(context.Background(), text, opt)
}

// EncodePair encodes a text pair (e.g. question and passage). The result is
// valid until the next call on e.
func (e *Encoder) EncodePair(a, b string, opt EncodeOptions) (*Encoding, error) {
	return e.EncodePairContext(context.Background(), a, b, opt)
}

// EncodeContext is Encode that gives up when ctx is done: it checks ctx
// after every CheckInterval units of work (an input byte normalised, a
// byte hashed or a vocabulary lookup made by WordPiece) and returns
// ctx.Err(), so a huge text stops within milliseconds of its deadline.
func (e *Encoder) EncodeContext(ctx context.Context, text string, opt EncodeOptions) (*Encoding, error) {
	if err := e.encode(ctx, text, "", false, opt); err != nil {
		return nil, err
	}
	return &e.out, nil
}

// EncodePairContext is EncodePair with EncodeContext's cancellation.
func (e *Encoder) EncodePairContext(ctx context.Context, a, b string, opt EncodeOptions) (*Encoding, error) {
	if err := e.encode(ctx, a, b, true, opt); err != nil {
		return nil, err
	}
	return &e.out, nil
}

func (t *Tokenizer) getEncoder() *Encoder {
	if e, ok := t.pool.Get().(*Encoder); ok {
		return e
	}
	return t.NewEncoder()
}

// Encode encodes one text into a freshly allocated Encoding.
func (t *Tokenizer) Encode(text string, opt EncodeOptions) (Encoding, error) {
	return t.encodeFresh(context.Background(), text, "", false, opt)
}

// EncodePair encodes a text pair into a freshly allocated Encoding. Token
// type ids follow the post-processing template (0 for a, 1 for b in BERT).
func (t *Tokenizer) EncodePair(a, b string, opt EncodeOptions) (Encoding, error) {
	return t.encodeFresh(context.Background(), a, b, true, opt)
}

// EncodeContext is Encode with the cancellation of
// [Encoder.EncodeContext].
func (t *Tokenizer) EncodeContext(ctx context.Context, text string, opt EncodeOptions) (Encoding, error) {
	return t.encodeFresh(ctx, text, "", false, opt)
}

// EncodePairContext is EncodePair with the cancellation of
// [Encoder.EncodeContext].
func (t *Tokenizer) EncodePairContext(ctx context.Context, a, b string, opt EncodeOptions) (Encoding, error) {
	return t.encodeFresh(ctx, a, b, true, opt)
}

// encodeFresh encodes with a pooled Encoder and returns a copy of the
// result with its token strings.
func (t *Tokenizer) encodeFresh(ctx context.Context, a, b string, pair bool, opt EncodeOptions) (Encoding, error) {
	e := t.getEncoder()
	defer t.pool.Put(e)
	if err := e.encode(ctx, a, b, pair, opt); err != nil {
		return Encoding{}, err
	}
	c := e.out.clone()
	t.fillTokens(&c)
	return c, nil
}

// EncodeBatch encodes texts with up to workers goroutines (workers <= 0
// means 1) and returns the encodings in input order. With PadLongest every
// encoding is padded to the longest in the batch. ctx is checked between
// texts and inside each (see [Encoder.EncodeContext]); the first error
// stops the batch and is returned.
//
// The encodings are carved out of a few batch-wide arrays (one per field)
// to save allocations: each slice's capacity ends at its length, so
// appending to one never touches another, but keeping any one encoding
// alive keeps the whole batch's arrays alive (copy it out if that matters).
func (t *Tokenizer) EncodeBatch(ctx context.Context, texts []string, opt EncodeOptions, workers int) ([]Encoding, error) {
	return t.batch(ctx, len(texts), opt, workers, func(e *Encoder, i int) error {
		return e.encode(ctx, texts[i], "", false, opt)
	})
}

// EncodePairBatch is EncodeBatch for text pairs.
func (t *Tokenizer) EncodePairBatch(ctx context.Context, pairs [][2]string, opt EncodeOptions, workers int) ([]Encoding, error) {
	return t.batch(ctx, len(pairs), opt, workers, func(e *Encoder, i int) error {
		return e.encode(ctx, pairs[i][0], pairs[i][1], true, opt)
	})
}

// batchSpan locates one encoding of a batch in its worker's flat buffers
// (phase 1 of batch); an encoding with overflowing windows is kept whole
// in full instead.
type batchSpan struct {
	worker, start, n int
	truncated        bool
	full             *Encoding
}

// batchChunk is how many texts a worker claims at a time: enough to keep
// the shared counter off the hot path, small enough to balance the load.
const batchChunk = 16

func (t *Tokenizer) batch(ctx context.Context, n int, opt EncodeOptions, workers int, enc func(e *Encoder, i int) error) ([]Encoding, error) {
	if workers <= 0 {
		workers = 1
	}
	workers = min(workers, max((n+batchChunk-1)/batchChunk, 1))
	// Phase 1: every worker encodes the texts it claims and appends the
	// results to its own flat buffers (the Encoder's, reused across
	// batches), so that encoding allocates nothing per text.
	spans := make([]batchSpan, n)
	encs := make([]*Encoder, workers)
	var (
		wg      sync.WaitGroup
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		firstEr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstEr = err })
		failed.Store(true)
	}
	for w := range workers {
		encs[w] = t.getEncoder()
		e := encs[w]
		e.flat.reset()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				lo := int(next.Add(batchChunk)) - batchChunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+batchChunk, n); i++ {
					if err := ctx.Err(); err != nil {
						fail(err)
						return
					}
					if err := enc(e, i); err != nil {
						fail(fmt.Errorf("input %d: %w", i, err))
						return
					}
					if len(e.out.Overflowing) > 0 {
						full := e.out.clone()
						spans[i] = batchSpan{full: &full}
						continue
					}
					spans[i] = batchSpan{worker: w, start: e.flat.Len(), n: e.out.Len(), truncated: e.out.Truncated}
					e.flat.appendFrom(&e.out)
				}
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, e := range encs {
			if cap(e.flat.IDs) > 1<<16 {
				e.flat = Encoding{} // do not keep a huge batch's buffers pooled
			}
			t.pool.Put(e)
		}
	}()
	if firstEr != nil {
		return nil, firstEr
	}

	// Phase 2: the final lengths are known (padding to the longest
	// included), so every field of every encoding is carved out of one
	// allocation per field and token strings are filled once.
	longest := -1
	if opt.Padding == PadLongest {
		longest = 0
		for i := range spans {
			if f := spans[i].full; f != nil {
				longest = max(longest, f.Len())
			} else {
				longest = max(longest, spans[i].n)
			}
		}
		longest = roundUp(longest, opt.PadToMultipleOf)
	}
	total := 0
	for i := range spans {
		if spans[i].full == nil {
			total += max(spans[i].n, longest)
		}
	}
	i32 := make([]int32, 2*total)
	u8 := make([]uint8, 2*total)
	offs := make([][2]int, total)
	toks := make([]string, total)
	out := make([]Encoding, n)
	pos := 0
	for i := range spans {
		sp := &spans[i]
		if sp.full != nil {
			out[i] = *sp.full
			if longest >= 0 {
				t.padTo(&out[i], longest)
			}
			t.fillTokens(&out[i])
			continue
		}
		size := max(sp.n, longest)
		end := pos + size
		o := Encoding{
			IDs:               i32[pos:end:end],
			TypeIDs:           i32[total+pos : total+end : total+end],
			AttentionMask:     u8[pos:end:end],
			SpecialTokensMask: u8[total+pos : total+end : total+end],
			Offsets:           offs[pos:end:end],
			Tokens:            toks[pos:end:end],
			Truncated:         sp.truncated,
		}
		src := &encs[sp.worker].flat
		copy(o.IDs, src.IDs[sp.start:sp.start+sp.n])
		copy(o.TypeIDs, src.TypeIDs[sp.start:sp.start+sp.n])
		copy(o.AttentionMask, src.AttentionMask[sp.start:sp.start+sp.n])
		copy(o.SpecialTokensMask, src.SpecialTokensMask[sp.start:sp.start+sp.n])
		copy(o.Offsets, src.Offsets[sp.start:sp.start+sp.n])
		for j := sp.n; j < size; j++ {
			o.IDs[j], o.TypeIDs[j], o.SpecialTokensMask[j] = t.pad, t.padType, 1
		}
		for j, id := range o.IDs {
			o.Tokens[j] = t.tokenString(id)
		}
		out[i] = o
		pos = end
	}
	return out, nil
}

// appendFrom appends src's per-token fields (not its tokens or windows)
// to e.
func (e *Encoding) appendFrom(src *Encoding) {
	e.IDs = append(e.IDs, src.IDs...)
	e.TypeIDs = append(e.TypeIDs, src.TypeIDs...)
	e.AttentionMask = append(e.AttentionMask, src.AttentionMask...)
	e.SpecialTokensMask = append(e.SpecialTokensMask, src.SpecialTokensMask...)
	e.Offsets = append(e.Offsets, src.Offsets...)
}

// CheckInterval is how many units of work (about one input byte each: a
// byte normalised, a byte hashed or a vocabulary lookup made by WordPiece,
// an added token tried) the Context encoders do between two looks at their
// context.
const CheckInterval = 16 << 10

// tick accounts n units of work and, every CheckInterval units, looks at
// the context; it reports whether encoding must stop (context done, or
// the current sequence full, see full).
func (e *Encoder) tick(n int) bool {
	e.spent += n
	if e.work += n; e.work >= CheckInterval {
		e.work = 0
		if e.ctx != nil && e.err == nil {
			if err := e.ctx.Err(); err != nil {
				e.err, e.halt = err, true
			}
		}
	}
	return e.halt
}

// full marks the current sequence as complete once it holds limit tokens:
// the tokens already pushed are final (WordPiece works word by word), and
// truncation would drop any later ones.
func (e *Encoder) full() bool {
	if e.limit > 0 && len(e.cur.ids) >= e.limit {
		e.halt, e.cutShort = true, true
	}
	return e.halt
}

// encode runs the whole pipeline into e.out.
func (e *Encoder) encode(ctx context.Context, a, b string, pair bool, opt EncodeOptions) error {
	t := e.t
	if opt.MaxLength < 0 || opt.Stride < 0 || opt.PadTo < 0 || opt.PadToMultipleOf < 0 {
		return fmt.Errorf("%w: negative MaxLength, Stride, PadTo or PadToMultipleOf", ErrInvalid)
	}
	if opt.Truncation < LongestFirst || opt.Truncation > DoNotTruncate {
		return fmt.Errorf("%w: truncation strategy %d", ErrInvalid, opt.Truncation)
	}
	if opt.Padding < NoPadding || opt.Padding > PadFixed {
		return fmt.Errorf("%w: padding strategy %d", ErrInvalid, opt.Padding)
	}
	if opt.Padding != NoPadding && t.pad < 0 {
		return fmt.Errorf("%w: padding requested but the tokenizer has no padding token", ErrInvalid)
	}
	nAdded := t.nSingle
	if pair {
		nAdded = t.nPair
	}
	e.ctx, e.err, e.work, e.spent, e.halt, e.cutShort, e.limit = ctx, nil, 0, 0, false, false, 0
	if ctx != nil && ctx.Done() == nil {
		e.ctx = nil // never cancelled: skip the checks
	}
	defer func() { e.ctx = nil }() // do not keep the caller's context alive
	if e.ctx != nil {
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	// A single text that will be cut to MaxLength needs only its first
	// MaxLength-nAdded tokens, plus one to know it was longer: stop there
	// instead of tokenising a huge text to throw almost all of it away.
	// (Pairs need both full lengths to split the room between them, and
	// overflowing windows need every token.)
	if !pair && opt.MaxLength > 0 && !opt.ReturnOverflowing && opt.MaxLength >= nAdded &&
		(opt.ErrorOnTruncate || opt.Truncation == LongestFirst || opt.Truncation == OnlyFirst) {
		e.limit = opt.MaxLength - nAdded + 1
	}
	e.a.reset()
	e.b.reset()
	e.word, e.chars = e.word[:0], e.chars[:0] // a cancelled call may have left a word
	e.tokenize(a, &e.a)
	if pair && !e.halt {
		e.tokenize(b, &e.b)
	}
	if e.err != nil {
		return e.err
	}
	la, lb := len(e.a.ids), len(e.b.ids)
	e.winA = append(e.winA[:0], [2]int{0, la})
	e.winB = append(e.winB[:0], [2]int{0, lb})
	if opt.MaxLength > 0 && la+lb+nAdded > opt.MaxLength {
		if opt.ErrorOnTruncate {
			if e.cutShort {
				return fmt.Errorf("%w: more than %d tokens (MaxLength)", ErrTooLong, opt.MaxLength)
			}
			return fmt.Errorf("%w: %d tokens > MaxLength %d", ErrTooLong, la+lb+nAdded, opt.MaxLength)
		}
		if opt.Truncation != DoNotTruncate {
			if err := e.truncate(la, lb, pair, opt.MaxLength-nAdded, opt); err != nil {
				return err
			}
		}
	}
	e.out.reset()
	e.assemble(&e.out, e.winA[0], e.winB[0], true, true, pair)
	e.out.Truncated = e.winA[0] != [2]int{0, la} || e.winB[0] != [2]int{0, lb}
	if opt.ReturnOverflowing && (len(e.winA) > 1 || len(e.winB) > 1) {
		// Pairs overflow as a cross product of both sequences' windows;
		// bound it so that hostile input cannot demand millions of
		// encodings.
		if n := len(e.winA)*len(e.winB) - 1; n > MaxOverflowing {
			return fmt.Errorf("%w: %d overflowing windows (limit %d); raise MaxLength or Stride", ErrTooLong, n, MaxOverflowing)
		}
		e.overflow(pair)
	}
	switch opt.Padding {
	case PadFixed:
		n := opt.PadTo
		if n == 0 {
			n = opt.MaxLength
		}
		t.padTo(&e.out, roundUp(n, opt.PadToMultipleOf))
	}
	return nil
}

// truncate computes the windows of both sequences, following Hugging
// Face's truncate_encodings and Encoding::truncate.
func (e *Encoder) truncate(la, lb int, pair bool, maxLen int, opt EncodeOptions) error {
	if maxLen < 0 {
		return fmt.Errorf("%w: MaxLength %d leaves no room for %d special tokens", ErrInvalid, opt.MaxLength, opt.MaxLength-maxLen)
	}
	na, nb := la, lb
	toRemove := la + lb - maxLen
	strategy := opt.Truncation
	if maxLen == 0 {
		// Hugging Face cuts every sequence to nothing here, whatever
		// the strategy (all tokens go to the overflowing windows).
		strategy, na, nb = LongestFirst, 0, 0
	}
	switch strategy {
	case LongestFirst:
		if maxLen == 0 {
			break
		}
		if !pair {
			na = la - toRemove
			break
		}
		n1, n2 := la, lb
		swap := n1 > n2
		if swap {
			n1, n2 = n2, n1
		}
		if n1 > maxLen {
			n2 = n1
		} else {
			n2 = max(n1, maxLen-n1)
		}
		if n1+n2 > maxLen {
			n1 = maxLen / 2
			n2 = n1 + maxLen%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		na, nb = n1, n2
	case OnlyFirst, OnlySecond:
		target := &na
		if opt.Truncation == OnlySecond {
			if !pair {
				return fmt.Errorf("%w: OnlySecond truncation of a single sequence", ErrInvalid)
			}
			target = &nb
		}
		if *target <= toRemove {
			return fmt.Errorf("%w: sequence too short to truncate to MaxLength %d", ErrTooLong, opt.MaxLength)
		}
		*target -= toRemove
	default:
		return fmt.Errorf("%w: truncation strategy %d", ErrInvalid, opt.Truncation)
	}
	var err error
	if e.winA, err = windows(e.winA[:0], la, na, opt.Stride); err != nil {
		return err
	}
	if pair {
		if e.winB, err = windows(e.winB[:0], lb, nb, opt.Stride); err != nil {
			return err
		}
	}
	return nil
}

// windows splits n tokens into windows of at most maxLen tokens overlapping
// by stride (Hugging Face's Encoding::truncate, right direction).
func windows(dst [][2]int, n, maxLen, stride int) ([][2]int, error) {
	if maxLen >= n {
		return append(dst, [2]int{0, n}), nil
	}
	if maxLen == 0 {
		return append(dst, [2]int{0, 0}, [2]int{0, n}), nil
	}
	if stride >= maxLen {
		return dst, fmt.Errorf("%w: stride %d must be smaller than the %d tokens left per window", ErrInvalid, stride, maxLen)
	}
	step := maxLen - stride
	for start := 0; start < n; start += step {
		stop := min(start+maxLen, n)
		dst = append(dst, [2]int{start, stop})
		if stop == n {
			break
		}
	}
	return dst, nil
}

// assemble applies the post-processing template to window wa of sequence a
// and wb of sequence b. mainA/mainB tell whether the window is the first
// (main) one: Hugging Face's TemplateProcessing sets the template's type id
// on the main encodings only, so tokens of overflowing windows keep the
// type id the model step gave their sequence: 0 for a, 1 for b.
func (e *Encoder) assemble(dst *Encoding, wa, wb [2]int, mainA, mainB, pair bool) {
	tpl := e.t.single
	if pair {
		tpl = e.t.pair
	}
	for _, p := range tpl {
		switch p.kind {
		case pieceSpecial:
			for _, id := range p.ids {
				dst.push(id, p.typeID, [2]int{}, 1, 1)
			}
		case pieceA, pieceB:
			s, w, typ := &e.a, wa, p.typeID
			if !mainA {
				typ = 0
			}
			if p.kind == pieceB {
				s, w, typ = &e.b, wb, p.typeID
				if !mainB {
					typ = 1
				}
			}
			for i := w[0]; i < w[1]; i++ {
				dst.push(s.ids[i], typ, s.offs[i], 1, 0)
			}
		}
	}
}

// overflow builds e.out.Overflowing in the order Hugging Face's
// Encoding::merge_with produces when it folds the template's pieces.
func (e *Encoder) overflow(pair bool) {
	type combo struct{ a, b int }
	var list []combo
	tpl := e.t.single
	if pair {
		tpl = e.t.pair
	}
	for _, p := range tpl {
		var nw int
		switch p.kind {
		case pieceA:
			nw = len(e.winA)
		case pieceB:
			nw = len(e.winB)
		default:
			continue
		}
		set := func(c combo, w int) combo {
			if p.kind == pieceA {
				c.a = w
			} else {
				c.b = w
			}
			return c
		}
		var next []combo
		for _, c := range list {
			next = append(next, set(c, 0))
			for w := 1; w < nw; w++ {
				next = append(next, set(c, w))
			}
		}
		for w := 1; w < nw; w++ {
			next = append(next, set(combo{}, w))
		}
		list = next
	}
	for _, c := range list {
		var o Encoding
		e.assemble(&o, e.winA[c.a], e.winB[c.b], c.a == 0, c.b == 0, pair)
		e.out.Overflowing = append(e.out.Overflowing, o)
	}
}

// tokenize splits text around added tokens and runs normalisation,
// pre-tokenisation and WordPiece on the pieces in between.
func (e *Encoder) tokenize(text string, dst *seq) {
	e.cur = dst
	pos := 0
	for !e.halt {
		ms, me, id, ok := e.findAdded(text, pos)
		end := ms
		if !ok {
			end = len(text)
		}
		if e.t.hasNormAdded {
			e.normalizeWithAdded(text, pos, end)
		} else {
			e.normalize(text, pos, end)
		}
		if !ok || e.halt {
			return
		}
		dst.push(id, ms, me)
		e.full()
		pos = me
	}
}

// findAdded finds the leftmost-longest added token in text[from:], honouring
// single_word, lstrip and rstrip like Hugging Face's AddedVocabulary. When
// the context stops the scan it reports no match (e.halt is then set).
func (e *Encoder) findAdded(text string, from int) (start, end int, id int32, ok bool) {
	t := e.t
	if len(t.added) == 0 {
		return 0, 0, 0, false
	}
	for i := from; i < len(text); i++ {
		if !t.addedFirst[text[i]] {
			if e.tick(1) {
				return 0, 0, 0, false
			}
			continue
		}
		if e.tick(len(t.added)) {
			return 0, 0, 0, false
		}
		best, bestLen := -1, 0
		for k := range t.added {
			a := &t.added[k]
			if a.flags&addedNormalized == 0 && len(a.content) > bestLen && strings.HasPrefix(text[i:], a.content) {
				best, bestLen = k, len(a.content)
			}
		}
		if best < 0 {
			continue
		}
		a := &t.added[best]
		s, en := i, i+bestLen
		if a.flags&addedSingleWord != 0 {
			before, _ := utf8.DecodeLastRuneInString(text[:s])
			after, _ := utf8.DecodeRuneInString(text[en:])
			if (s > 0 && isWordChar(before)) || (en < len(text) && isWordChar(after)) {
				i = en - 1
				continue
			}
		}
		if a.flags&addedLstrip != 0 {
			for s > from {
				r, sz := utf8.DecodeLastRuneInString(text[from:s])
				if !unicode.IsSpace(r) {
					break
				}
				s -= sz
			}
		}
		if a.flags&addedRstrip != 0 {
			for en < len(text) {
				r, sz := utf8.DecodeRuneInString(text[en:])
				if !unicode.IsSpace(r) {
					break
				}
				en += sz
			}
		}
		return s, en, a.id, true
	}
	return 0, 0, 0, false
}

// ASCII character classes for the fast path of normalize.
const (
	aWord      = iota // letters, digits and the rest: part of a word
	aSpace            // space, tab, newline, carriage return
	aPunct            // BERT punctuation: a word of its own
	aCtrl             // other C0 controls, NUL and DEL
	aCtrlSpace        // vertical tab and form feed
)

var asciiClass = func() (cl [utf8.RuneSelf]uint8) {
	for c := range cl {
		r := rune(c)
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			cl[c] = aSpace
		case r == '\v' || r == '\f':
			cl[c] = aCtrlSpace
		case r < 0x20 || r == 0x7f:
			cl[c] = aCtrl
		case isPunct(r):
			cl[c] = aPunct
		}
	}
	return cl
}()

// normalize runs BertNormalizer and BertPreTokenizer over text[from:to],
// feeding words to WordPiece as they complete.
func (e *Encoder) normalize(text string, from, to int) {
	t := e.t
	clean := t.flags&flagCleanText != 0
	cjk := t.flags&flagHandleCJK != 0
	strip := t.flags&flagStripAccents != 0
	lower := t.flags&flagLowercase != 0
	for i := from; i < to && !e.halt; {
		c := text[i]
		if c < utf8.RuneSelf {
			// ASCII fast path: nothing decomposes, only A-Z lowercase.
			switch asciiClass[c] {
			case aWord:
				// At most CheckInterval bytes per pass, so the context
				// is seen inside a huge word too; the word simply
				// continues on the next pass.
				j, stop := i, min(to, i+CheckInterval)
				for ; j < stop; j++ {
					c := text[j]
					if c >= utf8.RuneSelf || asciiClass[c] != aWord {
						break
					}
					if len(e.chars) > t.maxChars {
						continue // over-long word, see appendChar
					}
					if lower && c-'A' < 26 {
						c += 'a' - 'A'
					}
					e.word = append(e.word, c)
					e.chars = append(e.chars, charInfo{end: len(e.word), os: j, oe: j + 1})
				}
				e.longEnd = j
				e.tick(j - i)
				i = j
				continue
			case aSpace:
				e.flush()
			case aPunct:
				e.flush()
				e.appendChar(rune(c), i, i+1)
				e.flush()
			case aCtrl: // dropped by clean_text, else an ordinary character
				if !clean {
					e.appendChar(rune(c), i, i+1)
				}
			case aCtrlSpace: // \v and \f: Cc, but also White_Space
				if !clean {
					e.flush()
				}
			}
			e.tick(1)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:to])
		os, oe := i, i+size
		i += size
		e.tick(size)
		if clean {
			if r == utf8.RuneError || isControl(r) {
				continue
			}
			if isWhitespace(r) {
				r = ' '
			}
		}
		isCJK := cjk && isChinese(r)
		if isCJK {
			e.flush()
		}
		e.stripLowerEmit(r, text[os:oe], strip, lower, os, oe)
		if isCJK {
			e.flush()
		}
	}
	if !e.halt {
		e.flush()
	}
}

// stripLowerEmit emits one input character r (src is its original bytes,
// text[os:oe]) as the BertNormalizer outputs it: without combining marks
// (Mn) after NFD when strip is set, then lowercased when lower is set. Both
// normalisation paths (normalize and normalizeChars) share it so that they
// cannot drift apart.
//
// Only non-ASCII characters other than U+FFFD are decomposed: ASCII and
// U+FFFD are their own NFD, and r is ASCII whenever clean_text replaced the
// original character (whitespace mapped to ' '), so src is decomposed only
// when it still is r.
func (e *Encoder) stripLowerEmit(r rune, src string, strip, lower bool, os, oe int) {
	if !strip || r < utf8.RuneSelf || r == utf8.RuneError {
		e.lowerEmit(r, lower, os, oe)
		return
	}
	// Decompose one character at a time (a reused norm.Iter does not
	// allocate). Canonical reordering across characters only matters among
	// marks, which are then removed.
	e.nfd.InitString(norm.NFD, src)
	for !e.nfd.Done() {
		seg := e.nfd.Next()
		for j := 0; j < len(seg); {
			d, dsz := utf8.DecodeRune(seg[j:])
			j += dsz
			if unicode.Is(unicode.Mn, d) {
				continue
			}
			e.lowerEmit(d, lower, os, oe)
		}
	}
}

func (e *Encoder) lowerEmit(r rune, lower bool, os, oe int) {
	if lower {
		if r == 0x130 {
			// The only unconditional multi-rune lowercase mapping
			// (SpecialCasing.txt): İ -> i + COMBINING DOT ABOVE, as
			// Rust's char::to_lowercase yields.
			e.emit('i', os, oe)
			e.emit(0x307, os, oe)
			return
		}
		r = unicode.ToLower(r)
	}
	e.emit(r, os, oe)
}

// emit is the BertPreTokenizer: whitespace ends a word, punctuation is a
// word of its own.
func (e *Encoder) emit(r rune, os, oe int) {
	if e.buffering {
		e.nbuf = append(e.nbuf, nchar{r: r, os: os, oe: oe})
		return
	}
	switch {
	case isWhitespace(r):
		e.flush()
	case isPunct(r):
		e.flush()
		e.appendChar(r, os, oe)
		e.flush()
	default:
		e.appendChar(r, os, oe)
	}
}

func (e *Encoder) appendChar(r rune, os, oe int) {
	if len(e.chars) > e.t.maxChars {
		// The word is already too long and will be one [UNK]: only its
		// end matters, so a huge unbroken input costs no memory.
		e.longEnd = oe
		return
	}
	e.word = utf8.AppendRune(e.word, r)
	e.chars = append(e.chars, charInfo{end: len(e.word), os: os, oe: oe})
	e.longEnd = oe
}

// flush runs WordPiece on the current word: greedy longest-match-first,
// with the continuing-subword prefix on non-initial pieces; a word with an
// unmatched remainder, or longer than max_input_chars_per_word, becomes a
// single unknown token spanning the whole word.
//
// Each piece tries only the candidates that fit in the longest vocabulary
// token (maxTokLen bytes), so a word of n characters costs
// O(n * maxTokLen), not O(n^2): tokenizer.json may allow words of up to
// 2^20 characters.
func (e *Encoder) flush() {
	nch := len(e.chars)
	if nch == 0 {
		return
	}
	t, dst, word, chars := e.t, e.cur, e.word, e.chars
	defer func() { e.word, e.chars = e.word[:0], e.chars[:0]; e.full() }()
	if nch > t.maxChars {
		dst.push(t.unk, chars[0].os, e.longEnd)
		return
	}
	if cap(e.hs) < nch {
		e.hs = make([]uint32, nch)
	}
	hs := e.hs[:nch]
	mark := len(dst.ids)
	start, startByte := 0, 0
	plen := len(t.prefix)
	for start < nch {
		h := uint32(fnvBasis)
		extra := 0
		if start > 0 {
			h, extra = t.prefixHash, plen
		}
		// Hash the candidates start..last-1: the ones no longer than
		// the longest token.
		b, last := startByte, start
		for ; last < nch && chars[last].end-startByte+extra <= t.maxTokLen; last++ {
			for ; b < chars[last].end; b++ {
				h = (h ^ uint32(word[b])) * fnvPrime
			}
			hs[last] = h
		}
		found, foundID := -1, int32(0)
		for c := last - 1; c >= start; c-- {
			if id, ok := t.lookup(hs[c], start > 0, word[startByte:chars[c].end]); ok {
				found, foundID = c, id
				break
			}
		}
		if e.tick(b-startByte+last-start) && e.err != nil {
			return // cancelled: the caller returns e.err
		}
		if found < 0 {
			dst.ids, dst.offs = dst.ids[:mark], dst.offs[:mark]
			dst.push(t.unk, chars[0].os, chars[nch-1].oe)
			return
		}
		dst.push(foundID, chars[start].os, chars[found].oe)
		startByte = chars[found].end
		start = found + 1
	}
}

// normalizeChars runs the BertNormalizer alone over text[from:to] into
// e.nbuf: characters as the normaliser outputs them (spaces around CJK
// ideographs included), before pre-tokenisation. It is the general path
// that normalize specialises with an ASCII fast path and fused
// pre-tokenisation; TestNormalizePathsAgree keeps the two in step.
func (e *Encoder) normalizeChars(text string, from, to int) {
	t := e.t
	clean := t.flags&flagCleanText != 0
	cjk := t.flags&flagHandleCJK != 0
	strip := t.flags&flagStripAccents != 0
	lower := t.flags&flagLowercase != 0
	e.buffering = true
	defer func() { e.buffering = false }()
	for i := from; i < to; {
		r, size := utf8.DecodeRuneInString(text[i:to])
		os, oe := i, i+size
		i += size
		if e.tick(size) && e.err != nil {
			return
		}
		if clean {
			if r == 0 || r == utf8.RuneError || isControl(r) {
				continue
			}
			if isWhitespace(r) {
				r = ' '
			}
		}
		isCJK := cjk && isChinese(r)
		if isCJK {
			e.emit(' ', os, oe)
		}
		e.stripLowerEmit(r, text[os:oe], strip, lower, os, oe)
		if isCJK {
			e.emit(' ', os, oe)
		}
	}
}

// normalizeWithAdded handles a segment for tokenizers that have added
// tokens matched after normalisation: normalise into a buffer, find those
// tokens (leftmost-longest, with single_word/lstrip/rstrip applied to the
// normalised text, as Hugging Face does), and pre-tokenise the rest.
func (e *Encoder) normalizeWithAdded(text string, from, to int) {
	e.nbuf = e.nbuf[:0]
	e.normalizeChars(text, from, to)
	if e.halt {
		return
	}
	e.nstr, e.nstart = e.nstr[:0], e.nstart[:0]
	for _, c := range e.nbuf {
		e.nstart = append(e.nstart, len(e.nstr))
		e.nstr = utf8.AppendRune(e.nstr, c.r)
	}
	e.nstart = append(e.nstart, len(e.nstr))
	feed := func(lo, hi int) {
		for _, c := range e.nbuf[lo:hi] {
			if e.halt {
				return
			}
			e.emit(c.r, c.os, c.oe)
		}
		e.flush()
	}
	// Find the matches first (leftmost-longest, non-overlapping; a
	// single_word match that is glued to a word is dropped), then widen
	// them over whitespace for lstrip/rstrip. As in Hugging Face, a
	// widened match may overlap the next one (CJK spaces inserted by the
	// normaliser carry the ideograph's span).
	e.nmatch = e.nmatch[:0]
	for i := 0; i < len(e.nbuf); {
		rest := e.nstr[e.nstart[i]:]
		k, n := e.t.matchNormAdded(rest)
		cost := 1
		if len(rest) > 0 && e.t.normFirst[rest[0]] {
			cost += len(e.t.added) // matchNormAdded tried every added token
		}
		if e.tick(cost) && e.err != nil {
			return
		}
		if k < 0 {
			i++
			continue
		}
		j := i + 1 // end character (exclusive) of the match
		for j < len(e.nbuf) && e.nstart[j] < e.nstart[i]+n {
			j++
		}
		a := &e.t.added[k]
		if a.flags&addedSingleWord == 0 ||
			!((i > 0 && isWordChar(e.nbuf[i-1].r)) || (j < len(e.nbuf) && isWordChar(e.nbuf[j].r))) {
			e.nmatch = append(e.nmatch, [3]int{i, j, k})
		}
		i = j
	}
	done, prevEnd := 0, 0
	for _, m := range e.nmatch {
		s, en, a := m[0], m[1], &e.t.added[m[2]]
		if a.flags&addedLstrip != 0 {
			for s > prevEnd && unicode.IsSpace(e.nbuf[s-1].r) {
				s--
			}
		}
		if a.flags&addedRstrip != 0 {
			for en < len(e.nbuf) && unicode.IsSpace(e.nbuf[en].r) {
				en++
			}
		}
		if s > done {
			feed(done, s)
		}
		if e.halt {
			return
		}
		e.cur.push(a.id, e.nbuf[s].os, e.nbuf[en-1].oe)
		e.full()
		done, prevEnd = max(done, en), m[1]
	}
	if !e.halt {
		feed(done, len(e.nbuf))
	}
}

// matchNormAdded returns the index in t.added of the longest normalized
// added token that prefixes s, and its length, or -1.
func (t *Tokenizer) matchNormAdded(s []byte) (int, int) {
	if len(s) == 0 || !t.normFirst[s[0]] {
		return -1, 0
	}
	best, bestLen := -1, 0
	for k := range t.added {
		a := &t.added[k]
		if a.flags&addedNormalized != 0 && len(a.norm) > bestLen && len(a.norm) <= len(s) && string(s[:len(a.norm)]) == a.norm {
			best, bestLen = k, len(a.norm)
		}
	}
	return best, bestLen
}

// normalizeString returns s as the tokenizer's normaliser outputs it; used
// to normalise the content of normalized=true added tokens.
func (t *Tokenizer) normalizeString(s string) string {
	e := t.NewEncoder()
	e.normalizeChars(s, 0, len(s))
	var b []byte
	for _, c := range e.nbuf {
		b = utf8.AppendRune(b, c.r)
	}
	return string(b)
}
