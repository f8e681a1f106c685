package leptonbeam

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"lepton"
)

func init() {
	register.DoFn6x1[context.Context, beam.Window, beam.EventTime, Record, func(beam.EventTime, Tagged), func(beam.EventTime, DeadLetter), error](&TagFn{})
	register.Emitter2[beam.EventTime, Tagged]()
}

// Tagged is the entities found in one Record by a token-classification
// model, with the fields of a line of `lepton tag --json` ("line" is "id"
// here).
type Tagged struct {
	ID       string   `json:"id,omitempty"`
	Text     string   `json:"text,omitempty"` // under Options.KeepText
	Entities []Entity `json:"entities"`       // in order of position
	// Diagnostics (lepton.Diagnostics): every token of the text is read
	// (long texts in overlapping windows), so there is no "truncated".
	Tokens  int     `json:"tokens"`
	Unknown float64 `json:"unknown"` // exact here; FormatJSON rounds it to 4 decimals as the CLI does
}

// Entity is one entity of a Tagged text: lepton.Entity with its offsets
// also in Unicode code points, as `lepton tag --json` prints them.
type Entity struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
	// Start and End are byte offsets into the text (text[Start:End] is
	// Text); CharStart and CharEnd the same positions in code points
	// (Python's string indices).
	Start     int    `json:"start"`
	End       int    `json:"end"`
	CharStart int    `json:"char_start"`
	CharEnd   int    `json:"char_end"`
	Text      string `json:"text"`
	// Index is the token's position under AggregateNone ([CLS] is 0), -1
	// for grouped entities; FormatJSON leaves it out when it is -1, as the
	// CLI does.
	Index int `json:"index"`
}

// Tagging says how Tag turns token predictions into entities; the zero
// value is what `lepton tag` does without flags.
type Tagging struct {
	// Aggregation is "none", "simple", "first", "average" or "max" (Hugging
	// Face's strategies, lepton.ParseAggregation); "" is "first".
	Aggregation string `json:"aggregation,omitempty"`
	// Ignore lists the labels left out of the results
	// (lepton.WithIgnoreLabels). nil means the default, "O"; an empty
	// non-nil slice keeps every token or group, "O" included.
	Ignore []string `json:"ignore"`
	// Stride, if set, is the number of tokens consecutive windows of a long
	// text share (lepton.WithStride; nil: a quarter of a window). It must
	// be less than a window's tokens of text, the max length less [CLS]
	// and [SEP].
	Stride *int `json:"stride,omitempty"`
}

func (t Tagging) options() ([]lepton.CallOption, error) {
	agg := lepton.AggregateFirst
	if t.Aggregation != "" {
		var err error
		if agg, err = lepton.ParseAggregation(t.Aggregation); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	opts := []lepton.CallOption{lepton.WithAggregation(agg)}
	if t.Ignore != nil {
		opts = append(opts, lepton.WithIgnoreLabels(t.Ignore...))
	}
	if t.Stride != nil {
		if *t.Stride < 0 {
			return nil, fmt.Errorf("%w: Tagging.Stride %d is negative", ErrInvalidConfig, *t.Stride)
		}
		opts = append(opts, lepton.WithStride(*t.Stride))
	}
	return opts, nil
}

// validateTag checks what Tag cannot do with o and t before any model is
// opened.
func validateTag(o Options, t Tagging) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Checks.Strict {
		return fmt.Errorf("%w: Checks.Strict does not apply to Tag, which reads long texts whole, in overlapping windows", ErrInvalidConfig)
	}
	_, err := t.options()
	return err
}

// TagFn is the DoFn behind Tag: Records in, Tagged out, DeadLetters on its
// second output.
type TagFn struct {
	Options
	Tagging
	b batcher
}

// Setup opens (or shares) the model and checks, with one tag call on a
// word, that it is a token classifier and takes the options (a stride
// shorter than its windows, a max length within its positions).
func (f *TagFn) Setup(ctx context.Context) error {
	if err := validateTag(f.Options, f.Tagging); err != nil {
		return err
	}
	opts, err := f.Tagging.options()
	if err != nil {
		return err
	}
	if err := f.b.setup(ctx, f.Options, opts...); err != nil {
		return err
	}
	if _, err := f.b.model.model.Tag(ctx, []string{"probe"}, f.b.call...); err != nil {
		f.b.teardown()
		return fmt.Errorf("%w: tagging with %s: %w", ErrInvalidConfig, f.Model, err)
	}
	return nil
}

