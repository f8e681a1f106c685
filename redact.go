package lepton

import (
	"slices"
	"strings"
)

// Redact returns text with the span of every entity (Start and End, as Tag
// returns them) replaced by mask(e), and every byte outside the entities
// unchanged. Entities may come in any order; overlapping or touching
// entities are merged and masked once, with mask of the first (by Start).
// Spans are clipped to the text, and empty spans are ignored, so Redact
// never panics whatever it is given.
//
// Two common masks: the entity's type, func(e Entity) string { return
// "[" + e.Label + "]" }, which hides how long the entity was; and
// MaskRunes('*'), which keeps the text's layout and reveals each entity's
// length.
func Redact(text string, entities []Entity, mask func(Entity) string) string {
	ents := make([]Entity, 0, len(entities))
	for _, e := range entities {
		e.Start, e.End = max(e.Start, 0), min(e.End, len(text))
		if e.Start < e.End {
			ents = append(ents, e)
		}
	}
	slices.SortStableFunc(ents, func(a, b Entity) int { return a.Start - b.Start })
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for i := 0; i < len(ents); {
		e := ents[i]
		end := e.End
		j := i + 1
		for j < len(ents) && ents[j].Start <= end {
			end = max(end, ents[j].End)
			j++
		}
		e.End = end
		e.Text = text[e.Start:e.End]
		b.WriteString(text[pos:e.Start])
		b.WriteString(mask(e))
		pos = end
		i = j
	}
	b.WriteString(text[pos:])
	return b.String()
}

// MaskRunes returns a mask for Redact that writes c once for every
// character (rune) of the entity, keeping line breaks ("\n" and "\r") so
// that the text keeps its lines; an invalid UTF-8 byte counts as one
// character.
func MaskRunes(c rune) func(Entity) string {
	return func(e Entity) string {
		var b strings.Builder
		for _, r := range e.Text {
			if r == '\n' || r == '\r' {
				b.WriteRune(r)
			} else {
				b.WriteRune(c)
			}
		}
		return b.String()
	}
}
