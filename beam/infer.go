package leptonbeam

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"lepton"
)

func init() {
	register.DoFn6x1[context.Context, beam.Window, beam.EventTime, Record, func(beam.EventTime, Classified), func(beam.EventTime, DeadLetter), error](&ClassifyFn{})
	register.DoFn6x1[context.Context, beam.Window, beam.EventTime, Record, func(beam.EventTime, Embedded), func(beam.EventTime, DeadLetter), error](&EmbedFn{})
	register.Emitter2[beam.EventTime, Classified]()
	register.Emitter2[beam.EventTime, Embedded]()
	register.Emitter2[beam.EventTime, DeadLetter]()
}

// Record is one text to run, with an identifier that its result or dead
// letter carries ("" when the input has none).
type Record struct {
	ID   string `json:"id,omitempty"`
	Text string `json:"text"`
}

// Classified is the classification of one Record, with the fields and
// JSON names of a line of `lepton classify --json` (its "line" is "id"
// here): the most probable label, its probability, the labels by
// probability, and the input's lepton.Diagnostics.
type Classified struct {
	ID    string      `json:"id,omitempty"`
	Text  string      `json:"text,omitempty"` // under Options.KeepText
	Label string      `json:"label"`          // the most probable label
	Index int         `json:"index"`          // its index in the model's labels
	Score float32     `json:"score"`          // its probability
	Top   []LabelProb `json:"top"`            // labels by probability, ties in label order (Options.TopK)
	// Diagnostics (lepton.Diagnostics): the input's own tokens read,
	// whether it was cut at the max length, and its share of [UNK].
	Tokens    int     `json:"tokens"`
	Truncated bool    `json:"truncated"`
	Unknown   float64 `json:"unknown"` // exact here; FormatJSON rounds it to 4 decimals as the CLI does
}

// LabelProb is a label and its probability.
type LabelProb struct {
	Label string  `json:"label"`
	Prob  float32 `json:"prob"`
}

// Embedded is the vector of one Record, with the fields of a line of
// `lepton embed --json` ("line" is "id" here).
type Embedded struct {
	ID        string    `json:"id,omitempty"`
	Text      string    `json:"text,omitempty"` // under Options.KeepText
	Vector    []float32 `json:"vector"`
	Tokens    int       `json:"tokens"`
	Truncated bool      `json:"truncated"`
	Unknown   float64   `json:"unknown"`
}

// DeadLetter is a record that was not run, and why.
type DeadLetter struct {
	ID string `json:"id,omitempty"`
	// Input is the record's text or, for ReasonParse, the whole input line,
	// byte for byte.
	Input  string `json:"input"`
	Reason string `json:"reason"` // one of the Reason constants
	Error  string `json:"error"`  // the detail, for a person
}

// The reasons of dead letters. The first four mirror what `lepton
// classify` skips or refuses (blank lines, NUL bytes, inputs with no
// tokens, --no-truncate), so that a pipeline's results and dead letters
// together match the CLI's output line for line.
const (
	// ReasonEmpty: the text is empty or only white space (Checks.AllowEmpty
	// runs it instead, as the empty text [CLS] [SEP]).
	ReasonEmpty = "empty"
	// ReasonBinary: the text holds a NUL byte: binary data, not a text.
	ReasonBinary = "binary"
	// ReasonNoTokens: the text has no tokens once normalised (control
	// characters only, say): the model would read nothing of it
	// (lepton.Diagnostics.Tokens is 0). Checks.AllowEmpty keeps its result.
	ReasonNoTokens = "no_tokens"
	// ReasonTooLong: under Checks.Strict, the text has more tokens than the
	// max length (lepton.Diagnostics.Truncated); otherwise it is truncated
	// and its result says so.
	ReasonTooLong = "too_long"
	// ReasonInvalidUTF8: the text is not valid UTF-8. Lepton would decode
	// each bad byte to U+FFFD and drop it; Checks.AllowInvalidUTF8 lets it.
	ReasonInvalidUTF8 = "invalid_utf8"
	// ReasonTooLarge: the text has more bytes than Checks.MaxTextBytes.
	ReasonTooLarge = "too_large"
	// ReasonInvalidInput: the model refused the text (lepton.ErrInvalidInput).
	ReasonInvalidInput = "invalid_input"
	// ReasonParse: Read could not make a Record of the line (bad CSV or
	// JSON, no text field or column, an ID column missing).
	ReasonParse = "parse"
)

