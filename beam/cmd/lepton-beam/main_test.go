package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/stretchr/testify/require"

	"lepton"
	leptonbeam "lepton/beam"
	"lepton/privacy"
)

// The pipelines run on Beam's embedded Prism runner, with this test binary
// as the (loopback) worker, as `lepton-beam` runs by default.
func TestMain(m *testing.M) {
	beamlog.LogLevel = "warn" // Prism logs every job step at INFO
	code := ptest.MainRetWithDefault(m, "prism")
	if cliDir != "" {
		os.RemoveAll(cliDir)
	}
	os.Exit(code)
}

// parseConfig parses command-line flags as main does.
func parseConfig(args ...string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("lepton-beam", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &c, c.parsed(fs)
}

// runCommand builds the pipeline that args describe and runs it on Prism,
// in this process; it returns the run's summary, wall time and CPU time.
func runCommand(t testing.TB, args ...string) (summary, time.Duration, time.Duration) {
	t.Helper()
	c, err := parseConfig(args...)
	require.NoError(t, err)
	p, err := build(context.Background(), c)
	require.NoError(t, err)
	cpu0, start := cpuSelf(), time.Now()
	res, err := ptest.RunWithMetrics(p)
	require.NoError(t, err)
	return summarize(res), time.Since(start), cpuSelf() - cpu0
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	cliOnce sync.Once
	cliDir  string
	cliPath string
	cliErr  error
)

// cli returns the `lepton` command, built from this repository (the
// parent module) once per test binary: the reference the pipeline must
// agree with.
func cli(t testing.TB) string {
	t.Helper()
	cliOnce.Do(func() {
		root, err := filepath.Abs("../../..")
		if err != nil {
			cliErr = err
			return
		}
		if mod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !bytes.HasPrefix(mod, []byte("module lepton\n")) {
			cliErr = fmt.Errorf("%s is not the lepton repository (go.mod: %v)", root, err)
			return
		}
		if cliDir, cliErr = os.MkdirTemp("", "lepton-cli-"); cliErr != nil {
			return
		}
		cliPath = filepath.Join(cliDir, "lepton")
		cmd := exec.Command("go", "build", "-o", cliPath, "./cmd/lepton")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build ./cmd/lepton: %v\n%s", err, out)
		}
	})
	require.NoError(t, cliErr)
	return cliPath
}

// runCLI runs `lepton ARGS...` (default: classify --json) on the lines of
// file and returns its output, wall time and CPU time.
func runCLI(t testing.TB, file string, args ...string) ([]byte, time.Duration, time.Duration) {
	t.Helper()
	in, err := os.Open(file)
	require.NoError(t, err)
	defer in.Close()
	var out, stderr bytes.Buffer
	if len(args) == 0 {
		args = []string{"classify", "--json"}
	}
	cmd := exec.Command(cli(t), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &out, &stderr
	start := time.Now()
	require.NoError(t, cmd.Run(), stderr.String())
	wall := time.Since(start)
	return out.Bytes(), wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// corpus generates n texts (fixed seed) and writes them to dir: texts.txt,
// one per line, for `lepton classify`, and parts JSON-lines files
// texts-K.jsonl of {"id":"N","text":...} records, N being the text's line
// number in texts.txt (from 1, as the CLI's "line").
// The texts are awkward on purpose: 1 to 60 words, some over the model's
// 128 tokens (truncated by both), accents, CJK, emoji, punctuation, HTML
// characters, a few empty, blank or of control characters only.
func corpus(t testing.TB, dir string, n, parts int) []string {
	t.Helper()
	words := strings.Fields("I have had a high fever chills and headache for three days my skin is itchy with red scaly patches " +
		"dry cough chest pain burning when I pee stomach ache nausea vomiting joint pain stiff neck tired dizzy " +
		"blurred vision sore throat runny nose wheezing at night, since Monday; (worse) it's \"bad\" <b>&</b> " +
		"Kopfschmerzen café naïve 発熱 😷 x-ray 38.5°C")
	r := rand.New(rand.NewPCG(18, uint64(n)))
	texts := make([]string, n)
	for i := range texts {
		switch {
		case i%1000 == 17:
			texts[i] = "" // skipped by the CLI; a dead letter of the pipeline
		case i%1000 == 503:
			texts[i] = " \t "
		case i%1000 == 711:
			texts[i] = "\x01\x02\x1b" // no tokens once normalised: skipped by both
		default:
			k := 1 + r.IntN(60)
			if i%250 == 3 {
				k = 130 + r.IntN(200)
			}
			ws := make([]string, k)
			for j := range ws {
				ws[j] = words[r.IntN(len(words))]
			}
			texts[i] = strings.Join(ws, " ")
		}
	}
	var txt bytes.Buffer
	files := make([]*bufio.Writer, parts)
	for k := range parts {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("texts-%d.jsonl", k)))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		files[k] = bufio.NewWriter(f)
		defer func() { require.NoError(t, files[k].Flush()) }()
	}
	for i, s := range texts {
		txt.WriteString(s)
		txt.WriteByte('\n')
		line, err := json.Marshal(map[string]string{"id": strconv.Itoa(i + 1), "text": s})
		require.NoError(t, err)
		w := files[i*parts/n]
		w.Write(line)
		w.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "texts.txt"), txt.Bytes(), 0o644))
	return texts
}

