package lepfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
)

func TestRoundTrip(t *testing.T) {
	meta := lepfile.Metadata{"source": "unit test", "accuracy": "0.5"}
	for _, tc := range []struct {
		name            string
		arch            string
		keepF32, pooler bool
		tok             []byte
	}{
		{"classifier", lepfile.ArchBertClassification, false, true, testTokenizer},
		{"classifier-f32", lepfile.ArchBertClassification, true, true, testTokenizer},
		{"encoder-no-pooler", lepfile.ArchBertModel, false, false, testTokenizer},
		{"encoder-f32-no-tokenizer", lepfile.ArchBertModel, true, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel(t, tc.arch, tc.keepF32, tc.pooler)
			data := encode(t, m, tc.tok, meta)

			path := filepath.Join(t.TempDir(), "m.lep")
			require.NoError(t, os.WriteFile(path, data, 0o644))
			for _, mode := range []struct {
				name   string
				open   func() (*lepfile.File, error)
				mapped bool
			}{
				{"bytes", func() (*lepfile.File, error) { return lepfile.OpenBytes(data) }, false},
				{"bytes-unaligned", func() (*lepfile.File, error) {
					buf := make([]byte, len(data)+1)
					copy(buf[1:], data)
					return lepfile.OpenBytes(buf[1:])
				}, false},
				{"mmap", func() (*lepfile.File, error) { return lepfile.Open(path) }, true},
				{"arena", func() (*lepfile.File, error) { return lepfile.Open(path, lepfile.WithoutMmap()) }, false},
			} {
				t.Run(mode.name, func(t *testing.T) {
					f, err := mode.open()
					require.NoError(t, err)
					defer f.Close()
					if mode.name == "mmap" && !mmapSupported {
						mode.mapped = false
					}
					require.Equal(t, mode.mapped, f.Mapped)
					want := *m
					if want.Config.Labels == nil {
						want.Config.Labels = []string{}
					}
					require.Equal(t, &want, f.Model)
					if tc.tok == nil {
						require.Nil(t, f.Tokenizer)
						require.Empty(t, f.TokenizerFormat)
					} else {
						require.Equal(t, tc.tok, f.Tokenizer)
						require.Equal(t, lepfile.TokenizerHFJSON, f.TokenizerFormat)
					}
					require.Equal(t, meta, f.Meta)
					require.Equal(t, lepfile.MajorVersion, f.Major)
					require.NoError(t, f.Verify())
					// Every tensor view is 64-byte aligned.
					for _, l := range f.Model.Layers {
						require.Zero(t, addr(l.QKV.W.Data)%64)
						require.Zero(t, addr(l.Output.Bias)%64)
					}
					require.NoError(t, f.Close())
					require.NoError(t, f.Close(), "Close twice")
					require.ErrorIs(t, f.Verify(), lepfile.ErrClosed)
				})
			}
		})
	}
}

func TestWriteRefusesInconsistentModels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(m *bert.Model)
	}{
		{"bad config", func(m *bert.Model) { m.Config.Heads = 4 }},
		{"layer count", func(m *bert.Model) { m.Layers = m.Layers[:1] }},
		{"short bias", func(m *bert.Model) { m.Layers[1].Inter.Bias = m.Layers[1].Inter.Bias[:3] }},
		{"wrong dims", func(m *bert.Model) { m.Layers[0].QKV.W.N = 5 }},
		{"short embedding", func(m *bert.Model) { m.Word.Data = m.Word.Data[:10] }},
		{"classifier on BertModel", func(m *bert.Model) { m.Config.Architecture = lepfile.ArchBertModel; m.Config.Labels = nil }},
		{"some float copies", func(m *bert.Model) { m.Layers[0].AttnOut.F32 = make([]float32, 18*18) }},
		{"label count", func(m *bert.Model) { m.Config.Labels = m.Config.Labels[:2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel(t, lepfile.ArchBertClassification, false, true)
			tc.mutate(m)
			err := lepfile.Write(&bytes.Buffer{}, m, nil, nil)
			require.ErrorIs(t, err, lepfile.ErrModel)
		})
	}
	require.ErrorIs(t, lepfile.Write(&bytes.Buffer{}, nil, nil, nil), lepfile.ErrModel)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := lepfile.Open(filepath.Join(dir, "missing.lep"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	empty := filepath.Join(dir, "empty.lep")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = lepfile.Open(empty)
	require.ErrorIs(t, err, lepfile.ErrTruncated)

	text := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(text, []byte(`{"architectures": ["BertModel"], "hidden_size": 128}`+"\n"), 0o644))
	_, err = lepfile.Open(text)
	require.ErrorIs(t, err, lepfile.ErrFormat)
	require.Contains(t, err.Error(), "not a .lep file")

	_, err = lepfile.Open(dir)
	require.Error(t, err, "a directory")
}

func TestTruncated(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, true, true)
	data := encode(t, m, testTokenizer, lepfile.Metadata{"k": "v"})
	// Every prefix of the file, including every section and tensor
	// boundary, is refused as truncated.
	for n := 0; n < len(data); n++ {
		_, err := lepfile.OpenBytes(slices.Clone(data[:n]))
		if !errors.Is(err, lepfile.ErrTruncated) {
			t.Fatalf("prefix of %d/%d bytes: got %v, want ErrTruncated", n, len(data), err)
		}
	}
	// A hostile truncation that also rewrites the file size (and every
	// CRC) is caught by the section and tensor bounds checks instead.
	l := parseLayout(t, data)
	var cuts []int64
	for _, s := range l.sections {
		cuts = append(cuts, s[0], s[0]+s[1]/2, s[0]+s[1]-1)
	}
	for _, cut := range cuts {
		if cut < 96 || cut >= int64(len(data)) {
			continue
		}
		d := slices.Clone(data[:cut])
		binary.LittleEndian.PutUint64(d[16:], uint64(cut))
		fixCRCs(d)
		_, err := lepfile.OpenBytes(d)
		require.Error(t, err, "cut at %d", cut)
		require.True(t, errors.Is(err, lepfile.ErrTruncated) || errors.Is(err, lepfile.ErrFormat), "cut at %d: %v", cut, err)
	}
}

