package lepfile_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
)

// tinyConfig has awkward sizes on purpose: hidden 18 is not a multiple of
// the 4-wide K blocks, 3*18 = 54 and 23 are not multiples of 16-channel
// panels, so every packed tensor has padding.
func tinyConfig(arch string) bert.Config {
	c := bert.Config{
		Architecture: arch, Layers: 2, Hidden: 18, Heads: 3, Intermediate: 23, Vocab: 29,
		MaxPositions: 11, TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu", Pooling: "cls",
	}
	if arch == lepfile.ArchBertClassification {
		c.Labels = []string{"neg", "neutral", "pos"}
	}
	return c
}

// tinyModel builds a deterministic quantised model.
func tinyModel(t testing.TB, arch string, keepF32, pooler bool) *bert.Model {
	t.Helper()
	cfg := tinyConfig(arch)
	ts := convert.Random(cfg, 7)
	if !pooler {
		delete(ts, convert.NamePooler+".weight")
		delete(ts, convert.NamePooler+".bias")
	}
	m, err := convert.FromFloat(cfg, ts, convert.Options{KeepF32: keepF32})
	require.NoError(t, err)
	return m
}

var testTokenizer = []byte("opaque tokenizer blob \x00\x01\x02 for tests")

// encode writes m to bytes.
func encode(t testing.TB, m *bert.Model, tok []byte, meta lepfile.Metadata) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, lepfile.Write(&buf, m, tok, meta, lepfile.WithTokenizerFormat(lepfile.TokenizerHFJSON)))
	return buf.Bytes()
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout locates the parts of a file for the tests that corrupt it.
type layout struct {
	count    int
	sections map[string][2]int64 // offset, length
	entry    map[string]int      // section kind -> index in table
	tensors  map[string]int      // tensor name -> offset of its directory entry (absolute)
}

func parseLayout(t testing.TB, data []byte) layout {
	t.Helper()
	le := binary.LittleEndian
	l := layout{count: int(le.Uint32(data[32:])), sections: map[string][2]int64{}, entry: map[string]int{}, tensors: map[string]int{}}
	for i := range l.count {
		e := data[64+32*i:]
		k := string(e[:4])
		l.sections[k] = [2]int64{int64(le.Uint64(e[8:])), int64(le.Uint64(e[16:]))}
		l.entry[k] = i
	}
	dir := l.sections[lepfile.KindTensors]
	pos := int(dir[0]) + 8
	for range int(le.Uint32(data[dir[0]:])) {
		nameLen, ndim := int(le.Uint16(data[pos:])), int(data[pos+3])
		name := string(data[pos+32+8*ndim : pos+32+8*ndim+nameLen])
		l.tensors[name] = pos
		pos += (32 + 8*ndim + nameLen + 7) &^ 7
	}
	return l
}

// fixCRCs recomputes the CRCs of every small section, the section table and
// the header, so a test can corrupt a structure without being caught by a
// checksum first (the hostile-writer case).
func fixCRCs(data []byte) {
	le := binary.LittleEndian
	count := int(le.Uint32(data[32:]))
	for i := range count {
		if 64+32*(i+1) > len(data) {
			// A corrupt count: only the header CRC can be fixed.
			le.PutUint32(data[60:], crc32.Checksum(data[:60], castagnoli))
			return
		}
		e := data[64+32*i:]
		off, n := le.Uint64(e[8:]), le.Uint64(e[16:])
		if string(e[:4]) == lepfile.KindData || off+n > uint64(len(data)) || off > uint64(len(data)) {
			continue
		}
		le.PutUint32(e[24:], crc32.Checksum(data[off:off+n], castagnoli))
	}
	le.PutUint32(data[36:], crc32.Checksum(data[64:64+32*count], castagnoli))
	le.PutUint32(data[60:], crc32.Checksum(data[:60], castagnoli))
}

// mmapSupported reports whether Open maps files on this platform.
var mmapSupported = runtime.GOOS == "linux" || runtime.GOOS == "darwin" || strings.HasSuffix(runtime.GOOS, "bsd")

func unsafePointer[T any](s []T) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

// fixAllCRCs also recomputes every tensor CRC and the DATA section's CRC,
// so the damage is only visible to Verify's structural checks.
func fixAllCRCs(t testing.TB, data []byte) {
	t.Helper()
	le := binary.LittleEndian
	l := parseLayout(t, data)
	for _, e := range l.tensors {
		off, n := le.Uint64(data[e+8:]), le.Uint64(data[e+16:])
		le.PutUint32(data[e+24:], crc32.Checksum(data[off:off+n], castagnoli))
	}
	ds := l.sections[lepfile.KindData]
	le.PutUint32(data[64+32*l.entry[lepfile.KindData]+24:], crc32.Checksum(data[ds[0]:ds[0]+ds[1]], castagnoli))
	fixCRCs(data)
}
