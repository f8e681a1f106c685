package lepton

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFindPatterns checks each format FindPatterns documents on hand-written
// positives, embedded in a sentence, and look-alikes that must not match.
func TestFindPatterns(t *testing.T) {
	for _, tc := range []struct {
		label string
		hits  []string
	}{
		{PatternDate, []string{"12/03/2024", "3/12/24", "5/2/65", "1/20/2022", "12.03.2024", "28.12.2025", "12-03-2024",
			"2024-03-12", "20240312", "12 March 2024", "3 October 1982", "16 Apr 2024", "3rd July", "22nd January",
			"4th of March 2024", "16-Jul-1945", "30-Jan-23", "March 12, 2024", "April 13, 1956", "March 2024", "Sept 2001"}},
		{PatternPhone, []string{"(815) 526-1301", "(815)526-1301", "438-941-2996", "683.924.5156", "633-6500",
			"+1 692 315 3452", "+1-692-315-3452", "+44 7610 675655", "+44 (0)20 7946 0958", "+447700900123",
			"020 7946 0958", "0117 474 8334", "01865 158 0279", "07187 104231", "07700900123"}},
		{PatternID, []string{"426353", "50234703", "P3032981", "TRG346218950", "345 339 7829", "123-45-6789",
			"6238-5165", "GZ-2023-38433", "AB/12345/C"}},
		{PatternEmail, []string{"sipho.yamamoto@inbox.test", "plewis22@post.example.net", "khan_janet@family.example",
			"a+b@x-y.example.org"}},
	} {
		for _, h := range tc.hits {
			for _, text := range []string{h, "seen on " + h + ", then", "(" + h + ")\n"} {
				got := FindPatterns(text)
				require.Len(t, got, 1, "%q in %q: %v", h, text, got)
				e := got[0]
				require.Equal(t, Entity{Label: tc.label, Score: 1, Start: strings.Index(text, h), End: strings.Index(text, h) + len(h), Text: h, Index: -1}, e, "%q in %q", h, text)
			}
		}
	}

	// Look-alikes that are no identifiers, in the sentences notes write
	// them in: none may match anything.
	for _, text := range []string{
		"BP 145/92, pulse 88.", "Lying/standing BP 171/100 and 120/80.", "Co-codamol 30/500 two tablets qds",
		"Paracetamol 500 mg 1 g qds, 15/15 at rest", "seen at 10:30, reviewed 10.30pm and 4.10am", "at 0118h and 1725h",
		"a 45-year-old man, aged 72", "45 y/o, 3 years", "GCS 15/15, sats 98% on 2 L", "Hb 132 g/L, WCC 11.2",
		"Incident IR-45678, DATIX-12345 logged", "room 12B, bay 4", "weight 72.5 kg, BMI 24.3", "INR 2.5 on 1 mg",
		"Score 6/9 and 32/40 weeks", "May review; March on", "in 2024 and 1999", "12345", "call me maybe",
		"email: @home, name@", "1.2.3 version", "32/13/2024", "00/12/2024", "2024-13-01", "1999-02-30x",
		"ward 7, bed 23", "Step 2 of 3",
	} {
		require.Empty(t, FindPatterns(text), "%q", text)
	}

	// Never inside a word: a letter or digit next to the match drops it.
	for _, text := range []string{"x12/03/2024", "12/03/2024x", "a426353", "4263531234567", "é12/03/2024"} {
		require.Empty(t, FindPatterns(text), "%q", text)
	}

	// Several in one text, in order; an email's digits are not a phone
	// number, a date inside a longer number is not a date.
	text := "DOB 02/02/1934, tel 07187 104231, email plewis22@post.example.net, MRN 50234703."
	var got []string
	for _, e := range FindPatterns(text) {
		got = append(got, e.Label+":"+e.Text)
	}
	require.Equal(t, []string{"DATE:02/02/1934", "PHONE:07187 104231", "EMAIL:plewis22@post.example.net", "ID:50234703"}, got)
	require.Equal(t, []Entity{}, FindPatterns(""))
}

// TestMergePatterns checks WithPatterns' rule on hand-worked cases: a
// pattern entity keeps its span; a model entity keeps its words outside
// it.
func TestMergePatterns(t *testing.T) {
	text := "Seen on 12/03/2024 by Ann Lee, call 020 7946 0958."
	at := func(label, s string, score float32) Entity {
		i := strings.Index(text, s)
		return Entity{Label: label, Score: score, Start: i, End: i + len(s), Text: s, Index: -1}
	}
	date := at("DATE", "12/03/2024", 1)
	phone := at("PHONE", "020 7946 0958", 1)
	for _, tc := range []struct {
		name  string
		model []Entity
		want  []Entity
	}{
		{"no model entities", nil, []Entity{date, phone}},
		{"apart", []Entity{at("NAME", "Ann Lee", 0.9)}, []Entity{date, at("NAME", "Ann Lee", 0.9), phone}},
		{"model span wider: outside words kept under the model's label",
			[]Entity{at("DATE", "on 12/03/2024 by", 0.8)}, []Entity{at("DATE", "on", 0.8), date, at("DATE", "by", 0.8), phone}},
		{"model span inside: dropped", []Entity{at("PHONE", "7946", 0.7), at("ID", "0958", 0.6)}, []Entity{date, phone}},
		{"other type across a pattern: both sides kept",
			[]Entity{at("NAME", "Lee, call 020 7946 0958.", 0.5)}, []Entity{date, at("NAME", "Lee, call", 0.5), phone}},
		{"leftover punctuation only: dropped", []Entity{at("DATE", "12/03/2024 ", 0.5), at("PHONE", "0958.", 0.5)}, []Entity{date, phone}},
		{"one model entity over both", []Entity{at("ID", "12/03/2024 by Ann Lee, call 020", 0.4)}, []Entity{date, at("ID", "by Ann Lee, call", 0.4), phone}},
	} {
		got := mergePatterns(text, tc.model, FindPatterns(text))
		require.Equal(t, tc.want, got, tc.name)
		// Every letter and digit that either masks is masked (white
		// space and punctuation between them may not be).
		union := Redact(text, append(append([]Entity{}, tc.model...), date, phone), MaskRunes('*'))
		merged := Redact(text, got, MaskRunes('*'))
		require.Equal(t, len(union), len(merged))
		for i, r := range text {
			if isAlnum(r) {
				require.Equal(t, union[i] == '*', merged[i] == '*', "%s: byte %d of %q", tc.name, i, merged)
			}
		}
	}
	require.Equal(t, []Entity{at("NAME", "Ann Lee", 1)}, mergePatterns(text, []Entity{at("NAME", "Ann Lee", 1)}, nil))
}

