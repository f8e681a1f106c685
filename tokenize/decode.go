package tokenize

import "strings"

// Decode turns ids back into text the way Hugging Face's WordPiece decoder
// does: tokens are joined with spaces except continuation pieces, whose
// prefix ("##") is removed so they glue to the previous piece; with the
// decoder's cleanup enabled (the BERT default) each piece goes through the
// Rust decoder's clean-up (" ." -> "." and so on). Like the Rust decoder it
// works token by token, so patterns spanning tokens stay: "isn't" decodes
// to "isn ' t" (transformers' optional clean_up_tokenization_spaces, applied
// to the joined string afterwards, is not applied here). Ids outside the vocabulary are skipped;
// skipSpecial also drops special tokens ([CLS], [SEP], [PAD], ...).
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	var sb strings.Builder
	first := true
	for _, id := range ids {
		tok, ok := t.Token(id)
		if !ok {
			continue
		}
		if skipSpecial && t.isSpecial(id) {
			continue
		}
		if !first {
			if t.prefix != "" && strings.HasPrefix(tok, t.prefix) {
				tok = tok[len(t.prefix):]
			} else {
				tok = " " + tok
			}
		}
		first = false
		if t.flags&flagDecodeCleanup != 0 {
			tok = cleanup(tok)
		}
		sb.WriteString(tok)
	}
	return sb.String()
}

func (t *Tokenizer) isSpecial(id int32) bool {
	for _, a := range t.added {
		if a.id == id && a.flags&addedSpecial != 0 {
			return true
		}
	}
	return false
}

// cleanupReplacer lists the Rust WordPiece decoder's clean-up replacements,
// applied in this order.
var cleanupReplacer = []string{
	" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't",
	" 'm", "'m", " do not", " don't", " 's", "'s", " 've", "'ve", " 're", "'re",
}

func cleanup(s string) string {
	if !strings.Contains(s, " ") {
		return s
	}
	for i := 0; i < len(cleanupReplacer); i += 2 {
		s = strings.ReplaceAll(s, cleanupReplacer[i], cleanupReplacer[i+1])
	}
	return s
}
