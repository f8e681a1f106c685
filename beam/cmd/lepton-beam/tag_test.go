package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	leptonbeam "lepton/beam"
	"lepton/models/clinic"
)

// clinicNotes generates n one-line clinic notes (fixed seed) with the
// identifiers the de-identification model finds (names, dates, phone
// numbers, record numbers, addresses, e-mail addresses) among clinical
// words it must leave alone. Every 40th note is several notes long (over
// the model's 256 tokens: read in overlapping windows); a few are empty,
// blank or of control characters only.
func clinicNotes(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 16))
	pick := func(s string) string { f := strings.Split(s, "|"); return f[r.IntN(len(f))] }
	first := "Amelia|Oliver|Priya|Wei|Kwame|Sigrid|Mateo|Zofia|Aoife|Hiroshi|Nisha|José|Zoë|Björn|Chloé|Seo-yeon|Mei|Ngozi|Dolores|Yusuf"
	last := "Smith|Kim|Okafor|Nguyen|Fischer|O'Brien|García|Kowalski|Patel|Müller|Dubois|Rossi|Tanaka|Van der Berg|Ahmed|Murray"
	name := func() string {
		switch r.IntN(4) {
		case 0:
			return pick(first)
		case 1:
			return pick(last) + ", " + pick(first)
		}
		return pick(first) + " " + pick(last)
	}
	date := func() string {
		d, m, y := 1+r.IntN(28), 1+r.IntN(12), 1930+r.IntN(95)
		months := strings.Split("January February March April May June July August September October November December", " ")
		switch r.IntN(5) {
		case 0:
			return fmt.Sprintf("%02d/%02d/%d", d, m, y)
		case 1:
			return fmt.Sprintf("%d-%02d-%02d", y, m, d)
		case 2:
			return fmt.Sprintf("%d %s %d", d, months[m-1], y)
		case 3:
			return fmt.Sprintf("%s %d", months[m-1][:3], d)
		}
		return fmt.Sprintf("%d/%d/%02d", d, m, y%100)
	}
	phone := func() string {
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("07%03d %06d", r.IntN(1000), r.IntN(1000000))
		case 1:
			return fmt.Sprintf("+44 %d %d", 1000+r.IntN(9000), 100000+r.IntN(900000))
		}
		return fmt.Sprintf("%03d-%03d-%04d", 200+r.IntN(800), r.IntN(1000), r.IntN(10000))
	}
	id := func() string {
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("MRN %07d", r.IntN(10000000))
		case 1:
			return fmt.Sprintf("NHS %03d %03d %04d", r.IntN(1000), r.IntN(1000), r.IntN(10000))
		}
		return fmt.Sprintf("%c%c-%d-%05d", 'A'+r.IntN(26), 'A'+r.IntN(26), 2015+r.IntN(10), r.IntN(100000))
	}
	address := func() string {
		return fmt.Sprintf("%d %s %s, %s %c%d %d%c%c", 1+r.IntN(300), pick("Richmond|Garden|Mill|Station|Church|Victoria|Orchard"),
			pick("Road|Street|Crescent|Lane|Gardens"), pick("Leeds|Akron|Oxford|Cardiff|Wigan|Dundee"),
			'A'+r.IntN(26), 1+r.IntN(20), r.IntN(10), 'A'+r.IntN(26), 'A'+r.IntN(26))
	}
	email := func() string {
		return strings.ToLower(pick(first)+"."+strings.ReplaceAll(pick(last), " ", "")) + "@" + pick("nhs.net|example.org|mail.com")
	}
	complaint := func() string {
		return pick("chest pain on exertion|a productive cough and fever of 38.5°C|burning when passing urine|an itchy rash on both forearms|" +
			"three falls at home|headache with light sensitivity|ankle swelling (worse at night)|low mood and poor sleep|発熱 and sore throat 😷")
	}
	sentence := func() string {
		switch r.IntN(8) {
		case 0:
			return fmt.Sprintf("Seen by Dr %s on %s: %s.", name(), date(), complaint())
		case 1:
			return fmt.Sprintf("Re: %s, DOB %s, %s.", name(), date(), id())
		case 2:
			return fmt.Sprintf("%s reports %s since %s.", pick(first), complaint(), date())
		case 3:
			return fmt.Sprintf("Please call %s on %s or e-mail %s.", name(), phone(), email())
		case 4:
			return fmt.Sprintf("Lives at %s with %s (daughter).", address(), pick(first))
		case 5:
			return fmt.Sprintf("BP %d/%d, pulse %d. Taking Ramipril %.1f mg daily.", 100+r.IntN(80), 60+r.IntN(40), 50+r.IntN(70), 1.25*float64(1+r.IntN(8)))
		case 6:
			return fmt.Sprintf("Plan: review in %d weeks; <b>urgent</b> if worse & \"bad\". Signed %s, %s", 1+r.IntN(12), name(), date())
		}
		return fmt.Sprintf("Ref %s, fax %s.", id(), phone())
	}
	notes := make([]string, n)
	for i := range notes {
		switch {
		case i%500 == 7:
			notes[i] = ""
		case i%500 == 211:
			notes[i] = " \t "
		case i%500 == 333:
			notes[i] = "\x01\x02\x1b"
		default:
			k := 1 + r.IntN(6)
			if i%40 == 13 {
				k = 15 + r.IntN(15)
			}
			s := make([]string, k)
			for j := range s {
				s[j] = sentence()
			}
			notes[i] = strings.Join(s, " ")
		}
	}
	return notes
}