// byLine maps the JSON lines of `lepton classify|embed --json` to their
// "line" number and the rest of the line after that field.
func byLine(t testing.TB, out []byte) map[int]string {
	t.Helper()
	m := map[int]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		rest, ok := strings.CutPrefix(l, `{"line":`)
		require.True(t, ok, l)
		n, body, ok := strings.Cut(rest, ",")
		require.True(t, ok, l)
		i, err := strconv.Atoi(n)
		require.NoError(t, err, l)
		m[i] = body
	}
	return m
}

// byID reads the pipeline's result files and maps each "id" to the rest of
// its line after that field, failing on an ID seen twice.
func byID(t testing.TB, files ...string) map[int]string {
	t.Helper()
	m := map[int]string{}
	for _, name := range files {
		f, err := os.Open(name)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l := sc.Text()
			rest, ok := strings.CutPrefix(l, `{"id":"`)
			require.True(t, ok, l)
			id, body, ok := strings.Cut(rest, `",`)
			require.True(t, ok, l)
			i, err := strconv.Atoi(id)
			require.NoError(t, err, l)
			if _, dup := m[i]; dup { // not require.NotContains: it lists the map's keys every time
				t.Fatalf("id %d twice", i)
			}
			m[i] = body
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	return m
}

// deadByID maps each dead letter's "id" to its reason; dead letters
// without one (lines that are not records) get keys -1, -2, ...
func deadByID(t testing.TB, files ...string) map[int]string {
	t.Helper()
	m := map[int]string{}
	noID := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if l == "" {
				continue
			}
			var d struct{ ID, Reason string }
			require.NoError(t, json.Unmarshal([]byte(l), &d))
			if d.ID == "" {
				noID--
				m[noID] = d.Reason
				continue
			}
			i, err := strconv.Atoi(d.ID)
			require.NoError(t, err, l)
			if _, dup := m[i]; dup {
				t.Fatalf("dead letter %d twice", i)
			}
			m[i] = d.Reason
		}
	}
	return m
}

// textsForTest is how many texts TestIdentityWithCLI runs: 100,000 (the
// issue's acceptance size; about a minute of CPU for each side on the
// built-in model), 5,000 under -short, or LEPTON_BEAM_TEXTS.
func textsForTest(t testing.TB) int {
	if s := os.Getenv("LEPTON_BEAM_TEXTS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "LEPTON_BEAM_TEXTS")
		return n
	}
	if testing.Short() {
		return 5000
	}
	return 100000
}

