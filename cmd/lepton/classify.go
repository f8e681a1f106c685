package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

func init() {
	register("classify", "classify texts with a .lep classifier (one result per text or stdin line)", runClassify)
}

// classifyJSON is one line of `lepton classify --json`.
type classifyJSON struct {
	Label string    `json:"label"`
	Index int       `json:"index"`
	Probs []float32 `json:"probs,omitempty"` // absent under --dp-label-epsilon
	// Privacy is the released label's cost under --dp-label-epsilon.
	Privacy *dpCost `json:"privacy,omitempty"`
	// Decision is the fair decision under --thresholds.
	Decision *decisionJSON `json:"decision,omitempty"`
}

func runClassify(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("classify", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	var ff fairFlags // classify_fairness.go
	ff.register(fs)
	var df dpFlags // privacy_flags.go
	df.registerClassify(fs)
	pair := fs.Bool("pair", false, "classify text pairs: two TEXT arguments, or two tab-separated texts per stdin line")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton classify [-m MODEL] [--json] [--pair] [TEXT...]
Without TEXT, classifies each line of standard input. Prints label, probability
and text (tab-separated), or with --json one {"label","index","probs"} per input.
With --thresholds, decision=positive|negative comes before the text (JSON: "decision").
`)
	if err != nil {
		return err
	}
	df.parsed(fs)
	fopts, err := ff.options(df.set["dp-label-epsilon"])
	if err != nil {
		return err
	}
	dopts, err := df.classifyOptions()
	if err != nil {
		return err
	}
	fopts = append(fopts, dopts...)
	texts, err := readTexts(pos, stdin)
	if err != nil {
		return err
	}
	var pairs [][2]string
	if *pair {
		if pairs, err = splitPairs(texts, len(pos) > 0); err != nil {
			return err
		}
	}
	m, err := openModel(mf.model, mf.options()...)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx, cancel := interruptible()
	defer cancel()

	var res []classification
	if *pair {
		r, err := m.ClassifyPairs(ctx, pairs, fopts...)
		if err != nil {
			return err
		}
		decs, err := ff.decide(r) // classify_fairness.go
		if err != nil {
			return err
		}
		for i, c := range r {
			res = append(res, classification{c.Label, c.Index, c.Probs, pairs[i][0] + "\t" + pairs[i][1], c.Privacy, decisionAt(decs, i)})
		}
	} else {
		r, err := m.Classify(ctx, texts, fopts...)
		if err != nil {
			return err
		}
		decs, err := ff.decide(r)
		if err != nil {
			return err
		}
		for i, c := range r {
			res = append(res, classification{c.Label, c.Index, c.Probs, texts[i], c.Privacy, decisionAt(decs, i)})
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range res {
		if mf.json {
			if err := enc.Encode(classifyJSON{Label: r.label, Index: r.index, Probs: r.probs, Privacy: r.privacy, Decision: r.decision}); err != nil {
				return err
			}
			continue
		}
		if r.privacy != nil { // no probabilities under DP: print the epsilon spent
			fmt.Fprintf(&buf, "%s\teps=%g\t%s\n", r.label, r.privacy.Epsilon, oneLine.Replace(r.text))
			continue
		}
		if r.decision != nil { // --thresholds: the decision before the text
			fmt.Fprintf(&buf, "%s\t%.4f\tdecision=%s\t%s\n", r.label, r.probs[r.index], r.decision.word(), oneLine.Replace(r.text))
			continue
		}
		// The echoed text is flattened to one line so output lines stay
		// aligned with inputs.
		fmt.Fprintf(&buf, "%s\t%.4f\t%s\n", r.label, r.probs[r.index], oneLine.Replace(r.text))
	}
	return flushAll(stdout, &buf)
}

// oneLine turns line breaks into spaces in echoed texts.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

type classification struct {
	label    string
	index    int
	probs    []float32
	text     string
	privacy  *dpCost       // privacy_flags.go
	decision *decisionJSON // classify_fairness.go
}

// splitPairs makes pairs from two arguments, or from "a<TAB>b" lines.
func splitPairs(texts []string, fromArgs bool) ([][2]string, error) {
	if fromArgs {
		if len(texts) != 2 {
			return nil, errUsage{fmt.Sprintf("--pair takes two TEXT arguments, got %d", len(texts))}
		}
		return [][2]string{{texts[0], texts[1]}}, nil
	}
	pairs := make([][2]string, len(texts))
	for i, t := range texts {
		a, b, ok := strings.Cut(t, "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: --pair wants two tab-separated texts", i+1)
		}
		pairs[i] = [2]string{a, b}
	}
	return pairs, nil
}
