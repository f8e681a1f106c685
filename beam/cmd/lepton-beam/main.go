// Command lepton-beam classifies, embeds or tags (finds entities in) a
// corpus of texts with Lepton on Apache Beam, or aggregates devices'
// local-DP label reports into counts.
// It runs on Beam's embedded Prism runner by default (one machine), and on
// Flink, Spark or Google Cloud Dataflow with Beam's standard runner flags.
//
//	lepton-beam --input 'notes/*.csv' --text_field note --id_field note_id --output results.jsonl
//	lepton-beam --task embed --input notes.jsonl --id_field id --pooling mean --normalize --output vectors.jsonl
//	lepton-beam --task tag --input notes.jsonl --id_field id --output entities.jsonl
//	lepton-beam --task dp-count --input 'reports/*.jsonl' --epsilon 1 --output counts.jsonl
//
// Inputs are text lines, CSV or JSON lines (--format, or from the file
// name); results are JSON lines, in no particular order: each carries its
// record's ID (--id_field) or, for text lines, its text. A record that
// cannot be run goes, with its reason, to the dead-letter file
// (--dead_letter; by default the output's name with ".dead" before its
// extension) instead of failing the job. Without --model it runs a
// built-in model, compiled in: the clinic model (lepton/models/clinic), or
// for --task tag the de-identification model (lepton/models/deid), as
// `lepton tag` does.
//
// The README of lepton/beam has the runner flags for Prism, Flink and
// Dataflow.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"lepton"
	leptonbeam "lepton/beam"
	"lepton/models/clinic"
	"lepton/models/deid"
	"lepton/privacy"
)

// The names the built-in models are registered under: the clinic
// classifier, and the de-identification model that --task tag runs by
// default.
const (
	builtinModel    = "clinic"
	builtinTagModel = "deid"
)

func init() {
	leptonbeam.RegisterEmbedded(builtinModel, clinic.Bytes)
	leptonbeam.RegisterEmbedded(builtinTagModel, deid.Bytes)
}

// The tasks of --task.
const (
	taskClassify = "classify"
	taskEmbed    = "embed"
	taskTag      = "tag"
	taskDPCount  = "dp-count"
)

// config is the command's flags.
type config struct {
	task string
	// input and output
	input, format, textField, idField, comma string
	noHeader                                 bool
	output, deadLetter                       string
	shards                                   int
	keepText                                 bool
	// model and inference
	model                        string
	threads, actBits, calls      int
	verify                       bool
	batchTexts, batchBytes       int
	maxLength, maxTextBytes      int
	strict, allowEmpty, allowBad bool
	pooling, prompt              string
	normalize                    bool
	topK                         int
	// tag
	aggregation, ignore string
	stride              int
	// dp-count
	mechanism  string
	epsilon    float64
	k          int
	confidence float64
	keyField   string

	set map[string]bool // flags given on the command line
}

