package lepton

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
	"lepton/quant"
	"lepton/tokenize"
)

// Batching limits of one forward pass. A call with more inputs runs several
// passes; the limits bound the workspace memory (about 30 KiB per token for
// a BERT-base model, so about 64 MiB per concurrent call) while keeping the
// matrices large enough for the kernels to run at full speed.
const (
	maxBatchSeqs   = 64
	maxBatchTokens = 2048
)

// Model is an open .lep model: weights (memory-mapped and shared between
// processes when the platform allows), tokenizer and configuration. It is
// safe for concurrent use by multiple goroutines; calls run in parallel and
// share the Model's worker threads. Close it to release the mapping.
type Model struct {
	mu     sync.RWMutex // held shared by every call, exclusively by Close
	closed bool

	file   *lepfile.File
	net    *bert.Model
	tok    *tokenize.Tokenizer
	pool   *quant.Pool
	cfg    modelConfig
	labels []string
	states sync.Pool // *callState
}

// callState is the scratch of one call, recycled through Model.states so
// steady-state calls allocate only their results.
type callState struct {
	ws   bert.Workspace
	enc  *tokenize.Encoder
	ids  []int32 // token ids of every input, back to back
	tids []int32 // token type ids, same layout
	ends []int   // ends[i]: end of input i in ids
	seqs []bert.Sequence
	cc   callConfig
}

// Open maps the .lep model file at path read-only, validates it (header,
// section table, tensor directory and their CRC32C checksums; payloads are
// checked by WithVerify, Model.Verify or `lepton verify`) and returns a
// Model whose weights alias the mapping: opening takes about the same time
// whatever the model's size. Where mapping is not possible the file is read
// into memory.
//
// A missing file returns an error wrapping fs.ErrNotExist; anything that is
// not a valid .lep file returns an error wrapping ErrInvalidModel.
func Open(path string, opts ...Option) (*Model, error) {
	cfg, err := newModelConfig(opts)
	if err != nil {
		return nil, err
	}
	f, err := lepfile.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("lepton: open model: %w", err)
		}
		return nil, invalidModel(err)
	}
	m, err := newModel(f, cfg)
	if err != nil {
		_ = f.Close()
		return nil, withPath(path, err)
	}
	return m, nil
}

// withPath names the file in an error from newModel after the one "lepton: "
// prefix ("lepton: r.lep: invalid option: ..."), rather than in front of it
// ("r.lep: lepton: invalid option: ..."), keeping err in the chain for
// errors.Is.
func withPath(path string, err error) error {
	return &pathError{msg: "lepton: " + path + ": " + strings.TrimPrefix(err.Error(), "lepton: "), err: err}
}

type pathError struct {
	msg string
	err error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.err }

// OpenBytes is Open for a model held in memory, such as one embedded with
// go:embed. data is used in place when it is 64-byte aligned and copied once
// otherwise; it must not be modified while the Model is open.
func OpenBytes(data []byte, opts ...Option) (*Model, error) {
	cfg, err := newModelConfig(opts)
	if err != nil {
		return nil, err
	}
	f, err := lepfile.OpenBytes(data)
	if err != nil {
		return nil, invalidModel(err)
	}
	m, err := newModel(f, cfg)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return m, nil
}

// invalidModel wraps a loader error in ErrInvalidModel, dropping the
// loader's own sentinel text from the message (it says the same thing) but
// keeping it in the chain for errors.Is.
func invalidModel(err error) error {
	msg := err.Error()
	for _, s := range []error{lepfile.ErrFormat, lepfile.ErrTruncated, lepfile.ErrChecksum, lepfile.ErrVersion} {
		msg = strings.Replace(msg, s.Error()+": ", "", 1)
	}
	return &modelError{msg: ErrInvalidModel.Error() + ": " + msg, err: err}
}

type modelError struct {
	msg string
	err error
}

func (e *modelError) Error() string   { return e.msg }
func (e *modelError) Unwrap() []error { return []error{ErrInvalidModel, e.err} }

