package lepfile

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"lepton/internal/bert"
	"lepton/quant"
)

// WriteOption adjusts Write.
type WriteOption func(*writeConfig)

type writeConfig struct {
	tokFormat string
}

// WithTokenizerFormat records how the tokenizer blob is encoded (default
// TokenizerLepton, the output of tokenize.(*Tokenizer).MarshalBinary).
func WithTokenizerFormat(format string) WriteOption {
	return func(c *writeConfig) { c.tokFormat = format }
}

type section struct {
	kind     string
	required bool
	payload  []byte // nil for DATA, which is streamed from the tensors
	offset   int64
	length   int64
	crc      uint32
}

// Write serialises m (weights already quantised and packed with
// quant.QuantizePack), the tokenizer blob (opaque bytes; nil for none) and
// metadata to w in the .lep format. Float copies of the weights are stored
// when the model has them (every Linear.F32 and Embedding.F32 set), and
// refused when only some are set. Write checks the model against its config
// first, so it never produces a file the reader would refuse.
func Write(w io.Writer, m *bert.Model, tokenizer []byte, meta Metadata, opts ...WriteOption) error {
	if !hostLittleEndian {
		return fmt.Errorf("%w: big-endian hosts are not supported", ErrModel)
	}
	wc := writeConfig{tokFormat: TokenizerLepton}
	for _, o := range opts {
		o(&wc)
	}
	if m == nil {
		return fmt.Errorf("%w: nil model", ErrModel)
	}
	if err := ValidateConfig(&m.Config); err != nil {
		return fmt.Errorf("%w: %w", ErrModel, err)
	}
	if len(m.Layers) != m.Config.Layers {
		return fmt.Errorf("%w: %d layers, config says %d", ErrModel, len(m.Layers), m.Config.Layers)
	}
	if (m.Classifier != nil) != IsClassifier(m.Config.Architecture) {
		return fmt.Errorf("%w: %s with classifier=%v", ErrModel, m.Config.Architecture, m.Classifier != nil)
	}
	if (m.TokenClassifier != nil) != (m.Config.Architecture == ArchBertTokenClassification) {
		return fmt.Errorf("%w: %s with token classifier=%v", ErrModel, m.Config.Architecture, m.TokenClassifier != nil)
	}
	if err := checkModelDims(m); err != nil {
		return err
	}
	withF32 := m.Word.F32 != nil
	slots := modelSlots(m, withF32)
	// Both settings of withF32 must agree: a model with some float copies
	// and not others is ambiguous.
	for _, s := range modelSlots(m, true) {
		if strings.HasSuffix(s.name, ".weight_f32") && (len(*s.f32) > 0) != withF32 {
			return fmt.Errorf("%w: %s float copy present=%v but embeddings.word's=%v (all or none)", ErrModel, s.name, len(*s.f32) > 0, withF32)
		}
	}
	for i := range slots {
		s := &slots[i]
		if s.sliceLen() != s.elems() {
			return fmt.Errorf("%w: %s has %d values, want %d for shape %v", ErrModel, s.name, s.sliceLen(), s.elems(), s.shape)
		}
	}
	if len(tokenizer) > maxTokenizer {
		return fmt.Errorf("%w: tokenizer blob of %d bytes exceeds %d", ErrModel, len(tokenizer), maxTokenizer)
	}

	tokFormat := ""
	if len(tokenizer) > 0 {
		tokFormat = wc.tokFormat
	}
	conf, err := json.Marshal(toFileConfig(&m.Config, tokFormat))
	if err != nil {
		return fmt.Errorf("%w: config: %v", ErrModel, err)
	}
	if meta == nil {
		meta = Metadata{}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("%w: metadata: %v", ErrModel, err)
	}
	// The reader bounds these sections; never write what it would refuse.
	if len(metaJSON) > maxJSONSection || len(conf) > maxJSONSection {
		return fmt.Errorf("%w: metadata (%d bytes) or config (%d bytes) exceeds %d bytes", ErrModel, len(metaJSON), len(conf), maxJSONSection)
	}

	secs := []*section{{kind: KindConfig, required: true, payload: conf}, {kind: KindMeta, payload: metaJSON}}
	if len(tokenizer) > 0 {
		secs = append(secs, &section{kind: KindTokenizer, required: true, payload: tokenizer})
	}
	dirSec := &section{kind: KindTensors, required: true}
	dataSec := &section{kind: KindData, required: true}
	secs = append(secs, dirSec, dataSec)

	// The directory's size depends only on names and ranks, so the whole
	// layout can be fixed before any payload is written.
	dirLen := int64(8)
	for i := range slots {
		dirLen += entrySize(&slots[i])
	}
	off := int64(headerSize + sectionEntrySize*len(secs))
	for _, s := range secs {
		off = alignUp(off)
		s.offset = off
		switch s {
		case dirSec:
			s.length = dirLen
		case dataSec:
			s.length = 0
		default:
			s.length = int64(len(s.payload))
		}
		off += s.length
	}
	// Tensor payloads, each 64-aligned inside DATA.
	infos := make([]TensorInfo, len(slots))
	pos := dataSec.offset
	dataCRC := uint32(0)
	var zeros [Align]byte
	for i := range slots {
		s := &slots[i]
		b := s.bytes()
		pad := alignUp(pos) - pos
		dataCRC = crc32.Update(dataCRC, castagnoli, zeros[:pad])
		pos += pad
		infos[i] = TensorInfo{Name: s.name, DType: s.dtype, Layout: s.layout, Shape: s.shape,
			Offset: pos, Length: int64(len(b)), CRC: checksum(b)}
		dataCRC = crc32.Update(dataCRC, castagnoli, b)
		pos += int64(len(b))
	}
	dataSec.length = pos - dataSec.offset
	dataSec.crc = dataCRC
	dirSec.payload = encodeDirectory(infos)
	if int64(len(dirSec.payload)) != dirLen {
		return fmt.Errorf("%w: internal error: directory is %d bytes, planned %d", ErrModel, len(dirSec.payload), dirLen)
	}
	for _, s := range secs {
		if s != dataSec {
			s.crc = checksum(s.payload)
		}
	}
	fileSize := dataSec.offset + dataSec.length

	table := make([]byte, sectionEntrySize*len(secs))
	for i, s := range secs {
		e := table[i*sectionEntrySize:]
		copy(e[0:4], s.kind)
		if s.required {
			binary.LittleEndian.PutUint32(e[4:], flagRequired)
		}
		binary.LittleEndian.PutUint64(e[8:], uint64(s.offset))
		binary.LittleEndian.PutUint64(e[16:], uint64(s.length))
		binary.LittleEndian.PutUint32(e[24:], s.crc)
	}
	hdr := make([]byte, headerSize)
	copy(hdr, Magic)
	binary.LittleEndian.PutUint16(hdr[8:], MajorVersion)
	binary.LittleEndian.PutUint16(hdr[10:], minorVersion(&m.Config))
	binary.LittleEndian.PutUint32(hdr[12:], headerSize)
	binary.LittleEndian.PutUint64(hdr[16:], uint64(fileSize))
	binary.LittleEndian.PutUint64(hdr[24:], headerSize)
	binary.LittleEndian.PutUint32(hdr[32:], uint32(len(secs)))
	binary.LittleEndian.PutUint32(hdr[36:], checksum(table))
	binary.LittleEndian.PutUint32(hdr[60:], checksum(hdr[:60]))

	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	cw.write(hdr)
	cw.write(table)
	for _, s := range secs {
		cw.pad(s.offset)
		if s != dataSec {
			cw.write(s.payload)
			continue
		}
		for i := range slots {
			cw.pad(infos[i].Offset)
			cw.write(slots[i].bytes())
		}
	}
	if cw.err == nil && cw.n != fileSize {
		cw.err = fmt.Errorf("%w: internal error: wrote %d bytes, planned %d", ErrModel, cw.n, fileSize)
	}
	if cw.err != nil {
		return cw.err
	}
	return bw.Flush()
}