func (c *config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.task, "task", taskClassify, "classify, embed, tag (find entities), or dp-count (aggregate local-DP label reports)")
	fs.StringVar(&c.input, "input", "", "input files: a path or glob, local or on a Beam file system (gs://...)")
	fs.StringVar(&c.format, "format", "", "lines, csv or jsonl (default: from the input's extension; .csv, .jsonl, .ndjson, else lines)")
	fs.StringVar(&c.textField, "text_field", "", `CSV column (header name or 0-based index) or JSON field of the text (default "text"; CSV without header: 0)`)
	fs.StringVar(&c.idField, "id_field", "", "CSV column or JSON field of the record's ID, copied to its result (default: none)")
	fs.BoolVar(&c.noHeader, "no_header", false, "CSV files have no header line")
	fs.StringVar(&c.comma, "comma", ",", "CSV field separator")
	fs.StringVar(&c.output, "output", "", "output file (JSON lines), local or on a Beam file system")
	fs.StringVar(&c.deadLetter, "dead_letter", "", `dead-letter file (JSON lines; default: the output's name with ".dead" before its extension)`)
	fs.IntVar(&c.shards, "shards", 1, "write the output (and dead letters) as this many files, NAME-00000-of-0000N.EXT")
	fs.BoolVar(&c.keepText, "keep_text", false, "copy each text into its result (default: true for text lines, which have no ID)")
	fs.StringVar(&c.model, "model", "", "model file (.lep), local or on a Beam file system (default: the built-in clinic model; --task tag: the built-in de-identification model)")
	fs.IntVar(&c.threads, "threads", 0, "goroutines per Lepton call, shared by a worker's bundles (0: all CPUs)")
	fs.IntVar(&c.calls, "calls", 0, "Lepton calls at once per worker process (0: one when --threads is 0, else CPUs/threads)")
	fs.IntVar(&c.actBits, "act_bits", lepton.DefaultActivationBits, "activation precision of the int8 path: 7 or 8")
	fs.BoolVar(&c.verify, "verify", false, "check every weight payload when a worker opens the model")
	fs.IntVar(&c.batchTexts, "batch_texts", leptonbeam.DefaultBatchTexts, "texts per Lepton call, at most")
	fs.IntVar(&c.batchBytes, "batch_bytes", leptonbeam.DefaultBatchBytes, "bytes of text per Lepton call, at most (a larger text runs alone)")
	fs.IntVar(&c.maxLength, "max_length", 0, "max tokens per text, [CLS] and [SEP] included (0: the model's limit); tag: tokens per window of a long text")
	fs.IntVar(&c.maxTextBytes, "max_text_bytes", leptonbeam.DefaultMaxTextBytes, "texts larger than this go to the dead letters (too_large; negative: no limit)")
	fs.BoolVar(&c.strict, "strict", false, "texts over the max length go to the dead letters (too_long) instead of being truncated (lepton's --no-truncate)")
	fs.BoolVar(&c.allowEmpty, "allow_empty", false, "run empty texts and keep the results of texts with no tokens, instead of dead-lettering them")
	fs.BoolVar(&c.allowBad, "allow_invalid_utf8", false, "run texts that are not valid UTF-8 (Lepton drops the bad bytes) instead of dead-lettering them")
	fs.IntVar(&c.topK, "top_k", 0, `classify: labels listed in "top", most probable first (0: all, as lepton classify --json)`)
	fs.StringVar(&c.pooling, "pooling", "", "embed: cls, mean or max (default: the model's pooling)")
	fs.BoolVar(&c.normalize, "normalize", false, "embed: scale vectors to unit length (default: the model's setting; --normalize=false turns a model's off)")
	fs.StringVar(&c.prompt, "prompt", "", "embed: prepend the model's prompt of this name (default: its default prompt; --prompt '' none)")
	fs.StringVar(&c.aggregation, "aggregation", "first", "tag: how tokens become entities: none, simple, first, average or max (Hugging Face's strategies)")
	fs.StringVar(&c.ignore, "ignore", "O", `tag: comma-separated labels to leave out ("": keep every token or group)`)
	fs.IntVar(&c.stride, "stride", -1, "tag: tokens shared by consecutive windows of a long text (-1: a quarter of a window)")
	fs.StringVar(&c.mechanism, "mechanism", "rr", "dp-count: rr (k-ary randomized response) or oue (optimized unary encoding)")
	fs.Float64Var(&c.epsilon, "epsilon", 0, "dp-count: the epsilon every device released at (required)")
	fs.IntVar(&c.k, "k", 0, "dp-count: number of labels (default: the model's)")
	fs.Float64Var(&c.confidence, "confidence", 0.95, "dp-count: confidence level of the intervals")
	fs.StringVar(&c.keyField, "key_field", "", "dp-count: estimate per value of this JSON field (a site, a week) instead of overall")
}

