package leptonbeam

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/models/deid"
)

const testTagModel = "deid-test"

func init() { RegisterEmbedded(testTagModel, deid.Bytes) }

// sampleNotes returns the synthetic clinic notes of
// examples/train-deid/data/NAME (multi-line texts with names, dates,
// phone numbers, ...), as Records with their IDs.
func sampleNotes(t *testing.T, name string) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "examples", "train-deid", "data", name))
	require.NoError(t, err)
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, recs)
	return recs
}

// tagRecords: sample notes, three of them joined into notes over the
// model's 256 tokens (read in windows), and every kind of dead letter.
func tagRecords(t *testing.T) []Record {
	recs := sampleNotes(t, "validation.jsonl")
	for i := 0; i+3 <= 30; i += 3 {
		long := recs[i].Text + "\n" + recs[i+1].Text + "\n" + recs[i+2].Text + " Résumé 発熱 😷 naïve"
		recs = append(recs, Record{ID: fmt.Sprint("long-", i), Text: long})
	}
	return append(recs,
		Record{ID: "empty", Text: ""},
		Record{ID: "blank", Text: " \t\n "},
		Record{ID: "bad-utf8", Text: "Seen by Dr Jack Kim \xff\xfe on 12/03/2024"},
		Record{ID: "nul", Text: "Jack Kim\x00 12/03/2024"},
		Record{ID: "controls", Text: "\x01\x02\x7f"},
		Record{ID: "huge", Text: strings.Repeat("Jack Kim ", 300)}, // 2,700 bytes
	)
}

// TestTagPipeline runs Tag on Prism and checks every result against
// lepton's own TagDetailed of the text alone (labels, scores bit for bit,
// byte offsets, code-point offsets counted here, diagnostics), under the
// default grouping and under aggregation none with nothing ignored and a
// short window; and every dead letter's reason.
func TestTagPipeline(t *testing.T) {
	recs := tagRecords(t)
	m, err := deid.Open()
	require.NoError(t, err)
	defer m.Close()
	stride := 5
	for _, tc := range []struct {
		name    string
		tagging Tagging
		checks  Checks
		call    []lepton.CallOption
	}{
		{"defaults", Tagging{}, Checks{}, nil},
		{"none, nothing ignored, windows of 24", Tagging{Aggregation: "none", Ignore: []string{}, Stride: &stride}, Checks{MaxLength: 24},
			[]lepton.CallOption{lepton.WithAggregation(lepton.AggregateNone), lepton.WithIgnoreLabels(), lepton.WithStride(5), lepton.WithMaxLength(24)}},
		{"average, NAME ignored", Tagging{Aggregation: "average", Ignore: []string{"O", "NAME"}}, Checks{},
			[]lepton.CallOption{lepton.WithAggregation(lepton.AggregateAverage), lepton.WithIgnoreLabels("O", "NAME")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.checks.MaxTextBytes = 2000
			o := Options{Model: Model{Embedded: testTagModel}, Batch: Batching{MaxTexts: 7, MaxBytes: 900}, Checks: tc.checks}
			run(t, func(s beam.Scope) {
				results, dead, err := Tag(s, beam.CreateList(s, recs), o, tc.tagging)
				require.NoError(t, err)
				writeAll(t, s, filepath.Join(dir, "out.jsonl"), results)
				writeAll(t, s, filepath.Join(dir, "dead.jsonl"), dead)
			})
			got := map[string]taggedLine{}
			for _, l := range readLines(t, filepath.Join(dir, "out.jsonl"), 1) {
				var r taggedLine
				require.NoError(t, json.Unmarshal([]byte(l), &r))
				require.NotNil(t, r.Entities, `"entities" is [] when there are none, as in the CLI: %s`, l)
				require.NotContains(t, got, r.ID, "duplicate result")
				got[r.ID] = r
			}
			deadReason := map[string]string{}
			for _, l := range readLines(t, filepath.Join(dir, "dead.jsonl"), 1) {
				var d deadJSON
				require.NoError(t, json.Unmarshal([]byte(l), &d))
				require.NotContains(t, deadReason, d.ID, "duplicate dead letter")
				deadReason[d.ID] = d.Reason
			}
			require.Equal(t, len(recs), len(got)+len(deadReason), "every record has one result or one dead letter")
			var entities, windowed int
			for _, r := range recs {
				switch r.ID {
				case "empty", "blank":
					require.Equal(t, ReasonEmpty, deadReason[r.ID])
					continue
				case "bad-utf8":
					require.Equal(t, ReasonInvalidUTF8, deadReason[r.ID])
					continue
				case "nul":
					require.Equal(t, ReasonBinary, deadReason[r.ID])
					continue
				case "huge":
					require.Equal(t, ReasonTooLarge, deadReason[r.ID])
					continue
				case "controls":
					require.Equal(t, ReasonNoTokens, deadReason[r.ID])
					continue
				}
				want, err := m.TagDetailed(bg, []string{r.Text}, tc.call...)
				require.NoError(t, err)
				g, ok := got[r.ID]
				require.True(t, ok, "no result for %s", r.ID)
				require.Len(t, g.Entities, len(want[0].Entities), r.ID)
				for i, e := range want[0].Entities {
					ge := g.Entities[i]
					require.Equal(t, e.Label, ge.Label, r.ID)
					require.Equal(t, e.Score, ge.Score, r.ID) // bit for bit, through JSON
					require.Equal(t, [2]int{e.Start, e.End}, [2]int{ge.Start, ge.End}, r.ID)
					require.Equal(t, r.Text[e.Start:e.End], ge.Text, r.ID)
					require.Equal(t, utf8.RuneCountInString(r.Text[:e.Start]), ge.CharStart, r.ID)
					require.Equal(t, utf8.RuneCountInString(r.Text[:e.End]), ge.CharEnd, r.ID)
					if e.Index >= 0 {
						require.NotNil(t, ge.Index, r.ID)
						require.Equal(t, e.Index, *ge.Index, r.ID)
					} else {
						require.Nil(t, ge.Index, `"index" only for tokens`)
					}
				}
				require.Equal(t, want[0].Diagnostics.Tokens, g.Tokens, r.ID)
				require.Equal(t, math.Round(want[0].Diagnostics.Unknown*1e4)/1e4, g.Unknown, r.ID)
				entities += len(g.Entities)
				if g.Tokens > cmp0(tc.checks.MaxLength, 256)-2 {
					windowed++
				}
			}
			require.Greater(t, entities, len(recs), "the notes have entities")
			require.Greater(t, windowed, 5, "some notes are read in several windows")
			t.Logf("%d records, %d entities, %d notes over one window, %d dead letters", len(recs), entities, windowed, len(deadReason))
		})
	}
}

