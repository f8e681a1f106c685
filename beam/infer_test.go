package leptonbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/models/clinic"
)

func TestChecks(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxTextBytes)
	for _, tc := range []struct {
		name   string
		checks Checks
		text   string
		reason string
	}{
		{"plain", Checks{}, "fever and chills", ""},
		{"empty", Checks{}, "", ReasonEmpty},
		{"white space", Checks{}, " \t\u00a0 ", ReasonEmpty},
		{"empty allowed", Checks{AllowEmpty: true}, "", ""},
		{"invalid UTF-8", Checks{}, "fever \xff chills", ReasonInvalidUTF8},
		{"truncated rune", Checks{}, "caf\xc3", ReasonInvalidUTF8},
		{"invalid UTF-8 allowed", Checks{AllowInvalidUTF8: true}, "fever \xff", ""},
		{"U+FFFD itself is valid", Checks{}, "fever \uFFFD", ""},
		{"NUL byte", Checks{}, "fever\x00chills", ReasonBinary},
		{"NUL byte, everything allowed", Checks{AllowEmpty: true, AllowInvalidUTF8: true}, "\x00", ReasonBinary},
		{"control characters only", Checks{}, "\x01\x02", ""}, // found by the model: ReasonNoTokens
		{"at the default size limit", Checks{}, long, ""},
		{"over the default size limit", Checks{}, long + "a", ReasonTooLarge},
		{"over a set limit", Checks{MaxTextBytes: 3}, "abcd", ReasonTooLarge},
		{"size before UTF-8", Checks{MaxTextBytes: 3}, "\xff\xff\xff\xff", ReasonTooLarge},
		{"no limit", Checks{MaxTextBytes: -1}, long + long, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, detail := tc.checks.check(tc.text)
			require.Equal(t, tc.reason, reason)
			require.Equal(t, reason == "", detail == "", "a reason comes with its detail")
		})
	}
	require.Equal(t, 6, firstInvalid("fever \xff chills"))
	require.Equal(t, -1, firstInvalid("fever \uFFFD"))
}

