package tokenize

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// spec is the decoded description of a tokenizer, from which the binary
// form is built.
type spec struct {
	tokens   []string // by id; "" marks an unused id
	flags    uint32
	maxChars int
	unk      int32
	cls      int32
	sep      int32
	pad      int32
	mask     int32
	padType  int32
	prefix   string
	added    []addedToken
	single   []piece
	pair     []piece
	noTags   bool // build the older untagged table (tests of compatibility)
}

// build serialises s into the binary form (see FromBinary for the reader).
func (s *spec) build() ([]byte, error) {
	n := len(s.tokens)
	if n > maxVocab {
		return nil, fmt.Errorf("%w: vocabulary of %d tokens exceeds %d", ErrInvalid, n, maxVocab)
	}
	tableSize := uint32(0)
	if n > 0 {
		tableSize = 1 << bits.Len(uint(n+n/2))
	}
	table := make([]uint32, tableSize)
	strBytes, maxTok, maxProbe := 0, 0, 0
	tags := n < idMask && !s.noTags // every id+1 fits below the tag
	if tags {
		s.flags |= flagHashTags
	}
	for id, tok := range s.tokens {
		strBytes += len(tok)
		if tok == "" {
			continue
		}
		maxTok = max(maxTok, len(tok))
		h := fnvString(fnvBasis, tok)
		entry := uint32(id) + 1
		if tags {
			entry |= h >> tagShift << tagShift
		}
		i := h & (tableSize - 1)
		for probe := 1; ; probe++ {
			v := table[i]
			if tags {
				v &= idMask
			}
			if v == 0 || s.tokens[v-1] == tok {
				// A later duplicate replaces the earlier id, as Hugging
				// Face's vocabulary maps do.
				table[i] = entry
				maxProbe = max(maxProbe, probe)
				break
			}
			i = (i + 1) & (tableSize - 1)
		}
	}
	if maxProbe > maxProbeLimit {
		return nil, fmt.Errorf("%w: vocabulary hashes too poorly (probe length %d)", ErrInvalid, maxProbe)
	}
	if len(s.prefix) > maxPrefixBytes {
		return nil, fmt.Errorf("%w: continuing-subword prefix of %d bytes", ErrInvalid, len(s.prefix))
	}
	var b []byte
	u := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	id := func(v int32) {
		if v < 0 {
			u(noID)
		} else {
			u(uint32(v))
		}
	}
	b = append(b, binMagic...)
	u(binVersion)
	u(s.flags)
	u(uint32(s.maxChars))
	id(s.unk)
	id(s.cls)
	id(s.sep)
	id(s.pad)
	id(s.mask)
	u(uint32(s.padType))
	u(uint32(n))
	u(tableSize)
	u(uint32(maxProbe))
	u(uint32(maxTok))
	u(uint32(len(s.prefix)))
	b = append(b, s.prefix...)
	u(uint32(len(s.added)))
	for _, a := range s.added {
		u(uint32(a.id))
		u(a.flags)
		u(uint32(len(a.content)))
		b = append(b, a.content...)
	}
	for _, ps := range [][]piece{s.single, s.pair} {
		u(uint32(len(ps)))
		for _, p := range ps {
			u(p.kind)
			u(uint32(p.typeID))
			u(uint32(len(p.ids)))
			for _, x := range p.ids {
				u(uint32(x))
			}
		}
	}
	u(uint32(strBytes))
	off := 0
	for _, tok := range s.tokens {
		u(uint32(off))
		off += len(tok)
	}
	u(uint32(off))
	for _, tok := range s.tokens {
		b = append(b, tok...)
	}
	for _, v := range table {
		u(v)
	}
	return b, nil
}

// VocabOptions describe how to tokenize with a plain vocab.txt, which, unlike
// tokenizer.json, does not say how text is normalised.
type VocabOptions struct {
	// Lowercase lowercases the text (uncased models).
	Lowercase bool
	// StripAccents removes accents (NFD, then drop nonspacing marks).
	// nil follows Lowercase, as in Hugging Face's BertNormalizer.
	StripAccents *bool
	// HandleCJK puts spaces around CJK ideographs so each is its own word.
	HandleCJK bool
	// NoCleanText disables dropping control characters and mapping all
	// whitespace to a space (enabled by default, as in BERT).
	NoCleanText bool
	// MaxInputCharsPerWord: longer words become the unknown token.
	// 0 means 100, the BERT default.
	MaxInputCharsPerWord int
	// UnkToken, ClsToken, SepToken, PadToken, MaskToken name the special
	// tokens; empty means "[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]".
	UnkToken, ClsToken, SepToken, PadToken, MaskToken string
	// ContinuingSubwordPrefix marks word-internal pieces; empty means "##".
	ContinuingSubwordPrefix string
}

