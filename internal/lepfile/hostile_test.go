package lepfile_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/lepfile"
)

// TestHostileDirectory corrupts tensor directory entries the way a hostile
// writer would (with every CRC recomputed) and checks each is refused with
// ErrFormat and a message naming the problem.
func TestHostileDirectory(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, false, true)
	data := encode(t, m, testTokenizer, nil)
	l := parseLayout(t, data)
	le := binary.LittleEndian
	const target = "layer.1.inter.weight" // packed, 23 x 18
	other := "layer.1.inter.bias"
	for _, tc := range []struct {
		name   string
		mutate func(d []byte, e int)
		want   string
	}{
		{"misaligned offset", func(d []byte, e int) { le.PutUint64(d[e+8:], le.Uint64(d[e+8:])+8) }, "aligned"},
		{"offset past DATA", func(d []byte, e int) { le.PutUint64(d[e+8:], uint64(alignUp(int64(len(d))))+64) }, "outside the DATA section"},
		{"offset before DATA", func(d []byte, e int) { le.PutUint64(d[e+8:], 64) }, "outside the DATA section"},
		{"offset wraps", func(d []byte, e int) { le.PutUint64(d[e+8:], ^uint64(63)) }, "outside the DATA section"},
		{"overlap", func(d []byte, e int) {
			le.PutUint64(d[e+8:], le.Uint64(d[l.tensors[other]+8:]))
		}, "overlap"},
		{"length mismatch", func(d []byte, e int) { le.PutUint64(d[e+16:], le.Uint64(d[e+16:])+4) }, "needs"},
		{"shape mismatch", func(d []byte, e int) {
			le.PutUint64(d[e+32:], 24)
			le.PutUint64(d[e+16:], 32*20) // a consistent length for [24 18] packed
		}, "want"},
		{"zero dimension", func(d []byte, e int) { le.PutUint64(d[e+32:], 0) }, "dimension 0 is 0"},
		{"huge dimensions", func(d []byte, e int) {
			le.PutUint64(d[e+32:], 1<<31-1)
			le.PutUint64(d[e+40:], 1<<31-1)
		}, "elements"},
		{"dimension over int32", func(d []byte, e int) { le.PutUint64(d[e+32:], 1<<40) }, "dimension 0"},
		{"unknown dtype", func(d []byte, e int) { d[e+2] = 9 }, "unsupported dtype 9"},
		{"wrong dtype", func(d []byte, e int) { d[e+2] = byte(lepfile.F32) }, "I8P16K4 needs"},
		{"unknown layout", func(d []byte, e int) { le.PutUint32(d[e+4:], 5) }, "unsupported layout 5"},
		{"row-major instead of packed", func(d []byte, e int) { le.PutUint32(d[e+4:], 0) }, "needs"},
		{"ndim 0", func(d []byte, e int) { d[e+3] = 0 }, "ndim 0"},
		{"ndim 5", func(d []byte, e int) { d[e+3] = 5 }, "ndim 5"},
		{"name too long", func(d []byte, e int) { le.PutUint16(d[e:], 300) }, "name length 300"},
		{"name runs off", func(d []byte, _ int) {
			last := 0
			for _, off := range l.tensors {
				last = max(last, off)
			}
			le.PutUint16(d[last:], 250)
		}, "past the section end"},
		{"flags", func(d []byte, e int) { le.PutUint32(d[e+28:], 1) }, "flags"},
		{"duplicate name", func(d []byte, e int) {
			// Rename the target to the bias's name (same length).
			copy(d[e+48:e+48+len(target)], "layer.1.inter.scales")
		}, "appears twice"},
		{"missing tensor", func(d []byte, e int) { copy(d[e+48:e+48+len(target)], "layer.1.inter.weighX") }, "missing tensor layer.1.inter.weight"},
		{"count too large", func(d []byte, _ int) { le.PutUint32(d[l.sections[lepfile.KindTensors][0]:], 1<<20) }, "limit"},
		{"count beyond section", func(d []byte, _ int) { le.PutUint32(d[l.sections[lepfile.KindTensors][0]:], 60000) }, "cannot hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := slices.Clone(data)
			tc.mutate(d, l.tensors[target])
			fixCRCs(d)
			f, err := lepfile.OpenBytes(d)
			require.ErrorIs(t, err, lepfile.ErrFormat, "opened: %v", f)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestHostileSections corrupts the section table and the config.
func TestHostileSections(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, false, true)
	data := encode(t, m, testTokenizer, lepfile.Metadata{"a": "b"})
	l := parseLayout(t, data)
	le := binary.LittleEndian
	entry := func(kind string) int { return 64 + 32*l.entry[kind] }
	for _, tc := range []struct {
		name   string
		mutate func(d []byte) []byte
		err    error
		want   string
	}{
		{"section past EOF", func(d []byte) []byte { le.PutUint64(d[entry(lepfile.KindMeta)+16:], uint64(len(d))); return d }, lepfile.ErrTruncated, "runs past the end"},
		{"section offset wraps", func(d []byte) []byte { le.PutUint64(d[entry(lepfile.KindMeta)+8:], ^uint64(63)); return d }, lepfile.ErrTruncated, "runs past the end"},
		{"section misaligned", func(d []byte) []byte {
			le.PutUint64(d[entry(lepfile.KindMeta)+8:], uint64(l.sections["META"][0]+4))
			return d
		}, lepfile.ErrFormat, "multiple of 64"},
		{"section over header", func(d []byte) []byte { le.PutUint64(d[entry(lepfile.KindMeta)+8:], 0); return d }, lepfile.ErrFormat, "after the section table"},
		{"sections overlap", func(d []byte) []byte {
			le.PutUint64(d[entry(lepfile.KindMeta)+8:], uint64(l.sections["CONF"][0]))
			return d
		}, lepfile.ErrFormat, "overlap"},
		{"duplicate kind", func(d []byte) []byte { copy(d[entry(lepfile.KindMeta):], "CONF"); return d }, lepfile.ErrFormat, "appears twice"},
		{"unknown required kind", func(d []byte) []byte {
			copy(d[entry(lepfile.KindMeta):], "ZZZZ")
			le.PutUint32(d[entry(lepfile.KindMeta)+4:], 1)
			return d
		}, lepfile.ErrFormat, `required section "ZZZZ"`},
		{"missing config", func(d []byte) []byte {
			copy(d[entry(lepfile.KindConfig):], "XCNF")
			le.PutUint32(d[entry(lepfile.KindConfig)+4:], 0)
			return d
		}, lepfile.ErrFormat, "missing CONF"},
		{"non-ASCII kind", func(d []byte) []byte { d[entry(lepfile.KindMeta)] = 0; return d }, lepfile.ErrFormat, "non-ASCII"},
		{"section flags", func(d []byte) []byte { le.PutUint32(d[entry(lepfile.KindMeta)+4:], 6); return d }, lepfile.ErrFormat, "flags"},
		{"section count 0", func(d []byte) []byte { le.PutUint32(d[32:], 0); return d }, lepfile.ErrFormat, "section count 0"},
		{"section count huge", func(d []byte) []byte { le.PutUint32(d[32:], 1<<30); return d }, lepfile.ErrFormat, "section count"},
		{"header size", func(d []byte) []byte { le.PutUint32(d[12:], 128); return d }, lepfile.ErrFormat, "header size"},
		{"header flags", func(d []byte) []byte { le.PutUint32(d[40:], 1); return d }, lepfile.ErrFormat, "flags"},
		{"table offset", func(d []byte) []byte { le.PutUint64(d[24:], 65); return d }, lepfile.ErrFormat, "section table offset"},
		{"trailing data", func(d []byte) []byte { return append(d, 0) }, lepfile.ErrFormat, "trailing"},
		{"config JSON", func(d []byte) []byte { return setConfig(t, d, l, `{"architecture": `) }, lepfile.ErrFormat, "config JSON"},
		{"config heads", func(d []byte) []byte { return editConfig(t, d, l, `"heads":3`, `"heads":4`) }, lepfile.ErrFormat, "not a multiple of heads"},
		{"config arch", func(d []byte) []byte {
			return editConfig(t, d, l, `"architecture":"BertForSequenceClassification"`, `"architecture":"GPT2LMHeadModelXXXXXXXX"`)
		}, lepfile.ErrFormat, "unsupported architecture"},
		{"config vocab vs tensors", func(d []byte) []byte { return editConfig(t, d, l, `"vocab":29`, `"vocab":30`) }, lepfile.ErrFormat, "embeddings.word.weight is"},
		{"config huge vocab", func(d []byte) []byte { return editConfig(t, d, l, `"vocab":29`, `"vocab":9e99`) }, lepfile.ErrFormat, "config JSON"},
		{"config eps", func(d []byte) []byte {
			return editConfig(t, d, l, `"layer_norm_eps":`, `"layer_norm_eps":-1,"x":`)
		}, lepfile.ErrFormat, "layer_norm_eps"},
		{"config activation", func(d []byte) []byte { return editConfig(t, d, l, `"gelu"`, `"relu"`) }, lepfile.ErrFormat, "activation"},
		{"labels vs classifier", func(d []byte) []byte { return editConfig(t, d, l, `"neutral",`, ``) }, lepfile.ErrFormat, "classifier.weight is"},
		{"tokenizer format", func(d []byte) []byte { return editConfig(t, d, l, `"hf-json"`, `"sentencepiece"`) }, lepfile.ErrFormat, "tokenizer_format"},
		{"metadata JSON", func(d []byte) []byte { return setSection(t, d, l, lepfile.KindMeta, `["a"]`) }, lepfile.ErrFormat, "metadata JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.mutate(slices.Clone(data))
			fixCRCs(d)
			_, err := lepfile.OpenBytes(d)
			require.ErrorIs(t, err, tc.err)
			require.Contains(t, err.Error(), tc.want)
		})
	}

	// An unknown optional section is skipped: room for later additions.
	d := slices.Clone(data)
	copy(d[entry(lepfile.KindMeta):], "XTRA")
	fixCRCs(d)
	f, err := lepfile.OpenBytes(d)
	require.NoError(t, err)
	require.Nil(t, f.Meta)
	require.NoError(t, f.Verify())
}

