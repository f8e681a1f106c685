package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
}

func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	tokFile := fs.String("tokenizer", "", "tokenizer file: a Hugging Face tokenizer.json, a vocab.txt (uncased BERT options) or a binary tokenizer")
	model := fs.String("m", "", "model file (.lep) whose embedded tokenizer to use")
	pair := fs.Bool("pair", false, "encode text pairs: two TEXT arguments, or two tab-separated texts per stdin line")
	asJSON := fs.Bool("json", false, `print one {"ids","type_ids","offsets","tokens"} JSON object per input`)
	maxLen := fs.Int("max-length", 0, "truncate to this many tokens, special tokens included (0: no limit)")
	cased := fs.Bool("cased", false, "vocab.txt input only: keep case and accents (bert-base-cased options) instead of the uncased defaults")
	pos, err := parseArgs(fs, args, stderr, `usage: lepton tokenize [--tokenizer FILE [--cased] | -m MODEL] [--pair] [--json] [--max-length N] [TEXT...]
Without TEXT, encodes each line of standard input. Prints tokens and ids
(tab-separated), or with --json one object per input with byte offsets.
`)
	if err != nil {
		return err
	}
	if (*tokFile == "") == (*model == "") {
		return errUsage{"give exactly one of --tokenizer FILE or -m MODEL"}
	}
	if *cased && *model != "" {
		return errUsage{"--cased applies to a vocab.txt given with --tokenizer, not to -m MODEL"}
	}
	if *maxLen < 0 {
		return errUsage{"--max-length must be >= 0"}
	}
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

	var tk *tokenize.Tokenizer
	if *model != "" {
		f, err := lepfile.Open(*model)
		if err != nil {
			return err
		}
		// The binary tokenizer reads the mapping in place: close the file
		// only when done.
		defer f.Close()
		if tk, err = tokenizerFromBytes(f.Tokenizer, f.TokenizerFormat); err != nil {
			return fmt.Errorf("%s: %w", *model, err)
		}
	} else {
		data, err := os.ReadFile(*tokFile)
		if err != nil {
			return err
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
			return fmt.Errorf("%s: %w", *tokFile, err)
		}
	}

	opt := tokenize.EncodeOptions{MaxLength: *maxLen}
	var buf bytes.Buffer
	n := len(texts)
	if *pair {
		n = len(pairs)
	}
	for i := range n {
		var enc tokenize.Encoding
		if *pair {
			enc, err = tk.EncodePair(pairs[i][0], pairs[i][1], opt)
		} else {
			enc, err = tk.Encode(texts[i], opt)
		}
		if err != nil {
			return fmt.Errorf("input %d: %w", i+1, err)
		}
		if *asJSON {
			line, err := json.Marshal(tokenizeLine{IDs: enc.IDs, TypeIDs: enc.TypeIDs, Offsets: enc.Offsets, Tokens: enc.Tokens})
			if err != nil {
				return err
			}
			buf.Write(line)
			buf.WriteByte('\n')
			continue
		}
		ids := make([]string, len(enc.IDs))
		for j, id := range enc.IDs {
			ids[j] = fmt.Sprint(id)
		}
		fmt.Fprintf(&buf, "%s\t%s\n", strings.Join(enc.Tokens, " "), strings.Join(ids, " "))
	}
	return flushAll(stdout, &buf)
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