// TestIdentityWithCLI is the acceptance test: the texts, classified by the
// lepton-beam pipeline on Prism (two input files, results in two shards),
// give exactly what `lepton classify --json --no-text` prints for them: for
// every text the CLI answers, the pipeline's line is the CLI's byte for byte
// after their first field ("id" there, "line" here, the same number);
// every text the CLI skips (blank, no tokens) is a dead letter saying why;
// nothing else comes back, and nothing twice.
func TestIdentityWithCLI(t *testing.T) {
	n := textsForTest(t)
	dir := t.TempDir()
	texts := corpus(t, dir, n, 2)
	out0, cliWall, cliCPU := runCLI(t, filepath.Join(dir, "texts.txt"), "classify", "--json", "--no-text")
	cli := byLine(t, out0)

	out := filepath.Join(dir, "out", "results.jsonl")
	sum, wall, cpu := runCommand(t, "--input", filepath.Join(dir, "texts-*.jsonl"), "--id_field", "id", "--output", out, "--shards", "2")
	got := byID(t, leptonbeam.ShardName(out, 0, 2), leptonbeam.ShardName(out, 1, 2))
	dead := deadByID(t, leptonbeam.ShardName(filepath.Join(dir, "out", "results.dead.jsonl"), 0, 2),
		leptonbeam.ShardName(filepath.Join(dir, "out", "results.dead.jsonl"), 1, 2))

	require.Equal(t, len(cli), len(got), "as many results as the CLI printed lines")
	for line, body := range cli {
		g, ok := got[line]
		if !ok {
			t.Fatalf("line %d: no result", line)
		}
		if g != body {
			require.Equal(t, body, g, "line %d", line) // shows the difference
		}
	}
	for i, s := range texts {
		if _, ok := cli[i+1]; ok {
			continue
		}
		want := leptonbeam.ReasonNoTokens
		if strings.TrimSpace(s) == "" {
			want = leptonbeam.ReasonEmpty
		}
		require.Equal(t, want, dead[i+1], "line %d, skipped by the CLI", i+1)
	}
	require.Equal(t, n, len(got)+len(dead), "every text has one result or one dead letter")
	require.LessOrEqual(t, sum.texts, int64(n), "the texts counter (Prism may undercount, never over)")
	t.Logf("%d texts (%d answered, %d skipped): lepton classify %.1f s wall, %.1f s CPU (%.0f texts/s); lepton-beam on Prism %.1f s wall, %.1f s CPU (%.0f texts/s), at most %d bundles at once",
		n, len(got), len(dead), cliWall.Seconds(), cliCPU.Seconds(), float64(n)/cliWall.Seconds(), wall.Seconds(), cpu.Seconds(), float64(n)/wall.Seconds(), sum.maxConcurrency)
	// How many bundles ran at once is Prism's choice (it splits a bundle
	// that makes no progress between two ticks), a matter of timing: on a
	// fast run (3,087 texts/s, 2026-12-07) all 100,000 texts went through
	// one bundle at a time. It is logged above, not asserted; sharing one
	// model between concurrent bundles is tested in the leptonbeam package.
}

// TestEmbedIdentityWithCLI: --task embed gives what `lepton embed --json`
// prints, byte for byte after the first field.
func TestEmbedIdentityWithCLI(t *testing.T) {
	const n = 1000
	dir := t.TempDir()
	corpus(t, dir, n, 1)
	out0, _, _ := runCLI(t, filepath.Join(dir, "texts.txt"), "embed", "--json", "--no-text", "--pooling", "mean", "--normalize")
	cli := byLine(t, out0)
	out := filepath.Join(dir, "vectors.jsonl")
	runCommand(t, "--task", "embed", "--input", filepath.Join(dir, "texts-0.jsonl"), "--id_field", "id",
		"--pooling", "mean", "--normalize", "--output", out)
	got := byID(t, out)
	require.Equal(t, len(cli), len(got))
	for line, body := range cli {
		require.Equal(t, body, got[line], "line %d", line)
	}
}

