package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/models/deid"
)

// TestScore checks entity-level precision, recall and F1 on hand-made
// cases: only exact type and span count.
func TestScore(t *testing.T) {
	gold := []span{{0, "NAME", 0, 5}, {0, "DATE", 10, 20}, {1, "NAME", 3, 8}}
	pred := []span{
		{0, "NAME", 0, 5},   // right
		{0, "DATE", 10, 19}, // span one byte short: wrong
		{1, "DATE", 3, 8},   // wrong type
		{1, "NAME", 30, 34}, // nothing there
	}
	s := score(gold, pred, []string{"NAME", "DATE"})
	require.Equal(t, PRF{Precision: 1.0 / 2, Recall: 1.0 / 2, F1: 0.5, Gold: 2, Predicted: 2, Correct: 1}, s["NAME"])
	require.Equal(t, PRF{Gold: 1, Predicted: 2}, s["DATE"], "no correct DATE: zeros, not NaN")
	require.Equal(t, 1, s["all"].Correct)
	require.InDelta(t, 0.25, s["all"].Precision, 1e-12)
	require.InDelta(t, 1.0/3, s["all"].Recall, 1e-12)
	require.InDelta(t, 2*0.25*(1.0/3)/(0.25+1.0/3), s["all"].F1, 1e-12)
	require.Equal(t, PRF{}, score(nil, nil, []string{"NAME"})["NAME"])
}

// TestMasking checks what redaction leaves, on a case worked by hand: a
// span of any type covers, punctuation and white space are not counted.
func TestMasking(t *testing.T) {
	notes := []Note{{Text: "Ann Lee, 12/03. Zoë Li"}}
	gold := []span{
		{0, "NAME", 0, 7},   // "Ann Lee": 6 letters
		{0, "DATE", 9, 14},  // "12/03": 4 digits
		{0, "NAME", 16, 23}, // "Zoë Li": 5 letters (ë is 2 bytes)
	}
	pred := []span{
		{0, "ADDRESS", 0, 3}, // "Ann" masked, as another type
		{0, "DATE", 8, 15},   // " 12/03." covers the date
	}
	m := masking(notes, gold, pred)
	require.Equal(t, Masking{Identifiers: 2, Full: 0, Partly: 1, None: 1, Chars: 11, CharsLeft: 8}, m["NAME"])
	require.Equal(t, Masking{Identifiers: 1, Full: 1, Chars: 4}, m["DATE"])
	require.Equal(t, Masking{Identifiers: 3, Full: 1, Partly: 1, None: 1, Chars: 15, CharsLeft: 8}, m["all"])
	require.InDelta(t, 100*8.0/15, m["all"].leftPercent(), 1e-12)
	require.Zero(t, Masking{}.leftPercent())
}

// TestIDHash pins the hash to Python's
// hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16].
func TestIDHash(t *testing.T) {
	require.Equal(t, "e3b0c44298fc1c14", idHash(nil))
	require.Equal(t, "46584c88c62d575e", idHash([]int32{2, 3}))
}

// TestGoldSpans converts code-point offsets to bytes.
func TestGoldSpans(t *testing.T) {
	n := Note{ID: "x", Text: "Zoë Müller, 1 Elm St"}
	n.Entities = append(n.Entities, struct {
		Type  string `json:"type"`
		Start int    `json:"start"`
		End   int    `json:"end"`
		Fmt   string `json:"fmt"`
	}{"NAME", 0, 10, "first last"})
	sp, fmts, err := goldSpans([]Note{n})
	require.NoError(t, err)
	require.Equal(t, []span{{0, "NAME", 0, 12}}, sp)
	require.Equal(t, "Zoë Müller", n.Text[sp[0].start:sp[0].end])
	require.Equal(t, "first last", fmts[sp[0]])
	n.Entities[0].End = 99
	_, _, err = goldSpans([]Note{n})
	require.ErrorIs(t, err, errData)
}

// TestRegexBaseline checks the baseline's expressions on the formats they
// are written for and on look-alikes they must leave alone.
func TestRegexBaseline(t *testing.T) {
	for typ, cases := range map[string]struct{ hit, miss []string }{
		"DATE":  {[]string{"12/03/2024", "3/12/24", "2024-03-12", "12 March 2024", "March 12, 2024", "12-Mar-2024", "3rd of March 2024", "March 2024", "20240312"}, []string{"120/80", "6/9", "15/15", "30/500"}},
		"PHONE": {[]string{"(555) 123-4567", "555-123-4567", "0113 496 0000", "07700 900123", "+44 7700 900123", "+44 (0)20 7946 0958", "555-1234"}, []string{"12/03/2024", "120/80"}},
		"ID":    {[]string{"00482913", "H1234567", "485 777 3456", "123-45-6789", "4829-1303", "RX-2024-00123"}, []string{"2024", "12345"}},
		"EMAIL": {[]string{"amelia.okafor@example.com", "a_b+c@post.example.net"}, []string{"@home", "name@"}},
	} {
		for _, h := range cases.hit {
			m := baseline[typ].FindStringIndex("x " + h + " y")
			require.NotNil(t, m, "%s should match %q", typ, h)
			require.Equal(t, h, ("x " + h + " y")[m[0]:m[1]], "%s: whole match", typ)
		}
		for _, h := range cases.miss {
			require.Nil(t, baseline[typ].FindStringIndex("x "+h+" y"), "%s should not match %q", typ, h)
		}
	}
}

