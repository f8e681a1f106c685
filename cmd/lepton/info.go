package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"lepton"
	"lepton/internal/lepfile"
	"lepton/quant"
)

func init() {
	register("info", "show a .lep file's config, labels, tensors, sizes and metadata", runInfo)
}

// infoJSON is the --json output of `lepton info`.
type infoJSON struct {
	Path            string            `json:"path"`
	Format          string            `json:"format"`
	SizeBytes       int64             `json:"size_bytes"`
	Mapped          bool              `json:"mapped"`
	Kernel          string            `json:"kernel"`
	ActivationBits  int               `json:"activation_bits"` // default int8-path activation precision, the same on every tier
	Config          configJSON        `json:"config"`
	TokenizerFormat string            `json:"tokenizer_format,omitempty"`
	TokenizerBytes  int               `json:"tokenizer_bytes"`
	HasFloat        bool              `json:"has_fp32_weights"`
	BytesByDType    map[string]int64  `json:"bytes_by_dtype"`
	Metadata        map[string]string `json:"metadata"`
	Sections        []sectionJSON     `json:"sections"`
	Tensors         []tensorJSON      `json:"tensors"`
}

type configJSON struct {
	Architecture string   `json:"architecture"`
	Layers       int      `json:"layers"`
	Hidden       int      `json:"hidden"`
	Heads        int      `json:"heads"`
	Intermediate int      `json:"intermediate"`
	Vocab        int      `json:"vocab"`
	MaxPositions int      `json:"max_positions"`
	TypeVocab    int      `json:"type_vocab"`
	LayerNormEps float32  `json:"layer_norm_eps"`
	Activation   string   `json:"activation"`
	Pooling      string   `json:"pooling"`
	Labels       []string `json:"labels"`
	// Format 1.1: heads and sentence-embedding settings.
	ScoreActivation string            `json:"score_activation,omitempty"`
	Normalize       bool              `json:"normalize,omitempty"`
	IncludePrompt   *bool             `json:"include_prompt,omitempty"`
	Prompts         map[string]string `json:"prompts,omitempty"`
	DefaultPrompt   string            `json:"default_prompt,omitempty"`
	MaxLength       int               `json:"max_length,omitempty"`
}

type sectionJSON struct {
	Kind     string `json:"kind"`
	Required bool   `json:"required"`
	Offset   int64  `json:"offset"`
	Length   int64  `json:"length"`
	CRC32C   string `json:"crc32c"`
}

