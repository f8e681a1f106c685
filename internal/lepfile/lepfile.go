// Package lepfile reads and writes Lepton's .lep model files (specified byte
// by byte in docs/FORMAT.md).
//
// A .lep file holds a whole model: config, tokenizer, metadata and int8
// weights already packed in the layout the GEMM kernels read. [Open] maps the
// file read-only and turns every tensor into a slice that aliases the
// mapping, after validating every offset, length, shape, dtype, layout and
// alignment and checking the CRC32C of the header, section table, config,
// metadata, tokenizer and tensor directory. Nothing proportional to the size
// of the weights happens at open; [File.Verify] checks the payload CRCs and
// the packed-weight invariants when asked (lepton verify).
//
// Files are untrusted input: every problem is reported as an error wrapping
// one of the sentinels below, never as a panic or an out-of-bounds read.
package lepfile

import (
	"errors"
	"hash/crc32"
	"strconv"
	"unsafe"

	"lepton/internal/bert"
	"lepton/quant"
)

// Sentinel errors. Every error returned by this package wraps one of them
// (use errors.Is) together with a description of what was found.
//
// Their text is worded for the people who read it: `lepton verify`, `info`
// and `quantize` print these errors as they are, so the text names the
// problem, not this package.
var (
	// ErrFormat is returned when the data is not a .lep file or breaks a
	// structural rule of the format (bad offsets, shapes, unknown dtypes...).
	ErrFormat = errors.New("invalid model file")
	// ErrTruncated is returned when the file is shorter than its header or
	// one of its sections says, typically an interrupted copy or download.
	ErrTruncated = errors.New("truncated model file")
	// ErrChecksum is returned when a CRC32C does not match: the file is
	// corrupt (bit rot, a bad copy) or was edited.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrVersion is returned for files written by a newer, incompatible
	// major version of the format.
	ErrVersion = errors.New("unsupported format version")
	// ErrModel is returned by Write when the model's tensors do not agree
	// with its config.
	ErrModel = errors.New("model does not match its config")
	// ErrClosed is returned by methods of a File after Close.
	ErrClosed = errors.New("model file closed")
)

// Format constants (docs/FORMAT.md).
const (
	// Magic is the first 8 bytes of every .lep file.
	Magic = "\x89LEP\r\n\x1a\n"
	// MajorVersion is the format major version this package reads and
	// writes; files with a larger major version are refused.
	MajorVersion = 1
	// MinorVersion is the newest minor version this package writes: 1.2
	// for token classifiers (BertForTokenClassification), 1.1 for files
	// that use what 1.1 added (DistilBERT, single-output heads,
	// sentence-embedding settings), 1.0 for the others. Readers accept any
	// minor version of their major and refuse, by name, an architecture
	// or setting they do not know.
	MinorVersion = 2
	// Align is the alignment of every section and tensor payload.
	Align = 64

	headerSize       = 64
	sectionEntrySize = 32
	maxSections      = 256
	maxTensors       = 65536
	maxNameLen       = 256
	maxDims          = 4
	maxDim           = 1<<31 - 1
	maxElements      = 1 << 40
	maxJSONSection   = 64 << 20  // CONF, META, TDIR
	maxTokenizer     = 256 << 20 // TOKN
	flagRequired     = 1
)

// Section kinds.
const (
	KindConfig    = "CONF"
	KindMeta      = "META"
	KindTokenizer = "TOKN"
	KindTensors   = "TDIR"
	KindData      = "DATA"
)

// Tokenizer blob encodings, recorded as tokenizer_format in the config.
const (
	TokenizerLepton = "lepton"    // tokenize.(*Tokenizer).MarshalBinary
	TokenizerHFJSON = "hf-json"   // a Hugging Face tokenizer.json
	TokenizerVocab  = "vocab-txt" // a WordPiece vocab.txt
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the CRC32C used for every section and tensor.
func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// DType is the element type of a tensor as recorded in the directory.
type DType uint8

// Known dtypes. Ids 4..255 are reserved for later minor versions (f16, bf16,
// int4...); readers refuse ids they do not know.
const (
	F32 DType = 1
	I8  DType = 2
	I32 DType = 3
)

// Size is the size in bytes of one element, or 0 for unknown dtypes.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case I8:
		return 1
	}
	return 0
}

// String returns the dtype's name as used in docs/FORMAT.md.
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case I8:
		return "i8"
	case I32:
		return "i32"
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// Metadata is free-form provenance stored as a JSON object in the META
// section: source checkpoint, conversion options, measured accuracy, notes.
type Metadata map[string]string

// SectionInfo describes one entry of the section table.
type SectionInfo struct {
	Kind     string
	Required bool
	Offset   int64
	Length   int64
	CRC      uint32
}

// TensorInfo describes one entry of the tensor directory.
type TensorInfo struct {
	Name   string
	DType  DType
	Layout quant.Layout
	Shape  []int
	Offset int64 // absolute file offset, a multiple of Align
	Length int64 // payload bytes
	CRC    uint32
}

// File is an open .lep model. Model's slices, Tokenizer and the tensor
// views alias the file's read-only mapping (or arena): they stay valid until
// Close and must never be written to.
type File struct {
	Model           *bert.Model
	Tokenizer       []byte // TOKN blob, nil when the file has none
	TokenizerFormat string // how Tokenizer is encoded: TokenizerLepton, ...
	Meta            Metadata
	Major, Minor    int
	Size            int64
	Sections        []SectionInfo
	Tensors         []TensorInfo
	// Mapped reports whether the file is memory-mapped (true) or was read
	// into an aligned heap arena (false).
	Mapped bool

	data    []byte
	release func() error
	closed  bool
}

// hostLittleEndian reports whether the host stores integers little-endian;
// tensor views reinterpret file bytes in place, so big-endian hosts are
// refused rather than silently misread.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
