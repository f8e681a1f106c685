package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Streaming input for classify, embed, tokenize, tag and redact.
//
// Texts come from TEXT arguments, or one per line from standard input or
// --in FILE. Lines are read by a goroutine into a small bounded queue and
// handed out in batches: a batch closes when it holds batchSize inputs,
// when the input pauses for batchWait after its first line, or at the end
// of the input. Each batch is run and its results printed (and flushed)
// before the next, so the first answers come as soon as the first batch is
// done, a person typing at a terminal gets each answer after a pause of
// batchWait, and memory does not grow with the input's length: at most
// the queue and one batch are held at a time.

const (
	// batchSize is the most inputs in one batch: the library's own
	// forward-pass batch (64 sequences), so a full batch is one pass.
	batchSize = 64
	// batchWait is how long a started batch waits for more lines.
	batchWait = 50 * time.Millisecond
	// queueLines bounds the lines read ahead of the batch being run.
	queueLines = 4 * batchSize
	// maxLineBytes bounds one input line.
	maxLineBytes = 16 << 20
	// binaryProbe is how much of the start of a stream is checked for NUL
	// bytes, as grep and git do, to refuse binary data with one error
	// instead of hundreds of answers about garbage.
	binaryProbe = 8 << 10
)

// input is one text to process (or a line that is not one).
type input struct {
	n    int    // 1-based line number, or argument number for TEXT arguments
	text string // the line without its line ending
	eol  string // that line ending: "\n", "\r\n", or "" (a last line without one; TEXT arguments)
	end  int64  // offset just past the line in the stream (progress)
	// skip, when set, says what the line is and so why it is not
	// processed ("blank line"); it is reported as a warning, "line 3: blank
	// line, skipped", where the result would be.
	skip string
	// badUTF8 is set when the text is not valid UTF-8 (the tokenizer drops
	// the invalid bytes).
	badUTF8 bool
}

// where names an input in messages: "line 7" or "argument 2".
func (in *input) where(fromArgs bool) string {
	if fromArgs {
		return fmt.Sprintf("argument %d", in.n)
	}
	return fmt.Sprintf("line %d", in.n)
}

// inputSource yields the inputs of one command run.
type inputSource struct {
	args     []string  // TEXT arguments, or
	r        io.Reader // the stream the lines come from
	name     string    // the stream's name in errors: "standard input" or "--in FILE"
	size     int64     // the stream's size when it is a regular file, else -1
	fromArgs bool
	// doc: args holds one whole document read from the stream (tag
	// --whole, redact), numbered as line 1.
	doc bool
	// keepBlank makes blank lines inputs (tokenize shows what the model
	// would read, so every line gets an output line); otherwise they are
	// skipped with a warning, since a classifier answers an empty text as
	// confidently as any other.
	keepBlank bool
}

// openInputs returns the inputs of a command: the TEXT arguments, --in
// FILE ("-" is standard input), or standard input. A blank TEXT argument is
// a usage error (there is nothing to answer); blank lines in a stream are
// skipped with a warning unless keepBlank. close releases --in's file.
func openInputs(pos []string, inPath string, stdin io.Reader, keepBlank bool) (src *inputSource, close func(), err error) {
	nop := func() {}
	switch {
	case len(pos) > 0 && inPath != "":
		return nil, nop, errUsage{"give texts as arguments or with --in FILE, not both"}
	case len(pos) > 0:
		if !keepBlank {
			for i, a := range pos {
				if strings.TrimSpace(a) == "" {
					return nil, nop, errUsage{fmt.Sprintf("argument %d is blank: there is no text to answer", i+1)}
				}
			}
		}
		return &inputSource{args: pos, fromArgs: true, size: -1, keepBlank: keepBlank}, nop, nil
	case inPath != "" && inPath != "-":
		f, err := os.Open(inPath)
		if err != nil {
			return nil, nop, flagError("in", err)
		}
		size := int64(-1)
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		} else if err == nil && st.IsDir() {
			f.Close()
			return nil, nop, flagError("in", fmt.Errorf("%s is a directory", inPath))
		}
		return &inputSource{r: f, name: "--in " + inPath, size: size, keepBlank: keepBlank}, func() { f.Close() }, nil
	}
	if stdin == nil {
		return nil, nop, errUsage{"no text given and no standard input"}
	}
	size := int64(-1)
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	return &inputSource{r: stdin, name: "standard input", size: size, keepBlank: keepBlank}, nop, nil
}

