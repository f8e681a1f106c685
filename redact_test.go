package lepton

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	label := func(e Entity) string { return "[" + e.Label + "]" }
	text := "Seen by Dr Ann Lee on 12/03/2024, tel 0113 496 0000.\nAddress: 1 Elm St\nLeeds"
	ents := []Entity{
		{Label: "DATE", Start: 22, End: 32},
		{Label: "NAME", Start: 11, End: 18},
		{Label: "PHONE", Start: 38, End: 51},
		{Label: "ADDRESS", Start: 62, End: 76},
	}
	require.Equal(t, "Seen by Dr [NAME] on [DATE], tel [PHONE].\nAddress: [ADDRESS]", Redact(text, ents, label))
	star := Redact(text, ents, MaskRunes('*'))
	require.Equal(t, "Seen by Dr ******* on **********, tel *************.\nAddress: ********\n*****", star)
	require.Equal(t, len(text), len(star), "ASCII: one byte per masked byte, line breaks kept")

	// Multi-byte text: one mask rune per rune; invalid bytes count as one.
	u := "Zoë \xff Müller"
	require.Equal(t, "############", Redact(u, []Entity{{Start: 0, End: len(u)}}, MaskRunes('#')))
	require.Equal(t, "Zo█ \xff Müller", Redact(u, []Entity{{Start: 2, End: 4}}, MaskRunes('█')))

	// Overlapping, touching, unsorted, out-of-range and empty spans.
	require.Equal(t, "a[X]f", Redact("abcdef", []Entity{{Label: "Y", Start: 3, End: 5}, {Label: "X", Start: 1, End: 4}}, label))
	require.Equal(t, "[X]", Redact("abcdef", []Entity{{Label: "X", Start: 0, End: 3}, {Label: "Y", Start: 3, End: 6}}, label))
	require.Equal(t, "ab[X]", Redact("abcdef", []Entity{{Label: "X", Start: 2, End: 99}}, label))
	require.Equal(t, "abcdef", Redact("abcdef", []Entity{{Label: "X", Start: 4, End: 4}, {Label: "Y", Start: -3, End: 0}, {Label: "Z", Start: 9, End: 12}}, label))
	require.Equal(t, "", Redact("", nil, label))
	require.Equal(t, "x", Redact("x", nil, label))

	// Everything outside the entities is kept byte for byte.
	long := strings.Repeat("ok \r\n\t", 100)
	require.Equal(t, long, Redact(long, nil, label))
}
