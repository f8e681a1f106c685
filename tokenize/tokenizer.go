package tokenize

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// Flag bits stored in the binary form. They describe the BertNormalizer and
// decoder settings the tokenizer was loaded with.
const (
	flagCleanText     = 1 << 0
	flagHandleCJK     = 1 << 1
	flagStripAccents  = 1 << 2
	flagLowercase     = 1 << 3
	flagDecodeCleanup = 1 << 4
	flagNormalizer    = 1 << 5 // a BertNormalizer is present at all
	// flagHashTags: each hash-table entry keeps the top 8 bits of its
	// token's hash above a 24-bit id+1, so most non-matching probes are
	// rejected without touching the string table.
	flagHashTags = 1 << 6
	knownFlags   = 1<<7 - 1

	tagShift = 24
	idMask   = 1<<tagShift - 1
)

const (
	binMagic   = "LTOK"
	binVersion = 1
	noID       = ^uint32(0)
	fnvBasis   = 2166136261
	fnvPrime   = 16777619

	// Limits that keep an untrusted blob from asking for absurd work.
	maxVocab       = 1 << 24
	maxAdded       = 1 << 16
	maxPieces      = 64
	maxPieceIDs    = 64
	maxProbeLimit  = 512
	maxPrefixBytes = 64
)

// Added-token flag bits.
const (
	addedSpecial = 1 << iota
	addedNormalized
	addedLstrip
	addedRstrip
	addedSingleWord
)

type addedToken struct {
	id      int32
	content string
	flags   uint32
	norm    string // normalised content, for normalized=true tokens
}

// piece kinds of a post-processing template.
const (
	pieceA       = 0
	pieceB       = 1
	pieceSpecial = 2
)

type piece struct {
	kind   uint32
	typeID int32
	ids    []int32
}

// Tokenizer is a loaded BERT WordPiece tokenizer. It is immutable after
// loading and safe for concurrent use by multiple goroutines.
//
// Internally every Tokenizer, however it was loaded, works directly on its
// binary form (see [Tokenizer.MarshalBinary]): the vocabulary strings, their
// offsets and an open-addressing hash table are read in place from the blob,
// so [FromBinary] costs no per-token allocation.
type Tokenizer struct {
	blob []byte

	flags    uint32
	maxChars int
	unk      int32
	cls      int32
	sep      int32
	pad      int32
	mask     int32
	padType  int32
	n        int // number of vocabulary slots (ids 0..n-1)
	vocabMax int // VocabSize: n extended by added tokens with larger ids

	prefix     string
	prefixHash uint32
	added      []addedToken
	addedFirst [256]bool
	single     []piece
	pair       []piece
	// hasNormAdded: some added tokens are matched after normalisation;
	// normFirst marks the first bytes of their normalised contents.
	hasNormAdded bool
	normFirst    [256]bool
	nSingle      int // special tokens added by the single template
	nPair        int // special tokens added by the pair template

	// The truncation/padding sections of the tokenizer.json this was
	// loaded from (FromJSON only; not part of the binary form).
	fileOpts    EncodeOptions
	fileOptsErr error
	hasFileOpts bool

	offs      []byte // (n+1) little-endian uint32 offsets into strs
	strs      []byte
	table     []byte // tableSize little-endian uint32: 0 empty, else id+1
	tableMask uint32
	maxProbe  int
	maxTokLen int

	strOnce sync.Once
	strCopy string // lazily made string copy of strs, for Token and Encoding.Tokens

	pool sync.Pool // *Encoder
}

func le32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }

// tokenBytes returns the vocabulary entry for id, bounds-checked against the
// (untrusted) blob.
func (t *Tokenizer) tokenBytes(id int32) ([]byte, bool) {
	if id < 0 || int(id) >= t.n {
		return nil, false
	}
	s, e := le32(t.offs, int(id)), le32(t.offs, int(id)+1)
	if s > e || int(e) > len(t.strs) {
		return nil, false
	}
	return t.strs[s:e], true
}

func fnvString(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnvPrime
	}
	return h
}