func TestOptionsValidate(t *testing.T) {
	ok := Model{Embedded: testModel}
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"embedded", Options{Model: ok}, true},
		{"path", Options{Model: Model{Path: "model.lep"}}, true},
		{"no model", Options{}, false},
		{"two models", Options{Model: Model{Path: "m.lep", Embedded: testModel}}, false},
		{"unregistered", Options{Model: Model{Embedded: "nope"}}, false},
		{"negative threads", Options{Model: Model{Embedded: testModel, Threads: -1}}, false},
		{"negative calls", Options{Model: Model{Embedded: testModel, Calls: -1}}, false},
		{"act bits 6", Options{Model: Model{Embedded: testModel, ActBits: 6}}, false},
		{"act bits 8", Options{Model: Model{Embedded: testModel, ActBits: 8}}, true},
		{"negative batch", Options{Model: ok, Batch: Batching{MaxTexts: -1}}, false},
		{"negative bytes", Options{Model: ok, Batch: Batching{MaxBytes: -1}}, false},
		{"max length 2", Options{Model: ok, Checks: Checks{MaxLength: 2}}, false},
		{"max length 3", Options{Model: ok, Checks: Checks{MaxLength: 3}}, true},
		{"negative top k", Options{Model: ok, TopK: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.validate()
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	p, s := beam.NewPipelineWithRoot()
	_ = p
	_, _, err := Classify(s, beam.Create(s, Record{Text: "x"}), Options{})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, _, err = Embed(s, beam.Create(s, Record{Text: "x"}), Options{Model: ok}, Embedding{Pooling: "median"})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestTopLabels: labels by probability, ties in label order (as `lepton
// classify` lists them), k of them (0 or more than there are: all).
func TestTopLabels(t *testing.T) {
	labels := []string{"a", "b", "c", "d"}
	probs := []float32{0.2, 0.4, 0.2, 0.2}
	for _, tc := range []struct {
		k    int
		want string
	}{
		{0, "b a c d"},
		{1, "b"},
		{2, "b a"},
		{4, "b a c d"},
		{9, "b a c d"},
	} {
		got := topLabels(labels, probs, tc.k)
		var names []string
		for _, lp := range got {
			names = append(names, lp.Label)
			require.Equal(t, probs[slices.Index(labels, lp.Label)], lp.Prob)
		}
		require.Equal(t, tc.want, strings.Join(names, " "), "k=%d", tc.k)
	}
	require.Len(t, topLabels([]string{"only"}, []float32{1}, 0), 1)
}

// TestEmbedSetup: an Embedding the model cannot do fails Setup with
// ErrInvalidConfig and releases the model.
func TestEmbedSetup(t *testing.T) {
	o := Options{Model: Model{Embedded: testModel, Threads: 1}}
	none, missing := "", "query"
	for _, tc := range []struct {
		name string
		e    Embedding
		ok   bool
	}{
		{"model's own", Embedding{}, true},
		{"no prompt", Embedding{Prompt: &none}, true},
		{"max pooling", Embedding{Pooling: "max"}, true},
		{"unknown prompt", Embedding{Prompt: &missing}, false},
		{"unknown pooling", Embedding{Pooling: "median"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &EmbedFn{Options: o, Embedding: tc.e}
			err := f.Setup(bg)
			if tc.ok {
				require.NoError(t, err)
				f.Teardown()
			} else {
				require.ErrorIs(t, err, ErrInvalidConfig)
			}
			models.Lock()
			_, cached := models.open[o.Model]
			models.Unlock()
			require.False(t, cached, "released")
		})
	}
}

// TestRunBatch: a batch whose call fails because of some records is halved
// until those are alone; the others get results; other errors fail.
func TestRunBatch(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 257} {
		for _, bad := range [][]int{nil, {0}, {n - 1}, {0, n - 1}, {n / 2}, all(n)} {
			t.Run(fmt.Sprintf("n=%d/bad=%d", n, len(bad)), func(t *testing.T) {
				items := make([]pending, n)
				texts := make([]string, n)
				isBad := map[string]bool{}
				for i := range items {
					texts[i] = fmt.Sprint("text ", i)
					items[i] = pending{rec: Record{ID: fmt.Sprint(i), Text: texts[i]}}
				}
				for _, i := range bad {
					isBad[texts[i]] = true
				}
				calls := 0
				call := func(_ context.Context, ts []string) ([]string, error) {
					calls++
					for _, s := range ts {
						if isBad[s] {
							return nil, fmt.Errorf("text %q: %w", s, lepton.ErrTooLong)
						}
					}
					out := make([]string, len(ts))
					for i, s := range ts {
						out[i] = "result of " + s
					}
					return out, nil
				}
				got := map[string]string{}
				var dead []string
				err := runBatch(bg, items, texts, call,
					func(p pending, r string) { got[p.rec.ID] = r },
					func(p pending, err error) {
						require.ErrorIs(t, err, lepton.ErrTooLong)
						dead = append(dead, p.rec.ID)
					})
				require.NoError(t, err)
				require.Len(t, dead, len(isBad))
				require.Len(t, got, n-len(isBad))
				for i, s := range texts {
					if !isBad[s] {
						require.Equal(t, "result of "+s, got[fmt.Sprint(i)])
					}
				}
				if len(isBad) <= 1 { // one bad record costs about 2 log2(n) calls
					require.LessOrEqual(t, calls, 1+2*bitsLen(n))
				}
			})
		}
	}
	// An error that is not a record's fails the batch, whatever its size.
	boom := errors.New("model closed")
	for _, err := range []error{boom, lepton.ErrClosed, lepton.ErrInvalidModel, context.Canceled} {
		got := runBatch(bg, []pending{{}, {}}, []string{"a", "b"},
			func(context.Context, []string) ([]int, error) { return nil, err },
			func(pending, int) { t.Fatal("no result expected") },
			func(pending, error) { t.Fatal("no dead letter expected") })
		require.ErrorIs(t, got, err)
	}
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// TestModelSharing: DoFn instances asking for the same model share one
// open Model, which is closed when the last releases it.
func TestModelSharing(t *testing.T) {
	spec := Model{Embedded: testModel, Threads: 1}
	s1, rel1, err := acquireModel(bg, spec)
	require.NoError(t, err)
	s2, rel2, err := acquireModel(bg, spec)
	require.NoError(t, err)
	require.Same(t, s1, s2)
	m1, m2 := s1.model, s2.model
	other, relOther, err := acquireModel(bg, Model{Embedded: testModel, Threads: 2})
	require.NoError(t, err)
	require.NotSame(t, m1, other.model, "other open options, another Model")
	relOther()

	rel1()
	rel1() // a second release is harmless
	_, err = m2.Classify(bg, []string{"fever"})
	require.NoError(t, err, "still held by the second instance")
	rel2()
	_, err = m2.Classify(bg, []string{"fever"})
	require.ErrorIs(t, err, lepton.ErrClosed)

	s3, rel3, err := acquireModel(bg, spec)
	require.NoError(t, err)
	require.NotSame(t, m1, s3.model, "reopened after the last release")
	rel3()

	// A model that cannot be opened is an error of Setup, and is not cached.
	missing := Model{Path: filepath.Join(t.TempDir(), "missing.lep")}
	_, _, err = acquireModel(bg, missing)
	require.ErrorIs(t, err, ErrModel)
	require.ErrorIs(t, err, fs.ErrNotExist)
	models.Lock()
	_, cached := models.open[missing]
	models.Unlock()
	require.False(t, cached)

	bad := writeFile(t, t.TempDir(), "bad.lep", "not a model")
	_, _, err = acquireModel(bg, Model{Path: bad})
	require.ErrorIs(t, err, lepton.ErrInvalidModel)
}

// TestCallLimit: at most Model.Calls calls run at once on a shared model;
// the others wait, and give up when their context ends.
func TestCallLimit(t *testing.T) {
	require.Equal(t, 1, Model{}.calls(), "a call on all CPUs runs alone")
	require.Equal(t, 3, Model{Calls: 3}.calls())
	require.Equal(t, max(1, runtime.GOMAXPROCS(0)), Model{Threads: 1}.calls())
	require.Equal(t, 1, Model{Threads: 1 << 20}.calls())

	sh, release, err := acquireModel(bg, Model{Embedded: testModel, Calls: 2})
	require.NoError(t, err)
	defer release()
	var inside atomic.Int32
	entered, unblock := make(chan bool), make(chan bool)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, sh.call(bg, func() {
				inside.Add(1)
				entered <- true
				<-unblock
				inside.Add(-1)
			}))
		}()
	}
	<-entered
	<-entered
	time.Sleep(50 * time.Millisecond) // room for a third call to get in, were it let
	require.EqualValues(t, 2, inside.Load())
	ctx, cancel := context.WithCancel(bg)
	cancel()
	require.ErrorIs(t, sh.call(ctx, func() { t.Error("ran past the limit") }), context.Canceled)
	go func() {
		for range 3 {
			<-entered
		}
	}()
	close(unblock)
	wg.Wait()
}