// FromVocab builds a tokenizer from a BERT vocab.txt (one token per line,
// the line number is the id) with explicit normalisation options. The
// special tokens present in the vocabulary are treated as Hugging Face's
// BertTokenizerFast treats them: matched verbatim in the input, and [CLS] A
// [SEP] (B [SEP]) added around sequences.
func FromVocab(data []byte, opt VocabOptions) (*Tokenizer, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: vocab.txt is not valid UTF-8", ErrInvalid)
	}
	s := &spec{maxChars: opt.MaxInputCharsPerWord, prefix: cmp.Or(opt.ContinuingSubwordPrefix, "##")}
	if s.maxChars == 0 {
		s.maxChars = 100
	}
	if s.maxChars < 0 || s.maxChars > 1<<20 {
		return nil, fmt.Errorf("%w: MaxInputCharsPerWord %d", ErrInvalid, opt.MaxInputCharsPerWord)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// Hugging Face (WordPiece::read_file) trims all trailing
		// whitespace, the line end included.
		tok := strings.TrimRightFunc(sc.Text(), unicode.IsSpace)
		s.tokens = append(s.tokens, tok)
		if len(s.tokens) > maxVocab {
			return nil, fmt.Errorf("%w: vocabulary larger than %d", ErrInvalid, maxVocab)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: vocab.txt: %v", ErrInvalid, err)
	}
	index := make(map[string]int32, len(s.tokens))
	for i, tok := range s.tokens {
		if tok != "" {
			index[tok] = int32(i)
		}
	}
	find := func(name string) int32 {
		if id, ok := index[name]; ok {
			return id
		}
		return -1
	}
	names := []string{cmp.Or(opt.PadToken, "[PAD]"), cmp.Or(opt.UnkToken, "[UNK]"),
		cmp.Or(opt.ClsToken, "[CLS]"), cmp.Or(opt.SepToken, "[SEP]"), cmp.Or(opt.MaskToken, "[MASK]")}
	s.pad, s.unk, s.cls, s.sep, s.mask = find(names[0]), find(names[1]), find(names[2]), find(names[3]), find(names[4])
	if s.unk < 0 {
		return nil, fmt.Errorf("%w: unknown token %q not in vocabulary", ErrInvalid, names[1])
	}
	if s.cls < 0 || s.sep < 0 {
		return nil, fmt.Errorf("%w: %q or %q not in vocabulary", ErrInvalid, names[2], names[3])
	}
	for _, nm := range names {
		if id := find(nm); id >= 0 {
			s.added = append(s.added, addedToken{id: id, content: nm, flags: addedSpecial})
		}
	}
	s.flags = flagNormalizer | flagDecodeCleanup
	if !opt.NoCleanText {
		s.flags |= flagCleanText
	}
	if opt.HandleCJK {
		s.flags |= flagHandleCJK
	}
	if opt.Lowercase {
		s.flags |= flagLowercase
	}
	strip := opt.Lowercase
	if opt.StripAccents != nil {
		strip = *opt.StripAccents
	}
	if strip {
		s.flags |= flagStripAccents
	}
	s.single = []piece{{kind: pieceSpecial, ids: []int32{s.cls}}, {kind: pieceA}, {kind: pieceSpecial, ids: []int32{s.sep}}}
	s.pair = []piece{{kind: pieceSpecial, ids: []int32{s.cls}}, {kind: pieceA}, {kind: pieceSpecial, ids: []int32{s.sep}},
		{kind: pieceB, typeID: 1}, {kind: pieceSpecial, typeID: 1, ids: []int32{s.sep}}}
	return s.load()
}

func (s *spec) load() (*Tokenizer, error) {
	blob, err := s.build()
	if err != nil {
		return nil, err
	}
	return FromBinary(blob)
}