// lookup finds the id of (prefix+word when withPrefix) given its FNV-1a hash.
func (t *Tokenizer) lookup(h uint32, withPrefix bool, word []byte) (int32, bool) {
	if len(t.table) == 0 {
		return -1, false
	}
	want := len(word)
	if withPrefix {
		want += len(t.prefix)
	}
	tags := t.flags&flagHashTags != 0
	tag := h >> tagShift
	i := h & t.tableMask
	for range t.maxProbe {
		v := le32(t.table, int(i))
		if v == 0 {
			return -1, false
		}
		if tags {
			if v>>tagShift != tag {
				i = (i + 1) & t.tableMask
				continue
			}
			v &= idMask
		}
		id := int32(v - 1)
		if tok, ok := t.tokenBytes(id); ok && len(tok) == want {
			if withPrefix {
				if string(tok[:len(t.prefix)]) == t.prefix && string(tok[len(t.prefix):]) == string(word) {
					return id, true
				}
			} else if string(tok) == string(word) {
				return id, true
			}
		}
		i = (i + 1) & t.tableMask
	}
	return -1, false
}

// TokenID returns the id of a vocabulary or added token.
func (t *Tokenizer) TokenID(tok string) (int32, bool) {
	for _, a := range t.added {
		if a.content == tok {
			return a.id, true
		}
	}
	return t.lookup(fnvString(fnvBasis, tok), false, []byte(tok))
}

// Token returns the string of a vocabulary or added token id. For an added
// token matched after normalisation (normalized=true) that is its
// normalised content, as in Hugging Face. Vocabulary strings are slices of
// one string copy of the whole string table, made once per Tokenizer, so
// Token does not allocate (Encoding.Tokens is filled the same way).
func (t *Tokenizer) Token(id int32) (string, bool) {
	if t.hasNormAdded {
		for i := range t.added {
			if a := &t.added[i]; a.id == id && a.flags&addedNormalized != 0 && a.norm != "" {
				return a.norm, true
			}
		}
	}
	if id >= 0 && int(id) < t.n {
		s, e := le32(t.offs, int(id)), le32(t.offs, int(id)+1)
		if s < e && int(e) <= len(t.strs) {
			t.strOnce.Do(func() { t.strCopy = string(t.strs) })
			return t.strCopy[s:e], true
		}
	}
	for _, a := range t.added {
		if a.id == id {
			return a.content, true
		}
	}
	return "", false
}

// tokenString is Token without the ok result ("" for an unknown id).
func (t *Tokenizer) tokenString(id int32) string {
	s, _ := t.Token(id)
	return s
}

// ContinuingSubwordPrefix returns the prefix that marks word-internal
// pieces ("##" for BERT): a token whose string starts with it continues the
// word of the token before it. Token classification uses it to group
// pieces into words.
func (t *Tokenizer) ContinuingSubwordPrefix() string { return t.prefix }

// VocabSize returns the number of token ids, including added tokens whose
// ids lie beyond the WordPiece vocabulary.
func (t *Tokenizer) VocabSize() int { return t.vocabMax }

// SpecialIDs returns the ids of the [CLS], [SEP], [PAD], [UNK] and [MASK]
// tokens; an id is -1 when the tokenizer has no such token.
func (t *Tokenizer) SpecialIDs() (cls, sep, pad, unk, mask int32) {
	return t.cls, t.sep, t.pad, t.unk, t.mask
}

// MarshalBinary returns the compact binary form of the tokenizer, the form
// embedded in .lep model files and read back by [FromBinary]. The result is a
// fresh copy.
func (t *Tokenizer) MarshalBinary() ([]byte, error) {
	return append([]byte(nil), t.blob...), nil
}