// StartBundle records the bundle in the concurrency metric.
func (f *TagFn) StartBundle(ctx context.Context, _ func(beam.EventTime, Tagged), _ func(beam.EventTime, DeadLetter)) {
	f.b.startBundle(ctx)
}

// ProcessElement checks r and adds it to the batch, running the batch when
// it is full.
func (f *TagFn) ProcessElement(ctx context.Context, w beam.Window, ts beam.EventTime, r Record,
	emit func(beam.EventTime, Tagged), dead func(beam.EventTime, DeadLetter)) error {
	return f.b.add(ctx, w, ts, r, dead, f.runner(emit, dead))
}

// FinishBundle runs what is left in the batch.
func (f *TagFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, Tagged), dead func(beam.EventTime, DeadLetter)) error {
	return f.b.finishBundle(ctx, f.runner(emit, dead))
}

// Teardown releases the model.
func (f *TagFn) Teardown() { f.b.teardown() }

func (f *TagFn) runner(emit func(beam.EventTime, Tagged), dead func(beam.EventTime, DeadLetter)) func(context.Context, []pending, []string) error {
	return func(ctx context.Context, items []pending, texts []string) error {
		return runBatch(ctx, items, texts,
			func(ctx context.Context, texts []string) (res []lepton.Tagged, err error) {
				if cerr := f.b.model.call(ctx, func() { res, err = f.b.model.model.TagDetailed(ctx, texts, f.b.call...) }); cerr != nil {
					return nil, cerr
				}
				return res, err
			},
			func(p pending, t lepton.Tagged) {
				d := t.Diagnostics
				if f.b.deadAfter(ctx, dead, p, d) {
					return
				}
				out := Tagged{ID: p.rec.ID, Entities: entities(p.rec.Text, t.Entities), Tokens: d.Tokens, Unknown: d.Unknown}
				if f.KeepText {
					out.Text = p.rec.Text
				}
				emit(p.ts, out)
			},
			func(p pending, err error) { emitDead(ctx, dead, p.ts, deadFromError(p, err)) })
	}
}

// entities converts the entities of text, adding their code-point
// offsets. Entities come in order of position and do not overlap, so one
// walk along the text counts the code points of all of them.
func entities(text string, ents []lepton.Entity) []Entity {
	out := make([]Entity, len(ents))
	pos, chars := 0, 0
	charsAt := func(b int) int {
		if b < pos || b > len(text) { // out of order: count again (never expected)
			pos, chars = 0, 0
		}
		b = min(b, len(text))
		chars += utf8.RuneCountInString(text[pos:b])
		pos = b
		return chars
	}
	for i, e := range ents {
		out[i] = Entity{Label: e.Label, Score: e.Score, Start: e.Start, End: e.End, Text: e.Text, Index: e.Index}
		out[i].CharStart = charsAt(e.Start)
		out[i].CharEnd = charsAt(e.End)
	}
	return out
}

// Tag finds entities in every Record of records with the token-classification
// model of o (BertForTokenClassification, such as the de-identification
// model of lepton/models/deid), grouped as t says. It returns the
// PCollection of Tagged and that of DeadLetter. It fails
// (ErrInvalidConfig) only for options that cannot work, Checks.Strict among
// them: Tag reads long texts whole, in overlapping windows, and never
// truncates. The model itself is opened, and checked to be a token
// classifier, by the workers.
func Tag(s beam.Scope, records beam.PCollection, o Options, t Tagging) (results, dead beam.PCollection, err error) {
	if err := validateTag(o, t); err != nil {
		return beam.PCollection{}, beam.PCollection{}, err
	}
	s = s.Scope("lepton.Tag")
	results, dead = beam.ParDo2(s, &TagFn{Options: o, Tagging: t}, records)
	return results, dead, nil
}

// ParseIgnore splits a comma-separated list of labels, as `lepton tag
// --ignore` takes it, into Tagging.Ignore: "" (or only commas and blanks)
// gives an empty non-nil list, which keeps every label.
func ParseIgnore(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