// interactive reports whether the inputs are typed at a terminal.
func (s *inputSource) interactive() bool {
	return s.r != nil && isTerminal(s.r)
}

// lineItem is what the reading goroutine sends: an input or the error
// that ended the stream.
type lineItem struct {
	in  input
	err error
}

// stream calls process with the inputs in order, in batches (see the top
// of this file), and stops at the first error. ctx stops the batching;
// the reading goroutine may stay blocked on a read until the process
// exits.
func (s *inputSource) stream(ctx context.Context, process func(batch []input) error) error {
	if s.fromArgs || s.doc {
		batch := make([]input, 0, min(len(s.args), batchSize))
		for i, a := range s.args {
			in := input{n: i + 1, text: a, badUTF8: !utf8.ValidString(a)}
			if !s.keepBlank && strings.TrimSpace(a) == "" {
				in.skip = "blank line"
			}
			batch = append(batch, in)
			if len(batch) == batchSize || i == len(s.args)-1 {
				if err := process(batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		return nil
	}
	lines := make(chan lineItem, queueLines)
	done := make(chan struct{})
	defer close(done)
	go s.read(lines, done)

	batch := make([]input, 0, batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() error {
		timer.Stop()
		if len(batch) == 0 {
			return nil
		}
		err := process(batch)
		batch = batch[:0]
		return err
	}
	for {
		var (
			item lineItem
			ok   bool
		)
		if len(batch) == 0 {
			select {
			case item, ok = <-lines:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			select {
			case item, ok = <-lines:
			case <-timer.C:
				if err := flush(); err != nil {
					return err
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return flush()
		}
		if item.err != nil {
			// Answer what came before the bad line, then stop.
			if err := flush(); err != nil {
				return err
			}
			return item.err
		}
		batch = append(batch, item.in)
		if len(batch) == 1 {
			timer.Reset(batchWait)
		}
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// read sends every line of s.r to out, then closes it; it stops early
// when done is closed.
func (s *inputSource) read(out chan<- lineItem, done <-chan struct{}) {
	defer close(out)
	send := func(it lineItem) bool {
		select {
		case out <- it:
			return true
		case <-done:
			return false
		}
	}
	br := bufio.NewReaderSize(s.r, 64<<10)
	var (
		buf []byte
		off int64
	)
	for n := 1; ; n++ {
		buf = buf[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if len(buf)+len(chunk) > maxLineBytes {
				send(lineItem{err: fmt.Errorf("%s: line %d is longer than %d MiB", s.name, n, maxLineBytes>>20)})
				return
			}
			buf = append(buf, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if len(buf) == 0 && err == io.EOF {
			return
		}
		if err != nil && err != io.EOF {
			send(lineItem{err: fmt.Errorf("reading %s: %w", s.name, err)})
			return
		}
		start := off
		off += int64(len(buf))
		line := bytes.TrimSuffix(buf, []byte("\n"))
		if len(line) < len(buf) {
			line = bytes.TrimSuffix(line, []byte("\r"))
		}
		in := input{n: n, end: off, text: string(line), eol: string(buf[len(line):])}
		if i := bytes.IndexByte(line, 0); i >= 0 {
			if start+int64(i) < binaryProbe {
				send(lineItem{err: fmt.Errorf("%s looks like binary data (a NUL byte on line %d), not text with one input per line", s.name, n)})
				return
			}
			if !s.keepBlank {
				in.skip = "NUL bytes (binary data?), line"
			}
		} else if !s.keepBlank && len(bytes.TrimSpace(line)) == 0 {
			in.skip = "blank line"
		}
		in.badUTF8 = in.skip == "" && !utf8.Valid(line)
		if !send(lineItem{in: in}) || err == io.EOF {
			return
		}
	}
}