// usageError is a mistake in the flags: main prints the usage with it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parsed checks the flags and fills in defaults that depend on others.
func (c *config) parsed(fs *flag.FlagSet) error {
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	switch {
	case c.input == "":
		return usageError{"--input is required"}
	case c.output == "":
		return usageError{"--output is required"}
	case c.task != taskClassify && c.task != taskEmbed && c.task != taskTag && c.task != taskDPCount:
		return usageError{fmt.Sprintf("--task %q: want classify, embed, tag or dp-count", c.task)}
	}
	// A flag of another task would be silently ignored: refuse it.
	for name, tasks := range taskFlags {
		if c.set[name] && !strings.Contains(" "+tasks+" ", " "+c.task+" ") {
			return usageError{fmt.Sprintf("--%s applies to --task %s, not %s", name, strings.ReplaceAll(tasks, " ", " or "), c.task)}
		}
	}
	if c.task == taskTag {
		if _, err := lepton.ParseAggregation(c.aggregation); err != nil {
			return usageError{fmt.Sprintf("--aggregation %q: want none, simple, first, average or max", c.aggregation)}
		}
		if c.stride < -1 {
			return usageError{fmt.Sprintf("--stride %d: want -1 (a quarter of a window) or a token count", c.stride)}
		}
	}
	if c.format == "" {
		c.format = formatFromName(c.input)
	}
	if !c.set["keep_text"] {
		c.keepText = c.format == leptonbeam.FormatLines
	}
	if c.deadLetter == "" {
		ext := path.Ext(c.output)
		c.deadLetter = strings.TrimSuffix(c.output, ext) + ".dead" + ext
	}
	if c.deadLetter == c.output {
		return usageError{"--dead_letter must differ from --output"}
	}
	if c.task == taskDPCount && !c.set["epsilon"] {
		return usageError{"--task dp-count needs --epsilon, the epsilon the devices released at"}
	}
	return nil
}

// taskFlags names the flags that apply to some tasks only, and those tasks.
var taskFlags = map[string]string{
	"top_k":       taskClassify,
	"strict":      taskClassify + " " + taskEmbed, // tag never truncates: it reads long texts in windows
	"pooling":     taskEmbed,
	"normalize":   taskEmbed,
	"prompt":      taskEmbed,
	"aggregation": taskTag,
	"ignore":      taskTag,
	"stride":      taskTag,
	"mechanism":   taskDPCount,
	"epsilon":     taskDPCount,
	"k":           taskDPCount,
	"confidence":  taskDPCount,
	"key_field":   taskDPCount,
}

func formatFromName(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	switch path.Ext(name) {
	case ".csv":
		return leptonbeam.FormatCSV
	case ".jsonl", ".ndjson":
		return leptonbeam.FormatJSONL
	}
	return leptonbeam.FormatLines
}

func (c *config) modelSpec() leptonbeam.Model {
	m := leptonbeam.Model{Path: c.model, Threads: c.threads, Calls: c.calls, ActBits: c.actBits, Verify: c.verify}
	if c.model == "" {
		m.Embedded = builtinModel
		if c.task == taskTag {
			m.Embedded = builtinTagModel
		}
	}
	return m
}

// tagging is the --task tag flags as leptonbeam.Tagging.
func (c *config) tagging() leptonbeam.Tagging {
	t := leptonbeam.Tagging{Aggregation: c.aggregation, Ignore: leptonbeam.ParseIgnore(c.ignore)}
	if c.stride >= 0 {
		t.Stride = &c.stride
	}
	return t
}

