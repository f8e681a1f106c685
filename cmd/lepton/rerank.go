package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
}

func runRerank(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rerank", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	top := fs.Int("top", 0, "print only the best K passages (0: all)")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton rerank -m MODEL [--json] [--top K] QUERY [PASSAGE...]
Scores every passage against QUERY with a cross-encoder (a classifier with one
output, converted with 'lepton quantize') and prints them best first: rank,
score, index (the passage's position in the input, from 0) and passage,
tab-separated; or with --json one {"rank","index","score","logit","text"} per
passage. Without PASSAGE, each line of standard input is a passage. The score
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
	passages, err := readTexts(pos[1:], stdin)
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
	ranked, err := m.Rerank(ctx, query, passages)
	if err != nil {
		return err
	}
	if *top > 0 && *top < len(ranked) {
		ranked = ranked[:*top]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, r := range ranked {
		if mf.json {
			if err := enc.Encode(rerankJSON{Rank: i + 1, Index: r.Index, Score: r.Score, Logit: r.Logit, Text: r.Text}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(&buf, "%d\t%.4f\t%d\t%s\n", i+1, r.Score, r.Index, oneLine.Replace(r.Text))
	}
	return flushAll(stdout, &buf)
}