// Options configure the inference DoFns. The zero value of every field but
// Model is a working default.
type Options struct {
	Model  Model    `json:"model"`
	Batch  Batching `json:"batch"`
	Checks Checks   `json:"checks"`
	// KeepText copies each record's text into its result (off by default:
	// results are joined to inputs by ID, and texts can be large).
	KeepText bool `json:"keep_text,omitempty"`
	// TopK is how many labels Classified.Top lists, most probable first
	// (0: all, as `lepton classify --json` does). Classify only.
	TopK int `json:"top_k,omitempty"`
}

// Batching bounds the batches handed to one Lepton call. A batch is run
// when it holds MaxTexts texts, when adding a text would take it past
// MaxBytes bytes of text, and at the end of a bundle.
type Batching struct {
	MaxTexts int `json:"max_texts,omitempty"` // 0: DefaultBatchTexts
	MaxBytes int `json:"max_bytes,omitempty"` // 0: DefaultBatchBytes
}

// Batching defaults.
const (
	DefaultBatchTexts = 256
	DefaultBatchBytes = 1 << 20
)

// Checks decide which records go to the dead-letter output instead of the
// model (see the Reason constants).
type Checks struct {
	// AllowEmpty runs empty and white-space texts (default: ReasonEmpty)
	// and keeps the results of texts with no tokens (default:
	// ReasonNoTokens).
	AllowEmpty bool `json:"allow_empty,omitempty"`
	// AllowInvalidUTF8 runs texts that are not valid UTF-8 (default:
	// ReasonInvalidUTF8).
	AllowInvalidUTF8 bool `json:"allow_invalid_utf8,omitempty"`
	// MaxTextBytes bounds a text's size in bytes (0: DefaultMaxTextBytes;
	// negative: no bound). It keeps one giant line from being tokenised
	// only to be truncated.
	MaxTextBytes int `json:"max_text_bytes,omitempty"`
	// Strict sends texts longer than the max length, in tokens, to the
	// dead letters (ReasonTooLong) instead of classifying their beginning
	// (as `lepton classify --no-truncate` refuses them). Tag, which reads
	// long texts whole in windows, refuses it (ErrInvalidConfig).
	Strict bool `json:"strict,omitempty"`
	// MaxLength is lepton.WithMaxLength: tokens per text, [CLS] and [SEP]
	// included (0: the model's limit); for Tag, tokens per window.
	MaxLength int `json:"max_length,omitempty"`
}

// DefaultMaxTextBytes is Checks.MaxTextBytes' default: 1 MiB, some 2,000
// times what a 512-token BERT reads.
const DefaultMaxTextBytes = 1 << 20

// checkResult returns why a text whose result has diagnostics d goes to the
// dead letters after all, or "".
func (c Checks) checkResult(d lepton.Diagnostics, maxLength int) (reason, detail string) {
	switch {
	case d.Tokens == 0 && !c.AllowEmpty:
		return ReasonNoTokens, "no tokens once normalised (control characters only?)"
	case d.Truncated && c.Strict:
		return ReasonTooLong, fmt.Sprintf("longer than the max length of %d tokens (Checks.Strict)", maxLength)
	}
	return "", ""
}

func (o Options) validate() error {
	if err := o.Model.validate(); err != nil {
		return err
	}
	switch {
	case o.Batch.MaxTexts < 0:
		return fmt.Errorf("%w: Batch.MaxTexts %d is negative", ErrInvalidConfig, o.Batch.MaxTexts)
	case o.Batch.MaxBytes < 0:
		return fmt.Errorf("%w: Batch.MaxBytes %d is negative", ErrInvalidConfig, o.Batch.MaxBytes)
	case o.Checks.MaxLength != 0 && o.Checks.MaxLength < 3:
		return fmt.Errorf("%w: Checks.MaxLength %d: want 0 (the model's) or at least 3", ErrInvalidConfig, o.Checks.MaxLength)
	case o.TopK < 0:
		return fmt.Errorf("%w: TopK %d is negative", ErrInvalidConfig, o.TopK)
	}
	return nil
}

