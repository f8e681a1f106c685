package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lepton/internal/lepfile"
	"lepton/tokenize"
)

func init() {
	register("tokenize", "show the token ids, type ids and offsets of texts", runTokenize)
}

// tokenizeLine is one --json output line. Offsets are byte offsets into the
// input text (into the second text for type id 1 tokens of a pair).
type tokenizeLine struct {
	IDs     []int32  `json:"ids"`
	TypeIDs []int32  `json:"type_ids"`
	Offsets [][2]int `json:"offsets"`
	Tokens  []string `json:"tokens"`
	// Truncated is set when --max-length cut tokens off.
	Truncated bool `json:"truncated,omitempty"`
}

const tokenizeUsage = `usage: lepton tokenize [--tokenizer FILE [--cased] | -m MODEL] [--pair] [--json] [--max-length N] [--in FILE | TEXT...]
Encodes each TEXT, or each line of --in FILE or of standard input, with a
tokenizer file, a model's tokenizer, or (with neither) the built-in clinic
model's. Prints tokens and ids (tab-separated), or with --json one object
per input with byte offsets. Every line gets an output line, blank ones too
(they encode as [CLS] [SEP]): this shows exactly what a model reads.
`

func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	tokFile := fs.String("tokenizer", "", "tokenizer file: a Hugging Face tokenizer.json, a vocab.txt (uncased BERT options) or a binary tokenizer")
	model := fs.String("m", "", "model file (.lep) whose embedded tokenizer to use (default: the built-in clinic model's)")
	pair := fs.Bool("pair", false, "encode text pairs: two TEXT arguments, or two tab-separated texts per line")
	asJSON := fs.Bool("json", false, `print one {"ids","type_ids","offsets","tokens","truncated"} JSON object per input`)
	maxLen := fs.Int("max-length", 0, "truncate to this many tokens, special tokens included (0: no limit)")
	cased := fs.Bool("cased", false, "vocab.txt input only: keep case and accents (bert-base-cased options) instead of the uncased defaults")
	inPath := fs.String("in", "", "read texts from this file, one per line (\"-\": standard input)")
	var pf progressFlags
	pf.register(fs)
	pos, err := parseArgs(fs, args, stderr, tokenizeUsage)
	if err != nil {
		return err
	}
	if err := pf.check(); err != nil {
		return err
	}
	if *tokFile != "" && *model != "" {
		return errUsage{"give --tokenizer FILE or -m MODEL, not both"}
	}
	if *cased && *tokFile == "" {
		return errUsage{"--cased applies to a vocab.txt given with --tokenizer, not to a model's tokenizer"}
	}
	if *maxLen < 0 {
		return usagef("--max-length %d: want 0 (no limit) or more", *maxLen)
	}
	if *pair && len(pos) > 0 && len(pos) != 2 {
		return usagef("--pair takes two TEXT arguments, got %d", len(pos))
	}

	var tk *tokenize.Tokenizer
	if *tokFile == "" {
		f, name, err := openLep(*model) // verify.go: -m, or the built-in model
		if err != nil {
			return flagError("m", err)
		}
		// The binary tokenizer reads the mapping in place: close the file
		// only when done.
		defer f.Close()
		if tk, err = tokenizerFromBytes(f.Tokenizer, f.TokenizerFormat); err != nil {
			return flagError("m", fmt.Errorf("%s: %w", name, err))
		}
	} else {
		data, err := os.ReadFile(*tokFile)
		if err != nil {
			return flagError("tokenizer", err)
		}
		format := detectTokenizerFormat(*tokFile, data)
		if *cased {
			// Only a bare vocab.txt lacks normaliser settings; the other
			// formats carry their own, which a flag must not contradict.
			if format != lepfile.TokenizerVocab {
				return errUsage{"--cased applies to a vocab.txt only (" + *tokFile + " carries its own normaliser settings)"}
			}
			format = vocabCased
		}
		if tk, err = tokenizerFromBytes(data, format); err != nil {
			return flagError("tokenizer", fmt.Errorf("%s: %w", *tokFile, err))
		}
	}

	src, closeIn, err := openInputs(pos, *inPath, stdin, true)
	if err != nil {
		return err
	}
	defer closeIn()
	if *pair && src.fromArgs {
		tab := strings.NewReplacer("\t", " ")
		src.args = []string{tab.Replace(pos[0]) + "\t" + tab.Replace(pos[1])}
	}
	ctx, cancel := interruptible()
	defer cancel()
	prog := newProgress(pf, stdout, stderr, src, "tokenize")
	out := bufio.NewWriter(stdout)
	opt := tokenize.EncodeOptions{MaxLength: *maxLen}
	err = src.stream(ctx, func(batch []input) error {
		defer prog.advance(batch) // as in classify
		defer out.Flush()
		prog.beforeOutput()
		for i := range batch {
			in := &batch[i]
			var (
				enc tokenize.Encoding
				err error
			)
			if *pair {
				a, b, ok := strings.Cut(in.text, "\t")
				if !ok {
					return fmt.Errorf("%s: --pair wants two tab-separated texts", in.where(src.fromArgs))
				}
				enc, err = tk.EncodePair(a, b, opt)
			} else {
				enc, err = tk.Encode(in.text, opt)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", in.where(src.fromArgs), err)
			}
			if *asJSON {
				line, err := json.Marshal(tokenizeLine{IDs: enc.IDs, TypeIDs: enc.TypeIDs, Offsets: enc.Offsets, Tokens: enc.Tokens, Truncated: enc.Truncated})
				if err != nil {
					return err
				}
				out.Write(line)
				out.WriteByte('\n')
				continue
			}
			for j, t := range enc.Tokens {
				if j > 0 {
					out.WriteByte(' ')
				}
				out.WriteString(t)
			}
			out.WriteByte('\t')
			for j, id := range enc.IDs {
				if j > 0 {
					out.WriteByte(' ')
				}
				out.WriteString(strconv.Itoa(int(id)))
			}
			out.WriteByte('\n')
		}
		return nil
	})
	prog.finish()
	return err
}

// detectTokenizerFormat tells a binary tokenizer, a tokenizer.json and a
// vocab.txt apart by content first and file name second.
func detectTokenizerFormat(name string, data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("LTOK")):
		return lepfile.TokenizerLepton
	case strings.HasSuffix(strings.ToLower(name), ".json"), len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] == '{':
		return lepfile.TokenizerHFJSON
	case strings.EqualFold(filepath.Ext(name), ".txt"):
		return lepfile.TokenizerVocab
	}
	return lepfile.TokenizerVocab
}

// vocabCased is the pseudo-format of a vocab.txt read with --cased.
const vocabCased = "vocab-cased"

func tokenizerFromBytes(data []byte, format string) (*tokenize.Tokenizer, error) {
	if len(data) == 0 {
		return nil, errors.New("no tokenizer (empty or missing)")
	}
	switch format {
	case lepfile.TokenizerLepton, "":
		return tokenize.FromBinary(data)
	case lepfile.TokenizerHFJSON:
		return tokenize.FromJSON(data)
	case lepfile.TokenizerVocab:
		// A bare vocab.txt carries no options: use bert-base-uncased's.
		return tokenize.FromVocab(data, tokenize.VocabOptions{Lowercase: true, HandleCJK: true})
	case vocabCased:
		// bert-base-cased's options: no lowercasing, and so no accent
		// stripping either (strip_accents follows lowercase).
		return tokenize.FromVocab(data, tokenize.VocabOptions{HandleCJK: true})
	}
	return nil, fmt.Errorf("unknown tokenizer format %q", format)
}