// countWriter tracks the output position and the first error.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

// pad writes zero bytes up to offset off.
func (c *countWriter) pad(off int64) {
	var zeros [Align]byte
	for c.err == nil && c.n < off {
		c.write(zeros[:min(off-c.n, Align)])
	}
	if c.err == nil && c.n != off {
		c.err = errors.New("lepfile: internal error: layout went backwards")
	}
}

func alignUp(x int64) int64 { return (x + Align - 1) &^ (Align - 1) }

// entrySize is the size of a slot's directory entry, padded to 8 bytes.
func entrySize(s *slot) int64 {
	return (32 + 8*int64(len(s.shape)) + int64(len(s.name)) + 7) &^ 7
}

func encodeDirectory(infos []TensorInfo) []byte {
	b := make([]byte, 8, 8+len(infos)*64)
	binary.LittleEndian.PutUint32(b, uint32(len(infos)))
	for _, t := range infos {
		start := len(b)
		var e [32]byte
		binary.LittleEndian.PutUint16(e[0:], uint16(len(t.Name)))
		e[2] = byte(t.DType)
		e[3] = byte(len(t.Shape))
		binary.LittleEndian.PutUint32(e[4:], uint32(t.Layout))
		binary.LittleEndian.PutUint64(e[8:], uint64(t.Offset))
		binary.LittleEndian.PutUint64(e[16:], uint64(t.Length))
		binary.LittleEndian.PutUint32(e[24:], t.CRC)
		b = append(b, e[:]...)
		for _, d := range t.Shape {
			b = binary.LittleEndian.AppendUint64(b, uint64(d))
		}
		b = append(b, t.Name...)
		for (len(b)-start)%8 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// layoutName is used in error messages.
func layoutName(l quant.Layout) string {
	switch l {
	case quant.LayoutRowMajor:
		return "row-major"
	case quant.LayoutI8P16K4:
		return "I8P16K4"
	}
	return fmt.Sprintf("layout(%d)", uint32(l))
}
