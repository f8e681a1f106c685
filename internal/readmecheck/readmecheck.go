// Package readmecheck finds the command outputs shown in a Markdown file,
// so that tests can run the commands and compare: a README whose figures
// are checked by the build cannot go stale when a default changes.
//
// An output block is a fenced block without a language (or "text"). Its
// command is given by an HTML comment on the line just above it,
//
//	<!-- output of: go run ./cmd/lepton classify "text" -->
//
// (invisible on GitHub), or else by the ```sh block just above it (blank
// lines between are allowed), whose non-comment lines are the commands.
// Every output block must have one: Examples reports one without as an
// error, so that no figure is shown that nothing checks.
//
// Expected output lines may contain "...", which matches any text within
// the line (times and rates that vary from run to run), as in doctests.
package readmecheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Example is one output block of a Markdown file and its commands.
type Example struct {
	Line     int      // 1-based line of the output block's opening fence
	Commands []string // shell command lines, trailing "# comments" removed
	Output   string   // the block's text, each line ending in "\n"
}

const outputOf = "<!-- output of:"

// Examples returns the output blocks of a Markdown document.
func Examples(md []byte) ([]Example, error) {
	type block struct {
		lang       string
		start, end int // lines of the fences (1-based)
		body       []string
	}
	var (
		blocks []block
		lines  []string
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var cur *block
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "```") {
			if cur != nil {
				cur.body = append(cur.body, l)
			}
			continue
		}
		if cur == nil {
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(t, "```")), start: i + 1}
			continue
		}
		cur.end = i + 1
		blocks = append(blocks, *cur)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: unterminated code block", cur.start)
	}
	var out []Example
	var errs []error
	for k, b := range blocks {
		if b.lang != "" && b.lang != "text" {
			continue
		}
		ex := Example{Line: b.start}
		for _, l := range b.body {
			ex.Output += l + "\n"
		}
		// The comment on the line above, else the sh block above.
		above := strings.TrimSpace(lineAt(lines, b.start-1))
		switch {
		case strings.HasPrefix(above, outputOf) && strings.HasSuffix(above, "-->"):
			ex.Commands = []string{strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(above, outputOf), "-->"))}
		case k > 0 && blocks[k-1].lang == "sh" && onlyBlank(lines, blocks[k-1].end, b.start):
			for _, c := range blocks[k-1].body {
				if c = stripComment(c); c != "" {
					ex.Commands = append(ex.Commands, c)
				}
			}
		}
		if len(ex.Commands) == 0 {
			errs = append(errs, fmt.Errorf("line %d: output block without a command (put it right after a ```sh block or under %s COMMAND -->)", b.start, outputOf))
			continue
		}
		out = append(out, ex)
	}
	return out, errors.Join(errs...)
}

func lineAt(lines []string, n int) string {
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

// onlyBlank reports whether lines from (exclusive) to to (exclusive),
// 1-based, are all blank.
func onlyBlank(lines []string, from, to int) bool {
	for n := from + 1; n < to; n++ {
		if strings.TrimSpace(lineAt(lines, n)) != "" {
			return false
		}
	}
	return true
}

// stripComment removes a trailing shell comment (a # after white space,
// outside quotes) and surrounding space.
func stripComment(l string) string {
	var quote rune
	prevSpace := true
	for i, r := range l {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && prevSpace:
			return strings.TrimSpace(l[:i])
		}
		prevSpace = r == ' ' || r == '\t'
	}
	return strings.TrimSpace(l)
}

// Match reports whether got equals the expected output want, where "..."
// in a line of want matches any text within that line. On a mismatch it
// returns the first differing line.
func Match(want, got string) (ok bool, diff string) {
	wl := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	gl := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if i >= len(wl) || i >= len(gl) || !lineMatch(w, g) {
			return false, fmt.Sprintf("line %d: want %q, got %q", i+1, w, g)
		}
	}
	return true, ""
}

func lineMatch(want, got string) bool {
	if !strings.Contains(want, "...") {
		return want == got
	}
	parts := strings.Split(want, "...")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// Args splits a command line into words as a POSIX shell would for the
// simple commands a README shows: single quotes keep everything, double
// quotes keep everything but backslash escapes of " \ $ `, and a
// backslash outside quotes escapes the next character. No expansion.
func Args(line string) ([]string, error) {
	var (
		args  []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0:
				i++
				cur.WriteByte(line[i])
			default:
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, line)
	}
	if in {
		args = append(args, cur.String())
	}
	return args, nil
}

// InlineCode returns the text of every `inline code` span of md outside
// fenced blocks.
func InlineCode(md []byte) []string {
	var out []string
	fenced := false
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range inlineRE.FindAllStringSubmatch(l, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

var inlineRE = regexp.MustCompile("`([^`]+)`")
