package lepton

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Pattern entity types: the labels FindPatterns gives, the same as those of
// the built-in de-identification model (lepton/models/deid).
const (
	PatternDate  = "DATE"
	PatternPhone = "PHONE"
	PatternID    = "ID"
	PatternEmail = "EMAIL"
)

// WithPatterns adds, when on, the identifiers FindPatterns finds (dates,
// phone numbers, record numbers, email addresses) to the entities of Tag
// and TagDetailed (default off: the model's entities alone).
//
// The two are merged by one rule: a pattern entity keeps its own span and
// label, and a model entity that overlaps it keeps only the parts of its
// span outside it that hold a letter or digit (as entities of the model's
// label, trimmed of white space). So Redact masks every letter and digit
// that either would have masked, the pattern-like identifiers get the
// pattern's exact span and type, and no word is split: pattern entities
// start and end where a run of letters and digits does, and model
// entities consist of whole words. On the built-in de-identification
// model's validation notes this rule left fewer identifiers in the clear
// than dropping the model's dates, phone numbers, IDs and emails for the
// patterns' (examples/train-deid/README.md). Pattern entities have Score 1 and
// Index -1, and are left out if WithIgnoreLabels names their label. It
// needs grouped entities: with AggregateNone, Tag returns an error
// wrapping ErrInvalidOption.
//
// Patterns are exact where a model guesses, but only for the formats they
// were written for; examples/train-deid/README.md measures both, alone and
// together.
func WithPatterns(on bool) CallOption {
	return callOption(func(c *callConfig) error {
		c.tag.patterns = nil
		if on {
			// A function value, so that programs that never ask for
			// patterns do not link regexp.
			c.tag.patterns = FindPatterns
		}
		return nil
	})
}

// FindPatterns returns the dates, phone numbers, record numbers (ID) and
// email addresses in text that regular expressions recognise, in order of
// position and without overlaps, labelled PatternDate, PatternPhone,
// PatternID and PatternEmail, with Score 1 and Index -1. It is what
// WithPatterns adds to Tag, usable without a model.
//
// Formats: dates as 12/03/2024, 3/12/24, 12.03.2024, 12-03-2024 (day and
// month checked), 2024-03-12, 20240312 (years 1900-2099), 12 March 2024,
// 3rd of March, 12-Mar-2024, March 12, 2024 and March 2024 (English month
// names, capitalised); phone numbers in North American ((555) 123-4567,
// 555-123-4567, 555.123.4567, 555-1234, +1 555 123 4567) and UK (020 7946
// 0958, 0113 496 0000, 07700 900123, +44 7700 900123, +44 (0)20 7946 0958)
// styles; record numbers as runs of 6 to 12 digits, with up to three
// capital letters before them, 3-3-4 digits (NHS), 3-2-4 (SSN), 4-4 and
// AB-2024-12345 or AB/12345/C; email addresses. Where matches overlap, the
// one that starts first wins, then the longer. A match never starts or
// ends inside a word: one with a letter or digit right before or after it
// is dropped. Blood pressures (145/92), doses (30/500), times (10:30,
// 10.30pm) and ages are not matched.
func FindPatterns(text string) []Entity {
	ps := compiledPatterns()
	type match struct {
		start, end int
		rank       int // index in ps: the tie-breaker
	}
	var ms []match
	for k, p := range ps {
		if p.need != "" && !strings.Contains(text, p.need) {
			continue // a pass over the text saved
		}
		for _, ix := range p.re.FindAllStringIndex(text, -1) {
			s, e := ix[0], ix[1]
			if !atWordEdge(text, s, e) || (p.check != nil && !p.check(text[s:e])) {
				continue
			}
			ms = append(ms, match{s, e, k})
		}
	}
	slices.SortFunc(ms, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.end != b.end {
			return b.end - a.end
		}
		return a.rank - b.rank
	})
	out := []Entity{}
	end := 0
	for _, m := range ms {
		if m.start < end {
			continue
		}
		out = append(out, Entity{Label: ps[m.rank].label, Score: 1, Start: m.start, End: m.end, Text: text[m.start:m.end], Index: -1})
		end = m.end
	}
	return out
}

// atWordEdge reports whether text[s:e] neither starts nor ends inside a
// run of letters and digits.
func atWordEdge(text string, s, e int) bool {
	if s > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:s])
		f, _ := utf8.DecodeRuneInString(text[s:])
		if isAlnum(r) && isAlnum(f) {
			return false
		}
	}
	if e < len(text) {
		r, _ := utf8.DecodeLastRuneInString(text[:e])
		f, _ := utf8.DecodeRuneInString(text[e:])
		if isAlnum(r) && isAlnum(f) {
			return false
		}
	}
	return true
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// pattern is one regular expression of FindPatterns with its label and an
// optional check of what it matched.
type pattern struct {
	label string
	need  string // a string every match contains ("": none)
	re    *regexp.Regexp
	check func(string) bool
}