// The subset of tokenizer.json that matters for BERT WordPiece. Components
// are kept raw so that their "type" can be checked before decoding.
type hfFile struct {
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Padding       *struct {
		PadID           *int32          `json:"pad_id"`
		PadTypeID       int32           `json:"pad_type_id"`
		PadToken        string          `json:"pad_token"`
		Strategy        json.RawMessage `json:"strategy"`
		Direction       string          `json:"direction"`
		PadToMultipleOf *int            `json:"pad_to_multiple_of"`
	} `json:"padding"`
	Truncation *struct {
		MaxLength int    `json:"max_length"`
		Strategy  string `json:"strategy"`
		Stride    int    `json:"stride"`
		Direction string `json:"direction"`
	} `json:"truncation"`
}

// fileOptions converts the truncation and padding sections of a
// tokenizer.json into EncodeOptions (see Tokenizer.FileOptions). Malformed
// sections are err (ErrInvalid); settings Lepton cannot apply (left-side
// truncation or padding) are returned as unsupported, an error deferred to
// FileOptions so that the tokenizer itself still loads.
func (f *hfFile) fileOptions() (o EncodeOptions, unsupported, err error) {
	if tr := f.Truncation; tr != nil {
		switch tr.Strategy {
		case "LongestFirst", "":
			o.Truncation = LongestFirst
		case "OnlyFirst":
			o.Truncation = OnlyFirst
		case "OnlySecond":
			o.Truncation = OnlySecond
		default:
			return o, nil, fmt.Errorf("%w: truncation strategy %q", ErrInvalid, tr.Strategy)
		}
		if tr.MaxLength <= 0 || tr.MaxLength > 1<<24 || tr.Stride < 0 || tr.Stride > tr.MaxLength {
			return o, nil, fmt.Errorf("%w: truncation max_length %d stride %d", ErrInvalid, tr.MaxLength, tr.Stride)
		}
		if tr.Direction != "" && tr.Direction != "Right" {
			unsupported = fmt.Errorf("%w: truncation direction %q (only Right)", ErrUnsupported, tr.Direction)
		}
		o.MaxLength, o.Stride = tr.MaxLength, tr.Stride
	} else {
		o.Truncation = DoNotTruncate
	}
	if p := f.Padding; p != nil {
		var fixed struct {
			Fixed *int `json:"Fixed"`
		}
		switch {
		case string(p.Strategy) == `"BatchLongest"` || len(p.Strategy) == 0:
			o.Padding = PadLongest
		case json.Unmarshal(p.Strategy, &fixed) == nil && fixed.Fixed != nil && *fixed.Fixed >= 0 && *fixed.Fixed <= 1<<24:
			o.Padding, o.PadTo = PadFixed, *fixed.Fixed
		default:
			return o, nil, fmt.Errorf("%w: padding strategy %s", ErrInvalid, p.Strategy)
		}
		if p.PadToMultipleOf != nil {
			if *p.PadToMultipleOf < 0 || *p.PadToMultipleOf > 1<<16 {
				return o, nil, fmt.Errorf("%w: pad_to_multiple_of %d", ErrInvalid, *p.PadToMultipleOf)
			}
			o.PadToMultipleOf = *p.PadToMultipleOf
		}
		if p.Direction != "" && p.Direction != "Right" && unsupported == nil {
			unsupported = fmt.Errorf("%w: padding direction %q (only Right)", ErrUnsupported, p.Direction)
		}
	}
	return o, unsupported, nil
}

type hfAdded struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfTyped struct {
	Type string `json:"type"`
}

func componentType(raw json.RawMessage) (string, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	var t hfTyped
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", false, err
	}
	return t.Type, true, nil
}

// legacyModelType names the model of an older tokenizer.json whose "model"
// object has no "type" field. Hugging Face tokenizers then tries the model
// kinds in order (BPE, WordPiece, WordLevel, Unigram) and takes the first
// whose required fields are all present; this mirrors that choice from the
// keys alone (checked against tokenizers 0.23.2: without
// continuing_subword_prefix or max_input_chars_per_word the same object loads
// as WordLevel, with "merges" as BPE).
func legacyModelType(raw json.RawMessage) (string, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return "", fmt.Errorf("%w: model: %v", ErrInvalid, err)
	}
	has := func(names ...string) bool {
		for _, n := range names {
			if v, ok := keys[n]; !ok || string(v) == "null" {
				return false
			}
		}
		return true
	}
	switch {
	case has("vocab", "merges"):
		return "BPE", nil
	case has("vocab", "unk_token", "continuing_subword_prefix", "max_input_chars_per_word"):
		return "WordPiece", nil
	case has("vocab", "unk_token"):
		return "WordLevel", nil
	case has("vocab") && bytes.HasPrefix(bytes.TrimSpace(keys["vocab"]), []byte("[")):
		return "Unigram", nil
	}
	return "", fmt.Errorf("%w: model has no \"type\" and matches no model kind (a WordPiece model needs vocab, unk_token, continuing_subword_prefix and max_input_chars_per_word)", ErrInvalid)
}

