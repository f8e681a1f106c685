//go:build hftokenizers

package hftokenizers

import (
	"encoding/json"
	"fmt"
	"strings"

	hf "github.com/daulet/tokenizers"

	"lepton/tokenize"
)

// Tokenizer is the [tokenize.Backend] backed by the Rust Hugging Face
// tokenizers library (github.com/daulet/tokenizers v1.24.0, cgo). Build
// with -tags hftokenizers and libtokenizers.a on the linker path
// (CGO_LDFLAGS=-L<dir>).
//
// Limitations of the wrapped API: no text pairs (EncodePair returns
// tokenize.ErrUnsupported), no truncation or padding options (only the zero
// tokenize.EncodeOptions is accepted), and texts are passed as C strings, so input
// is cut at the first NUL byte.
type Tokenizer struct {
	tk *hf.Tokenizer
}

var _ tokenize.Backend = (*Tokenizer)(nil)

// FromJSON loads a tokenizer.json into the Rust library. Truncation and
// padding settings stored in the file are removed first, so that, as with
// [tokenize.FromJSON], they only come from the tokenize.EncodeOptions. A file the
// library refuses is an error wrapping [tokenize.ErrInvalid].
func FromJSON(data []byte) (*Tokenizer, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %v", tokenize.ErrInvalid, err)
	}
	m["truncation"], m["padding"] = json.RawMessage("null"), json.RawMessage("null")
	clean, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %v", tokenize.ErrInvalid, err)
	}
	tk, err := hf.FromBytes(clean)
	if err != nil {
		return nil, fmt.Errorf("%w: hftokenizers: %v", tokenize.ErrInvalid, err)
	}
	return &Tokenizer{tk: tk}, nil
}

// Close frees the Rust tokenizer.
func (h *Tokenizer) Close() error { return h.tk.Close() }

// Encode encodes one text with special tokens. Only the zero tokenize.EncodeOptions
// is supported.
func (h *Tokenizer) Encode(text string, opt tokenize.EncodeOptions) (tokenize.Encoding, error) {
	if opt != (tokenize.EncodeOptions{}) {
		return tokenize.Encoding{}, fmt.Errorf("%w: the hftokenizers backend supports no truncation or padding options", tokenize.ErrUnsupported)
	}
	if i := strings.IndexByte(text, 0); i >= 0 {
		text = text[:i] // what the C string conversion does anyway, made explicit
	}
	r := h.tk.EncodeWithOptions(text, true, hf.WithReturnAllAttributes())
	n := len(r.IDs)
	e := tokenize.Encoding{
		IDs:               make([]int32, n),
		TypeIDs:           make([]int32, n),
		AttentionMask:     make([]uint8, n),
		SpecialTokensMask: make([]uint8, n),
		Offsets:           make([][2]int, n),
		Tokens:            r.Tokens,
	}
	for i := range n {
		e.IDs[i] = int32(r.IDs[i])
		if i < len(r.TypeIDs) {
			e.TypeIDs[i] = int32(r.TypeIDs[i])
		}
		if i < len(r.AttentionMask) {
			e.AttentionMask[i] = uint8(r.AttentionMask[i])
		}
		if i < len(r.SpecialTokensMask) {
			e.SpecialTokensMask[i] = uint8(r.SpecialTokensMask[i])
		}
		if i < len(r.Offsets) {
			e.Offsets[i] = [2]int{int(r.Offsets[i][0]), int(r.Offsets[i][1])}
		}
	}
	return e, nil
}

// EncodePair is not offered by github.com/daulet/tokenizers.
func (h *Tokenizer) EncodePair(a, b string, opt tokenize.EncodeOptions) (tokenize.Encoding, error) {
	return tokenize.Encoding{}, fmt.Errorf("%w: the hftokenizers backend cannot encode pairs", tokenize.ErrUnsupported)
}

// Decode decodes ids with the Rust decoder.
func (h *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	u := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id >= 0 {
			u = append(u, uint32(id))
		}
	}
	return h.tk.Decode(u, skipSpecial)
}

// VocabSize returns the Rust tokenizer's vocabulary size.
func (h *Tokenizer) VocabSize() int { return int(h.tk.VocabSize()) }
