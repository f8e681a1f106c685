package lepfile

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"lepton/internal/bert"
	"lepton/quant"
)

// OpenBytes parses a .lep file held in memory with the same validation as
// Open. The returned File aliases data when data starts on a 64-byte
// boundary (a mapping or an arena from this package); otherwise (go:embed'ed
// strings, most heap slices) it copies data once into an aligned arena, so
// every tensor view is 64-byte aligned whatever the caller passes.
// The caller must not modify data while the File is in use.
func OpenBytes(data []byte) (*File, error) {
	if len(data) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(data)))%Align != 0 {
		a := alignedArena(len(data))
		copy(a, data)
		data = a
	}
	return parse(data)
}

// alignedArena returns n zeroed bytes starting on a 64-byte boundary.
func alignedArena(n int) []byte {
	buf := make([]byte, n+Align)
	off := int((Align - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%Align) % Align)
	return buf[off : off+n : off+n]
}

func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// parse validates data (64-byte aligned) and builds the File whose slices
// alias it. It performs work proportional to the metadata only.
func parse(data []byte) (*File, error) {
	if !hostLittleEndian {
		return nil, errf(ErrFormat, "big-endian hosts are not supported")
	}
	n := int64(len(data))
	if n == 0 {
		return nil, errf(ErrTruncated, "empty file")
	}
	if !bytes.HasPrefix(data, []byte(Magic)[:min(len(Magic), len(data))]) {
		return nil, errf(ErrFormat, "not a .lep file (bad magic %q)", data[:min(len(data), len(Magic))])
	}
	if n < headerSize {
		return nil, errf(ErrTruncated, "file is %d bytes, shorter than the %d-byte header", n, headerSize)
	}
	hdr := data[:headerSize]
	le := binary.LittleEndian
	major, minor := le.Uint16(hdr[8:]), le.Uint16(hdr[10:])
	if got, want := le.Uint32(hdr[60:]), checksum(hdr[:60]); got != want {
		if major > MajorVersion {
			// A newer major version may lay its header out differently.
			return nil, errf(ErrVersion, "file format version %d.%d is newer than supported %d.x", major, minor, MajorVersion)
		}
		return nil, errf(ErrChecksum, "header CRC32C %08x, computed %08x", got, want)
	}
	if major > MajorVersion {
		return nil, errf(ErrVersion, "file format version %d.%d is newer than supported %d.x (upgrade Lepton)", major, minor, MajorVersion)
	}
	if major < 1 {
		return nil, errf(ErrFormat, "format version %d.%d does not exist", major, minor)
	}
	if hs := le.Uint32(hdr[12:]); hs != headerSize {
		return nil, errf(ErrFormat, "header size %d, want %d", hs, headerSize)
	}
	fileSize := le.Uint64(hdr[16:])
	if fileSize > uint64(n) {
		return nil, errf(ErrTruncated, "file is %d bytes, header says %d", n, fileSize)
	}
	if fileSize < uint64(n) {
		return nil, errf(ErrFormat, "file is %d bytes, header says %d (trailing data)", n, fileSize)
	}
	if fl := le.Uint32(hdr[40:]); fl != 0 {
		return nil, errf(ErrFormat, "unknown header flags %#x", fl)
	}
	tableOff, count := le.Uint64(hdr[24:]), uint64(le.Uint32(hdr[32:]))
	if count < 1 || count > maxSections {
		return nil, errf(ErrFormat, "section count %d, want 1..%d", count, maxSections)
	}
	if tableOff < headerSize || tableOff%Align != 0 {
		return nil, errf(ErrFormat, "section table offset %d", tableOff)
	}
	tableEnd := tableOff + count*sectionEntrySize // no overflow: tableOff <= n checked next
	if tableOff > uint64(n) || tableEnd > uint64(n) {
		return nil, errf(ErrTruncated, "section table [%d, %d) runs past the end of the %d-byte file", tableOff, tableEnd, n)
	}
	table := data[tableOff:tableEnd]
	if got, want := le.Uint32(hdr[36:]), checksum(table); got != want {
		return nil, errf(ErrChecksum, "section table CRC32C %08x, computed %08x", got, want)
	}

	f := &File{Major: int(major), Minor: int(minor), Size: n, data: data, Sections: make([]SectionInfo, 0, count)}
	secs := map[string]*SectionInfo{} // points into f.Sections, which never grows past count
	for i := range int(count) {
		e := table[i*sectionEntrySize : (i+1)*sectionEntrySize]
		kind := e[0:4]
		for _, c := range kind {
			if c < 0x20 || c > 0x7e {
				return nil, errf(ErrFormat, "section %d has a non-ASCII kind %q", i, kind)
			}
		}
		flags, off, length := le.Uint32(e[4:]), le.Uint64(e[8:]), le.Uint64(e[16:])
		if flags&^flagRequired != 0 {
			return nil, errf(ErrFormat, "section %q has unknown flags %#x", kind, flags)
		}
		if off%Align != 0 || off < tableEnd {
			return nil, errf(ErrFormat, "section %q at offset %d (must be a multiple of %d after the section table)", kind, off, Align)
		}
		if off > uint64(n) || length > uint64(n)-off {
			return nil, errf(ErrTruncated, "section %q [%d, +%d) runs past the end of the %d-byte file", kind, off, length, n)
		}
		s := SectionInfo{Kind: string(kind), Required: flags&flagRequired != 0, Offset: int64(off), Length: int64(length), CRC: le.Uint32(e[24:])}
		if secs[s.Kind] != nil {
			return nil, errf(ErrFormat, "section %q appears twice", s.Kind)
		}
		f.Sections = append(f.Sections, s)
		secs[s.Kind] = &f.Sections[len(f.Sections)-1]
	}
	// Indices are sorted, not entries, for the reason given in parseDirectory.
	order := make([]int, len(f.Sections))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(f.Sections[a].Offset, f.Sections[b].Offset) })
	for i := 1; i < len(order); i++ {
		prev, cur := &f.Sections[order[i-1]], &f.Sections[order[i]]
		if prev.Offset+prev.Length > cur.Offset {
			return nil, errf(ErrFormat, "sections %q and %q overlap", prev.Kind, cur.Kind)
		}
	}
	for _, s := range f.Sections {
		switch s.Kind {
		case KindConfig, KindMeta, KindTokenizer, KindTensors, KindData:
		default:
			if s.Required {
				return nil, errf(ErrFormat, "required section %q is not supported by this version (newer writer?)", s.Kind)
			}
		}
	}
	for _, k := range []string{KindConfig, KindTensors, KindData} {
		if secs[k] == nil {
			return nil, errf(ErrFormat, "missing %s section", k)
		}
	}
	payload := func(s *SectionInfo, limit int64) ([]byte, error) {
		if s.Length > limit {
			return nil, errf(ErrFormat, "section %q is %d bytes, limit %d", s.Kind, s.Length, limit)
		}
		b := data[s.Offset : s.Offset+s.Length]
		if got := checksum(b); got != s.CRC {
			return nil, errf(ErrChecksum, "section %q CRC32C %08x, computed %08x", s.Kind, s.CRC, got)
		}
		return b, nil
	}

	// Config.
	confBytes, err := payload(secs[KindConfig], maxJSONSection)
	if err != nil {
		return nil, err
	}
	var fc fileConfig
	if err := json.Unmarshal(confBytes, &fc); err != nil {
		return nil, errf(ErrFormat, "config JSON: %v", err)
	}
	if math.Abs(fc.LayerNormEps) > math.MaxFloat32 {
		return nil, errf(ErrFormat, "config: layer_norm_eps %v overflows float32", fc.LayerNormEps)
	}
	cfg := fc.toConfig()
	if err := ValidateConfig(&cfg); err != nil {
		return nil, err
	}

	// Metadata.
	if s := secs[KindMeta]; s != nil {
		b, err := payload(s, maxJSONSection)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &f.Meta); err != nil {
			return nil, errf(ErrFormat, "metadata JSON: %v", err)
		}
	}

	// Tokenizer.
	if s := secs[KindTokenizer]; s != nil {
		b, err := payload(s, maxTokenizer)
		if err != nil {
			return nil, err
		}
		switch fc.TokenizerFormat {
		case TokenizerLepton, TokenizerHFJSON, TokenizerVocab:
		default:
			return nil, errf(ErrFormat, "unknown tokenizer_format %q", fc.TokenizerFormat)
		}
		f.Tokenizer, f.TokenizerFormat = b, fc.TokenizerFormat
	} else if fc.TokenizerFormat != "" {
		return nil, errf(ErrFormat, "config names tokenizer_format %q but there is no %s section", fc.TokenizerFormat, KindTokenizer)
	}

	// Tensor directory.
	dirBytes, err := payload(secs[KindTensors], maxJSONSection)
	if err != nil {
		return nil, err
	}
	if f.Tensors, err = parseDirectory(dirBytes, secs[KindData]); err != nil {
		return nil, err
	}

	// Model.
	m := &bert.Model{Config: cfg, Layers: make([]bert.Layer, cfg.Layers)}
	byName := make(map[string]*TensorInfo, len(f.Tensors))
	for i := range f.Tensors {
		byName[f.Tensors[i].Name] = &f.Tensors[i]
	}
	if byName["pooler.weight"] != nil {
		m.Pooler = &bert.Linear{}
	}
	if IsClassifier(cfg.Architecture) {
		m.Classifier = &bert.Linear{}
	} else if byName["classifier.weight"] != nil {
		return nil, errf(ErrFormat, "%s file has a classifier", cfg.Architecture)
	}
	if cfg.Architecture == ArchBertTokenClassification {
		if minor < 2 {
			return nil, errf(ErrFormat, "%s needs format 1.2, the file says %d.%d", cfg.Architecture, major, minor)
		}
		m.TokenClassifier = &bert.Linear{}
	} else if byName["token_classifier.weight"] != nil {
		return nil, errf(ErrFormat, "%s file has a token classifier", cfg.Architecture)
	}
	withF32 := byName["embeddings.word.weight_f32"] != nil
	for _, s := range modelSlots(m, withF32) {
		t := byName[s.name]
		if t == nil {
			return nil, errf(ErrFormat, "missing tensor %s", s.name)
		}
		if t.DType != s.dtype || t.Layout != s.layout || !slices.Equal(t.Shape, s.shape) {
			return nil, errf(ErrFormat, "tensor %s is %s %s %v, want %s %s %v", s.name,
				t.DType, layoutName(t.Layout), t.Shape, s.dtype, layoutName(s.layout), s.shape)
		}
		if want := int64(s.elems()) * int64(s.dtype.Size()); t.Length != want {
			return nil, errf(ErrFormat, "tensor %s is %d bytes, want %d", s.name, t.Length, want)
		}
		s.setView(data[t.Offset : t.Offset+t.Length : t.Offset+t.Length])
	}
	if !withF32 {
		for name := range byName {
			if strings.HasSuffix(name, ".weight_f32") {
				return nil, errf(ErrFormat, "tensor %s present but embeddings.word.weight_f32 missing (float copies are all or none)", name)
			}
		}
	}
	setDims(m)
	for i := range m.Layers {
		for _, l := range []*bert.Linear{&m.Layers[i].QKV, &m.Layers[i].AttnOut, &m.Layers[i].Inter, &m.Layers[i].Output} {
			if err := l.W.Validate(); err != nil {
				return nil, errf(ErrFormat, "layer %d: %v", i, err)
			}
		}
	}
	f.Model = m
	if err := f.checkFloatSlots(withF32, false); err != nil {
		return nil, err
	}
	return f, nil
}

