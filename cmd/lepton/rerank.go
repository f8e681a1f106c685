package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"lepton"
)

func init() {
	register("rerank", "rank passages by relevance to a query with a cross-encoder .lep model", runRerank)
}

// rerankJSON is one line of `lepton rerank --json`.
type rerankJSON struct {
	Rank  int     `json:"rank"`
	Index int     `json:"index"`
	Score float32 `json:"score"`
	Logit float32 `json:"logit"`
	Text  string  `json:"text"`
	// Diagnostics of the (query, passage) pair (lepton.Diagnostics).
	Tokens    int     `json:"tokens"`
	Truncated bool    `json:"truncated"`
	Unknown   float64 `json:"unknown"`
}

func runRerank(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rerank", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	top := fs.Int("top", 0, "print only the best K passages (0: all)")
	inPath := fs.String("in", "", "read passages from this file, one per line (\"-\": standard input)")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton rerank -m MODEL [--json] [--top K] QUERY [--in FILE | PASSAGE...]
Scores every passage against QUERY with a cross-encoder (a classifier with one
output, converted with 'lepton quantize') and prints them best first: rank,
score, index (the passage's position in the input, from 0) and passage,
tab-separated; or with --json one {"rank","index","score","logit","text","tokens","truncated","unknown"} per
passage. Without PASSAGE, each line of --in FILE or standard input is a
passage (blank lines are skipped with a warning; index counts the passages
read). The score
is the model's logit through the activation its config names (sigmoid unless
it says otherwise; 'lepton info' shows it).
`)
	if err != nil {
		return err
	}
	if mf.model == "" {
		return errUsage{"-m MODEL is required (the built-in model is a classifier, not a cross-encoder)"}
	}
	if len(pos) == 0 {
		return errUsage{"want a QUERY (and passages as arguments or on standard input)"}
	}
	if *top < 0 {
		return errUsage{fmt.Sprintf("--top %d: want 0 (all) or more", *top)}
	}
	query := pos[0]
	if strings.TrimSpace(query) == "" {
		return usagef("the QUERY is blank")
	}
	for i, p := range pos[1:] {
		if strings.TrimSpace(p) == "" {
			return usagef("passage %d (argument %d) is blank: there is nothing to rank", i, i+2)
		}
	}
	src, closeIn, err := openInputs(pos[1:], *inPath, stdin, false)
	if err != nil {
		return err
	}
	defer closeIn()
	m, err := mf.open()
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()
	// Ranking needs every passage: read them all (blank lines skipped
	// with a warning), then score.
	warn := newWarnings(stderr, "rerank", nil)
	var passages []string
	err = src.stream(ctx, func(batch []input) error {
		for i := range batch {
			if batch[i].skip != "" {
				warn.skipped(&batch[i], src.fromArgs)
				continue
			}
			passages = append(passages, batch[i].text)
		}
		return nil
	})
	if err != nil {
		return err
	}
	ranked, err := m.Rerank(ctx, query, passages)
	if err != nil {
		return optionError(err)
	}
	if !mf.json {
		// Warn in passage order, as inputs are numbered.
		byIndex := make([]lepton.Ranked, len(ranked))
		for _, r := range ranked {
			byIndex[r.Index] = r
		}
		for _, r := range byIndex {
			in := input{n: r.Index, text: r.Text}
			warnDiagnostics(warn, &in, fmt.Sprintf("passage %d", r.Index), r.Diagnostics, m, mf.maxLength)
		}
	}
	warn.summary()
	if *top > 0 && *top < len(ranked) {
		ranked = ranked[:*top]
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for i, r := range ranked {
		if mf.json {
			d := r.Diagnostics
			if err := enc.Encode(rerankJSON{Rank: i + 1, Index: r.Index, Score: r.Score, Logit: r.Logit, Text: r.Text,
				Tokens: d.Tokens, Truncated: d.Truncated, Unknown: round4(d.Unknown)}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(out, "%d\t%.4f\t%d\t%s\n", i+1, r.Score, r.Index, echo(r.Text))
	}
	return out.Flush()
}
