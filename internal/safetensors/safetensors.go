// Package safetensors parses the safetensors checkpoint format (an 8-byte
// little-endian header length, a JSON header mapping tensor names to dtype,
// shape and byte range, then the raw little-endian tensor bytes) used by
// Hugging Face model directories. It backs `lepton quantize`.
//
// Checkpoints are untrusted input: the header length, every dtype, shape,
// offset and byte count is validated (no overflow, no out-of-range or
// overlapping ranges, byte counts that match the shape) before any tensor is
// exposed, and problems are reported as errors wrapping [ErrFormat], never
// as panics. The parser is ours; it follows the public format description.
package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/x448/float16"
)

// The sentinels' text names the problem, not this package: `lepton
// quantize` prints these errors to users as they are.
var (
	// ErrFormat is returned when the data is not a valid safetensors file.
	ErrFormat = errors.New("invalid safetensors file")
	// ErrDType is returned when a tensor's dtype cannot be converted to
	// float32 (integer and 8-bit float tensors).
	ErrDType = errors.New("unsupported safetensors dtype")
)

// Limits: the format caps the header at 100 MB; tensors are capped at
// 2^40 elements and 8 dimensions so size arithmetic cannot overflow.
const (
	MaxHeader   = 100 << 20
	maxDims     = 8
	maxElements = 1 << 40
)

// dtypeSizes maps every dtype of the format to its element size in bytes.
var dtypeSizes = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Tensor is one tensor of a file. Data aliases the parsed buffer.
type Tensor struct {
	Name  string
	DType string // "F32", "F16", "BF16", ...
	Shape []int
	Data  []byte // little-endian elements, row-major
}

// Elements returns the number of elements (1 for a scalar of shape []).
func (t *Tensor) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file.
type File struct {
	Tensors  []Tensor          // sorted by byte offset, i.e. in file order
	Metadata map[string]string // the optional __metadata__ object
	// Raw is the whole file; tensor Data slices alias it.
	Raw     []byte
	byName  map[string]int
	release func() error
}

// Open maps the safetensors file at path read-only (reading it into memory
// where mapping is unavailable) and parses it. Tensor data stays valid until
// Close.
func Open(path string) (*File, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		_ = release()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.release = release
	return f, nil
}

// Close releases the mapping made by Open; tensor data must not be used
// afterwards. It is a no-op for files from Parse or ReadFile.
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	r := f.release
	f.release, f.Tensors, f.Raw, f.byName = nil, nil, nil, nil
	return r()
}

// Lookup returns the tensor called name.
func (f *File) Lookup(name string) (*Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}

// ReadFile reads and parses the safetensors file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