// TestModelSources: a local file, a file on a Beam file system (memfs here,
// gs:// in production) and an embedded model give the same results.
func TestModelSources(t *testing.T) {
	local := writeFile(t, t.TempDir(), "clinic.lep", string(clinic.Bytes()))
	memfs.Write("memfs://models/clinic.lep", clinic.Bytes())
	texts := []string{"itchy red rash on my arms", "burning when I pee"}
	var want []lepton.Classification
	for i, spec := range []Model{{Embedded: testModel}, {Path: local}, {Path: "memfs://models/clinic.lep", Verify: true}} {
		sh, release, err := acquireModel(bg, spec)
		require.NoError(t, err, spec)
		m := sh.model
		got, err := m.Classify(bg, texts)
		require.NoError(t, err)
		if i == 0 {
			want = got
		}
		require.Equal(t, want, got, spec)
		require.Equal(t, i == 1 || i == 2, m.Info().Mapped, "files are mapped")
		release()
	}
	_, _, err := acquireModel(bg, Model{Path: "memfs://models/missing.lep"})
	require.ErrorIs(t, err, ErrModel)
	require.Panics(t, func() { RegisterEmbedded(testModel, clinic.Bytes) })
	require.Panics(t, func() { RegisterEmbedded("", clinic.Bytes) })
}

// awkwardRecords returns records that exercise every check, with IDs that
// say what they are.
func awkwardRecords(n int, seed uint64) []Record {
	words := strings.Fields("I have had a high fever chills and headache for three days my skin is itchy with red scaly patches " +
		"dry cough chest pain burning when I pee stomach ache nausea vomiting joint pain stiff neck tired dizzy " +
		"blurred vision sore throat runny nose wheezing at night. Kopfschmerzen café naïve 発熱 😷")
	r := rand.New(rand.NewPCG(seed, 2))
	var recs []Record
	for i := range n {
		k := 1 + r.IntN(40)
		if i%97 == 5 {
			k = 150 + r.IntN(100) // over the clinic model's 128 tokens
		}
		ws := make([]string, k)
		for j := range ws {
			ws[j] = words[r.IntN(len(words))]
		}
		recs = append(recs, Record{ID: fmt.Sprint("t", i), Text: strings.Join(ws, " ")})
	}
	return append(recs,
		Record{ID: "empty", Text: ""},
		Record{ID: "blank", Text: " \t "},
		Record{ID: "bad-utf8", Text: "fever and \xff\xfe chills"},
		Record{ID: "nul", Text: "fever\x00and chills"},
		Record{ID: "controls", Text: "\x01\x02\x7f"},
		Record{ID: "huge", Text: strings.Repeat("fever ", 400)}, // 2,400 bytes
	)
}