// checkFloatSlots checks that float tensors are finite and scales not
// negative: the small ones (scales, biases, LayerNorm parameters: a few
// values per row or channel, cheap to read at open) when copies is false,
// the fp32 weight copies (as large as the model) when it is true. A NaN
// there is never caught later: quantisation maps NaN to 0, so the outputs
// stay finite and wrong. The error says whether the tensor's checksum
// still matches (written that way) or not (damaged since).
func (f *File) checkFloatSlots(withF32, copies bool) error {
	byName := make(map[string]*TensorInfo, len(f.Tensors))
	for i := range f.Tensors {
		byName[f.Tensors[i].Name] = &f.Tensors[i]
	}
	for _, s := range modelSlots(f.Model, withF32) {
		if s.f32 == nil || strings.HasSuffix(s.name, ".weight_f32") != copies {
			continue
		}
		err := checkFloats(*s.f32, strings.HasSuffix(s.name, ".scales"))
		if err == nil {
			continue
		}
		t := byName[s.name]
		if got := checksum(f.data[t.Offset : t.Offset+t.Length]); got != t.CRC {
			return errf(ErrChecksum, "tensor %s: %v, and its CRC32C is %08x, computed %08x: the file is damaged", s.name, err, t.CRC, got)
		}
		return errf(ErrFormat, "tensor %s: %v (the file was written with it: a damaged checkpoint or a buggy writer)", s.name, err)
	}
	return nil
}