type entry struct {
	DType       string   `json:"dtype"`
	Shape       []uint64 `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Parse validates data as a safetensors file. The returned tensors alias
// data.
func Parse(data []byte) (*File, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
	}
	if len(data) < 8 {
		return nil, bad("%d bytes, too short for the 8-byte header length", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > MaxHeader {
		return nil, bad("header length %d exceeds %d", hlen, MaxHeader)
	}
	if hlen > uint64(len(data)-8) {
		return nil, bad("header length %d runs past the end of the %d-byte file", hlen, len(data))
	}
	header := data[8 : 8+hlen]
	body := data[8+hlen:]
	if !utf8.Valid(header) {
		return nil, bad("header is not UTF-8")
	}
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimLeft(header, " \t\r\n")[0] != '{' {
		return nil, bad("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, bad("header JSON: %v", err)
	}
	f := &File{Raw: data, byName: make(map[string]int, len(raw))}
	if md, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(md, &f.Metadata); err != nil {
			return nil, bad("__metadata__ must map strings to strings: %v", err)
		}
		delete(raw, "__metadata__")
	}
	type span struct {
		begin, end uint64
	}
	spans := make([]span, 0, len(raw))
	for name, msg := range raw {
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		size, ok := dtypeSizes[e.DType]
		if !ok {
			return nil, bad("tensor %q has unknown dtype %q", name, e.DType)
		}
		if len(e.Shape) > maxDims {
			return nil, bad("tensor %q has %d dimensions, limit %d", name, len(e.Shape), maxDims)
		}
		if len(e.DataOffsets) != 2 {
			return nil, bad("tensor %q: data_offsets must be [begin, end]", name)
		}
		// Every dimension, and the product of the non-zero ones, must stay
		// within maxElements: a zero dimension makes the tensor empty but
		// must not let another be 2^64-1 (which would read back as -1 and
		// overflow whoever multiplies the shape in another order).
		elems, nonZero := uint64(1), uint64(1)
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			if d > maxElements || (d != 0 && nonZero > maxElements/d) {
				return nil, bad("tensor %q has a shape %v of more than 2^40 elements", name, e.Shape)
			}
			if d != 0 {
				nonZero *= d // cannot overflow: checked against maxElements/d first
			}
			elems *= d
			shape[i] = int(d)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin > end || end > uint64(len(body)) {
			return nil, bad("tensor %q data_offsets [%d, %d] outside the %d-byte data region", name, begin, end, len(body))
		}
		if want := elems * uint64(size); end-begin != want {
			return nil, bad("tensor %q is %d bytes, %s %v needs %d", name, end-begin, e.DType, e.Shape, want)
		}
		f.Tensors = append(f.Tensors, Tensor{Name: name, DType: e.DType, Shape: shape, Data: body[begin:end:end]})
		spans = append(spans, span{begin, end})
	}
	// Sort by offset (names break ties for empty tensors) and refuse
	// overlapping byte ranges, which would let one tensor alias another.
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(spans[a].begin, spans[b].begin); c != 0 {
			return c
		}
		return cmp.Compare(f.Tensors[a].Name, f.Tensors[b].Name)
	})
	sortedT := make([]Tensor, len(idx))
	var prevEnd uint64
	for i, j := range idx {
		if i > 0 && spans[j].begin < prevEnd {
			return nil, bad("tensors %q and %q overlap", sortedT[i-1].Name, f.Tensors[j].Name)
		}
		prevEnd = max(prevEnd, spans[j].end)
		sortedT[i] = f.Tensors[j]
	}
	f.Tensors = sortedT
	for i, t := range f.Tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// Float32 converts the tensor to float32 values (F32, F16, BF16 and F64;
// F64 values outside the float32 range become infinities).
func (t *Tensor) Float32() ([]float32, error) {
	le := binary.LittleEndian
	switch t.DType {
	case "F32":
		out := make([]float32, len(t.Data)/4)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case "F16":
		out := make([]float32, len(t.Data)/2)
		for i := range out {
			out[i] = float16.Frombits(le.Uint16(t.Data[2*i:])).Float32()
		}
		return out, nil
	case "BF16":
		// bfloat16 is the top half of a float32.
		out := make([]float32, len(t.Data)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(t.Data[2*i:])) << 16)
		}
		return out, nil
	case "F64":
		out := make([]float32, len(t.Data)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(t.Data[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: tensor %q is %s", ErrDType, t.Name, t.DType)
}

// Write encodes tensors (whose Data must hold the right number of bytes for
// their dtype and shape) and optional metadata as a safetensors file, in the
// given order. It is used by tests and tools to make small checkpoints.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off uint64
	for _, t := range tensors {
		size, ok := dtypeSizes[t.DType]
		if !ok {
			return fmt.Errorf("%w: tensor %q has unknown dtype %q", ErrFormat, t.Name, t.DType)
		}
		if len(t.Data) != t.Elements()*size {
			return fmt.Errorf("%w: tensor %q has %d bytes, %s %v needs %d", ErrFormat, t.Name, len(t.Data), t.DType, t.Shape, t.Elements()*size)
		}
		if _, dup := header[t.Name]; dup || t.Name == "__metadata__" {
			return fmt.Errorf("%w: duplicate tensor name %q", ErrFormat, t.Name)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []uint64{off, off + uint64(len(t.Data))}}
		off += uint64(len(t.Data))
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces so the data starts 8-byte aligned, as the
	// reference writer does.
	for (8+len(hj))%8 != 0 {
		hj = append(hj, ' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// F32Bytes encodes float32 values as little-endian bytes (a helper for
// building F32 tensors).
func F32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}