// TestTagConfig: options Tag cannot work with fail when the pipeline is
// built or, for what depends on the model, in Setup, with
// ErrInvalidConfig; the model is released.
func TestTagConfig(t *testing.T) {
	ok := Options{Model: Model{Embedded: testTagModel, Threads: 1}}
	neg, big, fits := -1, 254, 253
	_, s := beam.NewPipelineWithRoot()
	recs := beam.Create(s, Record{Text: "x"})
	for _, tc := range []struct {
		name  string
		o     Options
		t     Tagging
		build bool // the error shows when the pipeline is built
		ok    bool
	}{
		{"defaults", ok, Tagging{}, false, true},
		{"largest stride", ok, Tagging{Stride: &fits}, false, true},
		{"every strategy name, any case", ok, Tagging{Aggregation: "MAX"}, false, true},
		{"unknown aggregation", ok, Tagging{Aggregation: "mean"}, true, false},
		{"negative stride", ok, Tagging{Stride: &neg}, true, false},
		{"strict", Options{Model: ok.Model, Checks: Checks{Strict: true}}, Tagging{}, true, false},
		{"no model", Options{}, Tagging{}, true, false},
		{"stride of a whole window", ok, Tagging{Stride: &big}, false, false},
		{"max length past the positions", Options{Model: ok.Model, Checks: Checks{MaxLength: 257}}, Tagging{}, false, false},
		{"not a token classifier", Options{Model: Model{Embedded: testModel, Threads: 1}}, Tagging{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Tag(s, recs, tc.o, tc.t)
			if tc.build {
				require.ErrorIs(t, err, ErrInvalidConfig)
			} else {
				require.NoError(t, err)
			}
			f := &TagFn{Options: tc.o, Tagging: tc.t}
			err = f.Setup(bg)
			if tc.ok {
				require.NoError(t, err)
				f.Teardown()
			} else {
				require.ErrorIs(t, err, ErrInvalidConfig)
			}
			models.Lock()
			_, cached := models.open[tc.o.Model]
			models.Unlock()
			require.False(t, cached, "released")
		})
	}
	require.Equal(t, []string{}, ParseIgnore(""))
	require.Equal(t, []string{}, ParseIgnore(" , "))
	require.Equal(t, []string{"O", "B-NAME"}, ParseIgnore("O, B-NAME,"))
}

// TestEntityOffsets: code-point offsets of entities in texts with
// multi-byte characters, and entities that touch.
func TestEntityOffsets(t *testing.T) {
	text := "Résumé: 発熱 Jack😷Kim, café"
	ents := []lepton.Entity{
		{Label: "A", Start: 0, End: 3, Index: -1},                     // "Ré"
		{Label: "B", Start: 3, End: 8, Index: 3},                      // "sumé", touching A
		{Label: "C", Start: 10, End: 16, Index: -1},                   // 発熱
		{Label: "D", Start: 17, End: len(text) - 7, Index: -1},        // Jack😷Kim
		{Label: "E", Start: len(text) - 5, End: len(text), Index: -1}, // café
	}
	for i := range ents {
		ents[i].Text = text[ents[i].Start:ents[i].End]
	}
	got := entities(text, ents)
	require.Len(t, got, len(ents))
	for i, e := range ents {
		require.Equal(t, utf8.RuneCountInString(text[:e.Start]), got[i].CharStart, e.Label)
		require.Equal(t, utf8.RuneCountInString(text[:e.End]), got[i].CharEnd, e.Label)
		require.Equal(t, e.Index, got[i].Index)
		require.Equal(t, e.Text, got[i].Text)
	}
	require.Empty(t, entities("", nil))
}
