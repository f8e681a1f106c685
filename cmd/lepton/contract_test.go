package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestContract checks the command-line contract (contract.go) across
// commands in one table, so that a new command or flag is added here as it
// is added to the tool: every file a flag names, missing, is an error
// (exit 1) that names the flag; bad values are usage errors (exit 2)
// naming the flag; commands that read a model work without -m.
func TestContract(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	model := runFixture(t)
	scores := filepath.Join(dir, "scores.csv")
	writeFile(t, dir, "scores.csv", "group,label,score\na,1,0.9\na,0,0.2\nb,1,0.7\nb,0,0.4\n")
	labelled := writeFile(t, dir, "labelled.csv", "text,label\nfever,neutral\n")
	for _, tc := range []struct {
		args []string
		code int
		want string // in the one line on stderr
	}{
		// Files: exit 1, the flag named.
		{[]string{"classify", "-m", missing, "x"}, 1, "-m: "},
		{[]string{"classify", "-m", model, "--in", missing}, 1, "--in: "},
		{[]string{"classify", "-m", model, "--calibration", missing, "--group", "a", "x"}, 1, "--calibration: "},
		{[]string{"classify", "-m", model, "--thresholds", missing, "--group", "a", "--request-id", "r", "x"}, 1, "--thresholds: "},
		{[]string{"classify", "-m", model, "--dp-label-epsilon", "1", "--dp-ledger", filepath.Join(missing, "l.json"), "--dp-budget", "2", "x"}, 1, "--dp-ledger: "},
		{[]string{"embed", "-m", missing, "x"}, 1, "-m: "},
		{[]string{"embed", "-m", model, "--in", missing}, 1, "--in: "},
		{[]string{"tokenize", "-m", missing, "x"}, 1, "-m: "},
		{[]string{"tokenize", "--tokenizer", missing, "x"}, 1, "--tokenizer: "},
		{[]string{"tokenize", "--in", missing}, 1, "--in: "},
		{[]string{"eval", "-m", missing, "--in", labelled}, 1, "-m: "},
		{[]string{"eval", "-m", model, "--in", missing}, 1, "--in: "},
		{[]string{"eval", "-m", model, "--in", labelled, "--out-scores", filepath.Join(missing, "s.csv")}, 1, "--out-scores: "},
		{[]string{"calibrate", "--in", missing, "--out", filepath.Join(dir, "c.json")}, 1, "--in: "},
		{[]string{"ledger", "show", missing}, 1, "privacy: ledger I/O failed: " + missing},
		{[]string{"ledger", "compact", "--archive", scores, missing}, 1, "--archive: "},
		{[]string{"classify", "-m", model, "--scratch-limit", "1", "x"}, 1, "-m: "},
		{[]string{"classify", "-m", model, "--threads", "100000", "x"}, 2, "--threads 100000: want 0 (all CPUs) to 256"},
		{[]string{"classify", "-m", model, "--scratch-limit", "0", "x"}, 2, "--scratch-limit 0: want at least 1 MiB"},
		{[]string{"calibrate", "--in", scores, "--out", filepath.Join(missing, "c.json")}, 1, "--out: "},
		{[]string{"fairness", "threshold", "--in", missing, "--out", filepath.Join(dir, "t.json"), "--constraint", "equalized_odds"}, 1, "--in: "},
		{[]string{"fairness", "threshold", "--in", scores, "--out", filepath.Join(dir, "t.json"), "--constraint", "equalized_odds", "--calibration", missing}, 1, "--calibration: "},
		{[]string{"fairness", "report", "--in", scores, "--out", filepath.Join(dir, "r"), "--thresholds", missing}, 1, "--thresholds: "},
		{[]string{"info", "-m", missing}, 1, "-m: "},
		{[]string{"verify", "-m", missing}, 1, "-m: "},
		{[]string{"bench", "-m", missing}, 1, "-m: "},
		{[]string{"quantize", filepath.Join("..", "..", "testdata", "golden", "random-bert"), "-o", filepath.Join(missing, "m.lep")}, 1, "-o: "},
		{[]string{"golden", "record", "-m", missing, "--classify", labelled, "-o", filepath.Join(dir, "g.json")}, 1, "-m: "},
		{[]string{"golden", "record", "-m", model, "--classify", missing, "-o", filepath.Join(dir, "g.json")}, 1, "--classify: "},
		{[]string{"golden", "record", "-m", model, "--inputs", missing, "-o", filepath.Join(dir, "g.json")}, 1, "--inputs: "},
		{[]string{"golden", "record", "-m", model, "--classify", labelled, "-o", filepath.Join(labelled, "g.json")}, 1, "-o: "},
		{[]string{"rerank", "-m", missing, "q", "p"}, 1, "-m: "},
		{[]string{"rerank", "-m", model, "--in", missing, "q"}, 1, "--in: "},
		{[]string{"tag", "-m", missing, "x"}, 1, "-m: "},
		{[]string{"tag", "--in", missing}, 1, "--in: "},
		{[]string{"tag", "-m", model, "x"}, 1, "-m: BertForSequenceClassification is not a token classifier"},
		{[]string{"redact", "-m", missing, "x"}, 1, "-m: "},
		{[]string{"redact", "--in", labelled, "--in", missing}, 1, "--in: "},
		{[]string{"redact", "--in", labelled, "-o", missing}, 1, "-o: "},
		// Bad values: exit 2, the flag named.
		{[]string{"golden", "check", "-m", model, "--cosine", "-1", "g.json"}, 2, "invalid value \"-1\" for flag -cosine"},
		{[]string{"rerank", "-m", model, "--top", "-2", "q", "p"}, 2, "--top -2"},
		{[]string{"classify", "-m", model, "--act-bits", "9", "x"}, 2, "--act-bits 9"},
		{[]string{"embed", "-m", model, "--max-length", "999", "x"}, 2, "--max-length 999"},
		{[]string{"eval", "-m", model, "--in", labelled, "--threads", "-1"}, 2, "--threads -1"},
		{[]string{"tokenize", "--max-length", "-3", "x"}, 2, "--max-length -3"},
		{[]string{"bench", "--act-bits", "6"}, 2, "--act-bits 6"},
		{[]string{"calibrate", "--in", scores, "--out", filepath.Join(dir, "c.json"), "--method", "magic"}, 2, `--method "magic"`},
		{[]string{"fairness", "threshold", "--in", scores, "--out", filepath.Join(dir, "t.json"), "--constraint", "magic"}, 2, `--constraint "magic"`},
		{[]string{"fairness", "threshold", "--in", scores, "--out", filepath.Join(dir, "t.json"), "--constraint", "equalized_odds", "--positive", "2"}, 2, "--positive 2"},
		{[]string{"quantize", "dir", "-o", "x.lep", "--pooling", "median"}, 2, `--pooling "median"`},
		{[]string{"embed", "-m", model, "--pooling", "median", "x"}, 2, `--pooling "median"`},
		{[]string{"embed", "-m", model, "--prompt", "query", "x"}, 2, `--prompt "query"`},
		{[]string{"tag", "--aggregation", "mean", "x"}, 2, `--aggregation "mean"`},
		{[]string{"tag", "--stride", "-5", "x"}, 2, "--stride -5"},
		{[]string{"tag", "--max-length", "2", "x"}, 2, "--max-length 2"},
		{[]string{"tag", "--threads", "-1", "x"}, 2, "--threads -1"},
		{[]string{"redact", "--mask", "##", "x"}, 2, `--mask "##"`},
		{[]string{"redact", "--types", "POSTCODE", "x"}, 2, `--types: the model has no type "POSTCODE"`},
		{[]string{"redact", "--act-bits", "9", "x"}, 2, "--act-bits 9"},
		{[]string{"tag", "--patterns=maybe", "x"}, 2, `invalid boolean value "maybe" for -patterns`},
		{[]string{"tag", "--aggregation", "none", "--patterns", "x"}, 2, "--patterns: needs grouped entities"},
		{[]string{"redact", "--patterns=2", "x"}, 2, `invalid boolean value "2" for -patterns`},
	} {
		t.Run(strings.Join(tc.args[:1], " ")+" "+tc.want, func(t *testing.T) {
			code, out, errs := runCLI("", tc.args...)
			require.Equal(t, tc.code, code, "%v: %s", tc.args, errs)
			require.Empty(t, out)
			require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
			require.True(t, strings.HasPrefix(errs, "lepton "+tc.args[0]+": "+tc.want), "%v: %q", tc.args, errs)
		})
	}

	// Without -m: the built-in model, for every command that reads one
	// (rerank aside: it needs a cross-encoder, and says so); tag and
	// redact run the built-in de-identification model.
	for _, args := range [][]string{
		{"classify", "fever"}, {"embed", "fever"}, {"tokenize", "fever"}, {"info"}, {"verify"},
		{"tag", "DOB 14/02/1961"}, {"redact", "DOB 14/02/1961"},
		{"eval", "--in", writeFile(t, dir, "clinic.csv", "text,label\nfever and chills,Malaria\n")},
		{"bench", "--runs", "1", "--warmup", "0", "--seq", "8"},
		{"golden", "record", "--classify", labelled, "-o", filepath.Join(dir, "clinic.golden.json")},
	} {
		code, out, errs := runCLI("", args...)
		require.Equal(t, 0, code, "%v: %s", args, errs)
		require.NotEmpty(t, out, args)
	}
}