// reader is a bounds-checked cursor over an untrusted blob.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 4 {
		r.err = fmt.Errorf("%w: binary tokenizer truncated at byte %d", ErrInvalid, r.off)
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)-r.off) < uint64(n) {
		r.err = fmt.Errorf("%w: binary tokenizer truncated at byte %d (need %d more)", ErrInvalid, r.off, n)
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

// id reads a token id; noID means "none" when allowNone.
func (r *reader) id(what string, allowNone bool) int32 {
	v := r.u32()
	if r.err != nil {
		return -1
	}
	if v == noID && allowNone {
		return -1
	}
	if uint64(v) >= uint64(maxVocab) {
		r.err = fmt.Errorf("%w: %s id %d out of range", ErrInvalid, what, v)
		return -1
	}
	return int32(v)
}

func (r *reader) pieces(what string) []piece {
	np := r.u32()
	if r.err == nil && np > maxPieces {
		r.err = fmt.Errorf("%w: %s template has %d pieces", ErrInvalid, what, np)
	}
	if r.err != nil {
		return nil
	}
	ps := make([]piece, 0, np)
	for range np {
		p := piece{kind: r.u32(), typeID: int32(r.u32())}
		k := r.u32()
		if r.err != nil {
			return nil
		}
		if p.kind > pieceSpecial || p.typeID < 0 || p.typeID > 1<<16 || k > maxPieceIDs || (p.kind != pieceSpecial && k != 0) {
			r.err = fmt.Errorf("%w: %s template piece malformed", ErrInvalid, what)
			return nil
		}
		for range k {
			p.ids = append(p.ids, r.id("template", false))
		}
		ps = append(ps, p)
	}
	return ps
}

// FromBinary loads the form written by [Tokenizer.MarshalBinary]. It is
// built to be fast (no per-token allocation, no map): the returned Tokenizer
// keeps data referenced in place and reads it on demand, so data must stay
// valid and unmodified while the Tokenizer is in use: a read-only mmap is
// fine, but unmapping it ends the Tokenizer's life too. (Strings the
// Tokenizer returns are copies and outlive data.) Every
// read from data is bounds-checked: a corrupt or hostile blob yields
// ErrInvalid or, at worst, wrong tokens, never a panic.
func FromBinary(data []byte) (*Tokenizer, error) {
	r := &reader{b: data}
	if len(data) < 8 || string(data[:4]) != binMagic {
		return nil, fmt.Errorf("%w: not a binary tokenizer (bad magic)", ErrInvalid)
	}
	r.off = 4
	if v := r.u32(); v != binVersion {
		return nil, fmt.Errorf("%w: binary tokenizer version %d, want %d", ErrUnsupported, v, binVersion)
	}
	t := &Tokenizer{blob: data}
	t.flags = r.u32()
	t.maxChars = int(r.u32())
	t.unk = r.id("unk", true)
	t.cls = r.id("cls", true)
	t.sep = r.id("sep", true)
	t.pad = r.id("pad", true)
	t.mask = r.id("mask", true)
	t.padType = int32(r.u32())
	n := r.u32()
	tableSize := r.u32()
	t.maxProbe = int(r.u32())
	t.maxTokLen = int(r.u32())
	prefix := r.bytes(r.u32())
	if r.err != nil {
		return nil, r.err
	}
	if t.flags&^knownFlags != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrUnsupported, t.flags)
	}
	if n > maxVocab || t.maxChars < 0 || t.maxChars > 1<<20 || t.padType < 0 || t.padType > 1<<16 {
		return nil, fmt.Errorf("%w: binary tokenizer header out of range", ErrInvalid)
	}
	if tableSize&(tableSize-1) != 0 || tableSize > 4*maxVocab || t.maxProbe < 0 || t.maxProbe > maxProbeLimit || t.maxProbe > int(tableSize) {
		return nil, fmt.Errorf("%w: bad hash table geometry (size %d, probe %d)", ErrInvalid, tableSize, t.maxProbe)
	}
	if len(prefix) > maxPrefixBytes {
		return nil, fmt.Errorf("%w: continuing-subword prefix of %d bytes", ErrInvalid, len(prefix))
	}
	t.n = int(n)
	t.prefix = string(prefix)
	t.prefixHash = fnvString(fnvBasis, t.prefix)
	if tableSize > 0 {
		t.tableMask = tableSize - 1
	}

	na := r.u32()
	if r.err == nil && na > maxAdded {
		return nil, fmt.Errorf("%w: %d added tokens", ErrInvalid, na)
	}
	for range na {
		a := addedToken{id: r.id("added token", false), flags: r.u32()}
		a.content = string(r.bytes(r.u32()))
		if r.err != nil {
			return nil, r.err
		}
		if a.content == "" {
			return nil, fmt.Errorf("%w: empty added token", ErrInvalid)
		}
		t.added = append(t.added, a)
		if a.flags&addedNormalized == 0 {
			t.addedFirst[a.content[0]] = true
		}
	}
	t.single = r.pieces("single")
	t.pair = r.pieces("pair")
	strBytes := r.u32()
	if r.err == nil && uint64(n)+1 > uint64(len(data)) {
		return nil, fmt.Errorf("%w: vocabulary of %d tokens does not fit in %d bytes", ErrInvalid, n, len(data))
	}
	t.offs = r.bytes(4 * (n + 1))
	t.strs = r.bytes(strBytes)
	// No token is longer than the string table: a larger recorded maximum
	// would only make WordPiece try candidates that cannot match.
	t.maxTokLen = min(t.maxTokLen, len(t.strs))
	if r.err == nil && uint64(tableSize)*4 > uint64(len(data)) {
		return nil, fmt.Errorf("%w: hash table does not fit", ErrInvalid)
	}
	t.table = r.bytes(4 * tableSize)
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(data) {
		return nil, fmt.Errorf("%w: %d trailing bytes after binary tokenizer", ErrInvalid, len(data)-r.off)
	}
	if t.unk < 0 {
		return nil, fmt.Errorf("%w: no unknown token", ErrInvalid)
	}
	t.vocabMax = t.n
	for _, a := range t.added {
		if int(a.id) >= t.vocabMax {
			t.vocabMax = int(a.id) + 1
		}
	}
	for _, id := range []int32{t.unk, t.cls, t.sep, t.pad, t.mask} {
		if int(id) >= t.vocabMax {
			return nil, fmt.Errorf("%w: special token id %d beyond vocabulary of %d", ErrInvalid, id, t.vocabMax)
		}
	}
	for _, ps := range [][]piece{t.single, t.pair} {
		for _, p := range ps {
			for _, id := range p.ids {
				if int(id) >= t.vocabMax {
					return nil, fmt.Errorf("%w: template token id %d beyond vocabulary of %d", ErrInvalid, id, t.vocabMax)
				}
			}
		}
	}
	t.nSingle, t.nPair = countSpecial(t.single), countSpecial(t.pair)
	for i := range t.added {
		if a := &t.added[i]; a.flags&addedNormalized != 0 {
			a.norm = t.normalizeString(a.content)
			if a.norm != "" {
				t.hasNormAdded = true
				t.normFirst[a.norm[0]] = true
			}
		}
	}
	if err := checkTemplate(t.single, false); err != nil {
		return nil, err
	}
	if err := checkTemplate(t.pair, true); err != nil {
		return nil, err
	}
	return t, nil
}