// sampleNotes reads the texts of examples/train-deid/data/NAME: synthetic
// notes in other styles, most of several lines.
func sampleNotes(t testing.TB, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "train-deid", "data", name))
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r struct{ Text string }
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		out = append(out, r.Text)
	}
	return out
}

// writeRecords writes texts as JSON lines {"id":"N","text":...}, N from
// first, split over parts files dir/name-K.jsonl.
func writeRecords(t testing.TB, dir, name string, texts []string, first, parts int) {
	t.Helper()
	for k := range parts {
		var buf bytes.Buffer
		for i := k * len(texts) / parts; i < (k+1)*len(texts)/parts; i++ {
			line, err := json.Marshal(map[string]string{"id": strconv.Itoa(first + i), "text": texts[i]})
			require.NoError(t, err)
			buf.Write(line)
			buf.WriteByte('\n')
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", name, k)), buf.Bytes(), 0o644))
	}
}

// tagCLIArgs runs `lepton tag ARGS... TEXT...` on texts given as
// arguments (texts of several lines are one text each there), in runs of
// at most 256 KiB of arguments, and returns the output lines by the
// text's index in texts, 1-based, after the "line" field.
func tagCLIArgs(t testing.TB, texts []string, args ...string) map[int]string {
	t.Helper()
	out := map[int]string{}
	for start := 0; start < len(texts); {
		end, size := start, 0
		for end < len(texts) && (end == start || size+len(texts[end]) < 256<<10) {
			size += len(texts[end])
			end++
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(cli(t), append(append(append([]string{"tag"}, args...), "--"), texts[start:end]...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		for n, body := range byLine(t, stdout.Bytes()) {
			out[start+n] = body
		}
		start = end
	}
	return out
}

// TestTagIdentityWithCLI: --task tag on Prism gives exactly what `lepton
// tag --json --no-text` prints, with the built-in de-identification model:
// 2,400 generated one-line notes (the CLI reads them from standard input)
// and the 680 sample notes of examples/train-deid (given to the CLI as
// arguments, since most have several lines), in two JSON-lines files,
// results in two shards. For every text with tokens, the pipeline's line
// is the CLI's byte for byte after the first field; every text the CLI
// answers with no tokens (empty, blank, control characters) is a dead
// letter saying why, as are three records the pipeline refuses before the
// model (not UTF-8, a NUL byte, over 1 MiB); nothing else comes back,
// nothing twice.
func TestTagIdentityWithCLI(t *testing.T) {
	const generated = 2400
	dir := t.TempDir()
	gen := clinicNotes(generated, 1)
	samples := append(sampleNotes(t, "test.jsonl"), sampleNotes(t, "validation.jsonl")...)
	texts := append(append([]string{}, gen...), samples...)
	writeRecords(t, dir, "notes", texts, 1, 2)
	var lines bytes.Buffer
	for _, s := range gen {
		lines.WriteString(s + "\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), lines.Bytes(), 0o644))
	// Records the pipeline refuses before the model (the CLI is not asked):
	// a line that is not UTF-8 (refused whole, so without its ID), a text
	// with a NUL byte, one over 1 MiB.
	bad := []string{
		`{"id":"9001","text":"Seen by Dr Jack Kim ` + "\xff\xfe" + ` on 12/03/2024"}`,
		`{"id":"9002","text":"Jack Kim\u0000 12/03/2024"}`,
		`{"id":"9003","text":"` + strings.Repeat("Jack Kim ", 1<<17) + `"}`,
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes-x.jsonl"), []byte(strings.Join(bad, "\n")+"\n"), 0o644))
	badReasons := map[int]string{-1: leptonbeam.ReasonInvalidUTF8, 9002: leptonbeam.ReasonBinary, 9003: leptonbeam.ReasonTooLarge}

	out0, cliWall, cliCPU := runCLI(t, filepath.Join(dir, "notes.txt"), "tag", "--json", "--no-text")
	want := byLine(t, out0)
	require.Len(t, want, generated)
	for n, body := range tagCLIArgs(t, samples, "--json", "--no-text") {
		want[generated+n] = body
	}
	require.Len(t, want, len(texts))

	out := filepath.Join(dir, "out", "entities.jsonl")
	sum, wall, cpu := runCommand(t, "--task", "tag", "--input", filepath.Join(dir, "notes-*.jsonl"), "--id_field", "id", "--output", out, "--shards", "2")
	got := byID(t, leptonbeam.ShardName(out, 0, 2), leptonbeam.ShardName(out, 1, 2))
	deadFile := filepath.Join(dir, "out", "entities.dead.jsonl")
	dead := deadByID(t, leptonbeam.ShardName(deadFile, 0, 2), leptonbeam.ShardName(deadFile, 1, 2))

	var entities, windowed int
	for i, s := range texts {
		body := want[i+1]
		if strings.HasSuffix(body, `"tokens":0,"unknown":0}`) {
			wantReason := leptonbeam.ReasonNoTokens
			if strings.TrimSpace(s) == "" {
				wantReason = leptonbeam.ReasonEmpty
			}
			require.Equal(t, wantReason, dead[i+1], "text %d: no tokens for the CLI", i+1)
			continue
		}
		g, ok := got[i+1]
		if !ok {
			t.Fatalf("text %d: no result (dead letter: %q)", i+1, dead[i+1])
		}
		if g != body {
			require.Equal(t, body, g, "text %d", i+1) // shows the difference
		}
		entities += strings.Count(g, `"label":`)
		var r struct{ Tokens int }
		require.NoError(t, json.Unmarshal([]byte("{"+g), &r))
		if r.Tokens > 254 {
			windowed++
		}
	}
	for id, reason := range badReasons {
		require.Equal(t, reason, dead[id], "record %d", id)
	}
	require.Equal(t, len(texts)+len(badReasons), len(got)+len(dead), "every record has one result or one dead letter")
	require.Equal(t, 15+len(badReasons), len(dead), "3 of each 500 generated texts have no tokens")
	require.Greater(t, windowed, 40, "notes read in several windows")
	require.Greater(t, entities, 5*len(texts), "the notes have entities")
	require.LessOrEqual(t, sum.texts, int64(len(texts)))
	t.Logf("%d texts (%d results with %d entities, %d notes over one window, %d dead letters): lepton tag (stdin, %d texts) %.1f s wall, %.1f s CPU (%.0f texts/s); lepton-beam on Prism %.1f s wall, %.1f s CPU (%.0f texts/s)",
		len(texts), len(got), entities, windowed, len(dead), generated, cliWall.Seconds(), cliCPU.Seconds(), float64(generated)/cliWall.Seconds(),
		wall.Seconds(), cpu.Seconds(), float64(len(texts))/wall.Seconds())
}

// TestTagOptionsWithCLI: tag's options reach the model as the CLI's do.
// Text lines (no ID: each result keeps its text, compared with the CLI's
// lines without "line" as a multiset) under aggregation none with nothing
// ignored, windows of 32 tokens sharing 8, and --allow_empty, which keeps
// the results of empty texts and of texts without tokens: then every line
// of `lepton tag --json` has its twin.
func TestTagOptionsWithCLI(t *testing.T) {
	dir := t.TempDir()
	notes := clinicNotes(400, 2)
	var lines bytes.Buffer
	for _, s := range notes {
		lines.WriteString(s + "\n")
	}
	in := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(in, lines.Bytes(), 0o644))
	out0, _, _ := runCLI(t, in, "tag", "--json", "--aggregation", "none", "--ignore", "", "--max-length", "32", "--stride", "8")
	want := map[string]int{}
	for _, body := range byLine(t, out0) {
		want["{"+body]++
	}
	require.Len(t, byLine(t, out0), len(notes))

	out := filepath.Join(dir, "tokens.jsonl")
	runCommand(t, "--task", "tag", "--input", in, "--aggregation", "none", "--ignore", "", "--max_length", "32", "--stride", "8",
		"--allow_empty", "--output", out)
	got := map[string]int{}
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var n, index int
	for sc.Scan() {
		got[sc.Text()]++
		n++
		index += strings.Count(sc.Text(), `"index":`)
	}
	require.NoError(t, sc.Err())
	require.Equal(t, len(notes), n)
	require.Greater(t, index, 10*len(notes), `every token has its entity with its "index"`)
	require.Greater(t, strings.Count(string(out0), `"label":"O"`), len(notes), `"O" is not ignored`)
	if len(want) != len(got) {
		require.Equal(t, len(want), len(got))
	}
	for l, k := range want {
		if got[l] != k {
			t.Fatalf("CLI line %dx, pipeline %dx: %s", k, got[l], l)
		}
	}
	dead, err := os.ReadFile(filepath.Join(dir, "tokens.dead.jsonl"))
	require.NoError(t, err)
	require.Empty(t, string(dead), "--allow_empty: no dead letters")
}

// TestTagFlags: --task tag's defaults and mistakes.
func TestTagFlags(t *testing.T) {
	c, err := parseConfig("--task", "tag", "--input", "notes.jsonl", "--output", "out.jsonl")
	require.NoError(t, err)
	require.Equal(t, "deid", c.modelSpec().Embedded, "the built-in de-identification model, as lepton tag")
	require.Equal(t, leptonbeam.Tagging{Aggregation: "first", Ignore: []string{"O"}}, c.tagging(), "lepton tag's defaults")

	c, err = parseConfig("--task", "tag", "--input", "n.jsonl", "--output", "o", "--model", "m.lep", "--aggregation", "max", "--ignore", "", "--stride", "0")
	require.NoError(t, err)
	require.Equal(t, leptonbeam.Model{Path: "m.lep", ActBits: 7}, c.modelSpec())
	zero := 0
	require.Equal(t, leptonbeam.Tagging{Aggregation: "max", Ignore: []string{}, Stride: &zero}, c.tagging())

	for _, args := range [][]string{
		{"--task", "tag", "--aggregation", "mean"},
		{"--task", "tag", "--stride", "-2"},
		{"--task", "tag", "--strict"}, // tag reads long texts whole
		{"--task", "tag", "--top_k", "3"},
		{"--task", "tag", "--pooling", "mean"},
		{"--task", "classify", "--aggregation", "none"},
		{"--task", "embed", "--ignore", "O"},
		{"--stride", "8"},
		{"--task", "dp-count", "--epsilon", "1", "--stride", "8"},
		{"--task", "classify", "--epsilon", "1"},
	} {
		_, err := parseConfig(append([]string{"--input", "i.jsonl", "--output", "o"}, args...)...)
		require.ErrorAs(t, err, new(usageError), "%q", args)
	}
	// What depends on the model shows when the pipeline is built: a
	// stride that fills the 254 tokens of text of the built-in model's
	// windows, a model that is not a token classifier.
	clinicFile := filepath.Join(t.TempDir(), "clinic.lep")
	require.NoError(t, os.WriteFile(clinicFile, clinic.Bytes(), 0o644))
	for _, args := range [][]string{{"--stride", "254"}, {"--max_length", "20", "--stride", "18"}, {"--model", clinicFile}} {
		c, err := parseConfig(append([]string{"--task", "tag", "--input", "i.jsonl", "--output", "o"}, args...)...)
		require.NoError(t, err)
		_, err = build(context.Background(), c)
		require.ErrorAs(t, err, new(usageError), "%q", args)
		require.ErrorContains(t, err, leptonbeam.ErrInvalidConfig.Error(), "%q", args)
	}
	// A stride that leaves one new token per window; a model file the
	// launcher cannot open, which may exist where the workers run.
	for _, args := range [][]string{{"--stride", "253"}, {"--model", filepath.Join(t.TempDir(), "on-the-workers.lep")}} {
		c, err = parseConfig(append([]string{"--task", "tag", "--input", "i.jsonl", "--output", "o"}, args...)...)
		require.NoError(t, err)
		_, err = build(context.Background(), c)
		require.NoError(t, err, "%q", args)
	}
}

// BenchmarkTagThroughput runs the same generated notes through `lepton
// tag --json --no-text` (one process reading standard input) and through
// lepton-beam --task tag on Prism (in this process), as
// BenchmarkThroughput does for classify. LEPTON_BEAM_TEXTS sets the size
// (default 10,000). Run with -benchtime 1x -count 3 and take medians:
//
//	go test ./cmd/lepton-beam -run '^$' -bench TagThroughput -benchtime 1x -count 3
func BenchmarkTagThroughput(b *testing.B) {
	n := 10000
	if s := os.Getenv("LEPTON_BEAM_TEXTS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	dir := b.TempDir()
	notes := clinicNotes(n, 3)
	writeRecords(b, dir, "notes", notes, 1, 2)
	var lines bytes.Buffer
	for _, s := range notes {
		lines.WriteString(s + "\n")
	}
	require.NoError(b, os.WriteFile(filepath.Join(dir, "notes.txt"), lines.Bytes(), 0o644))
	cli(b)
	b.Run("cli", func(b *testing.B) {
		var wall, cpu time.Duration
		for b.Loop() {
			_, w, c := runCLI(b, filepath.Join(dir, "notes.txt"), "tag", "--json", "--no-text")
			wall += w
			cpu += c
		}
		reportRates(b, n, wall, cpu)
	})
	b.Run("beam-prism", func(b *testing.B) {
		var wall, cpu time.Duration
		for i := 0; b.Loop(); i++ {
			_, w, c := runCommand(b, "--task", "tag", "--input", filepath.Join(dir, "notes-*.jsonl"), "--id_field", "id",
				"--output", filepath.Join(dir, fmt.Sprint("out", i), "r.jsonl"))
			wall += w
			cpu += c
		}
		reportRates(b, n, wall, cpu)
	})
}