// TestClassifyPipeline runs Classify on Prism and checks every result
// against lepton's own Classify of the text alone, and every dead letter's
// reason.
func TestClassifyPipeline(t *testing.T) {
	recs := awkwardRecords(500, 1)
	m := clinicModel(t)
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprint("strict=", strict), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{
				Model:  Model{Embedded: testModel},
				Batch:  Batching{MaxTexts: 7, MaxBytes: 900}, // awkward: many partial batches
				Checks: Checks{MaxTextBytes: 2000, Strict: strict},
			}
			res := run(t, func(s beam.Scope) {
				results, dead, err := Classify(s, beam.CreateList(s, recs), o)
				require.NoError(t, err)
				writeAll(t, s, filepath.Join(dir, "out.jsonl"), results)
				writeAll(t, s, filepath.Join(dir, "dead.jsonl"), dead)
			})
			got := map[string]Classified{}
			for _, l := range readLines(t, filepath.Join(dir, "out.jsonl"), 1) {
				var c Classified
				require.NoError(t, json.Unmarshal([]byte(l), &c))
				require.NotContains(t, got, c.ID, "duplicate result")
				got[c.ID] = c
			}
			deadReason := map[string]string{}
			for _, l := range readLines(t, filepath.Join(dir, "dead.jsonl"), 1) {
				var d deadJSON
				require.NoError(t, json.Unmarshal([]byte(l), &d))
				require.NotContains(t, deadReason, d.ID, "duplicate dead letter")
				deadReason[d.ID] = d.Reason
			}
			require.Equal(t, len(recs), len(got)+len(deadReason), "every record has one result or one dead letter")
			var tooLong int
			for _, r := range recs {
				want, err := m.Classify(bg, []string{r.Text})
				require.NoError(t, err)
				d := want[0].Diagnostics
				switch {
				case r.ID == "empty" || r.ID == "blank":
					require.Equal(t, ReasonEmpty, deadReason[r.ID])
				case r.ID == "bad-utf8":
					require.Equal(t, ReasonInvalidUTF8, deadReason[r.ID])
				case r.ID == "huge":
					require.Equal(t, ReasonTooLarge, deadReason[r.ID])
				case r.ID == "nul":
					require.Equal(t, ReasonBinary, deadReason[r.ID])
				case r.ID == "controls":
					require.Zero(t, d.Tokens)
					require.Equal(t, ReasonNoTokens, deadReason[r.ID])
				case d.Truncated && strict:
					require.Equal(t, ReasonTooLong, deadReason[r.ID], r.ID)
					tooLong++
				default:
					require.Contains(t, got, r.ID)
					c := got[r.ID]
					require.Equal(t, want[0].Label, c.Label, r.ID)
					require.Equal(t, want[0].Index, c.Index, r.ID)
					require.Equal(t, want[0].Probs[c.Index], c.Score, r.ID) // bit for bit, through JSON
					require.Len(t, c.Top, len(want[0].Probs))
					for j, lp := range c.Top {
						i := slices.Index(m.Info().Labels, lp.Label)
						require.Equal(t, want[0].Probs[i], lp.Prob, r.ID)
						if j > 0 { // by probability, ties in label order
							prev := c.Top[j-1]
							require.True(t, prev.Prob > lp.Prob || (prev.Prob == lp.Prob && slices.Index(m.Info().Labels, prev.Label) < i))
						}
					}
					require.Equal(t, c.Label, c.Top[0].Label)
					require.Equal(t, d.Tokens, c.Tokens)
					require.Equal(t, d.Truncated, c.Truncated)
					require.Equal(t, math.Round(d.Unknown*1e4)/1e4, c.Unknown)
				}
			}
			if strict {
				require.Greater(t, tooLong, 3)
			}
			// Prism may undercount metrics (cmd/lepton-beam's summary), never over.
			// "texts" counts what the model ran: the results and the dead
			// letters found from a result's diagnostics.
			ran := len(got)
			for _, reason := range deadReason {
				if reason == ReasonNoTokens || reason == ReasonTooLong {
					ran++
				}
			}
			s := summarizeCounters(res)
			require.LessOrEqual(t, s["texts"], int64(ran))
			require.Positive(t, s["texts"])
		})
	}
}