// callOptions are the lepton options every call of the DoFn uses.
// Truncation stays on, so that a batch never fails for one long text;
// Checks.Strict is applied to each result's Diagnostics.
func (o Options) callOptions() []lepton.CallOption {
	opts := []lepton.CallOption{lepton.WithTruncation(true)}
	if o.Checks.MaxLength != 0 {
		opts = append(opts, lepton.WithMaxLength(o.Checks.MaxLength))
	}
	return opts
}

// check returns why text goes to the dead letters before it reaches the
// model, or "".
func (c Checks) check(text string) (reason, detail string) {
	limit := c.MaxTextBytes
	if limit == 0 {
		limit = DefaultMaxTextBytes
	}
	if limit > 0 && len(text) > limit {
		return ReasonTooLarge, fmt.Sprintf("text has %d bytes, over the limit of %d (Checks.MaxTextBytes)", len(text), limit)
	}
	if strings.IndexByte(text, 0) >= 0 {
		return ReasonBinary, fmt.Sprintf("text holds a NUL byte at offset %d (binary data?)", strings.IndexByte(text, 0))
	}
	if !c.AllowInvalidUTF8 && !utf8.ValidString(text) {
		return ReasonInvalidUTF8, fmt.Sprintf("text is not valid UTF-8 (first bad byte at offset %d)", firstInvalid(text))
	}
	if !c.AllowEmpty && strings.TrimSpace(text) == "" {
		return ReasonEmpty, "text is empty or white space only"
	}
	return "", ""
}