func newModelConfig(opts []Option) (modelConfig, error) {
	cfg := modelConfig{actBits: DefaultActivationBits, defaults: callConfig{truncate: true}}
	if err := WithThreads(0).applyModel(&cfg); err != nil {
		return cfg, err
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyModel(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func newModel(f *lepfile.File, cfg modelConfig) (*Model, error) {
	if cfg.verify != nil {
		if err := cfg.verify(f); err != nil {
			return nil, damaged(err)
		}
	}
	net := f.Model
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModel, err)
	}
	if cfg.defaults.maxLength > net.Config.MaxPositions {
		return nil, fmt.Errorf("%w: max length %d exceeds the model's %d positions", ErrInvalidOption, cfg.defaults.maxLength, net.Config.MaxPositions)
	}
	tok, err := loadTokenizer(f)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > net.Config.Vocab {
		// Every text using the extra ids would fail at run time; say so now.
		return nil, fmt.Errorf("%w: the tokenizer has %d tokens but the model's embedding table only %d", ErrInvalidModel, tok.VocabSize(), net.Config.Vocab)
	}
	m := &Model{file: f, net: net, tok: tok, cfg: cfg, pool: quant.NewPool(cfg.threads)}
	head := net.Classifier
	if head == nil {
		head = net.TokenClassifier
	}
	if head != nil {
		m.labels = make([]string, head.W.N)
		for i := range m.labels {
			if i < len(net.Config.Labels) && net.Config.Labels[i] != "" {
				m.labels[i] = net.Config.Labels[i]
			} else {
				m.labels[i] = "LABEL_" + strconv.Itoa(i)
			}
		}
	}
	return m, nil
}

// loadTokenizer decodes the tokenizer embedded in the file.
func loadTokenizer(f *lepfile.File) (*tokenize.Tokenizer, error) {
	if len(f.Tokenizer) == 0 {
		return nil, fmt.Errorf("%w: the file has no tokenizer section", ErrInvalidModel)
	}
	var (
		tok *tokenize.Tokenizer
		err error
	)
	switch f.TokenizerFormat {
	case lepfile.TokenizerLepton, "":
		tok, err = tokenize.FromBinary(f.Tokenizer)
	case lepfile.TokenizerHFJSON:
		tok, err = tokenize.FromJSON(f.Tokenizer)
	case lepfile.TokenizerVocab:
		// A bare vocab.txt carries no options: use bert-base-uncased's.
		tok, err = tokenize.FromVocab(f.Tokenizer, tokenize.VocabOptions{Lowercase: true, HandleCJK: true})
	default:
		return nil, fmt.Errorf("%w: unknown tokenizer format %q", ErrInvalidModel, f.TokenizerFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: tokenizer: %w", ErrInvalidModel, err)
	}
	return tok, nil
}

// Verify reads every payload of the model file and checks it, as `lepton
// verify` does: the CRC32C checksum of every section and tensor, that
// float tensors are finite and scales non-negative, that int8 codes lie in
// [-127, 127], and that packed weights have zero padding and match their
// column sums. Its cost is proportional to the file's size.
//
// Open does not do this by default (WithVerify makes it), so a file damaged
// in a weight payload, by a flipped bit on disk or in a copy, opens and runs
// and gives slightly different answers with no error.
// Verify is how to find out: it returns nil for an intact file, or an error
// wrapping ErrInvalidModel that lists the problems found (up to 20). A ctx
// cancelled while it runs returns ctx.Err(); a nil ctx is an error wrapping
// ErrInvalidOption. Verify may run while other calls use the Model.
func (m *Model) Verify(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	if err := m.file.VerifyContext(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return err
		}
		return damaged(err)
	}
	return nil
}

// damaged wraps the problems Verify found in ErrInvalidModel, on one line
// ("; " between problems) with the count, keeping every problem in the
// chain for errors.Is.
func damaged(err error) error {
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	msgs := make([]string, len(parts))
	for i, p := range parts {
		// "invalid model file: " would repeat ErrInvalidModel's text.
		msgs[i] = strings.TrimPrefix(p.Error(), lepfile.ErrFormat.Error()+": ")
	}
	what := "1 problem"
	if len(parts) > 1 {
		what = strconv.Itoa(len(parts)) + " problems"
	}
	return &modelError{msg: ErrInvalidModel.Error() + ": payload check failed (" + what + "): " + strings.Join(msgs, "; "), err: err}
}

// Close releases the model's memory mapping and worker threads. It waits
// for calls in progress to finish; later calls return ErrClosed. Calling
// Close more than once is harmless.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.pool.Close()
	return m.file.Close()
}

// Classification is the result of classifying one input.
type Classification struct {
	Label  string    // the most probable label
	Index  int       // its index in Info().Labels
	Probs  []float32 // softmax probability of every label
	Logits []float32 // the classifier's raw scores
	// Privacy is set under WithPrivateLabel: Label and Index are then the
	// privately released label, Probs and Logits nil, and this is its cost.
	Privacy *PrivacyCost
}

