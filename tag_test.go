package lepton

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
)

var (
	tokFixtureOnce sync.Once
	tokFixtureData []byte
)

// tokenFixture opens the random-weight token classifier
// (testdata/golden/random-token-bert, labels O B-PER I-PER B-LOC I-LOC
// MISC), converted once with its fp32 weights kept.
func tokenFixture(t testing.TB, opts ...Option) *Model {
	t.Helper()
	tokFixtureOnce.Do(func() {
		path := convertToLep(t, filepath.Join(repoRoot(t), "testdata", "golden", "random-token-bert"), convert.Options{KeepF32: true})
		var err error
		tokFixtureData, err = os.ReadFile(path)
		require.NoError(t, err)
	})
	m, err := OpenBytes(tokFixtureData, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

type tokenGolden struct {
	Labels []string `json:"labels"`
	Cases  []struct {
		Name     string      `json:"name"`
		Text     *string     `json:"text"`
		IDs      []int32     `json:"ids"`
		Pieces   []string    `json:"pieces"`
		Offsets  [][2]int    `json:"offsets"`
		Logits   [][]float32 `json:"logits"`
		Entities map[string][]struct {
			Label      string  `json:"label"`
			Score      float32 `json:"score"`
			Start, End int
			Index      *int `json:"index"`
		} `json:"entities"`
		AllNone []struct {
			Label string  `json:"label"`
			Score float32 `json:"score"`
			Index int     `json:"index"`
		} `json:"entities_all_none"`
		JS struct {
			None []struct {
				Entity string  `json:"entity"`
				Score  float32 `json:"score"`
				Index  int     `json:"index"`
				Word   string  `json:"word"`
			} `json:"none"`
			Simple []struct {
				Group string  `json:"entity_group"`
				Score float32 `json:"score"`
				Word  string  `json:"word"`
			} `json:"simple"`
		} `json:"transformers_js"`
	} `json:"cases"`
}

func loadTokenGolden(t testing.TB) *tokenGolden {
	t.Helper()
	var g tokenGolden
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "testdata", "golden", "random_token_bert.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &g))
	return &g
}

var strategies = []Aggregation{AggregateNone, AggregateSimple, AggregateFirst, AggregateAverage, AggregateMax}

// TestTagGolden checks Tag's entities, every strategy, against the
// golden made outside Lepton (scripts/golden/make_random_token_bert.py:
// PyTorch logits, aggregated by Hugging Face's rules with Hugging Face's own
// subword test), on the fp32 path, which reproduces PyTorch's logits to
// 1e-5: labels, byte offsets and text must match exactly, scores to 1e-4.
// It also checks Lepton's tokenisation of the texts against the golden's
// ids and offsets, and reports how often the int8 path finds the same
// entities.
func TestTagGolden(t *testing.T) {
	g := loadTokenGolden(t)
	m := tokenFixture(t, WithThreads(1))
	require.Equal(t, g.Labels, m.Info().Labels)
	require.Equal(t, "BertForTokenClassification", m.Info().Architecture)
	ctx := context.Background()
	checked, same, total := 0, 0, 0
	for _, c := range g.Cases {
		if c.Text == nil {
			continue
		}
		text := *c.Text
		// Tokenisation: ids and byte offsets as the reference made them.
		tt, err := m.tagTokens(ctx, m.getState(), []string{text}, callConfig{maxLength: 128, reference: (*Model).runReference}, nil)
		require.NoError(t, err)
		require.Len(t, tt.tokens, len(c.Pieces), c.Name)
		for k, tok := range tt.tokens {
			require.Equal(t, c.Offsets[k], [2]int{tok.start, tok.end}, "%s: token %d (%q) offsets", c.Name, k, c.Pieces[k])
			require.Equal(t, strings.HasPrefix(c.Pieces[k], "##"), tok.subword, "%s: token %d subword", c.Name, k)
		}
		for _, strat := range strategies {
			got, err := m.Tag(ctx, []string{text}, WithAggregation(strat), WithFloat32(true))
			require.NoError(t, err)
			want := c.Entities[strat.String()]
			require.Len(t, got[0], len(want), "%s %s: %v", c.Name, strat, got[0])
			for k, w := range want {
				e := got[0][k]
				require.Equal(t, w.Label, e.Label, "%s %s entity %d", c.Name, strat, k)
				require.Equal(t, [2]int{w.Start, w.End}, [2]int{e.Start, e.End}, "%s %s entity %d", c.Name, strat, k)
				require.Equal(t, text[w.Start:w.End], e.Text)
				require.InDelta(t, w.Score, e.Score, 1e-4, "%s %s entity %d", c.Name, strat, k)
				if strat == AggregateNone {
					require.Equal(t, *w.Index, e.Index)
				} else {
					require.Equal(t, -1, e.Index)
				}
				checked++
			}
			q, err := m.Tag(ctx, []string{text}, WithAggregation(strat))
			require.NoError(t, err)
			total += len(want)
			same += sameEntities(q[0], got[0])
		}
	}
	require.Greater(t, checked, 500, "the golden exercises every strategy")
	t.Logf("%d golden entities match on the fp32 path; int8 finds %d of %d of them with the same label and span", checked, same, total)
}

// sameEntities counts entities of want also in got (label and span).
func sameEntities(got, want []Entity) int {
	n := 0
	for _, w := range want {
		for _, e := range got {
			if e.Label == w.Label && e.Start == w.Start && e.End == w.End {
				n++
				break
			}
		}
	}
	return n
}

// TestTagTransformersJS compares Tag with transformers.js's
// token-classification pipeline (ignore_labels [], so nothing is dropped
// before grouping) for the strategies it implements: none on every text,
// simple on texts without [UNK]. transformers.js leaves [UNK] tokens out of
// its output (it decodes each token and skips those that decode to
// nothing, as special tokens do), so for none they are left out of Lepton's
// too, and for simple, where that changes the grouping, such texts are
// skipped. It gives no offsets: words are compared through Lepton's
// decoding of the same tokens.
func TestTagTransformersJS(t *testing.T) {
	g := loadTokenGolden(t)
	m := tokenFixture(t, WithThreads(1))
	ctx := context.Background()
	nNone, nSimple := 0, 0
	for _, c := range g.Cases {
		if c.Text == nil {
			continue
		}
		text := *c.Text
		got, err := m.Tag(ctx, []string{text}, WithAggregation(AggregateNone), WithIgnoreLabels(), WithFloat32(true))
		require.NoError(t, err)
		var kept []Entity
		unk := false
		for k, e := range got[0] {
			if c.Pieces[k] == "[UNK]" {
				unk = true
				continue
			}
			kept = append(kept, e)
		}
		require.Len(t, kept, len(c.JS.None), c.Name)
		for k, js := range c.JS.None {
			e := kept[k]
			require.Equal(t, js.Entity, e.Label, "%s token %d", c.Name, js.Index)
			require.Equal(t, js.Index, e.Index, "%s", c.Name)
			require.InDelta(t, js.Score, e.Score, 1e-4, "%s token %d", c.Name, js.Index)
			require.Equal(t, c.Pieces[e.Index-1], js.Word, "%s token %d", c.Name, js.Index)
			nNone++
		}
		if unk {
			continue
		}
		simple, err := m.Tag(ctx, []string{text}, WithAggregation(AggregateSimple), WithIgnoreLabels(), WithFloat32(true))
		require.NoError(t, err)
		require.Len(t, simple[0], len(c.JS.Simple), c.Name)
		enc, err := m.tok.Encode(text, tokenizeOpts(0, true))
		require.NoError(t, err)
		for k, js := range c.JS.Simple {
			e := simple[0][k]
			require.Equal(t, js.Group, e.Label, "%s group %d", c.Name, k)
			require.InDelta(t, js.Score, e.Score, 1e-4, "%s group %d", c.Name, k)
			// The group's tokens, decoded as transformers.js decodes them.
			var ids []int32
			for i, off := range enc.Offsets {
				if enc.SpecialTokensMask[i] == 0 && off[0] >= e.Start && off[1] <= e.End {
					ids = append(ids, enc.IDs[i])
				}
			}
			require.Equal(t, js.Word, m.tok.Decode(ids, true), "%s group %d", c.Name, k)
			nSimple++
		}
	}
	require.Greater(t, nNone, 500)
	require.Greater(t, nSimple, 200)
	t.Logf("transformers.js: %d tokens (none) and %d groups (simple) match", nNone, nSimple)
}

// tok builds a tagToken with the given probabilities.
func tokP(start, end int, sub bool, probs ...float32) tagToken {
	return tagToken{start: start, end: end, subword: sub, probs: probs}
}

// TestAggregateHandWorked checks the aggregation rules on cases worked out
// by hand from Hugging Face's documentation of each strategy.
func TestAggregateHandWorked(t *testing.T) {
	labels := []string{"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "MISC"}
	type ent struct {
		label      string
		score      float32
		start, end int
	}
	// "Microsoft bought it": Micro|##soft bought it.
	//   Micro  B-ORG .6 (I-PER .3)
	//   ##soft I-PER .5 (I-ORG .4)
	//   bought O .9
	//   it     O .8
	text := "Microsoft bought it"
	micro := []tagToken{
		tokP(0, 5, false, .05, .02, .3, .6, .02, .01),
		tokP(5, 9, true, .05, .02, .5, .02, .4, .01),
		tokP(10, 16, false, .9, .02, .02, .02, .02, .02),
		tokP(17, 19, false, .8, .04, .04, .04, .04, .04),
	}
	// "A B C D E": the pipeline docstring's example, one token per word:
	// B-PER I-PER I-PER B-ORG B-ORG -> [ABC PER] [D ORG] [E ORG].
	abcde := "A B C D E"
	doc := []tagToken{
		tokP(0, 1, false, 0, .9, .1, 0, 0, 0),
		tokP(2, 3, false, 0, .1, .7, 0, .2, 0),
		tokP(4, 5, false, 0, 0, .8, 0, 0, .2),
		tokP(6, 7, false, 0, 0, 0, .6, .4, 0),
		tokP(8, 9, false, 0, 0, 0, .5, .5, 0), // tie: argmax takes the first (B-ORG)
	}
	// "Ann Lee": Ann I-PER after nothing starts an entity; MISC has no
	// prefix and counts as I-MISC; O between two I-PER splits them.
	ann := "Ann x Lee y"
	ann3 := []tagToken{
		tokP(0, 3, false, 0, 0, 1, 0, 0, 0),     // I-PER
		tokP(4, 5, false, 1, 0, 0, 0, 0, 0),     // O
		tokP(6, 9, false, 0, 0, .7, 0, 0, .3),   // I-PER
		tokP(10, 11, false, .4, 0, 0, 0, 0, .6), // MISC
	}
	cases := []struct {
		name   string
		text   string
		toks   []tagToken
		strat  Aggregation
		ignore []string
		want   []ent
	}{
		// none: every non-O token with its own label.
		{"micro none", text, micro, AggregateNone, []string{"O"}, []ent{{"B-ORG", .6, 0, 5}, {"I-PER", .5, 5, 9}}},
		// simple: B-ORG then I-PER: different types, two entities; the word is split.
		{"micro simple", text, micro, AggregateSimple, []string{"O"}, []ent{{"ORG", .6, 0, 5}, {"PER", .5, 5, 9}}},
		// first: the word takes Micro's label B-ORG, score .6.
		{"micro first", text, micro, AggregateFirst, []string{"O"}, []ent{{"ORG", .6, 0, 9}}},
		// max: the most confident token is Micro (.6 > .5): B-ORG .6.
		{"micro max", text, micro, AggregateMax, []string{"O"}, []ent{{"ORG", .6, 0, 9}}},
		// average: mean probabilities O .05, B-PER .02, I-PER .4, B-ORG .31,
		// I-ORG .21, MISC .01 -> I-PER .4.
		{"micro average", text, micro, AggregateAverage, []string{"O"}, []ent{{"PER", .4, 0, 9}}},
		// Nothing ignored: the O words come back as one O group (.9+.8)/2.
		{"micro first all", text, micro, AggregateFirst, []string{}, []ent{{"ORG", .6, 0, 9}, {"O", .85, 10, 19}}},
		{"docstring simple", abcde, doc, AggregateSimple, nil, []ent{{"PER", (.9 + .7 + .8) / 3, 0, 5}, {"ORG", .6, 6, 7}, {"ORG", .5, 8, 9}}},
		{"docstring first", abcde, doc, AggregateFirst, nil, []ent{{"PER", (.9 + .7 + .8) / 3, 0, 5}, {"ORG", .6, 6, 7}, {"ORG", .5, 8, 9}}},
		{"I after O", ann, ann3, AggregateSimple, []string{"O"}, []ent{{"PER", 1, 0, 3}, {"PER", .7, 6, 9}, {"MISC", .6, 10, 11}}},
		{"ignore a type", ann, ann3, AggregateSimple, []string{"O", "PER"}, []ent{{"MISC", .6, 10, 11}}},
		// none compares the full label with the ignore list.
		{"none ignores full labels", ann, ann3, AggregateNone, []string{"O", "PER"}, []ent{{"I-PER", 1, 0, 3}, {"I-PER", .7, 6, 9}, {"MISC", .6, 10, 11}}},
		{"empty", "", nil, AggregateFirst, []string{"O"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ignore := c.ignore
			if ignore == nil {
				ignore = []string{"O"}
			}
			got := aggregate(c.text, c.toks, labels, c.strat, ignore, 1)
			require.NotNil(t, got)
			require.Len(t, got, len(c.want), "%+v", got)
			for i, w := range c.want {
				require.Equal(t, w.label, got[i].Label, "entity %d", i)
				require.InDelta(t, w.score, got[i].Score, 1e-6, "entity %d", i)
				require.Equal(t, [2]int{w.start, w.end}, [2]int{got[i].Start, got[i].End}, "entity %d", i)
				require.Equal(t, c.text[w.start:w.end], got[i].Text)
			}
		})
	}
	// A word never straddles two entities under first, average and max.
	for _, s := range []Aggregation{AggregateFirst, AggregateAverage, AggregateMax} {
		for _, e := range aggregate(text, micro, labels, s, []string{}, 1) {
			require.False(t, e.Start == 5 || e.End == 5, "%s split Microsoft: %+v", s, e)
		}
	}
}

// TestTagWindows checks how Tag reads a text longer than the max length:
// windows of exactly the max length from the first token to the last,
// sharing at least the stride, and every token labelled from the window in
// which it has the most context; its probabilities (fp32 path) must be
// those of the reference encoder run on that window alone.
func TestTagWindows(t *testing.T) {
	m := tokenFixture(t, WithThreads(2))
	ctx := context.Background()
	text := strings.Repeat("John Smith lives in New York; Anna Lee visited Paris and the clinic today. ", 6)
	for _, tc := range []struct{ maxLen, stride int }{{16, -1}, {16, 0}, {16, 13}, {40, 7}, {128, -1}, {33, 30}} {
		cc := callConfig{maxLength: tc.maxLen, reference: (*Model).runReference}
		if tc.stride >= 0 {
			cc.tag = tagConfig{stride: tc.stride, strideSet: true}
		}
		st := m.getState()
		tt, err := m.tagTokens(ctx, st, []string{text, "", "Anna"}, cc, nil)
		require.NoError(t, err)
		n := tt.texts[0].n
		window := tc.maxLen - 2
		stride := window / 4
		if tc.stride >= 0 {
			stride = tc.stride
		}
		var wins []tagWindow
		for _, w := range tt.wins {
			if w.text == 0 {
				wins = append(wins, w)
			}
		}
		require.Equal(t, 0, wins[0].a)
		require.Equal(t, n, wins[len(wins)-1].b)
		for i, w := range wins {
			require.Equal(t, min(window, n), w.b-w.a, "window %d", i)
			if i > 0 {
				require.GreaterOrEqual(t, wins[i-1].b-w.a, stride, "windows %d and %d share at least the stride", i-1, i)
				require.Greater(t, w.a, wins[i-1].a)
			}
		}
		if n > window {
			// Fewest windows: one fewer could not cover the text with
			// that overlap.
			k := len(wins) - 1
			require.Less(t, k*(window-stride)+stride, n+0, "max %d stride %d: %d windows, fewer would do", tc.maxLen, stride, len(wins))
		}
		require.Equal(t, 0, tt.texts[1].n)
		// Every token from its best window, recomputed here by brute force.
		cls, sep, _, _, _ := m.tok.SpecialIDs()
		enc, err := m.tok.Encode(text, tokenizeOpts(0, true))
		require.NoError(t, err)
		ids := enc.IDs[1 : len(enc.IDs)-1]
		refs := map[int]*bert.RefOutput{}
		for r := 0; r < n; r += 7 { // a sample of tokens: the reference path is slow
			best, bestCtx := -1, -1
			for i, w := range wins {
				if r < w.a || r >= w.b {
					continue
				}
				left, right := r-w.a, w.b-1-r
				if w.a == 0 {
					left = n
				}
				if w.b == n {
					right = n
				}
				if c := min(left, right); c > bestCtx {
					best, bestCtx = i, c
				}
			}
			w := wins[best]
			if refs[best] == nil {
				seq := append(append([]int32{cls}, ids[w.a:w.b]...), sep)
				refs[best], err = m.net.Reference(ctx, bert.Sequence{IDs: seq})
				require.NoError(t, err)
			}
			nl := len(m.labels)
			row := refs[best].TokenLogits[(1+r-w.a)*nl : (2+r-w.a)*nl]
			want := make([]float32, nl)
			bert.Softmax(want, row)
			got := tt.tokens[tt.texts[0].off+r].probs
			for j := range want {
				require.InDelta(t, want[j], got[j], 1e-6, "max %d: token %d label %d from window %d", tc.maxLen, r, j, best)
			}
		}
		m.states.Put(st)
	}
	// The entities cover the whole text, not its first window.
	res, err := m.Tag(ctx, []string{text}, WithMaxLength(16), WithIgnoreLabels(), WithAggregation(AggregateNone))
	require.NoError(t, err)
	require.Equal(t, len(strings.TrimSpace(text)), res[0][len(res[0])-1].End)
}

// TestTagErrors covers the API's contract: wrong head, options, closed
// model, nil context, empty inputs.
func TestTagErrors(t *testing.T) {
	ctx := context.Background()
	seq := fixtureModel(t)
	_, err := seq.Tag(ctx, []string{"x"})
	require.ErrorIs(t, err, ErrNoClassifier)
	require.Contains(t, err.Error(), "token-classification head")

	m := tokenFixture(t)
	_, err = m.Classify(ctx, []string{"x"})
	require.ErrorIs(t, err, ErrNoClassifier)
	require.Contains(t, err.Error(), "use Tag")
	v, err := m.Embed(ctx, []string{"John"})
	require.NoError(t, err, "a token classifier is an encoder too")
	require.Len(t, v[0], m.Info().Hidden)

	res, err := m.Tag(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, res)
	res, err = m.Tag(ctx, []string{"", "   ", "\x00\x01"})
	require.NoError(t, err)
	require.Len(t, res, 3)
	for _, r := range res {
		require.NotNil(t, r)
		require.Empty(t, r)
	}

	for _, o := range []CallOption{WithAggregation(-1), WithAggregation(99), WithStride(-1)} {
		_, err = m.Tag(ctx, []string{"x"}, o)
		require.ErrorIs(t, err, ErrInvalidOption)
	}
	_, err = m.Tag(ctx, []string{"x"}, WithMaxLength(10), WithStride(8))
	require.ErrorIs(t, err, ErrInvalidOption, "stride must leave each window a new token")
	_, err = m.Tag(ctx, []string{"x"}, WithMaxLength(10), WithStride(7))
	require.NoError(t, err)
	_, err = m.Tag(ctx, []string{"x"}, WithPrivateLabel(1))
	require.ErrorIs(t, err, ErrInvalidOption)
	_, err = m.Tag(nil, []string{"x"}) //nolint:staticcheck // a nil context is what is tested
	require.ErrorIs(t, err, ErrInvalidOption)

	for s, want := range map[string]Aggregation{"none": AggregateNone, "Simple": AggregateSimple, "FIRST": AggregateFirst, "average": AggregateAverage, "max": AggregateMax} {
		a, err := ParseAggregation(s)
		require.NoError(t, err)
		require.Equal(t, want, a)
		require.Equal(t, strings.ToLower(s), a.String())
	}
	_, err = ParseAggregation("mean")
	require.ErrorIs(t, err, ErrInvalidOption)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Tag(cctx, []string{"John Smith"})
	require.ErrorIs(t, err, context.Canceled)

	m2 := tokenFixture(t)
	require.NoError(t, m2.Close())
	_, err = m2.Tag(ctx, []string{"x"})
	require.True(t, errors.Is(err, ErrClosed))
}

// TestTagOffsetsProperties runs awkward texts through every strategy:
// entities are in order, do not overlap, lie on UTF-8 boundaries within the
// text, and Text is the slice they name.
func TestTagOffsetsProperties(t *testing.T) {
	m := tokenFixture(t, WithThreads(1))
	texts := []string{
		"Zoë Müller-Lüdenscheidt, 日本, ☃, e\u0301, \xff\xfe broken, tabs\tand\nlines",
		strings.Repeat("Anna ", 200),
		"a\u200bb c\u0000d [UNK] [CLS] ##x",
	}
	for _, s := range strategies {
		res, err := m.Tag(context.Background(), texts, WithAggregation(s), WithIgnoreLabels(), WithMaxLength(24))
		require.NoError(t, err)
		for i, ents := range res {
			last := 0
			for _, e := range ents {
				require.LessOrEqual(t, last, e.Start, "%s text %d: in order, no overlap", s, i)
				require.Less(t, e.Start, e.End)
				require.LessOrEqual(t, e.End, len(texts[i]))
				require.True(t, utf8.RuneStart(texts[i][e.Start]) || !utf8.ValidString(texts[i]), "%s: start on a rune", s)
				require.Equal(t, texts[i][e.Start:e.End], e.Text)
				require.False(t, math.IsNaN(float64(e.Score)))
				require.True(t, e.Score > 0 && e.Score <= 1)
				last = e.End
			}
		}
	}
}

// TestTagBatching: a text's entities do not depend on the other texts of
// the call (empty ones first included, whose encodings are only special
// tokens), on the thread count, or on how many texts share a batch.
func TestTagBatching(t *testing.T) {
	texts := []string{"", "John Smith lives in New York.", "   ", "Zoë Müller visited Paris; Anna Lee stayed in Leeds.",
		strings.Repeat("Mary Jones, London. ", 30)}
	ctx := context.Background()
	m1 := tokenFixture(t, WithThreads(1))
	m3 := tokenFixture(t, WithThreads(3))
	all, err := m3.Tag(ctx, texts, WithMaxLength(40))
	require.NoError(t, err)
	for i, text := range texts {
		one, err := m1.Tag(ctx, []string{text}, WithMaxLength(40))
		require.NoError(t, err)
		require.Equal(t, one[0], all[i], "text %d", i)
	}
}
