//go:build hftokenizers

package tokenize

import (
	"encoding/json"
	"fmt"
	"strings"

	hf "github.com/daulet/tokenizers"
)

// HFTokenizer is the [Backend] backed by the Rust Hugging Face tokenizers
// library (github.com/daulet/tokenizers v1.24.0, cgo). It exists to check
// the pure-Go [Tokenizer] against the reference implementation and for
// programs that already link that library. Build with -tags hftokenizers and
// libtokenizers.a on the linker path (CGO_LDFLAGS=-L<dir>).
//
// Limitations of the wrapped API: no text pairs (EncodePair returns
// ErrUnsupported), no truncation or padding options (only the zero
// EncodeOptions is accepted), and texts are passed as C strings, so input
// is cut at the first NUL byte.
type HFTokenizer struct {
	tk *hf.Tokenizer
}

var _ Backend = (*HFTokenizer)(nil)

// FromJSONHF loads a tokenizer.json into the Rust library. Truncation and
// padding settings stored in the file are removed first, so that, as with
// [FromJSON], they only come from EncodeOptions.
func FromJSONHF(data []byte) (*HFTokenizer, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %v", ErrInvalid, err)
	}
	m["truncation"], m["padding"] = json.RawMessage("null"), json.RawMessage("null")
	clean, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: tokenizer.json: %v", ErrInvalid, err)
	}
	tk, err := hf.FromBytes(clean)
	if err != nil {
		return nil, fmt.Errorf("%w: hftokenizers: %v", ErrInvalid, err)
	}
	return &HFTokenizer{tk: tk}, nil
}

// Close frees the Rust tokenizer.
func (h *HFTokenizer) Close() error { return h.tk.Close() }

// Encode encodes one text with special tokens. Only the zero EncodeOptions
// is supported.
func (h *HFTokenizer) Encode(text string, opt EncodeOptions) (Encoding, error) {
	if opt != (EncodeOptions{}) {
		return Encoding{}, fmt.Errorf("%w: the hftokenizers backend supports no truncation or padding options", ErrUnsupported)
	}
	if i := strings.IndexByte(text, 0); i >= 0 {
		text = text[:i] // what the C string conversion does anyway, made explicit
	}
	r := h.tk.EncodeWithOptions(text, true, hf.WithReturnAllAttributes())
	n := len(r.IDs)
	e := Encoding{
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
func (h *HFTokenizer) EncodePair(a, b string, opt EncodeOptions) (Encoding, error) {
	return Encoding{}, fmt.Errorf("%w: the hftokenizers backend cannot encode pairs", ErrUnsupported)
}

// Decode decodes ids with the Rust decoder.
func (h *HFTokenizer) Decode(ids []int32, skipSpecial bool) string {
	u := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if id >= 0 {
			u = append(u, uint32(id))
		}
	}
	return h.tk.Decode(u, skipSpecial)
}

// VocabSize returns the Rust tokenizer's vocabulary size.
func (h *HFTokenizer) VocabSize() int { return int(h.tk.VocabSize()) }