func TestBitFlips(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertClassification, false, true)
	data := encode(t, m, testTokenizer, lepfile.Metadata{"k": "v"})
	l := parseLayout(t, data)
	flip := func(off int64, bit uint) []byte {
		d := slices.Clone(data)
		d[off] ^= 1 << bit
		return d
	}
	// Header and section table: every bit.
	tableEnd := int64(64 + 32*l.count)
	for off := int64(0); off < tableEnd; off++ {
		for bit := range uint(8) {
			_, err := lepfile.OpenBytes(flip(off, bit))
			switch {
			case off < 8:
				require.ErrorIs(t, err, lepfile.ErrFormat, "magic byte %d bit %d", off, bit)
			case (off == 8 || off == 9) && errors.Is(err, lepfile.ErrVersion):
				// A flip in the major version that makes it larger is
				// reported as a newer version (its header may differ).
			default:
				require.ErrorIs(t, err, lepfile.ErrChecksum, "byte %d bit %d", off, bit)
			}
		}
	}
	// Small sections (config, metadata, tokenizer, directory): every bit of
	// the first and last 64 bytes.
	for _, kind := range []string{lepfile.KindConfig, lepfile.KindMeta, lepfile.KindTokenizer, lepfile.KindTensors} {
		s := l.sections[kind]
		for off := s[0]; off < s[0]+s[1]; off++ {
			if off-s[0] >= 64 && s[0]+s[1]-off > 64 {
				continue
			}
			for bit := range uint(8) {
				_, err := lepfile.OpenBytes(flip(off, bit))
				require.ErrorIs(t, err, lepfile.ErrChecksum, "%s byte %d bit %d", kind, off-s[0], bit)
			}
		}
	}
	// Payloads are not read at open; Verify finds the damage and names the
	// tensor.
	ds := l.sections[lepfile.KindData]
	for i, off := range []int64{ds[0], ds[0] + ds[1]/3, ds[0] + ds[1] - 1} {
		f, err := lepfile.OpenBytes(flip(off, uint(i)))
		require.NoError(t, err)
		err = f.Verify()
		require.ErrorIs(t, err, lepfile.ErrChecksum)
		require.Contains(t, err.Error(), "tensor ")
	}
}

func TestVersion(t *testing.T) {
	m := tinyModel(t, lepfile.ArchBertModel, false, true)
	data := encode(t, m, nil, nil)
	set := func(major, minor uint16) []byte {
		d := slices.Clone(data)
		binary.LittleEndian.PutUint16(d[8:], major)
		binary.LittleEndian.PutUint16(d[10:], minor)
		fixCRCs(d)
		return d
	}
	_, err := lepfile.OpenBytes(set(2, 0))
	require.ErrorIs(t, err, lepfile.ErrVersion)
	require.Contains(t, err.Error(), "2.0")
	_, err = lepfile.OpenBytes(set(0, 9))
	require.ErrorIs(t, err, lepfile.ErrFormat)
	f, err := lepfile.OpenBytes(set(1, 7))
	require.NoError(t, err, "newer minor versions are readable")
	require.Equal(t, 7, f.Minor)
	// A newer major version with a different header layout (CRC elsewhere).
	d := set(3, 0)
	d[60] ^= 0xff
	_, err = lepfile.OpenBytes(d)
	require.ErrorIs(t, err, lepfile.ErrVersion)
}

func addr[T any](s []T) uintptr { return uintptr(unsafePointer(s)) }