func firstInvalid(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// Metrics, in namespace "lepton": visible in the runner's UI and in
// PipelineResult.Metrics().
var (
	textsRun          = beam.NewCounter("lepton", "texts")
	batchTexts        = beam.NewDistribution("lepton", "batch_texts")
	concurrentBundles = beam.NewDistribution("lepton", "concurrent_bundles")
	bundlesNow        atomic.Int64 // lepton bundles in progress in this process
)

// DeadLetterCounter returns the counter of dead letters for reason, in
// namespace "lepton" (named "dead_letters_" + reason).
func DeadLetterCounter(reason string) beam.Counter {
	return beam.NewCounter("lepton", "dead_letters_"+reason)
}

// pending is a record waiting in a batch.
type pending struct {
	rec Record
	ts  beam.EventTime
}

// batcher is what every inference DoFn has in common: the shared model,
// the checks, and the batch being filled. Each task (ClassifyFn, EmbedFn,
// TagFn) brings its own call and result type.
type batcher struct {
	opts    Options
	call    []lepton.CallOption
	model   *sharedModel
	release func()
	items   []pending
	texts   []string
	bytes   int
	started bool     // StartBundle ran and FinishBundle has not
	labels  []string // the model's labels
	maxLen  int      // the max length in force, for messages
}

func (b *batcher) setup(ctx context.Context, o Options, extra ...lepton.CallOption) error {
	if err := o.validate(); err != nil {
		return err
	}
	m, release, err := acquireModel(ctx, o.Model)
	if err != nil {
		return err
	}
	b.opts, b.model, b.release = o, m, release
	b.call = append(o.callOptions(), extra...)
	b.labels = m.model.Info().Labels
	b.maxLen = cmp0(o.Checks.MaxLength, m.model.Info().MaxLength)
	return nil
}

func (b *batcher) teardown() {
	if b.release != nil {
		b.release()
		b.release, b.model = nil, nil
	}
}

func (b *batcher) startBundle(ctx context.Context) {
	b.started = true
	concurrentBundles.Update(ctx, bundlesNow.Add(1))
}

// add checks r and adds it to the batch, running the batch through run
// when it is full. A record outside the global window is run on its own
// at once, so its results are emitted in its window.
func (b *batcher) add(ctx context.Context, w beam.Window, ts beam.EventTime, r Record, dead func(beam.EventTime, DeadLetter), run func(context.Context, []pending, []string) error) error {
	if reason, detail := b.opts.Checks.check(r.Text); reason != "" {
		emitDead(ctx, dead, ts, DeadLetter{ID: r.ID, Input: r.Text, Reason: reason, Error: detail})
		return nil
	}
	if _, global := w.(window.GlobalWindow); !global {
		return run(ctx, []pending{{r, ts}}, []string{r.Text})
	}
	maxBytes := cmp0(b.opts.Batch.MaxBytes, DefaultBatchBytes)
	if len(b.items) > 0 && b.bytes+len(r.Text) > maxBytes {
		if err := b.flush(ctx, run); err != nil {
			return err
		}
	}
	b.items = append(b.items, pending{r, ts})
	b.texts = append(b.texts, r.Text)
	b.bytes += len(r.Text)
	if len(b.items) >= cmp0(b.opts.Batch.MaxTexts, DefaultBatchTexts) || b.bytes >= maxBytes {
		return b.flush(ctx, run)
	}
	return nil
}

// flush runs the batch and empties it.
func (b *batcher) flush(ctx context.Context, run func(context.Context, []pending, []string) error) error {
	if len(b.items) == 0 {
		return nil
	}
	batchTexts.Update(ctx, int64(len(b.items)))
	err := run(ctx, b.items, b.texts)
	clear(b.items) // drop references to the texts
	clear(b.texts)
	b.items, b.texts, b.bytes = b.items[:0], b.texts[:0], 0
	return err
}

func (b *batcher) finishBundle(ctx context.Context, run func(context.Context, []pending, []string) error) error {
	if b.started {
		b.started = false
		bundlesNow.Add(-1)
	}
	return b.flush(ctx, run)
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// runBatch makes one Lepton call for a batch and hands each record's result
// to ok. When the call fails because of a record (lepton.ErrTooLong,
// lepton.ErrInvalidInput), it halves the batch until the failing records
// are alone, and hands those to bad; the others still get their results,
// identical to those of the whole batch. Any other error (a cancelled
// context, a closed or damaged model) is returned and fails the bundle.
func runBatch[T any](ctx context.Context, items []pending, texts []string,
	call func(context.Context, []string) ([]T, error), ok func(pending, T), bad func(pending, error)) error {
	res, err := call(ctx, texts)
	if err == nil {
		if len(res) != len(items) {
			return fmt.Errorf("leptonbeam: lepton returned %d results for %d texts", len(res), len(items))
		}
		for i := range items {
			ok(items[i], res[i])
		}
		textsRun.Inc(ctx, int64(len(items)))
		return nil
	}
	if !errors.Is(err, lepton.ErrTooLong) && !errors.Is(err, lepton.ErrInvalidInput) {
		return err
	}
	if len(items) == 1 {
		bad(items[0], err)
		return nil
	}
	h := len(items) / 2
	if err := runBatch(ctx, items[:h], texts[:h], call, ok, bad); err != nil {
		return err
	}
	return runBatch(ctx, items[h:], texts[h:], call, ok, bad)
}

// deadAfter sends a record whose result fails Checks to the dead letters
// and reports whether it did.
func (b *batcher) deadAfter(ctx context.Context, dead func(beam.EventTime, DeadLetter), p pending, d lepton.Diagnostics) bool {
	reason, detail := b.opts.Checks.checkResult(d, b.maxLen)
	if reason == "" {
		return false
	}
	emitDead(ctx, dead, p.ts, DeadLetter{ID: p.rec.ID, Input: p.rec.Text, Reason: reason, Error: detail})
	return true
}

// topLabels returns the k most probable labels (all for k = 0), ties in
// label order, as `lepton classify` lists them.
func topLabels(labels []string, probs []float32, k int) []LabelProb {
	if k == 0 || k > len(probs) {
		k = len(probs)
	}
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	out := make([]LabelProb, k)
	for j, i := range idx[:k] {
		out[j] = LabelProb{Label: labels[i], Prob: probs[i]}
	}
	return out
}

// deadFromError is the dead letter of a record the model refused.
func deadFromError(p pending, err error) DeadLetter {
	reason := ReasonInvalidInput
	if errors.Is(err, lepton.ErrTooLong) {
		reason = ReasonTooLong
	}
	return DeadLetter{ID: p.rec.ID, Input: p.rec.Text, Reason: reason, Error: err.Error()}
}

func emitDead(ctx context.Context, dead func(beam.EventTime, DeadLetter), ts beam.EventTime, d DeadLetter) {
	DeadLetterCounter(d.Reason).Inc(ctx, 1)
	dead(ts, d)
}

// ClassifyFn is the DoFn behind Classify: Records in, Classified out, and
// DeadLetters on its second output. Its exported fields are its
// configuration (serialised into the pipeline); build it with
// &ClassifyFn{Options: o} to use it in a ParDo2 of your own.
type ClassifyFn struct {
	Options
	b batcher
}

// Setup opens (or shares) the model.
func (f *ClassifyFn) Setup(ctx context.Context) error { return f.b.setup(ctx, f.Options) }

// StartBundle records the bundle in the concurrency metric. (Beam wants
// the emitters of ProcessElement on StartBundle too; it emits nothing.)
func (f *ClassifyFn) StartBundle(ctx context.Context, _ func(beam.EventTime, Classified), _ func(beam.EventTime, DeadLetter)) {
	f.b.startBundle(ctx)
}

// ProcessElement checks r and adds it to the batch, running the batch when
// it is full.
func (f *ClassifyFn) ProcessElement(ctx context.Context, w beam.Window, ts beam.EventTime, r Record,
	emit func(beam.EventTime, Classified), dead func(beam.EventTime, DeadLetter)) error {
	return f.b.add(ctx, w, ts, r, dead, f.runner(emit, dead))
}

// FinishBundle runs what is left in the batch.
func (f *ClassifyFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, Classified), dead func(beam.EventTime, DeadLetter)) error {
	return f.b.finishBundle(ctx, f.runner(emit, dead))
}

// Teardown releases the model.
func (f *ClassifyFn) Teardown() { f.b.teardown() }

func (f *ClassifyFn) runner(emit func(beam.EventTime, Classified), dead func(beam.EventTime, DeadLetter)) func(context.Context, []pending, []string) error {
	return func(ctx context.Context, items []pending, texts []string) error {
		return runBatch(ctx, items, texts,
			func(ctx context.Context, texts []string) (res []lepton.Classification, err error) {
				if cerr := f.b.model.call(ctx, func() { res, err = f.b.model.model.Classify(ctx, texts, f.b.call...) }); cerr != nil {
					return nil, cerr
				}
				return res, err
			},
			func(p pending, c lepton.Classification) {
				d := c.Diagnostics
				if f.b.deadAfter(ctx, dead, p, d) {
					return
				}
				out := Classified{ID: p.rec.ID, Label: c.Label, Index: c.Index, Score: c.Probs[c.Index],
					Top: topLabels(f.b.labels, c.Probs, f.TopK), Tokens: d.Tokens, Truncated: d.Truncated, Unknown: d.Unknown}
				if f.KeepText {
					out.Text = p.rec.Text
				}
				emit(p.ts, out)
			},
			func(p pending, err error) { emitDead(ctx, dead, p.ts, deadFromError(p, err)) })
	}
}

// EmbedFn is the DoFn behind Embed: Records in, Embedded out, DeadLetters
// on its second output.
type EmbedFn struct {
	Options
	Embedding
	b batcher
}

// Embedding says how Embed makes vectors; the zero value follows the
// model, as `lepton embed` does without flags.
type Embedding struct {
	// Pooling is "cls", "mean", "max" or "" for the model's own
	// (lepton.ParsePooling).
	Pooling string `json:"pooling,omitempty"`
	// Normalize, if set, says whether to scale vectors to unit length
	// (lepton.WithNormalize; nil: the model's setting).
	Normalize *bool `json:"normalize,omitempty"`
	// Prompt, if set, names the model's prompt to prepend, "" for none
	// (lepton.WithPrompt; nil: the model's default prompt).
	Prompt *string `json:"prompt,omitempty"`
}

func (e Embedding) options() ([]lepton.CallOption, error) {
	pool, err := lepton.ParsePooling(e.Pooling)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	opts := []lepton.CallOption{lepton.WithPooling(pool)}
	if e.Normalize != nil {
		opts = append(opts, lepton.WithNormalize(*e.Normalize))
	}
	if e.Prompt != nil {
		opts = append(opts, lepton.WithPrompt(*e.Prompt))
	}
	return opts, nil
}

// Setup opens (or shares) the model.
func (f *EmbedFn) Setup(ctx context.Context) error {
	opts, err := f.Embedding.options()
	if err != nil {
		return err
	}
	if err := f.b.setup(ctx, f.Options, opts...); err != nil {
		return err
	}
	if f.Prompt != nil && *f.Prompt != "" {
		if _, ok := f.b.model.model.Info().Prompts[*f.Prompt]; !ok {
			f.b.teardown()
			return fmt.Errorf("%w: the model has no prompt %q", ErrInvalidConfig, *f.Prompt)
		}
	}
	return nil
}

// StartBundle records the bundle in the concurrency metric.
func (f *EmbedFn) StartBundle(ctx context.Context, _ func(beam.EventTime, Embedded), _ func(beam.EventTime, DeadLetter)) {
	f.b.startBundle(ctx)
}

// ProcessElement checks r and adds it to the batch, running the batch when
// it is full.
func (f *EmbedFn) ProcessElement(ctx context.Context, w beam.Window, ts beam.EventTime, r Record,
	emit func(beam.EventTime, Embedded), dead func(beam.EventTime, DeadLetter)) error {
	return f.b.add(ctx, w, ts, r, dead, f.runner(emit, dead))
}

// FinishBundle runs what is left in the batch.
func (f *EmbedFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, Embedded), dead func(beam.EventTime, DeadLetter)) error {
	return f.b.finishBundle(ctx, f.runner(emit, dead))
}