type tensorJSON struct {
	Name   string `json:"name"`
	DType  string `json:"dtype"`
	Layout string `json:"layout"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

func runInfo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	model := fs.String("m", "", "model file (.lep; default: the built-in clinic model); may also be given as an argument")
	asJSON := fs.Bool("json", false, "print one JSON object")
	path, err := modelArg(fs, args, stderr, `usage: lepton info [[-m] MODEL.lep] [--json]
Without MODEL, describes the built-in clinic model.
`, model)
	if err != nil {
		return err
	}
	f, name, err := openLep(path)
	if err != nil {
		return modelFileError(path, err)
	}
	defer f.Close()
	info := buildInfo(name, f)
	if *asJSON {
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printInfo(stdout, &info)
}

func buildInfo(path string, f *lepfile.File) infoJSON {
	c := f.Model.Config
	info := infoJSON{
		Path: path, Format: fmt.Sprintf("%d.%d", f.Major, f.Minor), SizeBytes: f.Size, Mapped: f.Mapped,
		Kernel: quant.KernelName(), ActivationBits: lepton.DefaultActivationBits,
		Config: configJSON{
			Architecture: c.Architecture, Layers: c.Layers, Hidden: c.Hidden, Heads: c.Heads,
			Intermediate: c.Intermediate, Vocab: c.Vocab, MaxPositions: c.MaxPositions, TypeVocab: c.TypeVocab,
			LayerNormEps: c.LayerNormEps, Activation: c.Activation, Pooling: c.Pooling, Labels: c.Labels,
			ScoreActivation: c.ScoreActivation, Normalize: c.Normalize, Prompts: c.Prompts, DefaultPrompt: c.DefaultPrompt,
			MaxLength: c.MaxLength,
		},
		TokenizerFormat: f.TokenizerFormat, TokenizerBytes: len(f.Tokenizer),
		HasFloat: f.Model.Word.F32 != nil, BytesByDType: map[string]int64{}, Metadata: f.Meta,
	}
	if c.ExcludePrompt {
		info.Config.IncludePrompt = new(bool)
	}
	if info.Metadata == nil {
		info.Metadata = map[string]string{}
	}
	for _, s := range f.Sections {
		info.Sections = append(info.Sections, sectionJSON{s.Kind, s.Required, s.Offset, s.Length, fmt.Sprintf("%08x", s.CRC)})
	}
	for _, t := range f.Tensors {
		layout := "row-major"
		if t.Layout == quant.LayoutI8P16K4 {
			layout = "I8P16K4"
		}
		info.Tensors = append(info.Tensors, tensorJSON{t.Name, t.DType.String(), layout, t.Shape, t.Offset, t.Length})
		info.BytesByDType[t.DType.String()] += t.Length
	}
	return info
}

func printInfo(w io.Writer, info *infoJSON) error {
	c := &info.Config
	mode := "read into memory"
	if info.Mapped {
		mode = "memory-mapped"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s (format %s, %s, %s)\n", info.Path, info.Format, humanBytes(info.SizeBytes), mode)
	fmt.Fprintf(tw, "architecture\t%s\n", c.Architecture)
	fmt.Fprintf(tw, "shape\t%d layers, hidden %d, %d heads, intermediate %d\n", c.Layers, c.Hidden, c.Heads, c.Intermediate)
	fmt.Fprintf(tw, "vocab\t%d word pieces, %d positions, %d token types\n", c.Vocab, c.MaxPositions, c.TypeVocab)
	fmt.Fprintf(tw, "layer norm eps\t%g\n", c.LayerNormEps)
	fmt.Fprintf(tw, "activation\t%s\n", c.Activation)
	fmt.Fprintf(tw, "pooling\t%s\n", c.Pooling)
	if c.Normalize {
		fmt.Fprintf(tw, "normalize\tyes (unit vectors by default)\n")
	}
	if len(c.Prompts) > 0 {
		names := make([]string, 0, len(c.Prompts))
		for n := range c.Prompts {
			names = append(names, fmt.Sprintf("%s=%q", n, c.Prompts[n]))
		}
		sort.Strings(names)
		def := c.DefaultPrompt
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(tw, "prompts\t%s (default %s)\n", strings.Join(names, ", "), def)
	}
	if c.IncludePrompt != nil && !*c.IncludePrompt {
		fmt.Fprintf(tw, "include prompt\tno: pooling leaves out [CLS] and the prompt's tokens\n")
	}
	if c.MaxLength > 0 {
		fmt.Fprintf(tw, "max length\t%d tokens by default\n", c.MaxLength)
	}
	if len(c.Labels) > 0 {
		fmt.Fprintf(tw, "labels\t%s\n", strings.Join(c.Labels, ", "))
	}
	if c.ScoreActivation != "" {
		fmt.Fprintf(tw, "score\t%s of the single output (cross-encoder: lepton rerank)\n", c.ScoreActivation)
	}
	if info.TokenizerFormat != "" {
		fmt.Fprintf(tw, "tokenizer\t%s (%s)\n", info.TokenizerFormat, humanBytes(int64(info.TokenizerBytes)))
	} else {
		fmt.Fprintf(tw, "tokenizer\tnone\n")
	}
	fmt.Fprintf(tw, "fp32 weights\t%v\n", info.HasFloat)
	dts := make([]string, 0, len(info.BytesByDType))
	for d := range info.BytesByDType {
		dts = append(dts, d)
	}
	sort.Strings(dts)
	var parts []string
	for _, d := range dts {
		parts = append(parts, fmt.Sprintf("%s %s", d, humanBytes(info.BytesByDType[d])))
	}
	fmt.Fprintf(tw, "tensor bytes\t%s\n", strings.Join(parts, ", "))
	fmt.Fprintf(tw, "kernel\t%s\n", info.Kernel)
	fmt.Fprintf(tw, "activations\t%d-bit per token by default, on every kernel tier (--act-bits 8 where a command takes it)\n", info.ActivationBits)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(info.Metadata) > 0 {
		fmt.Fprintln(w, "\nmetadata:")
		keys := make([]string, 0, len(info.Metadata))
		for k := range info.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\n", k, info.Metadata[k])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\ntensors:")
	fmt.Fprintf(tw, "  name\tdtype\tlayout\tshape\tbytes\toffset\n")
	for _, t := range info.Tensors {
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = fmt.Sprint(d)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t[%s]\t%d\t%d\n", t.Name, t.DType, t.Layout, strings.Join(dims, " "), t.Length, t.Offset)
	}
	return tw.Flush()
}