// TestTagWithPatterns runs Tag with WithPatterns on the random-weight token
// model: the result is the model's entities merged with FindPatterns' by
// mergePatterns, ignored labels stay out, and AggregateNone is refused.
func TestTagWithPatterns(t *testing.T) {
	m := tokenFixture(t)
	ctx := context.Background()
	texts := []string{"Ann Lee, born 12/03/1960, phone 020 7946 0958 or ann.lee@example.org.", "", "nothing to find here"}
	plain, err := m.Tag(ctx, texts)
	require.NoError(t, err)
	withP, err := m.Tag(ctx, texts, WithPatterns(true))
	require.NoError(t, err)
	for i, text := range texts {
		require.Equal(t, mergePatterns(text, plain[i], FindPatterns(text)), withP[i], "text %d", i)
	}
	require.Len(t, FindPatterns(texts[0]), 3)
	off, err := m.Tag(ctx, texts, WithPatterns(true), WithPatterns(false))
	require.NoError(t, err)
	require.Equal(t, plain, off, "the last option wins")

	ign, err := m.Tag(ctx, texts[:1], WithPatterns(true), WithIgnoreLabels("O", PatternEmail, PatternPhone))
	require.NoError(t, err)
	for _, e := range ign[0] {
		require.NotContains(t, []string{PatternEmail, PatternPhone}, e.Label)
	}
	require.Contains(t, ign[0], Entity{Label: PatternDate, Score: 1, Start: 14, End: 24, Text: "12/03/1960", Index: -1})

	_, err = m.Tag(ctx, texts, WithPatterns(true), WithAggregation(AggregateNone))
	require.True(t, errors.Is(err, ErrInvalidOption), "%v", err)
	det, err := m.TagDetailed(ctx, texts, WithPatterns(true))
	require.NoError(t, err)
	for i := range texts {
		require.Equal(t, withP[i], det[i].Entities)
	}
}

// FuzzFindPatterns checks FindPatterns and Tag with WithPatterns on any
// text: entities in order, not overlapping, inside the text, at word
// edges, with one of the four labels; Tag's merged entities in order and
// not overlapping, every pattern entity among them, and every letter and
// digit the model masked still masked.
func FuzzFindPatterns(f *testing.F) {
	for _, s := range []string{"", "DOB 12/03/2024", "call (555) 123-4567 or 07700 900123", "a.b@c.de", "BP 145/92, 30/500",
		"MRN 50234703.", "3rd of March 2024", "Zoë 12.03.2024 北京", "\x00\xff12/03/2024\xfe", "+44 (0)20 7946 0958x",
		"12/03/2024/12/03/2024", "AB/12345/C@x.y"} {
		f.Add(s)
	}
	m := tokenFixture(f, WithThreads(1))
	ctx := context.Background()
	labels := []string{PatternDate, PatternPhone, PatternID, PatternEmail}
	f.Fuzz(func(t *testing.T, text string) {
		pats := FindPatterns(text)
		last := 0
		for _, e := range pats {
			if e.Start < last || e.Start >= e.End || e.End > len(text) || text[e.Start:e.End] != e.Text ||
				e.Score != 1 || e.Index != -1 || !atWordEdge(text, e.Start, e.End) || !slices.Contains(labels, e.Label) {
				t.Fatalf("FindPatterns(%q): bad entity %+v", text, e)
			}
			last = e.End
		}
		plain, err := m.Tag(ctx, []string{text}, WithMaxLength(12))
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Tag(ctx, []string{text}, WithMaxLength(12), WithPatterns(true))
		if err != nil {
			t.Fatal(err)
		}
		last = 0
		for _, e := range res[0] {
			if e.Start < last || e.Start >= e.End || e.End > len(text) || text[e.Start:e.End] != e.Text {
				t.Fatalf("Tag(%q) with patterns: bad entity %+v in %+v", text, e, res[0])
			}
			last = e.End
		}
		for _, p := range pats {
			if !slices.Contains(res[0], p) {
				t.Fatalf("Tag(%q): pattern entity %+v missing from %+v", text, p, res[0])
			}
		}
		src := []rune(text)
		before, after := []rune(Redact(text, plain[0], MaskRunes('\x00'))), []rune(Redact(text, res[0], MaskRunes('\x00')))
		if len(before) != len(src) || len(after) != len(src) {
			t.Fatalf("Tag(%q): MaskRunes changed the length", text)
		}
		for i, r := range src {
			if before[i] == 0 && r != 0 && isAlnum(r) && after[i] != 0 {
				t.Fatalf("Tag(%q): the model masked %q at rune %d, the merge does not", text, r, i)
			}
		}
	})
}