func writeAll(t *testing.T, s beam.Scope, name string, col beam.PCollection) {
	t.Helper()
	lines, err := FormatJSON(s, col)
	require.NoError(t, err)
	require.NoError(t, WriteLines(s, name, 1, lines))
}

// summarizeCounters returns the lepton counters of a run by name.
func summarizeCounters(res beam.PipelineResult) map[string]int64 {
	out := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Namespace() == "lepton" {
			out[c.Name()] += c.Result()
		}
	}
	return out
}

// TestEmbedPipeline: vectors equal lepton's Embed of each text alone, bit
// for bit, with the pooling and normalisation asked for.
func TestEmbedPipeline(t *testing.T) {
	recs := awkwardRecords(120, 2)[:120]
	m := clinicModel(t)
	dir := t.TempDir()
	yes := true
	run(t, func(s beam.Scope) {
		results, dead, err := Embed(s, beam.CreateList(s, recs), Options{Model: Model{Embedded: testModel}, Batch: Batching{MaxTexts: 16}, KeepText: true},
			Embedding{Pooling: "mean", Normalize: &yes})
		require.NoError(t, err)
		writeAll(t, s, filepath.Join(dir, "out.jsonl"), results)
		writeAll(t, s, filepath.Join(dir, "dead.jsonl"), dead)
	})
	require.Empty(t, readLines(t, filepath.Join(dir, "dead.jsonl"), 1))
	lines := readLines(t, filepath.Join(dir, "out.jsonl"), 1)
	require.Len(t, lines, len(recs))
	byID := map[string]Embedded{}
	for _, l := range lines {
		var e Embedded
		require.NoError(t, json.Unmarshal([]byte(l), &e))
		byID[e.ID] = e
	}
	for _, r := range recs {
		want, err := m.EmbedDetailed(bg, []string{r.Text}, lepton.WithPooling(lepton.PoolMean), lepton.WithNormalize(true))
		require.NoError(t, err)
		got := byID[r.ID]
		require.Equal(t, r.Text, got.Text, "KeepText")
		require.Equal(t, want[0].Vector, got.Vector, r.ID)
		require.Equal(t, want[0].Diagnostics.Tokens, got.Tokens, r.ID)
		require.Equal(t, want[0].Diagnostics.Truncated, got.Truncated, r.ID)
	}
}

// TestWindowedRecords: records outside the global window are run one at a
// time and keep their window and timestamp.
func TestWindowedRecords(t *testing.T) {
	recs := awkwardRecords(30, 3)[:30]
	dir := t.TempDir()
	run(t, func(s beam.Scope) {
		col := beam.CreateList(s, recs)
		stamped := beam.ParDo(s, stampFn, col)
		windowed := beam.WindowInto(s, window.NewFixedWindows(time.Minute), stamped)
		results, _, err := Classify(s, windowed, Options{Model: Model{Embedded: testModel}})
		require.NoError(t, err)
		// Count per window: each record's window is its minute.
		keyed := beam.ParDo(s, windowOfFn, results)
		writeAll(t, s, filepath.Join(dir, "out.jsonl"), keyed)
	})
	lines := readLines(t, filepath.Join(dir, "out.jsonl"), 1)
	require.Len(t, lines, len(recs))
	for _, l := range lines {
		var c Classified
		require.NoError(t, json.Unmarshal([]byte(l), &c))
		// windowOfFn put the window's start minute in Text; stampFn put
		// record i in minute i%5.
		var i int
		fmt.Sscanf(c.ID, "t%d", &i)
		require.Equal(t, fmt.Sprint(i%5), c.Text, c.ID)
	}
}

func init() {
	register.Function1x2[Record, beam.EventTime, Record](stampFn)
	register.Function2x1[beam.Window, Classified, Classified](windowOfFn)
}

// stampFn puts record tN at minute N%5.
func stampFn(r Record) (beam.EventTime, Record) {
	var i int
	fmt.Sscanf(r.ID, "t%d", &i)
	return mtime.FromTime(time.Unix(int64(60*(i%5)+7), 0)), r
}

// windowOfFn writes the minute its window starts at into Text.
func windowOfFn(w beam.Window, c Classified) Classified {
	iw := w.(window.IntervalWindow)
	c.Text = fmt.Sprint(iw.Start.ToTime().Unix() / 60)
	return c
}
