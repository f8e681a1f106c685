package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"lepton"
	"lepton/internal/bert"
	"lepton/internal/synth"
	"lepton/models/clinic"
	"lepton/quant"
)

func init() {
	register("bench", "time inference on a model file or a synthetic random-weight model", runBench)
}

// benchResult is the --json output of `lepton bench`. The first eight keys
// are the contract the peer benchmark (bench/peers) reads; ONNX Runtime's
// runner prints the same keys.
type benchResult struct {
	Kernel     string  `json:"kernel"`
	Threads    int     `json:"threads"`
	MedianMS   float64 `json:"median_ms"`
	MinMS      float64 `json:"min_ms"`
	MaxMS      float64 `json:"max_ms"`
	TokensPerS float64 `json:"tokens_per_s"`
	OpenMS     float64 `json:"open_ms"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`

	// CPUMS is the process's CPU time (user+system, every thread) per timed
	// run: close to MedianMS for one thread on an idle machine, and a
	// steadier figure than wall time when other processes compete for cores.
	CPUMS float64 `json:"cpu_ms"`
	// CPUSPer1kTexts is CPU seconds per 1,000 texts of this batch shape
	// (cpu_ms per run / texts per run): the energy-proportional figure,
	// since a busy core's power draw is roughly constant.
	CPUSPer1kTexts float64 `json:"cpu_s_per_1k_texts"`
	Engine         string  `json:"engine"`
	Model          string  `json:"model"`
	Lengths        []int   `json:"lengths"`
	Runs           int     `json:"runs"`
	TextsPerS      float64 `json:"texts_per_s"`
	GoVersion      string  `json:"go_version"`
	ActBits        int     `json:"act_bits"`
}

type benchFlags struct {
	model     string
	synthetic string
	seq       int
	batch     int
	lengths   string
	threads   int
	actBits   int
	runs      int
	warmup    int
	json      bool
	cpuprof   string
}

func parseBenchFlags(args []string, stderr io.Writer) (benchFlags, []int, error) {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&f.model, "m", "", "model file (.lep; default, without --synthetic: the built-in clinic model)")
	fs.StringVar(&f.synthetic, "synthetic", "", "benchmark a deterministic random-weight model of this shape: minilm, base or tiny")
	fs.IntVar(&f.seq, "seq", 128, "tokens per sequence, [CLS] and [SEP] included")
	fs.IntVar(&f.batch, "batch", 1, "sequences per call")
	fs.StringVar(&f.lengths, "lengths", "", "comma-separated sequence lengths of one mixed batch (overrides --seq and --batch)")
	fs.IntVar(&f.threads, "threads", runtime.GOMAXPROCS(0), "worker threads per inference")
	fs.IntVar(&f.actBits, "act-bits", lepton.DefaultActivationBits, "activation precision of the int8 path: 7 or 8 (lepton.WithActivationBits)")
	fs.IntVar(&f.runs, "runs", 20, "timed runs (the median is reported)")
	fs.IntVar(&f.warmup, "warmup", 2, "untimed runs first")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write a CPU profile of the timed runs to this file")
	pos, err := parseArgs(fs, args, stderr, "usage: lepton bench [-m MODEL | --synthetic minilm|base|tiny] [--seq N --batch B | --lengths L1,L2,...] [--threads T] [--act-bits 7|8] [--runs R] [--json]\nWithout -m or --synthetic, times the built-in clinic model.\n")
	if err != nil {
		return f, nil, err // flag.ErrHelp after printing the usage, or an errUsage
	}
	if len(pos) != 0 {
		return f, nil, errUsage{fmt.Sprintf("unexpected arguments %q", pos)}
	}
	if f.model != "" && f.synthetic != "" {
		return f, nil, errUsage{"give -m MODEL or --synthetic SHAPE, not both"}
	}
	if f.actBits != 7 && f.actBits != 8 {
		return f, nil, errUsage{fmt.Sprintf("--act-bits %d: want 7 or 8", f.actBits)}
	}
	if f.threads < 1 || f.runs < 1 || f.warmup < 0 {
		return f, nil, errUsage{"--threads and --runs must be at least 1, --warmup at least 0"}
	}
	var lengths []int
	if f.lengths != "" {
		for _, s := range strings.Split(f.lengths, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 2 {
				return f, nil, errUsage{fmt.Sprintf("--lengths: %q is not a length of at least 2", s)}
			}
			lengths = append(lengths, n)
		}
	} else {
		if f.seq < 2 || f.batch < 1 {
			return f, nil, errUsage{"--seq must be at least 2 and --batch at least 1"}
		}
		for range f.batch {
			lengths = append(lengths, f.seq)
		}
	}
	return f, lengths, nil
}

