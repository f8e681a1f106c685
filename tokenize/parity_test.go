package tokenize

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"golang.org/x/text/unicode/norm"

	"lepton/internal/testshared"
)

// repoRoot returns the repository root (the directory holding go.mod).
func repoRoot(tb testing.TB) string {
	tb.Helper()
	return testshared.RepoRoot(tb)
}

// sharedPath returns ../shared/<rel> relative to the repository root. When
// it is absent the test skips, or fails when LEPTON_REQUIRE_SHARED=1 (as CI
// sets it), through internal/testshared: a CI run must not pass by skipping
// the parity tests.
func sharedPath(tb testing.TB, rel string) string {
	tb.Helper()
	return testshared.Path(tb, rel)
}

// bertUncased loads the bert-base-uncased tokenizer.json from ../shared.
func bertUncased(tb testing.TB) *Tokenizer {
	tb.Helper()
	data, err := os.ReadFile(sharedPath(tb, "models/sst2-bert-tiny-scratch/tokenizer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	tk, err := FromJSON(data)
	if err != nil {
		tb.Fatal(err)
	}
	return tk
}

type goldenAdversarial struct {
	Reference string `json:"reference"`
	Texts     []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	} `json:"texts"`
	Pairs []struct {
		A       string  `json:"a"`
		B       string  `json:"b"`
		IDs     []int32 `json:"ids"`
		TypeIDs []int32 `json:"type_ids"`
	} `json:"pairs"`
}

func loadAdversarial(tb testing.TB) goldenAdversarial {
	tb.Helper()
	data, err := os.ReadFile("testdata/golden_adversarial.json")
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenAdversarial
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatal(err)
	}
	return g
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// knownDivergences lists adversarial inputs on which transformers.js (the
// golden generator) and the Rust tokenizers crate disagree. We follow Rust,
// which is what Hugging Face's Python tokenizers run; want gives the tokens
// the Rust code produces, worked out by hand from its source and confirmed
// by golden_rust.json.gz (TestParityRustAdversarial).
var knownDivergences = map[string]struct {
	reason string
	want   []string
}{
	"Ωμέγα ΣΊΣΥΦΟΣ": {
		reason: "Rust lowercases char by char (char::to_lowercase), so a word-final Σ becomes σ; JavaScript's String.toLowerCase applies the Final_Sigma rule (ς)",
		want:   []string{"[CLS]", "ω", "##μ", "##ε", "##γ", "##α", "σ", "##ι", "##σ", "##υ", "##φ", "##ο", "##σ", "[SEP]"},
	},
	"ΣΟΦΟΣ σοφός": {
		reason: "final sigma, as above",
		want:   []string{"[CLS]", "σ", "##ο", "##φ", "##ο", "##σ", "σ", "##ο", "##φ", "##ος", "[SEP]"},
	},
	"x\U00020000y supplementary ideograph": {
		reason: "transformers.js tests CJK code points per UTF-16 unit, so ideographs outside the BMP (U+20000..) are never isolated; Rust tests whole chars and isolates U+20000",
		want:   []string{"[CLS]", "x", "[UNK]", "y", "supplementary", "id", "##eo", "##graph", "[SEP]"},
	},
}

// knownPairDivergences: transformers.js treats an empty second text as no
// pair at all (it tests text_pair for truthiness), while Rust and Python
// tokenizers encode a pair with an empty B: [CLS] A [SEP] [SEP].
var knownPairDivergences = map[[2]string][]string{
	{"only first", ""}: {"[CLS]", "only", "first", "[SEP]", "[SEP]"},
	{"", ""}:           {"[CLS]", "[SEP]", "[SEP]"},
}

func tokensOf(tk *Tokenizer, ids []int32) []string {
	var out []string
	for _, id := range ids {
		s, _ := tk.Token(id)
		out = append(out, s)
	}
	return out
}

func TestParityAdversarial(t *testing.T) {
	tk := bertUncased(t)
	g := loadAdversarial(t)
	if len(g.Texts) < 90 || len(g.Pairs) < 5 {
		t.Fatalf("golden file has only %d texts and %d pairs", len(g.Texts), len(g.Pairs))
	}
	seen := 0
	for _, c := range g.Texts {
		enc, err := tk.Encode(c.Text, EncodeOptions{})
		if err != nil {
			t.Fatalf("%q: %v", c.Text, err)
		}
		checkOffsets(t, tk, enc, c.Text, "")
		if d, ok := knownDivergences[c.Text]; ok {
			seen++
			if equalIDs(enc.IDs, c.IDs) {
				t.Errorf("%q: listed as a divergence (%s) but matches transformers.js; remove it from the list", c.Text, d.reason)
			}
			assert.Equal(t, d.want, enc.Tokens, "%q (Rust behaviour: %s)", c.Text, d.reason)
			continue
		}
		if !equalIDs(enc.IDs, c.IDs) {
			t.Errorf("%q:\n got %q\nwant %q", c.Text, enc.Tokens, tokensOf(tk, c.IDs))
		}
	}
	if seen != len(knownDivergences) {
		t.Errorf("only %d of %d known divergences are in the golden file", seen, len(knownDivergences))
	}
	for _, c := range g.Pairs {
		enc, err := tk.EncodePair(c.A, c.B, EncodeOptions{})
		if err != nil {
			t.Fatalf("%q/%q: %v", c.A, c.B, err)
		}
		checkOffsets(t, tk, enc, c.A, c.B)
		if want, ok := knownPairDivergences[[2]string{c.A, c.B}]; ok {
			if equalIDs(enc.IDs, c.IDs) {
				t.Errorf("%q / %q listed as a divergence but matches transformers.js", c.A, c.B)
			}
			assert.Equal(t, want, enc.Tokens)
			assert.Equal(t, int32(1), enc.TypeIDs[len(enc.TypeIDs)-1], "final [SEP] belongs to B")
			continue
		}
		if !equalIDs(enc.IDs, c.IDs) || !equalIDs(enc.TypeIDs, c.TypeIDs) {
			t.Errorf("%q / %q:\n got %q %v\nwant %q %v", c.A, c.B, enc.Tokens, enc.TypeIDs, tokensOf(tk, c.IDs), c.TypeIDs)
		}
	}
}

// goldenShared holds, for every input line of ../shared used by the
// transformers.js parity tests, only the line key, a SHA-256 prefix of the
// input (to notice a changed input) and the SHA-256 of the reference output
// (canonIDs): token ids decode back to the texts, and nothing from
// ../shared may be copied into the repository.
type goldenShared struct {
	Reference string `json:"reference"`
	SST2      []struct {
		Line int    `json:"line"`
		SHA  string `json:"sha"`
		Out  string `json:"out"`
	} `json:"sst2"`
	Symptom2Disease []struct {
		Row int    `json:"row"`
		SHA string `json:"sha"`
		Out string `json:"out"`
	} `json:"symptom2disease"`
	STSB []struct {
		Line int    `json:"line"`
		SHA  string `json:"sha"`
		Out  string `json:"out"`
	} `json:"stsb"`
}

// joinInts writes xs as decimal numbers separated by commas.
func joinInts[T int | int32 | uint8](xs []T) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
	return b.String()
}