// Teardown releases the model.
func (f *EmbedFn) Teardown() { f.b.teardown() }

func (f *EmbedFn) runner(emit func(beam.EventTime, Embedded), dead func(beam.EventTime, DeadLetter)) func(context.Context, []pending, []string) error {
	return func(ctx context.Context, items []pending, texts []string) error {
		return runBatch(ctx, items, texts,
			func(ctx context.Context, texts []string) (res []lepton.Embedding, err error) {
				if cerr := f.b.model.call(ctx, func() { res, err = f.b.model.model.EmbedDetailed(ctx, texts, f.b.call...) }); cerr != nil {
					return nil, cerr
				}
				return res, err
			},
			func(p pending, e lepton.Embedding) {
				d := e.Diagnostics
				if f.b.deadAfter(ctx, dead, p, d) {
					return
				}
				out := Embedded{ID: p.rec.ID, Vector: e.Vector, Tokens: d.Tokens, Truncated: d.Truncated, Unknown: d.Unknown}
				if f.KeepText {
					out.Text = p.rec.Text
				}
				emit(p.ts, out)
			},
			func(p pending, err error) { emitDead(ctx, dead, p.ts, deadFromError(p, err)) })
	}
}

// Classify classifies every Record of records with the model of o. It
// returns the PCollection of Classified and that of DeadLetter. It fails
// (ErrInvalidConfig) only for options that cannot work; the model itself
// is opened by the workers.
func Classify(s beam.Scope, records beam.PCollection, o Options) (results, dead beam.PCollection, err error) {
	if err := o.validate(); err != nil {
		return beam.PCollection{}, beam.PCollection{}, err
	}
	s = s.Scope("lepton.Classify")
	results, dead = beam.ParDo2(s, &ClassifyFn{Options: o}, records)
	return results, dead, nil
}

// Embed embeds every Record of records with the model of o, pooled,
// normalised and prompted as e says. It returns the PCollection of Embedded
// and that of DeadLetter.
func Embed(s beam.Scope, records beam.PCollection, o Options, e Embedding) (results, dead beam.PCollection, err error) {
	if err := o.validate(); err != nil {
		return beam.PCollection{}, beam.PCollection{}, err
	}
	if _, err := e.options(); err != nil {
		return beam.PCollection{}, beam.PCollection{}, err
	}
	s = s.Scope("lepton.Embed")
	results, dead = beam.ParDo2(s, &EmbedFn{Options: o, Embedding: e}, records)
	return results, dead, nil
}
