package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"lepton"
)

func init() {
	register("embed", "embed texts as vectors with a .lep model (one vector per text or stdin line)", runEmbed)
}

// embedJSON is one line of `lepton embed --json`.
type embedJSON struct {
	Line   int       `json:"line"` // as in classify's JSON
	Text   string    `json:"text,omitempty"`
	Vector []float32 `json:"vector"`
	// Diagnostics of the input (lepton.Diagnostics).
	Tokens    int     `json:"tokens"`
	Truncated bool    `json:"truncated"`
	Unknown   float64 `json:"unknown"`
	// Privacy is the vector's cost under --dp-embed-epsilon.
	Privacy *dpCost `json:"privacy,omitempty"`
}

const embedUsage = `usage: lepton embed [-m MODEL] [--json] [--pooling cls|mean|max] [--normalize] [--prompt NAME] [--no-text] [--in FILE | TEXT...]
Embeds each TEXT, or each line of --in FILE or of standard input, as lines
arrive. Prints one vector per input, space-separated, then a tab and the
text; or with --json one {"line","text","vector","tokens","truncated","unknown"}
per input. Under --dp-embed-epsilon each vector is followed by tab, eps=E,
tab, delta=D (its cost). Blank lines are skipped with a warning, as in classify.
`

func runEmbed(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	pooling := fs.String("pooling", "", "cls, mean or max (default: the model's pooling)")
	normalize := fs.Bool("normalize", false, "scale vectors to unit length (default: the model's setting, 'lepton info' shows it; --normalize=false turns a model's off)")
	prompt := fs.String("prompt", "", "prepend the model's prompt of this name (default: its default prompt; --prompt '' none)")
	var df dpFlags // privacy_flags.go
	df.registerEmbed(fs)
	var pf progressFlags
	pf.register(fs)
	inPath := fs.String("in", "", "read texts from this file, one per line (\"-\": standard input)")
	noText := fs.Bool("no-text", false, "leave the input text out of the output")
	pos, err := parseArgs(fs, args, stderr, embedUsage)
	if err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	pool, err := lepton.ParsePooling(*pooling)
	if err != nil {
		return usagef("--pooling %q: want cls, mean or max", *pooling)
	}
	df.parsed(fs)
	dopts, err := df.embedOptions()
	if err != nil {
		return err
	}
	src, closeIn, err := openInputs(pos, *inPath, stdin, false)
	if err != nil {
		return err
	}
	defer closeIn()
	m, err := mf.open()
	if err != nil {
		return err
	}
	defer m.Close()
	if *prompt != "" {
		if _, ok := m.Info().Prompts[*prompt]; !ok {
			return usagef("--prompt %q: the model has no such prompt (its prompts: %s)", *prompt, promptList(m.Info().Prompts))
		}
	}
	callOpts := append(dopts, lepton.WithPooling(pool), lepton.WithTruncation(true))
	// --normalize and --prompt follow the model unless given.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "normalize":
			callOpts = append(callOpts, lepton.WithNormalize(*normalize))
		case "prompt":
			callOpts = append(callOpts, lepton.WithPrompt(*prompt))
		}
	})
	ctx, cancel := interruptible()
	defer cancel()

	prog := newProgress(pf, stdout, stderr, src, "embed")
	warn := newWarnings(stderr, "embed", prog)
	if src.interactive() {
		fmt.Fprintln(stderr, "lepton embed: reading one text per line (Ctrl-D ends)")
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	err = src.stream(ctx, func(batch []input) error {
		var (
			texts []string
			at    []int
		)
		for i := range batch {
			if batch[i].skip == "" {
				texts = append(texts, batch[i].text)
				at = append(at, i)
			}
		}
		res := make([]lepton.Embedding, len(batch))
		if len(texts) > 0 {
			r, err := m.EmbedDetailed(ctx, texts, callOpts...)
			if err != nil {
				return batchError(err, batch, src.fromArgs)
			}
			for j, i := range at {
				res[i] = r[j]
			}
		}
		defer prog.advance(batch) // as in classify
		defer out.Flush()
		defer prog.beforeOutput()
		for i := range batch {
			in := &batch[i]
			e := res[i]
			d := e.Diagnostics
			where, ok, err := mf.admit(warn, in, src.fromArgs, d, m)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if mf.json {
				j := embedJSON{Line: in.n, Vector: e.Vector, Privacy: e.Privacy,
					Tokens: d.Tokens, Truncated: d.Truncated, Unknown: round4(d.Unknown)}
				if !*noText {
					j.Text = in.text
				}
				if err := enc.Encode(j); err != nil {
					return err
				}
				continue
			}
			warnDiagnostics(warn, in, where, d, m, mf.maxLength)
			for j, x := range e.Vector {
				if j > 0 {
					out.WriteByte(' ')
				}
				out.WriteString(strconv.FormatFloat(float64(x), 'g', 7, 32))
			}
			if c := e.Privacy; c != nil { // a noisy vector carries its cost, as classify's eps=
				fmt.Fprintf(out, "\teps=%g\tdelta=%g", c.Epsilon, c.Delta)
			}
			if !*noText {
				out.WriteByte('\t')
				out.WriteString(echo(in.text))
			}
			out.WriteByte('\n')
		}
		return nil
	})
	prog.finish()
	warn.summary()
	return err
}

// promptList names a model's prompts for messages.
func promptList(prompts map[string]string) string {
	if len(prompts) == 0 {
		return "none"
	}
	names := make([]string, 0, len(prompts))
	for n := range prompts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