func runBench(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	f, lengths, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := quant.KernelError(); err != nil {
		return err
	}

	ctx := context.Background()
	var (
		m      *bert.Model
		name   string
		openMS float64
		closer func()
	)
	if f.synthetic != "" {
		spec, err := synth.Lookup(f.synthetic)
		if err != nil {
			return errUsage{err.Error()}
		}
		m, name, openMS, closer, err = openSynthetic(spec)
		if err != nil {
			return err
		}
	} else {
		m, openMS, closer, err = openModelFile(f.model)
		if err != nil {
			return modelFileError(f.model, err)
		}
		name = f.model
		if name == "" {
			name = clinic.Name
		}
	}
	defer closer()
	if max := slices.Max(lengths); max > m.Config.MaxPositions {
		return errUsage{fmt.Sprintf("sequence length %d exceeds the model's %d positions", max, m.Config.MaxPositions)}
	}
	ids, err := synth.Inputs(lengths, m.Config.Vocab, 1)
	if err != nil {
		return errUsage{err.Error()}
	}
	seqs := make([]bert.Sequence, len(ids))
	for i := range ids {
		seqs[i] = bert.Sequence{IDs: ids[i]}
	}
	qp := quant.NewPool(f.threads)
	defer qp.Close()
	ws := &bert.Workspace{Pool: qp, ActBits: f.actBits}
	pool, err := bert.ParsePooling(m.Config.Pooling)
	if err != nil {
		return err
	}
	emb := make([]float32, pool.Dim(m.Config.Hidden)) // several pooling modes concatenate
	infer := func() error {
		if err := m.Forward(ctx, ws, seqs); err != nil {
			return err
		}
		for i := range seqs {
			ws.Embed(emb, i, pool, true)
		}
		return nil
	}
	for range f.warmup {
		if err := infer(); err != nil {
			return err
		}
	}
	if f.cpuprof != "" {
		pf, err := os.Create(f.cpuprof)
		if err != nil {
			return flagError("cpuprofile", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	times := make([]float64, f.runs)
	cpu0 := cpuSeconds()
	for i := range times {
		t0 := time.Now()
		if err := infer(); err != nil {
			return err
		}
		times[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	cpu1 := cpuSeconds()
	r := summarise(times, lengths)
	r.CPUMS = -1
	if cpu0 >= 0 && cpu1 >= 0 {
		r.CPUMS = (cpu1 - cpu0) * 1000 / float64(f.runs)
		r.CPUSPer1kTexts = r.CPUMS / float64(len(lengths))
	}
	r.Kernel, r.Threads, r.OpenMS, r.PeakRSSMB = quant.KernelName(), f.threads, openMS, peakRSSMB()
	r.ActBits = f.actBits
	r.Engine, r.Model, r.GoVersion = "lepton", name, runtime.Version()
	if f.json {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "model    %s (%s)\n", name, m.Config.String())
	fmt.Fprintf(stdout, "kernel   %s, %d-bit activations, %d thread(s), batch %d, lengths %v\n", r.Kernel, r.ActBits, r.Threads, len(lengths), compactLengths(lengths))
	fmt.Fprintf(stdout, "latency  median %.3f ms, min %.3f, max %.3f over %d runs\n", r.MedianMS, r.MinMS, r.MaxMS, r.Runs)
	fmt.Fprintf(stdout, "rate     %.0f tokens/s, %.1f texts/s; CPU %.3f ms per run, %.2f CPU-s per 1,000 texts\n", r.TokensPerS, r.TextsPerS, r.CPUMS, r.CPUSPer1kTexts)
	fmt.Fprintf(stdout, "open     %.2f ms, peak RSS %.1f MB\n", r.OpenMS, r.PeakRSSMB)
	return nil
}

// summarise computes the median (mean of the middle two for even counts),
// extremes and rates of per-run times in milliseconds.
func summarise(times []float64, lengths []int) benchResult {
	s := slices.Clone(times)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	tokens := 0
	for _, l := range lengths {
		tokens += l
	}
	r := benchResult{MedianMS: med, MinMS: s[0], MaxMS: s[n-1], Runs: n, Lengths: lengths}
	if med > 0 {
		r.TokensPerS = float64(tokens) / (med / 1000)
		r.TextsPerS = float64(len(lengths)) / (med / 1000)
	}
	return r
}

func compactLengths(l []int) string {
	if len(l) > 1 && slices.Min(l) == slices.Max(l) {
		return fmt.Sprintf("%dx%d", len(l), l[0])
	}
	return fmt.Sprint(l)
}

// openSynthetic builds the random-weight model, writes it to a temporary
// .lep file and opens that file like any model, so open_ms and peak_rss_mb
// mean the same as with -m. The float tensors used to build the model are
// released and the peak-RSS mark reset before the file is opened, so
// peak_rss_mb measures the open model and inference, not construction.
func openSynthetic(spec synth.Spec) (*bert.Model, string, float64, func(), error) {
	f, err := os.CreateTemp("", "lepton-bench-"+spec.Name+"-*.lep")
	if err != nil {
		return nil, "", 0, nil, err
	}
	path := f.Name()
	f.Close()
	if err := synth.WriteLep(spec, path); err != nil {
		os.Remove(path)
		return nil, "", 0, nil, fmt.Errorf("writing synthetic model: %w", err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	m, ms, closer, err := openModelFile(path)
	if err != nil {
		os.Remove(path)
		return nil, "", 0, nil, err
	}
	return m, "synthetic:" + spec.Name, ms, func() { closer(); os.Remove(path) }, nil
}

// openModelFile opens a .lep file twice: lepton.Open, timed, is what a user
// pays to open a model (map, validate, load the tokenizer) and stays open
// for the whole run, so peak RSS includes the tokenizer; the weights used
// for timing come from a second, untimed mapping of the same file (which
// shares its page cache), because the public API takes texts while
// benchmarks need exact token ids. Validation touches only the header and
// directory, so the second mapping adds a few pages.
//
// An empty path is the built-in clinic model (openModel, openLep).
func openModelFile(path string) (*bert.Model, float64, func(), error) {
	t0 := time.Now()
	pub, err := openModel(path, lepton.WithThreads(1))
	if err != nil {
		return nil, 0, nil, err
	}
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	f, _, err := openLep(path)
	if err != nil {
		pub.Close()
		return nil, 0, nil, err
	}
	return f.Model, ms, func() { f.Close(); pub.Close() }, nil
}

// peakRSSMB returns the process's peak resident set (VmHWM) in MB, or -1
// where /proc is unavailable.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

// resetPeakRSS resets VmHWM to the current RSS (Linux >= 4.0, writing 5 to
// clear_refs); elsewhere it does nothing.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