// build constructs the pipeline the flags describe.
func build(ctx context.Context, c *config) (*beam.Pipeline, error) {
	p, s := beam.NewPipelineWithRoot()
	if c.task == taskDPCount {
		return p, buildDPCount(ctx, s, c)
	}
	comma := []rune(c.comma)
	if len(comma) != 1 {
		return nil, usageError{fmt.Sprintf("--comma %q: want one character", c.comma)}
	}
	records, parseDead, err := leptonbeam.Read(s, c.input, leptonbeam.Format{
		Kind: c.format, Text: c.textField, ID: c.idField, NoHeader: c.noHeader, Comma: comma[0]})
	if err != nil {
		return nil, err
	}
	o := leptonbeam.Options{
		Model:    c.modelSpec(),
		Batch:    leptonbeam.Batching{MaxTexts: c.batchTexts, MaxBytes: c.batchBytes},
		Checks:   leptonbeam.Checks{AllowEmpty: c.allowEmpty, AllowInvalidUTF8: c.allowBad, MaxTextBytes: c.maxTextBytes, Strict: c.strict, MaxLength: c.maxLength},
		KeepText: c.keepText,
		TopK:     c.topK,
	}
	var results, dead beam.PCollection
	switch c.task {
	case taskTag:
		// A model the launcher can read is checked here, as a worker's
		// Setup checks it (a token classifier that takes the options), so
		// that a wrong --model or --stride is a usage error, not a failed
		// job. Remote models, and local paths the launcher cannot open
		// (they may exist only where the workers run), are left to the
		// workers, as for classify and embed.
		if !strings.Contains(c.model, "://") {
			fn := &leptonbeam.TagFn{Options: o, Tagging: c.tagging()}
			err := fn.Setup(ctx)
			if errors.Is(err, leptonbeam.ErrInvalidConfig) {
				return nil, usageError{err.Error()}
			}
			if err == nil {
				fn.Teardown()
			}
		}
		results, dead, err = leptonbeam.Tag(s, records, o, c.tagging())
	case taskEmbed:
		// --normalize and --prompt follow the model unless given, as in
		// lepton embed.
		e := leptonbeam.Embedding{Pooling: c.pooling}
		if c.set["normalize"] {
			e.Normalize = &c.normalize
		}
		if c.set["prompt"] {
			e.Prompt = &c.prompt
		}
		results, dead, err = leptonbeam.Embed(s, records, o, e)
	default:
		results, dead, err = leptonbeam.Classify(s, records, o)
	}
	if err != nil {
		return nil, err
	}
	if err := writeJSON(s, c.output, c.shards, results); err != nil {
		return nil, err
	}
	return p, writeJSON(s, c.deadLetter, c.shards, beam.Flatten(s, parseDead, dead))
}

func writeJSON(s beam.Scope, name string, shards int, col beam.PCollection) error {
	lines, err := leptonbeam.FormatJSON(s, col)
	if err != nil {
		return err
	}
	return leptonbeam.WriteLines(s, name, shards, lines)
}

// buildDPCount reads reports and writes their estimated counts: one JSON
// line, or one per key under --key_field.
func buildDPCount(ctx context.Context, s beam.Scope, c *config) error {
	mech := map[string]string{
		"rr": string(privacy.MechRandomizedResponse), string(privacy.MechRandomizedResponse): string(privacy.MechRandomizedResponse),
		"oue": string(privacy.MechUnaryEncoding), string(privacy.MechUnaryEncoding): string(privacy.MechUnaryEncoding),
	}[c.mechanism]
	if mech == "" {
		return usageError{fmt.Sprintf("--mechanism %q: want rr or oue", c.mechanism)}
	}
	// The model gives the label names, and k unless --k says otherwise.
	var labels []string
	if c.model != "" || !c.set["k"] {
		m, err := openLocalModel(c.model)
		if err != nil {
			return err
		}
		labels = m.Info().Labels
		m.Close()
	}
	k := c.k
	if !c.set["k"] {
		k = len(labels)
	}
	if len(labels) != k {
		labels = nil // --k names another set of labels
	}
	counting := leptonbeam.Counting{Mechanism: mech, K: k, Epsilon: c.epsilon, Confidence: c.confidence}
	reports, dead := leptonbeam.ReadReports(s, c.input, c.keyField)
	var lines beam.PCollection
	if c.keyField == "" {
		counts, err := leptonbeam.EstimateCounts(s, reports, counting)
		if err != nil {
			return err
		}
		lines = beam.ParDo(s, &countsJSONFn{Labels: labels}, counts)
	} else {
		counts, err := leptonbeam.EstimateCountsPerKey(s, reports, counting)
		if err != nil {
			return err
		}
		lines = beam.ParDo(s, &keyedCountsJSONFn{Labels: labels, KeyField: c.keyField}, counts)
	}
	if err := leptonbeam.WriteLines(s, c.output, 1, lines); err != nil {
		return err
	}
	return writeJSON(s, c.deadLetter, 1, dead)
}