// TestTextLines: plain text lines, as `lepton classify` reads them, give
// the same lines as `lepton classify --json` with its "line" field left
// out (lines have no ID; the text is kept). Texts may repeat, so lines are
// compared as multisets. Blank lines and texts without tokens become dead
// letters.
func TestTextLines(t *testing.T) {
	const n = 3000
	dir := t.TempDir()
	corpus(t, dir, n, 1)
	out0, _, _ := runCLI(t, filepath.Join(dir, "texts.txt"), "classify", "--json")
	want := map[string]int{}
	for _, body := range byLine(t, out0) {
		want["{"+body]++
	}
	out := filepath.Join(dir, "out.jsonl")
	runCommand(t, "--input", filepath.Join(dir, "texts.txt"), "--output", out)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	got := map[string]int{}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for _, l := range lines {
		require.True(t, strings.HasPrefix(l, `{"text":`), "text lines keep their text: %s", l)
		got[l]++
	}
	require.Equal(t, want, got)
	dead, err := os.ReadFile(filepath.Join(dir, "out.dead.jsonl"))
	require.NoError(t, err)
	require.Equal(t, n-len(lines), strings.Count(string(dead), "\n"))
}

// TestDPCount: devices classify their notes with the built-in model and
// release only the label, under randomized response at epsilon 2 (what
// `lepton classify --json --dp-label-epsilon 2` prints); dp-count on those
// lines estimates how many devices hold each diagnosis, overall and per
// site, and the true counts (the devices' non-private labels) fall in the
// intervals.
func TestDPCount(t *testing.T) {
	const n, eps = 20000, 2.0
	dir := t.TempDir()
	texts := corpus(t, dir, n, 1)
	m, err := openLocalModel("")
	require.NoError(t, err)
	defer m.Close()
	truth, err := m.Classify(context.Background(), texts)
	require.NoError(t, err)
	rel, err := privacy.New(privacy.WithSource(privacy.NewTestingSource(5)))
	require.NoError(t, err)
	released, err := m.Classify(context.Background(), texts, lepton.WithPrivateLabel(eps), lepton.WithPrivacy(rel))
	require.NoError(t, err)
	k := len(m.Info().Labels)
	trueCount := map[string][]int{"": make([]int, k), "north": make([]int, k), "south": make([]int, k)}
	var reports bytes.Buffer
	for i, r := range released {
		site := []string{"north", "south"}[i%2]
		line, err := json.Marshal(struct {
			Label   string              `json:"label"`
			Index   int                 `json:"index"`
			Privacy *lepton.PrivacyCost `json:"privacy"`
			Site    string              `json:"site"`
		}{r.Label, r.Index, r.Privacy, site})
		require.NoError(t, err)
		reports.Write(line)
		reports.WriteByte('\n')
		trueCount[""][truth[i].Index]++
		trueCount[site][truth[i].Index]++
	}
	reports.WriteString("not a report\n")
	in := filepath.Join(dir, "reports.jsonl")
	require.NoError(t, os.WriteFile(in, reports.Bytes(), 0o644))

	for _, key := range []string{"", "site"} {
		out := filepath.Join(dir, "counts"+key+".jsonl")
		runCommand(t, "--task", "dp-count", "--input", in, "--epsilon", "2", "--confidence", "0.99", "--key_field", key, "--output", out)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		require.Len(t, lines, map[string]int{"": 1, "site": 2}[key])
		for _, l := range lines {
			var c countsJSON
			require.NoError(t, json.Unmarshal([]byte(l), &c))
			site := ""
			if c.Key != nil {
				site = *c.Key
			}
			wantN := map[string]int64{"": n, "north": n / 2, "south": n / 2}[site]
			require.Equal(t, wantN, c.Reports, site)
			require.Zero(t, c.Rejected)
			require.Len(t, c.Labels, k)
			var missed int
			for j, lc := range c.Labels {
				require.Equal(t, m.Info().Labels[j], lc.Label)
				if tc := float64(trueCount[site][j]); tc < *lc.Lo || tc > *lc.Hi {
					missed++
				}
			}
			t.Logf("site %q: %d reports, %d of %d 99%% intervals miss the true count", site, c.Reports, missed, k)
			require.LessOrEqual(t, missed, 2, site)
		}
		dead, err := os.ReadFile(filepath.Join(dir, "counts"+key+".dead.jsonl"))
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(string(dead), `"reason":"parse"`))
	}
}

