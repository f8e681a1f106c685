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
	unk    int32     // the tokenizer's unknown token, -1 without one (Diagnostics.Unknown)
	states sync.Pool // *callState

	f32Once sync.Once // checks the fp32 weight copies on the first WithFloat32 call
	f32Err  error
	scratch int64 // worst-case scratch of one call (checkScratch)
}

// callState is the scratch of one call, recycled through Model.states so
// steady-state calls allocate only their results.
type callState struct {
	ws   bert.Workspace
	enc  *tokenize.Encoder
	ids  []int32 // token ids of every input, back to back
	tids []int32 // token type ids, same layout
	ends []int   // ends[i]: end of input i in ids
	diag []Diagnostics
	seqs []bert.Sequence
	cc   callConfig
	plan embedPlan // Embed's pooling, normalisation and prompt (sentence.go)
}

// Open maps the .lep model file at path read-only, validates it (header,
// section table, tensor directory and their CRC32C checksums; every float
// parameter except the optional fp32 weight copies is finite; payloads are
// checked by WithVerify, Model.Verify or `lepton verify`) and returns a
// Model whose weights alias the mapping: opening takes about the same time
// whatever the model's size. Where mapping is not possible, or under
// WithMmap(false), the file is read into memory.
//
// A missing file returns an error wrapping fs.ErrNotExist; anything that is
// not a valid .lep file returns an error wrapping ErrInvalidModel, as does
// a model whose calls could need more scratch memory than WithScratchLimit
// allows.
func Open(path string, opts ...Option) (*Model, error) {
	cfg, err := newModelConfig(opts)
	if err != nil {
		return nil, err
	}
	var lopts []lepfile.Option
	if cfg.noMmap {
		lopts = append(lopts, lepfile.WithoutMmap())
	}
	f, err := lepfile.Open(path, lopts...)
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
	cfg := modelConfig{actBits: DefaultActivationBits, scratchLimit: DefaultScratchLimit, defaults: callConfig{truncate: true}}
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
	_, _, _, unk, _ := tok.SpecialIDs()
	m := &Model{file: f, net: net, tok: tok, cfg: cfg, unk: unk}
	if err := m.checkScratch(); err != nil {
		return nil, err
	}
	m.pool = quant.NewPool(cfg.threads)
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

// worstBatch is the largest batch a call runs: the model's longest input
// (max positions, which WithMaxLength cannot exceed) in a batch of the
// most tokens and sequences run's batching allows.
func (m *Model) worstBatch() bert.Batch {
	p := m.net.Config.MaxPositions
	return bert.Batch{Tokens: max(maxBatchTokens, p), Seqs: maxBatchSeqs, Longest: p, Threads: m.cfg.threads}
}

// checkScratch refuses a model whose calls could need more scratch memory
// than the limit: the worst batch of the int8 path and, when the file has
// float weights (WithFloat32), twice the reference path's per-layer
// allocation for the longest input.
func (m *Model) checkScratch() error {
	need := m.net.Scratch(m.worstBatch())
	path := "int8 path"
	if m.hasFloat32() {
		if ref := 2 * m.net.ReferenceScratch(m.net.Config.MaxPositions); ref > need {
			need, path = ref, "fp32 reference path (WithFloat32)"
		}
	}
	m.scratch = need
	if need <= m.cfg.scratchLimit {
		return nil
	}
	c := &m.net.Config
	return fmt.Errorf("%w: a call may need %s of scratch memory (%s, inputs of %d tokens: max_positions %d, hidden %d, intermediate %d, %d threads), over the limit of %s; raise it with WithScratchLimit if the model is trusted",
		ErrInvalidModel, scratchBytes(need), path, c.MaxPositions, c.MaxPositions, c.Hidden, c.Intermediate, m.cfg.threads, scratchBytes(m.cfg.scratchLimit))
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
	Label string // the most probable label
	Index int    // its index in Info().Labels
	// Probs holds the softmax probability of every label. A single-output
	// head (a cross-encoder; see Rerank) has one value instead: its score,
	// the logit through Info().ScoreActivation (a sigmoid probability by
	// default).
	Probs  []float32
	Logits []float32 // the classifier's raw scores
	// Privacy is set under WithPrivateLabel: Label and Index are then the
	// privately released label, Probs and Logits nil, and this is its cost.
	Privacy *PrivacyCost
	// Diagnostics say how much of the input the model read: check them
	// before trusting an answer about an empty, cut or unreadable text.
	Diagnostics Diagnostics
}

// Diagnostics describe how the model read one input, so that a caller can
// tell an answer about the text from a confident answer about almost
// nothing: a classifier always picks a label, even for an empty text, a
// text in a script its vocabulary lacks, or the first few lines of a long
// document.
//
// They describe the caller's own input and are not privatised: under
// WithPrivateLabel or WithPrivateEmbedding they are still exact, so do
// not release them with the private output.
type Diagnostics struct {
	// Tokens is the number of the input's own tokens the model read:
	// special tokens ([CLS], [SEP]) excluded, so 0 for an empty text, one
	// of white space only, or one the normaliser empties (control
	// characters); at most the max length minus the special tokens.
	Tokens int
	// Truncated reports that the input had more tokens than the max
	// length (WithMaxLength, default the model's) and its end was not
	// read. WithTruncation(false) makes such inputs an error instead.
	Truncated bool
	// Unknown is the share of Tokens that are the tokenizer's unknown
	// token ([UNK]), in [0, 1] (0 when Tokens is 0): characters or words
	// the vocabulary cannot spell, such as emoji, or Chinese for an
	// English vocabulary. An input that is mostly unknown tells the model
	// little whatever it answers.
	Unknown float64
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
	if err := m.encode(ctx, st, texts, pairs, cc); err != nil {
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
		if nl == 1 {
			// A single-output head (cross-encoder) has a score, not a
			// distribution: its activation of the logit (Info().ScoreActivation).
			pr[0] = bert.Score(lg[0], m.net.Config.ScoreActivation)
		} else {
			bert.Softmax(pr, lg)
		}
		best := 0
		for j, v := range lg {
			if v > lg[best] {
				best = j
			}
		}
		out[k] = Classification{Label: m.labels[best], Index: best, Probs: pr, Logits: lg, Diagnostics: st.diag[k]}
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
			logits, err := m.net.LogitsContext(ctx, ws)
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

// Embed returns one vector per text, in input order: the text (after the
// model's default prompt, if it has one, or WithPrompt's) is encoded and its
// token vectors pooled as WithPooling says (default: the model's pooling,
// Info().Pooling; vectors have Info().EmbeddingDim values) and normalised to
// unit length if WithNormalize says so (default: Info().Normalize). For a
// model converted from a sentence-transformers folder these defaults are
// the folder's, so the vectors are those of its encode(). Tokenisation,
// truncation and cancellation behave as in Classify. EmbedDetailed returns
// each vector with its input's Diagnostics.
func (m *Model) Embed(ctx context.Context, texts []string, opts ...CallOption) ([][]float32, error) {
	return m.embed(ctx, texts, opts, nil, nil)
}

// Embedding is one vector of EmbedDetailed with what is known about its
// input.
type Embedding struct {
	Vector []float32
	// Diagnostics say how much of the input the model read (see
	// Classification.Diagnostics).
	Diagnostics Diagnostics
	// Privacy is set under WithPrivateEmbedding: Vector is then the
	// private release, and this is its cost (as EmbedPrivate returns).
	Privacy *PrivacyCost
}

// EmbedDetailed is Embed returning, with each vector, its input's
// Diagnostics and, under WithPrivateEmbedding, its privacy cost.
func (m *Model) EmbedDetailed(ctx context.Context, texts []string, opts ...CallOption) ([]Embedding, error) {
	diag := make([]Diagnostics, len(texts))
	var costs []PrivacyCost
	vecs, err := m.embed(ctx, texts, opts, diag, &costs)
	if err != nil {
		return nil, err
	}
	out := make([]Embedding, len(vecs))
	for i, v := range vecs {
		out[i] = Embedding{Vector: v, Diagnostics: diag[i]}
		if costs != nil {
			out[i].Privacy = &costs[i]
		}
	}
	return out, nil
}

// embed is Embed. When diag is not nil it receives each input's
// diagnostics; when costs is not nil and the call releases privately it
// receives each vector's cost.
func (m *Model) embed(ctx context.Context, texts []string, opts []CallOption, diag []Diagnostics, costs *[]PrivacyCost) ([][]float32, error) {
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
	if costs != nil && cc.priv.applyEmbed != nil && cc.priv.sink == nil {
		c := make([]PrivacyCost, len(texts))
		*costs = c
		st.cc.priv.sink = func(i int, cost PrivacyCost) { c[i] = cost }
	}
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	plan, err := m.embedPlan(st, &cc) // pooling, normalisation, prompt (sentence.go)
	if err != nil {
		return nil, err
	}
	if err := m.encode(ctx, st, plan.texts(texts), nil, cc); err != nil {
		return nil, err
	}
	if diag != nil {
		copy(diag, st.diag)
		if plan.hasPrompt {
			m.unprompt(st, plan.prompt, diag)
		}
	}
	h, dim := m.net.Config.Hidden, plan.dim
	out := make([][]float32, len(texts))
	buf := make([]float32, len(texts)*dim)
	if cc.reference != nil {
		for k := 0; err == nil && k < len(texts); k++ {
			var ref *bert.RefOutput
			if ref, err = cc.reference(m, ctx, st, k); err == nil {
				out[k] = buf[k*dim : (k+1)*dim : (k+1)*dim]
				plan.pool(out[k], ref.Hidden, h)
			}
		}
	} else {
		err = m.run(ctx, st, func(first int, ws *bert.Workspace) error {
			for i := 0; i < ws.Seqs(); i++ {
				k := first + i
				out[k] = buf[k*dim : (k+1)*dim : (k+1)*dim]
				plan.pool(out[k], ws.Hidden(i), h)
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
		cc.maxLength = m.defaultMaxLength()
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
	return &callState{ws: bert.Workspace{Pool: m.pool, ActBits: m.cfg.actBits, MaxScratch: m.cfg.scratchLimit}, enc: m.tok.NewEncoder()}
}

// encode tokenises every input into st.ids / st.tids / st.ends, looking at
// ctx as it goes (tokenize.Encoder.EncodeContext).
func (m *Model) encode(ctx context.Context, st *callState, texts []string, pairs [][2]string, cc callConfig) error {
	opt := tokenize.EncodeOptions{MaxLength: cc.maxLength, Truncation: tokenize.LongestFirst, ErrorOnTruncate: !cc.truncate}
	st.ids, st.tids, st.ends, st.diag = st.ids[:0], st.tids[:0], st.ends[:0], st.diag[:0]
	n := max(len(texts), len(pairs))
	for i := 0; i < n; i++ {
		var (
			enc *tokenize.Encoding
			err error
		)
		if pairs != nil {
			enc, err = st.enc.EncodePairContext(ctx, pairs[i][0], pairs[i][1], opt)
		} else {
			enc, err = st.enc.EncodeContext(ctx, texts[i], opt)
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return ctxErr
			}
			if errors.Is(err, tokenize.ErrTooLong) {
				return fmt.Errorf("%w: input %d: %w", ErrTooLong, i, err)
			}
			return fmt.Errorf("%w: input %d: %w", ErrInvalidInput, i, err)
		}
		st.ids = append(st.ids, enc.IDs...)
		st.tids = append(st.tids, enc.TypeIDs...)
		st.ends = append(st.ends, len(st.ids))
		st.diag = append(st.diag, m.diagnose(enc))
	}
	return nil
}

// diagnose measures one encoded input (see Diagnostics).
func (m *Model) diagnose(enc *tokenize.Encoding) Diagnostics {
	d := Diagnostics{Truncated: enc.Truncated}
	unknown := 0
	for j, id := range enc.IDs {
		if enc.SpecialTokensMask[j] != 0 {
			continue
		}
		d.Tokens++
		if id == m.unk {
			unknown++
		}
	}
	if d.Tokens > 0 {
		d.Unknown = float64(unknown) / float64(d.Tokens)
	}
	return d
}

// unprompt takes the prompt's own tokens out of diagnostics measured on
// prompt + text, so that they describe the caller's text: an empty text
// after a prompt is still empty.
func (m *Model) unprompt(st *callState, prompt string, diag []Diagnostics) {
	enc, err := st.enc.Encode(prompt, tokenize.EncodeOptions{})
	if err != nil {
		return
	}
	p := m.diagnose(enc)
	pUnk := int(math.Round(p.Unknown * float64(p.Tokens)))
	for i := range diag {
		d := &diag[i]
		unk := int(math.Round(d.Unknown*float64(d.Tokens))) - pUnk
		d.Tokens = max(d.Tokens-p.Tokens, 0)
		d.Unknown = 0
		if d.Tokens > 0 {
			d.Unknown = float64(min(max(unk, 0), d.Tokens)) / float64(d.Tokens)
		}
	}
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
	// Open checks the small float tensors; the fp32 copies are as large as
	// the model, so they are checked once, when first used.
	m.f32Once.Do(func() {
		if err := m.file.CheckFloatCopies(); err != nil {
			m.f32Err = invalidModel(err)
		}
	})
	if m.f32Err != nil {
		return nil, m.f32Err
	}
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

// inputError maps the encoder's ErrInput (and ErrScratch, a batch over the
// scratch limit, which Open's worst case rules out) to ErrInvalidInput,
// keeping both in the chain; other errors (context, model) pass through.
func inputError(err error) error {
	if errors.Is(err, bert.ErrInput) || errors.Is(err, bert.ErrScratch) {
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

// nonFinite is the error for NaN or infinite outputs. Open refuses
// non-finite float parameters, but int8 weights with extreme scales can
// still overflow; such outputs surface here instead of as silent garbage.
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
	Architecture string // "BertModel", "BertForSequenceClassification", "BertForTokenClassification", "DistilBertModel" or "DistilBertForSequenceClassification"
	Layers       int
	Hidden       int // hidden size
	Heads        int
	Intermediate int
	Vocab        int
	MaxPositions int
	TypeVocab    int
	// Pooling is the model's default pooling: "cls", "mean", "max", ...,
	// or several sentence-transformers modes joined by "+" ("cls+mean"),
	// whose vectors Embed concatenates.
	Pooling string
	// EmbeddingDim is the length of Embed's vectors under the default
	// pooling: Hidden times the number of pooling modes.
	EmbeddingDim int
	// Normalize reports whether Embed normalises vectors by default (a
	// sentence-transformers Normalize module).
	Normalize bool
	// Prompts are the model's named prompts (WithPrompt), DefaultPrompt
	// the one Embed prepends unless told otherwise ("" none).
	Prompts       map[string]string
	DefaultPrompt string
	Labels        []string // classifier labels by index (per text, or per token for Tag); empty for encoders
	// ScoreActivation is how a single-output head's logit becomes the
	// Score of Rerank (and the one probability of Classify): "sigmoid",
	// "identity" or "tanh"; "" for other models.
	ScoreActivation string
	Kernel          string // the int8 kernel tier in use (quant.KernelName)
	ActBits         int    // activation precision of the int8 path (WithActivationBits)
	Threads         int    // goroutines per call
	MaxLength       int    // default max tokens per input (the model's max_seq_length or model_max_length, else MaxPositions)
	Mapped          bool   // weights are memory-mapped (not copied)
	Scratch         int64  // worst-case scratch memory of one call, bytes (see WithScratchLimit)
	ScratchLimit    int64  // the limit Open checked Scratch against
	HasFloat32      bool   // the file keeps fp32 weights: WithFloat32 works
	Format          string // .lep format version, "major.minor"
	Metadata        map[string]string
}

// Info returns the model's configuration and runtime settings. It works on
// a closed model too (the configuration is kept).
func (m *Model) Info() Info {
	c := &m.net.Config
	maxLen := m.cfg.defaults.maxLength
	if maxLen == 0 {
		maxLen = m.defaultMaxLength()
	}
	mode, _ := bert.ParsePooling(c.Pooling) // validated at Open
	return Info{
		Architecture: c.Architecture, Layers: c.Layers, Hidden: c.Hidden, Heads: c.Heads,
		Intermediate: c.Intermediate, Vocab: c.Vocab, MaxPositions: c.MaxPositions, TypeVocab: c.TypeVocab,
		Pooling: mode.String(), EmbeddingDim: mode.Dim(c.Hidden), Normalize: c.Normalize,
		Prompts: maps.Clone(c.Prompts), DefaultPrompt: c.DefaultPrompt,
		Labels: append([]string(nil), m.labels...), ScoreActivation: c.ScoreActivation, Kernel: quant.KernelName(),
		ActBits: m.cfg.actBits, Threads: m.cfg.threads, MaxLength: maxLen, Mapped: m.file.Mapped, HasFloat32: m.hasFloat32(),
		Scratch: m.scratch, ScratchLimit: m.cfg.scratchLimit,
		Format:   strconv.Itoa(m.file.Major) + "." + strconv.Itoa(m.file.Minor),
		Metadata: maps.Clone(map[string]string(m.file.Meta)),
	}
}

// defaultMaxLength is the max length of a call without WithMaxLength: the
// one the model file records (a sentence-transformers max_seq_length, a
// tokenizer's model_max_length), else the position table.
func (m *Model) defaultMaxLength() int {
	if n := m.net.Config.MaxLength; n > 0 {
		return n
	}
	return m.net.Config.MaxPositions
}