func countSpecial(ps []piece) int {
	n := 0
	for _, p := range ps {
		n += len(p.ids)
	}
	return n
}

// checkTemplate requires each sequence to appear exactly once (A only for
// single inputs, A and B for pairs), which the encoder relies on.
func checkTemplate(ps []piece, pair bool) error {
	var na, nb int
	for _, p := range ps {
		switch p.kind {
		case pieceA:
			na++
		case pieceB:
			nb++
		}
	}
	wantB := 0
	if pair {
		wantB = 1
	}
	if na != 1 || nb != wantB {
		return fmt.Errorf("%w: post-processing template uses sequence A %d times and B %d times", ErrUnsupported, na, nb)
	}
	return nil
}

// FileOptions returns the truncation and padding settings stored in the
// tokenizer.json the tokenizer was loaded from, as EncodeOptions. Hugging
// Face tokenizers applies those settings to every encode by default, and
// Lepton does not (options are per call), so
//
//	opt, err := tk.FileOptions()
//	enc, err := tk.Encode(text, opt)
//
// gives the output of Hugging Face's Tokenizer.from_file(...).encode(text)
// (ids, type ids, masks and offsets; overflowing windows only when
// opt.ReturnOverflowing is set). A file without a truncation section gives
// Truncation DoNotTruncate; without a padding section, NoPadding.
//
// It fails with ErrUnsupported when the file asks for left-side truncation
// or padding (Lepton truncates and pads on the right), and with ErrInvalid
// when the tokenizer was not loaded by FromJSON (a vocab.txt or binary form
// has no such settings: callers choose them).
func (t *Tokenizer) FileOptions() (EncodeOptions, error) {
	if !t.hasFileOpts {
		return EncodeOptions{}, fmt.Errorf("%w: no tokenizer.json settings (the tokenizer was not loaded with FromJSON)", ErrInvalid)
	}
	return t.fileOpts, t.fileOptsErr
}