// Classify runs the classifier on each text and returns one result per
// text, in input order.
//
// Texts are tokenised with the model's own tokenizer. An empty text is the
// sequence [CLS] [SEP]. Invalid UTF-8 bytes decode to U+FFFD, which the BERT
// normaliser removes along with NUL and other control characters. Texts
// longer than the max length are truncated unless WithTruncation(false) was
// given. ctx is checked between encoder layers: a cancelled call returns
// ctx.Err() promptly and no results. A nil ctx is an error wrapping
// ErrInvalidOption, as it is for every method that takes one.
func (m *Model) Classify(ctx context.Context, texts []string, opts ...CallOption) ([]Classification, error) {
	return m.classify(ctx, texts, nil, opts)
}

// ClassifyPairs classifies text pairs (premise and hypothesis, question and
// passage, ...), encoded as [CLS] a [SEP] b [SEP] with token types 0 and 1.
// Over-long pairs lose tokens from the longer text first.
func (m *Model) ClassifyPairs(ctx context.Context, pairs [][2]string, opts ...CallOption) ([]Classification, error) {
	return m.classify(ctx, nil, pairs, opts)
}

func (m *Model) classify(ctx context.Context, texts []string, pairs [][2]string, opts []CallOption) ([]Classification, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.net.Classifier == nil {
		use := "use Embed"
		if m.net.TokenClassifier != nil {
			use = "use Tag"
		}
		return nil, fmt.Errorf("%w (architecture %s): %s", ErrNoClassifier, m.net.Config.Architecture, use)
	}
	n := max(len(texts), len(pairs))
	st := m.getState()
	defer m.states.Put(st)
	cc, err := m.callConfig(st, opts)
	if err != nil {
		return nil, err
	}
	if err := cc.fair.check(n, len(m.labels)); err != nil {
		return nil, err
	}
	if n == 0 {
		return []Classification{}, nil
	}
	if err := m.encode(st, texts, pairs, cc); err != nil {
		return nil, err
	}
	nl := len(m.labels)
	out := make([]Classification, n)
	buf := make([]float32, 2*n*nl) // one allocation for every Probs and Logits
	var bad error
	fill := func(k int, logits []float32) {
		if bad == nil && !finite(logits) {
			bad = nonFinite(k)
		}
		lg := buf[2*k*nl : (2*k+1)*nl : (2*k+1)*nl]
		pr := buf[(2*k+1)*nl : (2*k+2)*nl : (2*k+2)*nl]
		copy(lg, logits)
		bert.Softmax(pr, lg)
		best := 0
		for j, v := range lg {
			if v > lg[best] {
				best = j
			}
		}
		out[k] = Classification{Label: m.labels[best], Index: best, Probs: pr, Logits: lg}
	}
	if cc.reference != nil {
		for k := 0; err == nil && k < n; k++ {
			var ref *bert.RefOutput
			if ref, err = cc.reference(m, ctx, st, k); err == nil {
				fill(k, ref.Logits)
			}
		}
	} else {
		err = m.run(ctx, st, func(first int, ws *bert.Workspace) error {
			logits, err := m.net.Logits(ws)
			if err != nil {
				return err
			}
			for i := 0; i < len(logits)/nl; i++ {
				fill(first+i, logits[i*nl:(i+1)*nl])
			}
			return nil
		})
	}
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, err
	}
	// Calibration, then private release (fairness_options.go,
	// privacy_options.go), when their options asked for them. They get
	// st.cc (equal to cc): a pointer to the pooled state, as a pointer to
	// the local cc would move it to the heap on every call.
	if cc.fair.apply != nil {
		if err := cc.fair.apply(m, &st.cc, out); err != nil {
			return nil, err
		}
	}
	if cc.priv.applyLabel != nil {
		if err := cc.priv.applyLabel(m, &st.cc, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Embed returns one vector (of Info().Hidden values) per text, in input
// order, pooled as WithPooling says (default: the model's pooling) and
// optionally normalised to unit length (WithNormalize). Tokenisation,
// truncation and cancellation behave as in Classify.
func (m *Model) Embed(ctx context.Context, texts []string, opts ...CallOption) ([][]float32, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	st := m.getState()
	defer m.states.Put(st)
	cc, err := m.callConfig(st, opts)
	if err != nil {
		return nil, err
	}
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	pool := bert.PoolCLS
	switch cc.pooling {
	case PoolMean:
		pool = bert.PoolMean
	case PoolDefault:
		if p, err := bert.ParsePooling(m.net.Config.Pooling); err == nil {
			pool = p
		}
	}
	if err := m.encode(st, texts, nil, cc); err != nil {
		return nil, err
	}
	h := m.net.Config.Hidden
	out := make([][]float32, len(texts))
	buf := make([]float32, len(texts)*h)
	if cc.reference != nil {
		for k := 0; err == nil && k < len(texts); k++ {
			var ref *bert.RefOutput
			if ref, err = cc.reference(m, ctx, st, k); err == nil {
				out[k] = buf[k*h : (k+1)*h : (k+1)*h]
				copy(out[k], bert.RefPool(ref.Hidden, h, pool, cc.normalize))
			}
		}
	} else {
		err = m.run(ctx, st, func(first int, ws *bert.Workspace) error {
			for i := 0; i < ws.Seqs(); i++ {
				k := first + i
				v := buf[k*h : (k+1)*h : (k+1)*h]
				ws.Embed(v, i, pool, cc.normalize)
				out[k] = v
			}
			return nil
		})
	}
	for k := 0; err == nil && k < len(out); k++ {
		if !finite(out[k]) {
			err = nonFinite(k)
		}
	}
	if err != nil {
		return nil, err
	}
	if cc.priv.applyEmbed != nil { // WithPrivateEmbedding (privacy_options.go); st.cc as in classify
		if err := cc.priv.applyEmbed(m, &st.cc, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// callConfig resolves the settings of one call: the Model's defaults
// overridden by opts. It works on st.cc so that options, which take a
// pointer through an interface, do not make every call allocate.
func (m *Model) callConfig(st *callState, opts []CallOption) (callConfig, error) {
	st.cc = m.cfg.defaults
	cc := &st.cc
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyCall(cc); err != nil {
			return *cc, err
		}
	}
	if cc.maxLength == 0 {
		cc.maxLength = m.net.Config.MaxPositions
	}
	if cc.reference != nil && !m.hasFloat32() {
		return *cc, fmt.Errorf("%w: WithFloat32 needs the fp32 weights, and this file has none (convert with --keep-fp32)", ErrInvalidOption)
	}
	if cc.maxLength > m.net.Config.MaxPositions {
		return *cc, fmt.Errorf("%w: max length %d exceeds the model's %d positions", ErrInvalidOption, cc.maxLength, m.net.Config.MaxPositions)
	}
	if err := cc.priv.check(); err != nil { // privacy_options.go
		return *cc, err
	}
	return *cc, nil
}

func (m *Model) getState() *callState {
	if st, ok := m.states.Get().(*callState); ok {
		return st
	}
	return &callState{ws: bert.Workspace{Pool: m.pool, ActBits: m.cfg.actBits}, enc: m.tok.NewEncoder()}
}

// encode tokenises every input into st.ids / st.tids / st.ends.
func (m *Model) encode(st *callState, texts []string, pairs [][2]string, cc callConfig) error {
	opt := tokenize.EncodeOptions{MaxLength: cc.maxLength, Truncation: tokenize.LongestFirst, ErrorOnTruncate: !cc.truncate}
	st.ids, st.tids, st.ends = st.ids[:0], st.tids[:0], st.ends[:0]
	n := max(len(texts), len(pairs))
	for i := 0; i < n; i++ {
		var (
			enc *tokenize.Encoding
			err error
		)
		if pairs != nil {
			enc, err = st.enc.EncodePair(pairs[i][0], pairs[i][1], opt)
		} else {
			enc, err = st.enc.Encode(texts[i], opt)
		}
		if err != nil {
			if errors.Is(err, tokenize.ErrTooLong) {
				return fmt.Errorf("%w: input %d: %w", ErrTooLong, i, err)
			}
			return fmt.Errorf("%w: input %d: %w", ErrInvalidInput, i, err)
		}
		st.ids = append(st.ids, enc.IDs...)
		st.tids = append(st.tids, enc.TypeIDs...)
		st.ends = append(st.ends, len(st.ids))
	}
	return nil
}

// run pushes the encoded inputs through the encoder in batches and calls
// emit with the index of each batch's first input.
func (m *Model) run(ctx context.Context, st *callState, emit func(first int, ws *bert.Workspace) error) error {
	n := len(st.ends)
	for first := 0; first < n; {
		st.seqs = st.seqs[:0]
		tokens := 0
		for k := first; k < n && len(st.seqs) < maxBatchSeqs; k++ {
			s := st.seq(k)
			if len(st.seqs) > 0 && tokens+len(s.IDs) > maxBatchTokens {
				break
			}
			tokens += len(s.IDs)
			st.seqs = append(st.seqs, s)
		}
		if err := m.net.Forward(ctx, &st.ws, st.seqs); err != nil {
			return inputError(err)
		}
		if err := emit(first, &st.ws); err != nil {
			return err
		}
		first += len(st.seqs)
	}
	return nil
}

// runReference runs encoded input k through the float reference path
// (WithFloat32).
func (m *Model) runReference(ctx context.Context, st *callState, k int) (*bert.RefOutput, error) {
	ref, err := m.net.Reference(ctx, st.seq(k))
	if err != nil {
		return nil, inputError(err)
	}
	return ref, nil
}

// seq returns encoded input k as a sequence aliasing st.ids and st.tids.
func (st *callState) seq(k int) bert.Sequence {
	start := 0
	if k > 0 {
		start = st.ends[k-1]
	}
	return bert.Sequence{IDs: st.ids[start:st.ends[k]], TypeIDs: st.tids[start:st.ends[k]]}
}

// inputError maps the encoder's ErrInput to ErrInvalidInput, keeping both in
// the chain; other errors (context, model) pass through.
func inputError(err error) error {
	if errors.Is(err, bert.ErrInput) {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return err
}

// errNilContext is returned by every method given a nil context, which
// would otherwise panic deep inside the encoder; context.Background() is
// the context for a call that never needs cancelling.
var errNilContext = fmt.Errorf("%w: nil context (use context.Background())", ErrInvalidOption)

// finite reports whether every value of x is finite.
func finite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// nonFinite is the error for NaN or infinite outputs. Open checks the
// file's structure but not every payload (that is O(size)); damaged weights
// surface here instead of as silent garbage.
func nonFinite(input int) error {
	return fmt.Errorf("%w: input %d produced non-finite outputs; the weights may be damaged (check with Model.Verify or 'lepton verify')", ErrInvalidModel, input)
}

// hasFloat32 reports whether the file carries the float weights the
// reference path needs (written with --keep-fp32); lepfile stores all of
// them or none.
func (m *Model) hasFloat32() bool {
	return m.net.Word.F32 != nil && (len(m.net.Layers) == 0 || m.net.Layers[0].QKV.F32 != nil)
}

// Info describes an open model.
type Info struct {
	Architecture string // "BertModel", "BertForSequenceClassification" or "BertForTokenClassification"
	Layers       int
	Hidden       int // embedding size
	Heads        int
	Intermediate int
	Vocab        int
	MaxPositions int
	TypeVocab    int
	Pooling      string   // the model's default pooling: "cls" or "mean"
	Labels       []string // classifier labels by index (per text, or per token for Tag); empty for encoders
	Kernel       string   // the int8 kernel tier in use (quant.KernelName)
	ActBits      int      // activation precision of the int8 path (WithActivationBits)
	Threads      int      // goroutines per call
	MaxLength    int      // default max tokens per input
	Mapped       bool     // weights are memory-mapped (not copied)
	HasFloat32   bool     // the file keeps fp32 weights: WithFloat32 works
	Format       string   // .lep format version, "major.minor"
	Metadata     map[string]string
}

// Info returns the model's configuration and runtime settings. It works on
// a closed model too (the configuration is kept).
func (m *Model) Info() Info {
	c := &m.net.Config
	maxLen := m.cfg.defaults.maxLength
	if maxLen == 0 {
		maxLen = c.MaxPositions
	}
	pooling := c.Pooling
	if pooling == "" {
		pooling = "cls"
	}
	return Info{
		Architecture: c.Architecture, Layers: c.Layers, Hidden: c.Hidden, Heads: c.Heads,
		Intermediate: c.Intermediate, Vocab: c.Vocab, MaxPositions: c.MaxPositions, TypeVocab: c.TypeVocab,
		Pooling: pooling, Labels: append([]string(nil), m.labels...), Kernel: quant.KernelName(),
		ActBits: m.cfg.actBits, Threads: m.cfg.threads, MaxLength: maxLen, Mapped: m.file.Mapped, HasFloat32: m.hasFloat32(),
		Format:   strconv.Itoa(m.file.Major) + "." + strconv.Itoa(m.file.Minor),
		Metadata: maps.Clone(map[string]string(m.file.Meta)),
	}
}
