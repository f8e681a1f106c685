package tokenize

import "unicode"

// Character classes of Hugging Face's BertNormalizer and BertPreTokenizer.
// Categories come from Go's unicode tables (see the package doc for how the
// Unicode versions relate).

// isControl mirrors the Rust tokenizers' is_control: categories Cc, Cf and
// Co, except tab, newline and carriage return which count as whitespace.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isWhitespace mirrors is_whitespace: tab, newline, carriage return and the
// Unicode White_Space property (which unicode.IsSpace implements).
func isWhitespace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

// isChinese reports the CJK ideograph ranges of the Rust BertNormalizer.
// Note 0x2B920: the Rust crate starts that range there (the original BERT
// code says 0x2B820); we follow the Rust crate, which is the reference.
func isChinese(r rune) bool {
	switch {
	case r < 0x3400:
		return false
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// isPunct mirrors is_bert_punc: the ASCII symbol ranges BERT treats as
// punctuation plus every Unicode P* category.
func isPunct(r rune) bool {
	if r < 0x80 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// isWordChar is the Rust added-vocabulary notion of a word character, used
// for single_word added tokens.
func isWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}