// openLocalModel opens the model the launcher names, to read its labels.
func openLocalModel(p string) (*lepton.Model, error) {
	if p == "" {
		return clinic.Open()
	}
	if strings.Contains(p, "://") {
		return nil, usageError{"--task dp-count reads label names from a local --model; give --k for a remote one"}
	}
	return lepton.Open(p)
}

func main() {
	var c config
	c.register(flag.CommandLine)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: lepton-beam --input GLOB --output FILE [flags] [Beam runner flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	// A worker started by the runner (--worker) runs its bundles here and
	// never returns; the launcher goes on.
	beam.Init()
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "lepton-beam:", err)
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, "run 'lepton-beam -h' for the flags")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(c *config) error {
	if err := c.parsed(flag.CommandLine); err != nil {
		return err
	}
	if flag.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (every setting is a --flag)", flag.Arg(0))}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	p, err := build(ctx, c)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := beamx.RunWithMetrics(ctx, p)
	if err != nil {
		return err
	}
	report(os.Stderr, c, res, time.Since(start))
	return nil
}

// summary is what a run's metrics say about it. Prism v2.78.0 can
// undercount: a bundle's metrics that arrive, under a short ID it has not
// yet resolved, while another bundle's for the same ID wait too, replace
// them (jobservices/metrics.go, unprocessedPayloads); seen once here, 679
// texts counted of 1,000 written. The output files are the record.
type summary struct {
	texts          int64            // records run through the model
	dead           map[string]int64 // dead letters by reason
	maxConcurrency int64            // most lepton bundles at once in one worker
}

func summarize(res beam.PipelineResult) summary {
	s := summary{dead: map[string]int64{}}
	if res == nil {
		return s
	}
	q := res.Metrics().Query(func(r metrics.SingleResult) bool { return r.Namespace() == "lepton" })
	for _, c := range q.Counters() {
		switch name := c.Name(); {
		case name == "texts":
			s.texts += c.Result()
		case strings.HasPrefix(name, "dead_letters_"):
			s.dead[strings.TrimPrefix(name, "dead_letters_")] += c.Result()
		}
	}
	for _, d := range q.Distributions() {
		if d.Name() == "concurrent_bundles" {
			// Committed values can miss a bundle (below); tentative ones,
			// from progress reports of running bundles, see it too.
			s.maxConcurrency = max(s.maxConcurrency, d.Committed.Max, d.Attempted.Max)
		}
	}
	return s
}

// report prints what the run did, from its metrics (runners that report
// none get the time only).
func report(w io.Writer, c *config, res beam.PipelineResult, took time.Duration) {
	s := summarize(res)
	if c.task == taskDPCount {
		fmt.Fprintf(w, "lepton-beam: counts in %s, %d unreadable report lines in %s (%.1f s)\n", c.output, s.dead[leptonbeam.ReasonParse], c.deadLetter, took.Seconds())
		return
	}
	var dead int64
	var reasons []string
	for r, n := range s.dead {
		dead += n
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	fmt.Fprintf(w, "lepton-beam: %d texts (runner's count) in %.1f s (%.0f texts/s; bundles at once: at most %d), results in %s; %d dead letters",
		s.texts, took.Seconds(), float64(s.texts)/took.Seconds(), s.maxConcurrency, c.output, dead)
	if dead > 0 {
		fmt.Fprintf(w, " (%s) in %s", strings.Join(reasons, ", "), c.deadLetter)
	}
	fmt.Fprintln(w)
}