// TestEvaluate measures the built-in model on the committed test notes and
// checks the acceptance figures and that the figures recorded in the
// model's metadata (and so in `lepton info`) are the ones it measures now:
// tokenizer parity on every note, int8 labels equal to PyTorch's fp32 labels
// on at least 99.5% of the tokens, and the per-type int8 F1 of the metadata.
func TestEvaluate(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	m, err := deid.Open()
	require.NoError(t, err)
	defer m.Close()
	tok, err := modelTokenizer("")
	require.NoError(t, err)
	rep, err := evaluate(context.Background(), m, config{root: root, data: filepath.Join(trainDir(root), "data", "test.jsonl"),
		tok: tok, actBits: lepton.DefaultActivationBits, withRefs: true})
	require.NoError(t, err)
	require.Equal(t, rep.Notes, rep.TokenizerMatches, "Lepton's tokenizer gives the training ids on every note")
	require.GreaterOrEqual(t, rep.TokenAgreement, 0.995, "int8 vs fp32 per-token label agreement")
	require.NotEmpty(t, rep.Fp32PyTorch)
	meta := m.Info().Metadata
	for k, v := range rep.Metadata() {
		require.Equal(t, v, meta[k], "the model's metadata %q records what it measures", k)
	}

	var md bytes.Buffer
	require.NoError(t, rep.markdown(&md))
	require.Contains(t, md.String(), "| NAME |")
	t.Logf("\n%s", md.String())
}

// TestPatternRecords measures the built-in model, lepton.FindPatterns and
// the two together (lepton.WithPatterns) on the validation and the test
// notes, and checks that the figures committed in patterns-*.json, and the
// per-type table README.md shows for each, are the ones it measures now;
// and the acceptance figures on the test notes: the hybrid beats the model
// alone in entity F1 and leaves fewer identifiers in the clear.
func TestPatternRecords(t *testing.T) {
	root, err := repoRoot()
	require.NoError(t, err)
	m, err := deid.Open()
	require.NoError(t, err)
	defer m.Close()
	readme, err := os.ReadFile(filepath.Join(trainDir(root), "README.md"))
	require.NoError(t, err)
	for _, split := range []string{"validation", "test"} {
		rep, err := evaluate(context.Background(), m, config{root: root, data: filepath.Join(trainDir(root), "data", split+".jsonl"),
			actBits: lepton.DefaultActivationBits})
		require.NoError(t, err)
		var got bytes.Buffer
		require.NoError(t, writeJSON(&got, rep.PatternRecord()))
		want, err := os.ReadFile(filepath.Join(trainDir(root), "patterns-"+split+".json"))
		require.NoError(t, err)
		require.Equal(t, string(want), got.String(), "patterns-%s.json: rerun go run ./examples/train-deid/eval -patterns-json", split)

		var md bytes.Buffer
		require.NoError(t, rep.markdown(&md))
		rows := 0
		for _, line := range strings.Split(md.String(), "\n") {
			if strings.Contains(line, "| model + patterns |") {
				rows = 1
				continue
			}
			if rows > 0 && strings.HasPrefix(line, "| ") {
				require.Contains(t, string(readme), line, "README.md shows the %s table of model, patterns and both", split)
				rows++
			} else if rows > 1 {
				break
			}
		}
		require.Equal(t, 1+len(Types)+2, rows, "table rows checked")

		if split == "test" {
			// The repository's README shows the test F1 per type.
			main, err := os.ReadFile(filepath.Join(root, "README.md"))
			require.NoError(t, err)
			for _, typ := range append(slices.Clone(Types), "all") {
				pat := fmt.Sprintf("%.3f", rep.Patterns[typ].F1)
				if typ == "NAME" || typ == "ADDRESS" {
					pat = "-"
				}
				row := fmt.Sprintf("| %s | %d | %.3f | %s | %.3f |", typ, rep.Int8[typ].Gold, rep.Int8[typ].F1, pat, rep.Hybrid[typ].F1)
				require.Contains(t, string(main), row, "README.md's de-identification F1 table")
			}
		}
		require.Greater(t, rep.Hybrid["all"].F1, rep.Int8["all"].F1, "%s: hybrid F1 above the model's", split)
		require.Greater(t, rep.HybridMasking["all"].Full, rep.Masking["all"].Full, "%s: hybrid masks more identifiers fully", split)
		require.Less(t, rep.HybridMasking["all"].CharsLeft, rep.Masking["all"].CharsLeft, "%s: hybrid leaves fewer letters and digits", split)
	}
}