var (
	patternsOnce sync.Once
	patternList  []pattern
)

// compiledPatterns compiles the expressions on first use, not at program
// start. Not a package-level sync.OnceValue: its initialiser would make
// every program that imports lepton link regexp.
func compiledPatterns() []pattern {
	patternsOnce.Do(func() { patternList = compilePatterns() })
	return patternList
}

func compilePatterns() []pattern {
	const (
		month = `(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)`
		day   = `(?:[12]\d|3[01]|0?[1-9])`
		nth   = day + `(?:st|nd|rd|th)?`
		year  = `(?:1[89]|20)\d\d`
	)
	mk := func(label, expr string, check func(string) bool) pattern {
		return pattern{label: label, re: regexp.MustCompile(expr), check: check}
	}
	email := func(expr string) pattern { p := mk(PatternEmail, expr, nil); p.need = "@"; return p }
	return []pattern{
		// Email first: its digits must not become a phone number or an ID.
		email(`[A-Za-z0-9](?:[A-Za-z0-9._%+\-]*[A-Za-z0-9])?@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+`),
		// Numeric dates with the same separator twice: day and month
		// checked, so that 30/500 and 145/92/1 are not dates.
		mk(PatternDate, `\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})|\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})|\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})`, numericDate),
		mk(PatternDate, year+`-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])`, nil),
		mk(PatternDate, year+`(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])`, nil),
		mk(PatternDate, nth+`(?: of)? `+month+`(?:,? `+year+`)?|`+day+`-`+month+`-(?:`+year+`|\d\d)`, nil),
		mk(PatternDate, month+` `+nth+`,? `+year+`|`+month+` `+year, nil),
		// Phone numbers.
		mk(PatternPhone, `\(\d{3}\) ?\d{3}[-. ]\d{4}|\d{3}-\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4}|\d{3}-\d{4}`, nil),
		mk(PatternPhone, `\+1[ \-.]?\d{3}[ \-.]\d{3}[ \-.]\d{4}`, nil),
		mk(PatternPhone, `\+44 ?(?:\(0\) ?)?\d{2,4} ?\d{3,4} ?\d{3,4}`, nil),
		mk(PatternPhone, `0\d{2,4} \d{3,4} \d{3,4}|07\d{3} ?\d{6}`, ukPhone),
		// Record numbers.
		mk(PatternID, `[A-Z]{0,3}\d{6,12}|\d{3} \d{3} \d{4}|\d{3}-\d{2}-\d{4}|\d{4}-\d{4}|[A-Z]{2,3}-\d{4}-\d{4,6}|[A-Z]{1,3}/\d{4,8}/[A-Z]{1,2}`, nil),
	}
}

// numericDate checks the day and month of d/m/y or m/d/y: both at most
// 31, one at most 12, neither 0.
func numericDate(s string) bool {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '.' || r == '-' })
	if len(f) != 3 {
		return false
	}
	a, _ := strconv.Atoi(f[0])
	b, _ := strconv.Atoi(f[1])
	return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12)
}

// ukPhone checks a UK-style number's digit count: 10 to 12 with the
// leading 0 (12: written 01865 158 0279, one digit too many for a real
// number, but notes have such typos).
func ukPhone(s string) bool {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n >= 10 && n <= 12
}

// mergePatterns merges the pattern entities pats into the model entities
// ents of text (both in order of position, pats without overlaps), as
// WithPatterns documents: each pattern entity keeps its span and label; a
// model entity keeps the parts of its span outside every pattern entity
// that hold a letter or digit, trimmed of white space.
func mergePatterns(text string, ents, pats []Entity) []Entity {
	if len(pats) == 0 {
		return ents
	}
	out := make([]Entity, 0, len(ents)+len(pats))
	keep := func(e Entity, s, t int) {
		for s < t {
			r, n := utf8.DecodeRuneInString(text[s:])
			if !unicode.IsSpace(r) {
				break
			}
			s += n
		}
		for t > s {
			r, n := utf8.DecodeLastRuneInString(text[:t])
			if !unicode.IsSpace(r) {
				break
			}
			t -= n
		}
		if strings.IndexFunc(text[s:t], isAlnum) < 0 {
			return
		}
		e.Start, e.End, e.Text = s, t, text[s:t]
		out = append(out, e)
	}
	for _, e := range ents {
		pos := e.Start
		for _, p := range pats {
			if p.End <= pos || p.Start >= e.End {
				continue
			}
			if p.Start > pos {
				keep(e, pos, p.Start)
			}
			pos = max(pos, p.End)
		}
		if pos < e.End {
			keep(e, pos, e.End)
		}
	}
	out = append(out, pats...)
	slices.SortStableFunc(out, func(a, b Entity) int { return a.Start - b.Start })
	return out
}