// FromJSON loads a Hugging Face tokenizer.json describing a BERT WordPiece
// tokenizer: BertNormalizer (or none), BertPreTokenizer, WordPiece model,
// TemplateProcessing or BertProcessing post-processor (or none), and added
// tokens. Anything else is refused with ErrUnsupported naming what was found;
// malformed JSON yields ErrInvalid. An older file whose model has no "type"
// is read as Hugging Face reads it (see legacyModelType): WordPiece when it
// has vocab, unk_token, continuing_subword_prefix and max_input_chars_per_word.
//
// Truncation and padding settings stored in the file are not applied
// implicitly: callers pass them in [EncodeOptions] for each call, and
// [Tokenizer.FileOptions] returns the file's own settings for callers who
// want Hugging Face's default output.
func FromJSON(data []byte) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %v", ErrInvalid, err)
	}
	fileOpts, fileOptsErr, err := f.fileOptions()
	if err != nil {
		return nil, err
	}
	s := &spec{}

	// Model.
	typ, ok, err := componentType(f.Model)
	if err != nil {
		return nil, fmt.Errorf("%w: model: %v", ErrInvalid, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: tokenizer.json has no model", ErrInvalid)
	}
	if typ == "" {
		if typ, err = legacyModelType(f.Model); err != nil {
			return nil, err
		}
	}
	if typ != "WordPiece" {
		return nil, fmt.Errorf("%w: model type %q (only WordPiece is supported)", ErrUnsupported, typ)
	}
	var m struct {
		Vocab    map[string]int64 `json:"vocab"`
		UnkToken string           `json:"unk_token"`
		Prefix   *string          `json:"continuing_subword_prefix"`
		MaxInput *int64           `json:"max_input_chars_per_word"`
	}
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, fmt.Errorf("%w: WordPiece model: %v", ErrInvalid, err)
	}
	s.prefix = "##"
	if m.Prefix != nil {
		s.prefix = *m.Prefix
	}
	s.maxChars = 100
	if m.MaxInput != nil {
		if *m.MaxInput < 0 || *m.MaxInput > 1<<20 {
			return nil, fmt.Errorf("%w: max_input_chars_per_word %d", ErrInvalid, *m.MaxInput)
		}
		s.maxChars = int(*m.MaxInput)
	}
	maxID := int64(-1)
	for tok, id := range m.Vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("%w: vocabulary id %d for %q out of range", ErrInvalid, id, tok)
		}
		maxID = max(maxID, id)
	}
	if maxID+1 > 4*int64(len(m.Vocab))+1024 {
		return nil, fmt.Errorf("%w: vocabulary ids up to %d for only %d tokens", ErrInvalid, maxID, len(m.Vocab))
	}
	s.tokens = make([]string, maxID+1)
	for tok, id := range m.Vocab {
		if tok == "" {
			continue
		}
		if old := s.tokens[id]; old != "" && old < tok {
			continue // two tokens share an id: keep one deterministically
		}
		s.tokens[id] = tok
	}
	lookup := func(name string) int32 {
		if id, ok := m.Vocab[name]; ok {
			return int32(id)
		}
		for _, a := range f.AddedTokens {
			if a.Content == name {
				return a.ID
			}
		}
		return -1
	}
	if m.UnkToken == "" {
		m.UnkToken = "[UNK]"
	}
	s.unk = lookup(m.UnkToken)
	if s.unk < 0 {
		return nil, fmt.Errorf("%w: unk_token %q not in vocabulary", ErrInvalid, m.UnkToken)
	}
	s.mask = lookup("[MASK]")
	s.pad = lookup("[PAD]")
	if f.Padding != nil {
		if f.Padding.PadID != nil {
			s.pad = *f.Padding.PadID
		} else if f.Padding.PadToken != "" {
			s.pad = lookup(f.Padding.PadToken)
		}
		s.padType = f.Padding.PadTypeID
		if s.padType < 0 || s.padType > 1<<16 {
			return nil, fmt.Errorf("%w: pad_type_id %d", ErrInvalid, s.padType)
		}
	}

	// Normalizer.
	typ, ok, err = componentType(f.Normalizer)
	if err != nil {
		return nil, fmt.Errorf("%w: normalizer: %v", ErrInvalid, err)
	}
	if ok {
		if typ != "BertNormalizer" {
			return nil, fmt.Errorf("%w: normalizer type %q (only BertNormalizer is supported)", ErrUnsupported, typ)
		}
		var n struct {
			CleanText          *bool `json:"clean_text"`
			HandleChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents       *bool `json:"strip_accents"`
			Lowercase          *bool `json:"lowercase"`
		}
		if err := json.Unmarshal(f.Normalizer, &n); err != nil {
			return nil, fmt.Errorf("%w: BertNormalizer: %v", ErrInvalid, err)
		}
		def := func(p *bool) bool { return p == nil || *p } // all default to true
		s.flags |= flagNormalizer
		if def(n.CleanText) {
			s.flags |= flagCleanText
		}
		if def(n.HandleChineseChars) {
			s.flags |= flagHandleCJK
		}
		lower := def(n.Lowercase)
		if lower {
			s.flags |= flagLowercase
		}
		strip := lower
		if n.StripAccents != nil {
			strip = *n.StripAccents
		}
		if strip {
			s.flags |= flagStripAccents
		}
	}

	// Pre-tokenizer.
	typ, ok, err = componentType(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("%w: pre_tokenizer: %v", ErrInvalid, err)
	}
	if !ok || typ != "BertPreTokenizer" {
		if !ok {
			typ = "none"
		}
		return nil, fmt.Errorf("%w: pre_tokenizer %q (only BertPreTokenizer is supported)", ErrUnsupported, typ)
	}

	// Decoder: WordPiece (cleanup defaults to true) or none.
	typ, ok, err = componentType(f.Decoder)
	if err != nil {
		return nil, fmt.Errorf("%w: decoder: %v", ErrInvalid, err)
	}
	s.flags |= flagDecodeCleanup
	if ok {
		if typ != "WordPiece" {
			return nil, fmt.Errorf("%w: decoder type %q (only WordPiece is supported)", ErrUnsupported, typ)
		}
		var d struct {
			Cleanup *bool `json:"cleanup"`
		}
		if err := json.Unmarshal(f.Decoder, &d); err != nil {
			return nil, fmt.Errorf("%w: decoder: %v", ErrInvalid, err)
		}
		if d.Cleanup != nil && !*d.Cleanup {
			s.flags &^= flagDecodeCleanup
		}
	}

	// Added tokens.
	if len(f.AddedTokens) > maxAdded {
		return nil, fmt.Errorf("%w: %d added tokens", ErrInvalid, len(f.AddedTokens))
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" || a.ID < 0 || a.ID >= maxVocab {
			return nil, fmt.Errorf("%w: added token %q with id %d", ErrInvalid, a.Content, a.ID)
		}
		at := addedToken{id: a.ID, content: a.Content}
		// Without a normalizer, normalized=true tokens match the raw
		// text, exactly like the others.
		normalized := a.Normalized && s.flags&flagNormalizer != 0
		for _, fl := range []struct {
			on  bool
			bit uint32
		}{{a.Special, addedSpecial}, {a.Lstrip, addedLstrip}, {a.Rstrip, addedRstrip}, {a.SingleWord, addedSingleWord}, {normalized, addedNormalized}} {
			if fl.on {
				at.flags |= fl.bit
			}
		}
		s.added = append(s.added, at)
	}

	// Post-processor.
	typ, ok, err = componentType(f.PostProcessor)
	if err != nil {
		return nil, fmt.Errorf("%w: post_processor: %v", ErrInvalid, err)
	}
	s.cls, s.sep = lookup("[CLS]"), lookup("[SEP]")
	switch {
	case !ok:
		s.single = []piece{{kind: pieceA}}
		s.pair = []piece{{kind: pieceA}, {kind: pieceB, typeID: 1}}
	case typ == "BertProcessing":
		var p struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(f.PostProcessor, &p); err != nil {
			return nil, fmt.Errorf("%w: BertProcessing: %v", ErrInvalid, err)
		}
		var sepID, clsID int32
		if err := json.Unmarshal(p.Sep[1], &sepID); err != nil {
			return nil, fmt.Errorf("%w: BertProcessing sep: %v", ErrInvalid, err)
		}
		if err := json.Unmarshal(p.Cls[1], &clsID); err != nil {
			return nil, fmt.Errorf("%w: BertProcessing cls: %v", ErrInvalid, err)
		}
		if sepID < 0 || clsID < 0 {
			return nil, fmt.Errorf("%w: BertProcessing ids", ErrInvalid)
		}
		s.cls, s.sep = clsID, sepID
		s.single = []piece{{kind: pieceSpecial, ids: []int32{clsID}}, {kind: pieceA}, {kind: pieceSpecial, ids: []int32{sepID}}}
		s.pair = []piece{{kind: pieceSpecial, ids: []int32{clsID}}, {kind: pieceA}, {kind: pieceSpecial, ids: []int32{sepID}},
			{kind: pieceB, typeID: 1}, {kind: pieceSpecial, typeID: 1, ids: []int32{sepID}}}
	case typ == "TemplateProcessing":
		var p struct {
			Single  []json.RawMessage `json:"single"`
			Pair    []json.RawMessage `json:"pair"`
			Special map[string]struct {
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(f.PostProcessor, &p); err != nil {
			return nil, fmt.Errorf("%w: TemplateProcessing: %v", ErrInvalid, err)
		}
		conv := func(raw []json.RawMessage) ([]piece, error) {
			if len(raw) > maxPieces {
				return nil, fmt.Errorf("%w: template of %d pieces", ErrInvalid, len(raw))
			}
			var out []piece
			for _, r := range raw {
				var pc struct {
					Seq *struct {
						ID     string `json:"id"`
						TypeID int32  `json:"type_id"`
					} `json:"Sequence"`
					Special *struct {
						ID     string `json:"id"`
						TypeID int32  `json:"type_id"`
					} `json:"SpecialToken"`
				}
				if err := json.Unmarshal(r, &pc); err != nil {
					return nil, fmt.Errorf("%w: template piece: %v", ErrInvalid, err)
				}
				switch {
				case pc.Seq != nil && (pc.Seq.ID == "A" || pc.Seq.ID == "B") && pc.Seq.TypeID >= 0 && pc.Seq.TypeID <= 1<<16:
					k := uint32(pieceA)
					if pc.Seq.ID == "B" {
						k = pieceB
					}
					out = append(out, piece{kind: k, typeID: pc.Seq.TypeID})
				case pc.Special != nil && pc.Special.TypeID >= 0 && pc.Special.TypeID <= 1<<16:
					st, ok := p.Special[pc.Special.ID]
					if !ok || len(st.IDs) == 0 || len(st.IDs) > maxPieceIDs {
						return nil, fmt.Errorf("%w: template special token %q undefined", ErrInvalid, pc.Special.ID)
					}
					for _, id := range st.IDs {
						if id < 0 || id >= maxVocab {
							return nil, fmt.Errorf("%w: template special token id %d", ErrInvalid, id)
						}
					}
					out = append(out, piece{kind: pieceSpecial, typeID: pc.Special.TypeID, ids: st.IDs})
				default:
					return nil, fmt.Errorf("%w: template piece %s", ErrInvalid, r)
				}
			}
			return out, nil
		}
		if s.single, err = conv(p.Single); err != nil {
			return nil, err
		}
		if s.pair, err = conv(p.Pair); err != nil {
			return nil, err
		}
		if v, ok := p.Special["[CLS]"]; ok && len(v.IDs) == 1 {
			s.cls = v.IDs[0]
		}
		if v, ok := p.Special["[SEP]"]; ok && len(v.IDs) == 1 {
			s.sep = v.IDs[0]
		}
	default:
		return nil, fmt.Errorf("%w: post_processor type %q (only TemplateProcessing and BertProcessing are supported)", ErrUnsupported, typ)
	}
	if err := checkTemplate(s.single, false); err != nil {
		return nil, err
	}
	if err := checkTemplate(s.pair, true); err != nil {
		return nil, err
	}
	t, err := s.load()
	if err != nil {
		return nil, err
	}
	t.fileOpts, t.fileOptsErr, t.hasFileOpts = fileOpts, fileOptsErr, true
	return t, nil
}
