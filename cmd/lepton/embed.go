package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"

	"lepton"
)

func init() {
	register("embed", "embed texts as vectors with a .lep model (one vector per text or stdin line)", runEmbed)
}

// embedJSON is one line of `lepton embed --json`.
type embedJSON struct {
	Vector []float32 `json:"vector"`
	// Privacy is the vector's cost under --dp-embed-epsilon.
	Privacy *dpCost `json:"privacy,omitempty"`
}

func runEmbed(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	pooling := fs.String("pooling", "", "cls, mean or max (default: the model's pooling)")
	normalize := fs.Bool("normalize", false, "scale vectors to unit length (default: the model's setting, 'lepton info' shows it; --normalize=false turns a model's off)")
	prompt := fs.String("prompt", "", "prepend the model's prompt of this name (default: its default prompt; --prompt '' none)")
	var df dpFlags // privacy_flags.go
	df.registerEmbed(fs)
	pos, err := parseArgs(fs, args, stderr, `usage: lepton embed [-m MODEL] [--json] [--pooling cls|mean|max] [--normalize] [--prompt NAME] [TEXT...]
Without TEXT, embeds each line of standard input. Prints one vector per input,
space-separated, or with --json one {"vector":[...]} per input. Under
--dp-embed-epsilon each vector is followed by tab, eps=E, tab, delta=D (its cost).
`)
	if err != nil {
		return err
	}
	pool, err := lepton.ParsePooling(*pooling)
	if err != nil {
		return errUsage{err.Error()}
	}
	df.parsed(fs)
	dopts, err := df.embedOptions()
	if err != nil {
		return err
	}
	texts, err := readTexts(pos, stdin)
	if err != nil {
		return err
	}
	m, err := openModel(mf.model, mf.options()...)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()
	copts := append(dopts, lepton.WithPooling(pool))
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "normalize":
			copts = append(copts, lepton.WithNormalize(*normalize))
		case "prompt":
			copts = append(copts, lepton.WithPrompt(*prompt))
		}
	})
	vecs, costs, err := df.embed(ctx, m, texts, dopts != nil, copts...)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i, v := range vecs {
		if mf.json {
			if err := enc.Encode(embedJSON{Vector: v, Privacy: costAt(costs, i)}); err != nil {
				return err
			}
			continue
		}
		for j, x := range v {
			if j > 0 {
				buf.WriteByte(' ')
			}
			buf.WriteString(strconv.FormatFloat(float64(x), 'g', 7, 32))
		}
		if c := costAt(costs, i); c != nil { // a noisy vector carries its cost, as classify's eps=
			fmt.Fprintf(&buf, "\teps=%g\tdelta=%g", c.Epsilon, c.Delta)
		}
		buf.WriteByte('\n')
	}
	return flushAll(stdout, &buf)
}
