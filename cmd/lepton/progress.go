package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressFlags are --progress and --no-progress.
type progressFlags struct{ on, off bool }

func (p *progressFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&p.on, "progress", false, "show a progress bar on stderr even when it is not a terminal")
	fs.BoolVar(&p.off, "no-progress", false, "never show the progress bar (default: on stderr when it is a terminal and the input is a file or long)")
}

func (p *progressFlags) check() error {
	if p.on && p.off {
		return errUsage{"--progress and --no-progress contradict each other"}
	}
	return nil
}

// Automatic progress bars appear for a stream that is a regular file (its
// size is known) at once, and for a pipe once it proves long: after
// progressLines lines or progressAfter.
const (
	progressLines = 5000
	progressAfter = 2 * time.Second
)

// progress draws the progress of a streamed run on stderr: bytes of a file
// of known size (with the time left), or a count of lines. It is only ever
// written to stderr, never to the output, so --json output stays one JSON
// object per line. Everything runs on the command's goroutine: the bar
// renders only when set is called (no background spinner), at most every
// redrawEvery, so warnings, and results when stdout shares the terminal,
// are printed after clear and never interleave with it.
type progress struct {
	w         io.Writer
	what      string // the command, shown before the bar
	size      int64  // bytes of the input, -1 when unknown
	show      bool   // the bar may be shown
	eager     bool   // show it from the first batch (else once the input proves long)
	stdoutTTY bool   // results go to a terminal too: clear the bar before them
	start     time.Time
	lines     int
	bytes     int64
	bar       *progressbar.ProgressBar
	drawn     time.Time // when the bar was last drawn
	cleared   bool      // the bar was erased: draw it at the next set
}

// redrawEvery throttles the bar.
const redrawEvery = 100 * time.Millisecond

// newProgress decides whether a run gets a progress bar: --progress forces
// one and --no-progress none; otherwise only when stderr is a terminal and
// the input is a file or a pipe (not a person typing, nor TEXT arguments).
func newProgress(pf progressFlags, stdout, stderr io.Writer, src *inputSource, what string) *progress {
	p := &progress{w: stderr, what: what, size: src.size, start: time.Now(), stdoutTTY: isTerminal(stdout)}
	switch {
	case pf.off:
	case pf.on:
		p.show, p.eager = true, true
	case src.fromArgs || src.interactive() || !isTerminal(stderr):
	default:
		p.show, p.eager = true, src.size >= 0
	}
	return p
}

// advance records a processed batch and redraws the bar (throttled).
func (p *progress) advance(batch []input) {
	if len(batch) == 0 {
		return
	}
	p.set(p.lines+len(batch), batch[len(batch)-1].end)
}

// set records how many lines (rows) are done and up to which byte of the
// input, and redraws the bar (throttled).
func (p *progress) set(lines int, bytes int64) {
	p.lines, p.bytes = lines, bytes
	if !p.show {
		return
	}
	if p.bar == nil {
		if !p.eager && p.lines < progressLines && time.Since(p.start) < progressAfter {
			return
		}
		p.bar = p.newBar()
	}
	if !p.cleared && time.Since(p.drawn) < redrawEvery {
		return
	}
	p.drawn, p.cleared = time.Now(), false
	if p.size >= 0 {
		_ = p.bar.Set64(min(p.bytes, p.size))
	} else {
		_ = p.bar.Set64(int64(p.lines))
	}
}

func (p *progress) newBar() *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine: see the type's comment
	}
	if p.size >= 0 {
		// ShowCount (bytes done of the total) makes every set redraw, not
		// only a new percentage: a bar erased for a warning comes back at
		// once.
		return progressbar.NewOptions64(max(p.size, 1), append(opts,
			progressbar.OptionSetDescription(p.what), progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))...)
	}
	return progressbar.NewOptions64(-1, append(opts,
		progressbar.OptionSetDescription(p.what), progressbar.OptionShowCount(),
		progressbar.OptionShowIts(), progressbar.OptionSetItsString("lines"))...)
}

// clear erases the bar before something else is written to stderr; the
// next set draws it again.
func (p *progress) clear() {
	if p.bar != nil && !p.cleared {
		_ = p.bar.Clear()
		p.cleared = true
	}
}

// beforeOutput erases the bar before results are written to stdout, when
// stdout is the same kind of thing as the bar's: a terminal.
func (p *progress) beforeOutput() {
	if p.stdoutTTY {
		p.clear()
	}
}

// finish erases the bar and, when one was shown, says what was done.
func (p *progress) finish() {
	if p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	secs := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "lepton %s: %d lines in %.1f s (%.0f lines/s)\n", p.what, p.lines, secs, float64(p.lines)/max(secs, 1e-9))
}

// maxWarnings bounds the warnings printed one by one; the rest are counted
// and summed up at the end, so a long junk input cannot bury the terminal.
const maxWarnings = 20

// warnings prints per-input warnings on stderr ("lepton CMD: warning: line
// 7: ...") and counts them by kind.
type warnings struct {
	w      io.Writer
	cmd    string
	prog   *progress
	shown  int
	counts map[warnKind]int
}

// warnKind is a kind of warning, named in the final count.
type warnKind string

const (
	warnBlank     warnKind = "blank lines skipped"
	warnBinary    warnKind = "lines with NUL bytes skipped"
	warnNoTokens  warnKind = "inputs without tokens skipped"
	warnTruncated warnKind = "inputs truncated"
	warnUnknown   warnKind = "inputs mostly unknown to the vocabulary"
	warnUTF8      warnKind = "inputs with invalid UTF-8"
)

var warnOrder = []warnKind{warnBlank, warnBinary, warnNoTokens, warnTruncated, warnUnknown, warnUTF8}

func newWarnings(stderr io.Writer, cmd string, prog *progress) *warnings {
	return &warnings{w: stderr, cmd: cmd, prog: prog, counts: map[warnKind]int{}}
}

// warn prints one warning, or counts it once maxWarnings were printed.
func (w *warnings) warn(kind warnKind, format string, args ...any) {
	w.counts[kind]++
	if w.shown > maxWarnings {
		return
	}
	if w.prog != nil {
		w.prog.clear()
	}
	w.shown++
	if w.shown > maxWarnings {
		fmt.Fprintf(w.w, "lepton %s: warning: more warnings are counted, not shown (totals at the end)\n", w.cmd)
		return
	}
	fmt.Fprintf(w.w, "lepton %s: warning: "+format+"\n", append([]any{w.cmd}, args...)...)
}

// summary prints the totals when some warnings were not shown.
func (w *warnings) summary() {
	if w.shown <= maxWarnings {
		return
	}
	var parts []string
	for _, k := range warnOrder {
		if n := w.counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	fmt.Fprintf(w.w, "lepton %s: warning: in all: %s\n", w.cmd, strings.Join(parts, ", "))
}

// skipped reports an input that is not processed (input.skip).
func (w *warnings) skipped(in *input, fromArgs bool) {
	kind := warnBlank
	if in.skip != "blank line" {
		kind = warnBinary
	}
	w.warn(kind, "%s: %s, skipped", in.where(fromArgs), in.skip)
}