// setSection replaces a small section's payload in place (padding with
// spaces, which JSON ignores) and updates its length.
func setSection(t *testing.T, d []byte, l layout, kind, payload string) []byte {
	t.Helper()
	s := l.sections[kind]
	room := alignUp(s[0]+s[1]) - s[0]
	if next := nextSection(l, s[0]); next < s[0]+room {
		room = next - s[0]
	}
	require.LessOrEqual(t, int64(len(payload)), room, "payload does not fit")
	copy(d[s[0]:s[0]+room], strings.Repeat("\x00", int(room)))
	copy(d[s[0]:], payload)
	binary.LittleEndian.PutUint64(d[64+32*l.entry[kind]+16:], uint64(len(payload)))
	return d
}

// editConfig replaces old by new in the CONF JSON.
func editConfig(t *testing.T, d []byte, l layout, old, new string) []byte {
	t.Helper()
	s := l.sections[lepfile.KindConfig]
	conf := string(d[s[0] : s[0]+s[1]])
	require.Contains(t, conf, old)
	return setSection(t, d, l, lepfile.KindConfig, strings.Replace(conf, old, new, 1))
}

func setConfig(t *testing.T, d []byte, l layout, conf string) []byte {
	return setSection(t, d, l, lepfile.KindConfig, conf)
}

func nextSection(l layout, off int64) int64 {
	next := int64(1 << 62)
	for _, s := range l.sections {
		if s[0] > off && s[0] < next {
			next = s[0]
		}
	}
	return next
}

func alignUp(x int64) int64 { return (x + 63) &^ 63 }