func TestFlags(t *testing.T) {
	c, err := parseConfig("--input", "notes/*.csv", "--output", "out/results.jsonl")
	require.NoError(t, err)
	require.Equal(t, leptonbeam.FormatCSV, c.format)
	require.False(t, c.keepText)
	require.Equal(t, "out/results.dead.jsonl", c.deadLetter)
	require.Equal(t, leptonbeam.Model{Embedded: builtinModel, ActBits: 7}, c.modelSpec())

	c, err = parseConfig("--input", "notes.txt", "--output", "res", "--model", "gs://b/m.lep", "--threads", "2")
	require.NoError(t, err)
	require.Equal(t, leptonbeam.FormatLines, c.format)
	require.True(t, c.keepText, "text lines carry their text by default")
	require.Equal(t, "res.dead", c.deadLetter)
	require.Equal(t, leptonbeam.Model{Path: "gs://b/m.lep", Threads: 2, ActBits: 7}, c.modelSpec())

	for name, want := range map[string]string{"a.JSONL": "jsonl", "a.ndjson.gz": "jsonl", "a.csv.gz": "csv", "a.tsv": "lines", "dir/*": "lines"} {
		require.Equal(t, want, formatFromName(name), name)
	}
	for _, args := range [][]string{
		{"--output", "o"},
		{"--input", "i"},
		{"--input", "i", "--output", "o", "--task", "summarize"},
		{"--input", "i", "--output", "o", "--dead_letter", "o"},
		{"--input", "i", "--output", "o", "--task", "dp-count"}, // no --epsilon
	} {
		_, err := parseConfig(args...)
		require.ErrorAs(t, err, new(usageError), "%q", args)
	}
	c, err = parseConfig("--input", "i.csv", "--output", "o", "--comma", ";;")
	require.NoError(t, err)
	_, err = build(context.Background(), c)
	require.ErrorAs(t, err, new(usageError))
	c, err = parseConfig("--input", "i", "--output", "o", "--task", "dp-count", "--epsilon", "1", "--mechanism", "laplace")
	require.NoError(t, err)
	_, err = build(context.Background(), c)
	require.ErrorAs(t, err, new(usageError))
	c, err = parseConfig("--input", "i", "--output", "o", "--batch_texts", "-1")
	require.NoError(t, err)
	_, err = build(context.Background(), c)
	require.ErrorIs(t, err, leptonbeam.ErrInvalidConfig)
}

// BenchmarkThroughput runs the same texts through `lepton classify --json`
// (one process, one call) and through lepton-beam on Prism (in this
// process), and reports texts/s and CPU-ms per 1,000 texts for each: the
// engine's overhead is the ratio. LEPTON_BEAM_TEXTS sets the size
// (default 20,000). Run with -benchtime 1x -count 3 and take medians:
//
//	go test ./cmd/lepton-beam -run '^$' -bench Throughput -benchtime 1x -count 3
func BenchmarkThroughput(b *testing.B) {
	n := 20000
	if s := os.Getenv("LEPTON_BEAM_TEXTS"); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(b, err)
	}
	dir := b.TempDir()
	corpus(b, dir, n, 2)
	cli(b)
	b.Run("cli", func(b *testing.B) {
		var wall, cpu time.Duration
		for b.Loop() {
			_, w, c := runCLI(b, filepath.Join(dir, "texts.txt"), "classify", "--json", "--no-text")
			wall += w
			cpu += c
		}
		reportRates(b, n, wall, cpu)
	})
	b.Run("beam-prism", func(b *testing.B) {
		var wall, cpu time.Duration
		for i := 0; b.Loop(); i++ {
			_, w, c := runCommand(b, "--input", filepath.Join(dir, "texts-*.jsonl"), "--id_field", "id",
				"--output", filepath.Join(dir, fmt.Sprint("out", i), "r.jsonl"))
			wall += w
			cpu += c
		}
		reportRates(b, n, wall, cpu)
	})
}

func reportRates(b *testing.B, n int, wall, cpu time.Duration) {
	runs := float64(b.N)
	b.ReportMetric(float64(n)*runs/wall.Seconds(), "texts/s")
	b.ReportMetric(cpu.Seconds()*1000/runs/(float64(n)/1000), "cpu-ms/1k-texts")
}