// CheckFloatCopies checks the fp32 weight copies (files written with
// --keep-fp32) as Open checks the small float tensors: finite values only.
// It reads as much as the model's size, so it is left to the first use of
// the copies (lepton.WithFloat32) and to Verify.
func (f *File) CheckFloatCopies() error {
	if f.closed || f.data == nil {
		return ErrClosed
	}
	if f.Model == nil || f.Model.Word.F32 == nil {
		return nil
	}
	return f.checkFloatSlots(true, true)
}

// parseDirectory decodes and validates the tensor directory: dtypes,
// layouts, shapes, overflow, alignment, bounds inside DATA, no overlaps.
func parseDirectory(b []byte, dataSec *SectionInfo) ([]TensorInfo, error) {
	le := binary.LittleEndian
	if len(b) < 8 {
		return nil, errf(ErrFormat, "tensor directory is %d bytes", len(b))
	}
	count := le.Uint32(b)
	if count > maxTensors {
		return nil, errf(ErrFormat, "%d tensors, limit %d", count, maxTensors)
	}
	if le.Uint32(b[4:]) != 0 {
		return nil, errf(ErrFormat, "tensor directory reserved field is not zero")
	}
	// Each entry is at least 40 bytes; refuse counts the section cannot hold
	// before allocating for them.
	if uint64(count)*40 > uint64(len(b)-8) {
		return nil, errf(ErrFormat, "tensor directory of %d bytes cannot hold %d entries", len(b), count)
	}
	out := make([]TensorInfo, 0, count)
	names := make(map[string]bool, count)
	pos := 8
	dataStart, dataEnd := uint64(dataSec.Offset), uint64(dataSec.Offset+dataSec.Length)
	for i := range int(count) {
		if len(b)-pos < 32 {
			return nil, errf(ErrFormat, "tensor directory entry %d runs past the section end", i)
		}
		e := b[pos:]
		nameLen, dt, ndim := int(le.Uint16(e)), DType(e[2]), int(e[3])
		layout := quant.Layout(le.Uint32(e[4:]))
		off, length, crc, flags := le.Uint64(e[8:]), le.Uint64(e[16:]), le.Uint32(e[24:]), le.Uint32(e[28:])
		if nameLen < 1 || nameLen > maxNameLen || ndim < 1 || ndim > maxDims {
			return nil, errf(ErrFormat, "tensor directory entry %d: name length %d, ndim %d", i, nameLen, ndim)
		}
		size := (32 + 8*ndim + nameLen + 7) &^ 7
		if len(b)-pos < size {
			return nil, errf(ErrFormat, "tensor directory entry %d runs past the section end", i)
		}
		name := string(e[32+8*ndim : 32+8*ndim+nameLen])
		if !utf8.ValidString(name) {
			return nil, errf(ErrFormat, "tensor directory entry %d: name is not UTF-8", i)
		}
		if names[name] {
			return nil, errf(ErrFormat, "tensor %s appears twice", name)
		}
		names[name] = true
		if flags != 0 {
			return nil, errf(ErrFormat, "tensor %s has unknown flags %#x", name, flags)
		}
		if dt.Size() == 0 {
			return nil, errf(ErrFormat, "tensor %s has unsupported dtype %d (newer writer?)", name, uint8(dt))
		}
		shape := make([]int, ndim)
		elems := uint64(1)
		for d := range ndim {
			v := le.Uint64(e[32+8*d:])
			if v < 1 || v > maxDim {
				return nil, errf(ErrFormat, "tensor %s dimension %d is %d, want 1..%d", name, d, v, maxDim)
			}
			shape[d] = int(v)
			if elems > maxElements/v {
				return nil, errf(ErrFormat, "tensor %s has more than %d elements", name, uint64(maxElements))
			}
			elems *= v // cannot overflow: checked against maxElements/v first
		}
		switch layout {
		case quant.LayoutRowMajor:
		case quant.LayoutI8P16K4:
			if dt != I8 || ndim != 2 {
				return nil, errf(ErrFormat, "tensor %s: layout I8P16K4 needs a 2-D i8 tensor, got %d-D %s", name, ndim, dt)
			}
			elems = uint64(quant.RoundUp(shape[0], quant.NR)) * uint64(quant.RoundUp(shape[1], quant.KR))
		default:
			return nil, errf(ErrFormat, "tensor %s has unsupported layout %d (newer writer?)", name, uint32(layout))
		}
		if want := elems * uint64(dt.Size()); length != want {
			return nil, errf(ErrFormat, "tensor %s is %d bytes, shape %v %s needs %d", name, length, shape, dt, want)
		}
		if off%Align != 0 {
			return nil, errf(ErrFormat, "tensor %s at offset %d is not %d-byte aligned", name, off, Align)
		}
		if off < dataStart || off > dataEnd || length > dataEnd-off {
			return nil, errf(ErrFormat, "tensor %s [%d, +%d) lies outside the DATA section [%d, %d)", name, off, length, dataStart, dataEnd)
		}
		out = append(out, TensorInfo{Name: name, DType: dt, Layout: layout, Shape: shape, Offset: int64(off), Length: int64(length), CRC: crc})
		pos += size
	}
	// Sort indices rather than the entries: the sort then shares its
	// instantiation with other []int sorts instead of adding one for
	// TensorInfo to every embedding binary.
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(out[a].Offset, out[b].Offset) })
	for i := 1; i < len(order); i++ {
		prev, cur := &out[order[i-1]], &out[order[i]]
		if prev.Offset+prev.Length > cur.Offset {
			return nil, errf(ErrFormat, "tensors %s and %s overlap", prev.Name, cur.Name)
		}
	}
	return out, nil
}