// canonIDs is the canonical serialisation whose SHA-256 the shared golden
// holds: "ids=1,2,3" plus ";type_ids=0,0,1" for pairs, exactly as
// canon() in tools/node/tokenize-goldens.mjs writes it.
func canonIDs(enc *Encoding, pair bool) string {
	s := "ids=" + joinInts(enc.IDs)
	if pair {
		s += ";type_ids=" + joinInts(enc.TypeIDs)
	}
	return s
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// checkSharedHash compares Lepton's output on one ../shared line with the
// hashed transformers.js reference and says how to see the reference in
// full when they differ.
func checkSharedHash(t *testing.T, set string, line int, enc *Encoding, pair bool, want string) {
	t.Helper()
	c := canonIDs(enc, pair)
	if len(want) < 32 {
		t.Fatalf("%s line %d: golden hash %q is too short", set, line, want)
	}
	if sha256Hex(c) != want {
		t.Errorf("%s line %d: Lepton's output differs from transformers.js (the golden holds only a SHA-256 of it).\n got tokens %q\n got %s\nSee the reference with: node tools/node/tokenize-goldens.mjs --print %s:%d",
			set, line, enc.Tokens, c, set, line)
	}
}

func loadShared(tb testing.TB) goldenShared {
	tb.Helper()
	f, err := os.Open("testdata/golden_shared.json.gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenShared
	if err := json.NewDecoder(zr).Decode(&g); err != nil {
		tb.Fatal(err)
	}
	return g
}

func shortSHA(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

func readLines(tb testing.TB, rel string) []string {
	tb.Helper()
	data, err := os.ReadFile(sharedPath(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(string(data), "\n")
}

// sst2Texts returns the SST-2 validation sentences by line number.
func sst2Texts(tb testing.TB) map[int]string {
	out := map[int]string{}
	for i, l := range readLines(tb, "data/sst2/validation.tsv") {
		if i == 0 || l == "" {
			continue
		}
		out[i] = strings.Split(l, "\t")[0]
	}
	return out
}

func TestParitySST2(t *testing.T) {
	tk := bertUncased(t)
	texts := sst2Texts(t)
	g := loadShared(t)
	if len(g.SST2) != 872 || len(texts) != 872 {
		t.Fatalf("want 872 SST-2 sentences, golden has %d, file %d", len(g.SST2), len(texts))
	}
	for _, c := range g.SST2 {
		text := texts[c.Line]
		if shortSHA(text) != c.SHA {
			t.Fatalf("line %d: input differs from the one the golden was made from", c.Line)
		}
		enc, err := tk.Encode(text, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkOffsets(t, tk, enc, text, "")
		checkSharedHash(t, "sst2", c.Line, &enc, false, c.Out)
	}
}

func TestParitySymptom2Disease(t *testing.T) {
	tk := bertUncased(t)
	data, err := os.ReadFile(sharedPath(t, "data/symptom2disease/Symptom2Disease.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := parseCSVRows(t, data)
	g := loadShared(t)
	if len(g.Symptom2Disease) != 1200 || len(rows) != 1201 {
		t.Fatalf("want 1200 texts, golden has %d, file %d rows", len(g.Symptom2Disease), len(rows)-1)
	}
	for _, c := range g.Symptom2Disease {
		text := rows[c.Row][2]
		if shortSHA(text) != c.SHA {
			t.Fatalf("row %d: input differs from the one the golden was made from", c.Row)
		}
		enc, err := tk.Encode(text, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkOffsets(t, tk, enc, text, "")
		checkSharedHash(t, "symptom2disease", c.Row, &enc, false, c.Out)
	}
}

func parseCSVRows(tb testing.TB, data []byte) [][]string {
	tb.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

func TestParitySTSBPairs(t *testing.T) {
	tk := bertUncased(t)
	lines := readLines(t, "data/stsb/sts-test.tsv")
	g := loadShared(t)
	if len(g.STSB) != 1379 {
		t.Fatalf("want 1379 STS-B test pairs, golden has %d", len(g.STSB))
	}
	for _, c := range g.STSB {
		cols := strings.Split(lines[c.Line], "\t")
		if len(cols) < 7 || shortSHA(cols[5]+"\t"+cols[6]) != c.SHA {
			t.Fatalf("line %d: input differs from the one the golden was made from", c.Line)
		}
		enc, err := tk.EncodePair(cols[5], cols[6], EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkOffsets(t, tk, enc, cols[5], cols[6])
		checkSharedHash(t, "stsb", c.Line, &enc, true, c.Out)
	}
}

// refNormalize is an independent, string-at-a-time statement of what the
// uncased BertNormalizer does to a piece of original text, with whitespace
// removed: drop NUL, U+FFFD and Cc/Cf/Co (except tab/newline/CR), NFD, drop
// Mn, lowercase rune by rune (İ -> i + U+0307).
func refNormalize(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToValidUTF8(s, "\uFFFD")) {
		switch {
		case r == 0 || r == 0xFFFD:
		case r != '\t' && r != '\n' && r != '\r' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co):
		case unicode.IsSpace(r), unicode.Is(unicode.Mn, r):
		case r == 0x130:
			b.WriteString("i")
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// checkOffsets asserts the defining invariant of offsets on an encoding of
// the uncased tokenizer: special tokens have (0,0); every other token's
// original text, normalised, equals the token without "##" (tokens sharing
// one original character are checked as a group); an [UNK] covers a whole
// word; the text between tokens normalises to nothing; offsets are in range
// and non-decreasing.
func checkOffsets(t *testing.T, tk *Tokenizer, enc Encoding, a, b string) {
	t.Helper()
	_, _, _, unk, _ := tk.SpecialIDs()
	type group struct {
		start, end int
		text       string
		unk        bool
	}
	for _, side := range []struct {
		typ  int32
		text string
	}{{0, a}, {1, b}} {
		var groups []group
		for i, id := range enc.IDs {
			off := enc.Offsets[i]
			if enc.SpecialTokensMask[i] == 1 {
				if off != [2]int{} {
					t.Errorf("special token %q has offsets %v", enc.Tokens[i], off)
				}
				continue
			}
			if enc.TypeIDs[i] != side.typ {
				continue
			}
			if off[0] < 0 || off[0] >= off[1] || off[1] > len(side.text) {
				t.Errorf("%q: token %d %q offsets %v out of range", side.text, i, enc.Tokens[i], off)
				return
			}
			tok := strings.TrimPrefix(enc.Tokens[i], "##")
			isUnk := id == unk && side.text[off[0]:off[1]] != "[UNK]"
			if n := len(groups); n > 0 && off[0] < groups[n-1].end {
				if off[0] < groups[n-1].start {
					t.Errorf("%q: offsets decrease at token %d", side.text, i)
					return
				}
				groups[n-1].end = max(groups[n-1].end, off[1])
				groups[n-1].text += tok
				groups[n-1].unk = groups[n-1].unk || isUnk
				continue
			}
			groups = append(groups, group{off[0], off[1], tok, isUnk})
		}
		prev := 0
		for _, g := range groups {
			if gap := refNormalize(side.text[prev:g.start]); gap != "" && !isAdded(tk, side.text[prev:g.start]) {
				t.Errorf("%q: text %q between tokens was lost", side.text, side.text[prev:g.start])
			}
			prev = g.end
			orig := side.text[g.start:g.end]
			if g.unk {
				// An [UNK] spans a whole word as the pre-tokenizer cuts
				// words: exactly one punctuation or CJK character, or a
				// run of other characters with a word boundary on both
				// sides.
				if msg := unkWordError(tk, side.text, g.start, g.end); msg != "" {
					t.Errorf("%q: [UNK] span %q: %s", side.text, orig, msg)
				}
				continue
			}
			if got := refNormalize(orig); got != g.text && !isAdded(tk, orig) {
				t.Errorf("%q: span %q normalises to %q, tokens say %q", side.text, orig, got, g.text)
			}
		}
		if rest := refNormalize(side.text[prev:]); rest != "" {
			t.Errorf("%q: trailing text %q was lost", side.text, side.text[prev:])
		}
	}
}

// refClass is how the BERT normaliser and pre-tokenizer see one character
// of the original text of the uncased tokenizer: dropped by clean_text or
// strip_accents, whitespace (a word
// boundary), a word of its own (punctuation, CJK ideograph), or part of a
// word. It is written from the Hugging Face definitions, independently of
// the package's tables.
func refClass(r rune) int {
	switch {
	case r == 0 || r == 0xFFFD:
		return classDropped
	case r != '\t' && r != '\n' && r != '\r' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co):
		return classDropped
	case unicode.Is(unicode.Mn, r): // removed by strip_accents (uncased)
		return classDropped
	case unicode.IsSpace(r):
		return classSpace
	case r >= 33 && r <= 47, r >= 58 && r <= 64, r >= 91 && r <= 96, r >= 123 && r <= 126, unicode.IsPunct(r):
		return classAlone
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F, r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B920 && r <= 0x2CEAF, // sic: Rust's 0x2B920
		r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return classAlone
	}
	return classWord
}

const (
	classWord = iota
	classDropped
	classSpace
	classAlone
)

// unkWordError checks that text[start:end], the span of an [UNK], is one
// whole pre-tokenizer word, and says why not ("" when it is).
func unkWordError(tk *Tokenizer, text string, start, end int) string {
	span := text[start:end]
	var classes []int
	for _, r := range span {
		classes = append(classes, refClass(r))
	}
	if len(classes) == 0 {
		return "empty"
	}
	if classes[0] == classDropped || classes[len(classes)-1] == classDropped {
		return "starts or ends with a character clean_text drops"
	}
	if slices.Contains(classes, classAlone) {
		if len(classes) != 1 {
			return "holds punctuation or a CJK ideograph besides other characters"
		}
		return ""
	}
	if slices.Contains(classes, classSpace) {
		return "contains whitespace"
	}
	// The neighbours, skipping characters clean_text drops, must not
	// continue the word; an added token next to it also ends the word.
	before := strings.TrimRightFunc(text[:start], func(r rune) bool { return refClass(r) == classDropped })
	if r, _ := utf8.DecodeLastRuneInString(before); before != "" && refClass(r) == classWord && !endsWithAdded(tk, before) {
		return fmt.Sprintf("the word goes on before it (%q)", before[max(0, len(before)-8):])
	}
	after := strings.TrimLeftFunc(text[end:], func(r rune) bool { return refClass(r) == classDropped })
	if r, _ := utf8.DecodeRuneInString(after); after != "" && refClass(r) == classWord && !startsWithAdded(tk, after) {
		return fmt.Sprintf("the word goes on after it (%q)", after[:min(len(after), 8)])
	}
	return ""
}

func endsWithAdded(tk *Tokenizer, s string) bool {
	return slices.ContainsFunc(tk.added, func(a addedToken) bool { return a.content != "" && strings.HasSuffix(s, a.content) })
}

func startsWithAdded(tk *Tokenizer, s string) bool {
	return slices.ContainsFunc(tk.added, func(a addedToken) bool { return a.content != "" && strings.HasPrefix(s, a.content) })
}

// isAdded reports whether s consists of added-token texts only (typed
// special tokens such as "[MASK]" keep their literal spelling).
func isAdded(tk *Tokenizer, s string) bool {
	s = strings.TrimSpace(s)
	for s != "" {
		found := false
		for _, a := range tk.added {
			if strings.HasPrefix(s, a.content) {
				s, found = strings.TrimSpace(s[len(a.content):]), true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestVocabMatchesJSON: bert-base-uncased loaded from vocab.txt with the
// uncased BERT options must encode exactly like its tokenizer.json.
func TestVocabMatchesJSON(t *testing.T) {
	fromJSON := bertUncased(t)
	data, err := os.ReadFile(sharedPath(t, "models/sst2-bert-tiny-scratch/vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fromVocab, err := FromVocab(data, VocabOptions{Lowercase: true, HandleCJK: true})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{}
	for _, c := range loadAdversarial(t).Texts {
		texts = append(texts, c.Text)
	}
	for _, s := range sst2Texts(t) {
		texts = append(texts, s)
	}
	for _, text := range texts {
		a, err := fromJSON.EncodePair(text, text, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := fromVocab.EncodePair(text, text, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assert.Equal(t, a, b, "%q", text)
	}
	assert.Equal(t, fromJSON.VocabSize(), fromVocab.VocabSize())
}

// TestUnkWordError checks the [UNK] whole-word check itself on spans cut by
// hand, so that a check that stopped checking would be noticed.
func TestUnkWordError(t *testing.T) {
	tk := tinyTokenizer(t)
	for _, c := range []struct {
		text       string
		start, end int
		want       string // "" = a whole word; else part of the reason
	}{
		{"hello world", 0, 5, ""},
		{"hello world", 6, 11, ""},
		{"hello world", 0, 3, "goes on after"},
		{"hello world", 7, 11, "goes on before"},
		{"hello world", 0, 11, "whitespace"},
		{"a,b", 1, 2, ""},
		{"a,b", 0, 2, "punctuation"},
		{"x\x00yz q", 0, 1, "goes on after"},
		{"x\x00yz q", 0, 4, ""},
		{"\x00xy", 0, 3, "drops"},
		{"ab[MASK]cd", 0, 2, ""},
		{"caf\u00e9\u0301!", 0, 5, ""},
		{"中文", 0, 3, ""},
		{"中文", 0, 6, "CJK"},
	} {
		got := unkWordError(tk, c.text, c.start, c.end)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%q[%d:%d]: got %q, want %q", c.text, c.start, c.end, got, c.want)
		}
	}
}
