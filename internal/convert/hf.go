package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
	"lepton/internal/safetensors"
	"lepton/tokenize"
)

// hfConfig is the part of a Hugging Face config.json the converter reads.
type hfConfig struct {
	Architectures         []string          `json:"architectures"`
	ModelType             string            `json:"model_type"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	IntermediateSize      int               `json:"intermediate_size"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	TypeVocabSize         *int              `json:"type_vocab_size"`
	LayerNormEps          *float64          `json:"layer_norm_eps"`
	HiddenAct             string            `json:"hidden_act"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	ID2Label              map[string]string `json:"id2label"`
	NumLabels             int               `json:"num_labels"`
	ProblemType           string            `json:"problem_type"`
}

// maxConfigJSON bounds config.json and tokenizer_config.json.
const maxConfigJSON = 16 << 20

// supportedModels names what ParseHFConfig converts, for its errors.
var supportedModels = "bert (BertModel, BertForSequenceClassification, BertForTokenClassification), distilbert (DistilBertModel, DistilBertForSequenceClassification)"

// bertConfig reads the encoder part of a BERT config.json.
func bertConfig(hc *hfConfig) (bert.Config, error) {
	arch := ""
	switch {
	case len(hc.Architectures) == 1 && (hc.Architectures[0] == lepfile.ArchBertModel || hc.Architectures[0] == lepfile.ArchBertClassification ||
		hc.Architectures[0] == lepfile.ArchBertTokenClassification):
		arch = hc.Architectures[0]
	case len(hc.Architectures) == 0 && hc.ModelType == "bert":
		arch = lepfile.ArchBertModel
	default:
		return bert.Config{}, fmt.Errorf("%w: architectures %q (supported: %s)", ErrUnsupported, hc.Architectures, supportedModels)
	}
	if hc.HiddenAct != "gelu" {
		return bert.Config{}, fmt.Errorf("%w: hidden_act %q (only gelu, the erf form, is supported)", ErrUnsupported, hc.HiddenAct)
	}
	if hc.PositionEmbeddingType != "" && hc.PositionEmbeddingType != "absolute" {
		return bert.Config{}, fmt.Errorf("%w: position_embedding_type %q (only absolute is supported)", ErrUnsupported, hc.PositionEmbeddingType)
	}
	cfg := bert.Config{
		Architecture: arch, Layers: hc.NumHiddenLayers, Hidden: hc.HiddenSize, Heads: hc.NumAttentionHeads,
		Intermediate: hc.IntermediateSize, Vocab: hc.VocabSize, MaxPositions: hc.MaxPositionEmbeddings,
		TypeVocab: 2, LayerNormEps: 1e-12, Activation: "gelu",
	}
	if hc.TypeVocabSize != nil {
		cfg.TypeVocab = *hc.TypeVocabSize
	}
	if hc.LayerNormEps != nil {
		cfg.LayerNormEps = float32(*hc.LayerNormEps)
	}
	return cfg, nil
}

// ParseHFConfig converts a Hugging Face config.json into a bert.Config.
// pooling is the default embedding pooling to record ("" picks "cls" for
// classifiers and "mean" for bare encoders, as sentence embedders use).
//
// It reads BERT (model_type bert) and DistilBERT (model_type distilbert)
// configs, for the architectures in lepfile.Architectures (token
// classification: BERT only); anything else
// is refused with ErrUnsupported naming what is supported. A
// classification head with one output (num_labels 1: a cross-encoder
// reranker or a regression head) gets a score activation (see
// scoreActivation); heads with several outputs must be single-label
// classifiers, since Lepton applies a softmax to them.
func ParseHFConfig(data []byte, pooling string) (bert.Config, error) {
	var hc hfConfig
	if err := json.Unmarshal(data, &hc); err != nil {
		return bert.Config{}, fmt.Errorf("%w: config.json: %v", ErrUnsupported, err)
	}
	var (
		cfg bert.Config
		err error
	)
	switch hc.ModelType {
	case "", "bert":
		cfg, err = bertConfig(&hc)
	case "distilbert":
		cfg, err = distilBertConfig(data)
	default:
		err = fmt.Errorf("%w: model_type %q (supported: %s)", ErrUnsupported, hc.ModelType, supportedModels)
	}
	if err != nil {
		return bert.Config{}, err
	}
	arch := cfg.Architecture
	cfg.Pooling = pooling
	if cfg.Pooling == "" {
		cfg.Pooling = "mean"
		if lepfile.IsClassifier(arch) {
			cfg.Pooling = "cls"
		}
	}
	if lepfile.IsClassifier(arch) || arch == lepfile.ArchBertTokenClassification {
		n := len(hc.ID2Label)
		if n == 0 {
			n = hc.NumLabels
		}
		if n < 1 || n > 65536 {
			return bert.Config{}, fmt.Errorf("%w: %s needs id2label or num_labels (found %d labels)", ErrUnsupported, arch, n)
		}
		// Lepton turns the logits of several outputs into probabilities
		// with a softmax, which is what Hugging Face does for single-label
		// classification only; converting other heads would give confident
		// nonsense. One output is a score (scoreActivation).
		switch {
		case arch == lepfile.ArchBertTokenClassification && n < 2:
			return bert.Config{}, fmt.Errorf("%w: %s with %d label (a token classifier takes a softmax over at least 2)", ErrUnsupported, arch, n)
		case arch == lepfile.ArchBertTokenClassification:
			// Always a softmax over the labels, as in Hugging Face's
			// token-classification pipeline; problem_type does not apply.
		case n == 1:
			if cfg.ScoreActivation, err = scoreActivation(data, hc.ProblemType); err != nil {
				return bert.Config{}, err
			}
		case hc.ProblemType != "" && hc.ProblemType != "single_label_classification":
			return bert.Config{}, fmt.Errorf("%w: problem_type %q with %d outputs: Lepton's classifier applies a softmax (single_label_classification)", ErrUnsupported, hc.ProblemType, n)
		}
		cfg.Labels = make([]string, n)
		for i := range cfg.Labels {
			l, ok := hc.ID2Label[strconv.Itoa(i)]
			switch {
			case ok:
				cfg.Labels[i] = l
			case len(hc.ID2Label) == 0:
				cfg.Labels[i] = "LABEL_" + strconv.Itoa(i)
			default:
				keys := make([]string, 0, len(hc.ID2Label))
				for k := range hc.ID2Label {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				return bert.Config{}, fmt.Errorf("%w: id2label keys %q are not 0..%d", ErrUnsupported, keys, n-1)
			}
		}
	}
	if err := lepfile.ValidateConfig(&cfg); err != nil {
		return bert.Config{}, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return cfg, nil
}

// hfName maps a checkpoint tensor name to FromFloat's convention: the
// "bert." prefix of task models is dropped, the old TensorFlow-era
// LayerNorm names gamma/beta become weight/bias, and DistilBERT's names
// become BERT's (distilToBERT). ok is false for tensors the converter does
// not use (position_ids buffers, MLM heads...).
func hfName(name string) (string, bool) {
	n := strings.TrimPrefix(distilToBERT(name), "bert.")
	if strings.Contains(n, "LayerNorm.") {
		n = strings.Replace(n, "LayerNorm.gamma", "LayerNorm.weight", 1)
		n = strings.Replace(n, "LayerNorm.beta", "LayerNorm.bias", 1)
	}
	switch {
	case strings.HasPrefix(n, "embeddings.") && strings.HasSuffix(n, "position_ids"):
		return "", false
	case strings.HasPrefix(n, "embeddings."), strings.HasPrefix(n, "encoder.layer."),
		strings.HasPrefix(n, "pooler."), strings.HasPrefix(n, "classifier."):
		return n, true
	}
	return "", false
}

// FromHF converts a Hugging Face BERT or DistilBERT directory: config.json,
// model.safetensors (F32, F16, BF16 or F64 tensors) and tokenizer.json (or
// vocab.txt with tokenizer_config.json), or a sentence-transformers folder
// built around one (modules.json; see readSentenceFolder). It returns the
// quantised model, the tokenizer blob (tokenize.(*Tokenizer).MarshalBinary,
// stored with lepfile.TokenizerLepton) and provenance metadata for the .lep
// file.
//
// The default max length recorded in the model is what the folder's own
// tools truncate to: sentence_bert_config.json's max_seq_length in a
// sentence-transformers folder, else tokenizer_config.json's
// model_max_length, when shorter than the position table.
func FromHF(dir string, opts Options) (*bert.Model, []byte, lepfile.Metadata, error) {
	return FromHFPooling(dir, "", opts)
}

// FromHFPooling is FromHF with an explicit default pooling (a name
// bert.ParsePooling accepts, such as "cls" or "mean"; "" takes the
// sentence-transformers folder's, else chooses by architecture).
func FromHFPooling(dir, pooling string, opts Options) (*bert.Model, []byte, lepfile.Metadata, error) {
	fail := func(err error) (*bert.Model, []byte, lepfile.Metadata, error) { return nil, nil, nil, err }
	if err := checkDir(dir); err != nil {
		return fail(err)
	}
	sf, err := readSentenceFolder(dir)
	if err != nil {
		return fail(err)
	}
	modelDir := dir
	if sf != nil {
		modelDir = sf.transformerDir
	}
	if opts.ScoreActivation != "" {
		if err := CheckScoreActivation(opts.ScoreActivation); err != nil {
			return fail(err)
		}
	}
	m, tok, meta, err := fromHFDir(modelDir, pooling, opts)
	if err != nil {
		return fail(err)
	}
	cfg := &m.Config
	meta["source"] = filepath.Base(filepath.Clean(dir))
	n, err := tokenizerMaxLength(modelDir)
	if err != nil {
		return fail(err)
	}
	setMaxLength(cfg, meta, n, "tokenizer_config.json model_max_length")
	if sf != nil {
		if err := sf.apply(cfg, meta, pooling, modelDir); err != nil {
			return fail(fmt.Errorf("%s: %w", dir, err))
		}
		meta["default_pooling"] = cfg.Pooling
	}
	if cfg.ScoreActivation != "" {
		meta["score_activation"] = cfg.ScoreActivation
		if opts.ScoreActivation != "" && opts.ScoreActivation != cfg.ScoreActivation {
			meta["score_activation"] = opts.ScoreActivation + " (--score-activation; config.json says " + cfg.ScoreActivation + ")"
			cfg.ScoreActivation = opts.ScoreActivation
		}
	} else if opts.ScoreActivation != "" {
		return fail(fmt.Errorf("%s: %w: a score activation is for single-output heads, and this %s has %d outputs", modelDir, ErrUnsupported, cfg.Architecture, len(cfg.Labels)))
	}
	if err := lepfile.ValidateConfig(cfg); err != nil {
		return fail(fmt.Errorf("%s: %w: %w", dir, ErrUnsupported, err))
	}
	return m, tok, meta, nil
}

// fromHFDir converts the Hugging Face model in dir (FromHFPooling without
// the settings of the folder around it).
func fromHFDir(dir, pooling string, opts Options) (*bert.Model, []byte, lepfile.Metadata, error) {
	fail := func(err error) (*bert.Model, []byte, lepfile.Metadata, error) { return nil, nil, nil, err }
	if err := checkDir(dir); err != nil {
		return fail(err)
	}
	confData, err := readSmall(filepath.Join(dir, "config.json"))
	if err != nil {
		return fail(describeDir(dir, err))
	}
	cfg, err := ParseHFConfig(confData, pooling)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err))
	}
	stPath := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(stPath); err != nil {
		return fail(describeDir(dir, err))
	}
	st, err := safetensors.Open(stPath)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	// Progress covers decoding (one step per checkpoint tensor) and then
	// quantisation (FromFloat's steps).
	_, hasPooler := st.Lookup("bert.pooler.dense.weight")
	for _, name := range []string{"pooler.dense.weight", "pre_classifier.weight"} {
		if _, ok := st.Lookup(name); ok {
			hasPooler = true
		}
	}
	hasPooler = hasPooler && usesPooler(&cfg)
	progress := opts.Progress
	decodeSteps := len(st.Tensors)
	total := decodeSteps + quantSteps(&cfg, hasPooler)
	if progress != nil {
		opts.Progress = func(done, _ int) { progress(decodeSteps+done, total) }
	}
	tensors := map[string][]float32{}
	dtypes := map[string]bool{}
	// Sorted; a BERT pooler counts (FromFloat keeps it for BertModel when
	// present), DistilBertModel has none (a pre_classifier is its
	// classification head's, ignored like the classifier).
	needed := TensorNames(cfg, cfg.Architecture != lepfile.ArchDistilBertModel)
	seen := map[string]bool{}
	var ignored []string // checkpoint tensors the model does not use
	for i := range st.Tensors {
		if progress != nil {
			progress(i+1, total)
		}
		t := &st.Tensors[i]
		name, ok := hfName(t.Name)
		if !ok {
			ignored = append(ignored, t.Name)
			continue
		}
		if seen[name] {
			return fail(fmt.Errorf("%s: %w: %s appears twice (with and without the bert. prefix?)", stPath, ErrMissing, name))
		}
		seen[name] = true
		if _, isNeeded := slices.BinarySearch(needed, name); !isNeeded {
			if err := checkUnused(&cfg, name); err != nil {
				return fail(fmt.Errorf("%s: %w", stPath, err))
			}
			ignored = append(ignored, t.Name)
			continue
		}
		if want := shapeOf(&cfg, name); !slices.Equal(t.Shape, want) {
			return fail(fmt.Errorf("%s: %w: %w: %s has shape %v, config.json implies %v", stPath, ErrMismatch, ErrMissing, t.Name, t.Shape, want))
		}
		v, err := t.Float32()
		if err != nil {
			return fail(fmt.Errorf("%s: %w: %w", stPath, ErrUnsupported, err))
		}
		tensors[name] = v
		dtypes[t.DType] = true
	}
	if _, ok := tensors[NameWord]; !ok {
		names := st.Names()
		return fail(fmt.Errorf("%s: %w: no BERT embeddings (want %s); found %d tensors: %s",
			stPath, ErrMissing, NameWord, len(names), abbreviate(names, 8)))
	}
	// Keep what the metadata needs, then release the mapped checkpoint
	// before quantising: only the decoded floats stay in memory.
	sum := sha256.Sum256(st.Raw)
	stMeta := st.Metadata
	if err := st.Close(); err != nil {
		return fail(err)
	}
	if isDistilBERT(&cfg) {
		if _, ok := tensors[NameTokenType]; !ok {
			tensors[NameTokenType] = make([]float32, cfg.TypeVocab*cfg.Hidden) // no token types: zero rows
		}
	}
	m, err := FromFloat(cfg, tensors, opts)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", stPath, err))
	}
	clear(tensors)

	tok, tokSource, err := loadTokenizer(dir)
	if err != nil {
		return fail(err)
	}
	if tok.VocabSize() > cfg.Vocab {
		return fail(fmt.Errorf("%s: %w: tokenizer has %d tokens but the model only %d word embeddings", tokSource, ErrUnsupported, tok.VocabSize(), cfg.Vocab))
	}
	blob, err := tok.MarshalBinary()
	if err != nil {
		return fail(fmt.Errorf("%s: %w", tokSource, err))
	}

	dts := make([]string, 0, len(dtypes))
	for d := range dtypes {
		dts = append(dts, d)
	}
	sort.Strings(dts)
	meta := lepfile.Metadata{
		"converter":              "lepton quantize",
		"source":                 filepath.Base(filepath.Clean(dir)),
		"source_sha256":          hex.EncodeToString(sum[:]),
		"source_dtype":           strings.Join(dts, ","),
		"tokenizer_source":       filepath.Base(tokSource),
		"quantization":           "int8 symmetric: per-output-channel weights, per-row embeddings, per-token activations",
		"keep_fp32":              strconv.FormatBool(opts.KeepF32),
		"weight_layout":          "I8P16K4",
		"fused_qkv":              "true",
		"default_pooling":        cfg.Pooling,
		"source_tensors_ignored": strconv.Itoa(len(ignored)),
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		meta["source_tensors_ignored_names"] = abbreviate(ignored, 8)
	}
	for k, v := range stMeta {
		meta["safetensors."+k] = v
	}
	var hc hfConfig
	if json.Unmarshal(confData, &hc) == nil && hc.ProblemType != "" {
		meta["problem_type"] = hc.ProblemType
	}
	return m, blob, meta, nil
}

// checkUnused decides about a checkpoint tensor in BERT's namespace that
// the model built from cfg does not use: an encoder layer beyond
// config.json's count, or a tensor of a known layer or of the embeddings
// that this converter does not know, means config.json and the checkpoint
// disagree (or the checkpoint holds a variant this converter would
// silently mistranslate): an error wrapping ErrMismatch. A classifier head
// under a BertModel or DistilBertModel config is left out on purpose (the
// encoder alone is converted) and, like buffers such as token_type_ids, only
// counted.
func checkUnused(cfg *bert.Config, name string) error {
	if rest, ok := strings.CutPrefix(name, "encoder.layer."); ok {
		idx, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(idx); err == nil && n >= cfg.Layers {
			return fmt.Errorf("%w: the checkpoint has %s but config.json says num_hidden_layers %d", ErrMismatch, name, cfg.Layers)
		}
		return fmt.Errorf("%w: the checkpoint has %s, which is not part of a BERT layer as this converter knows it", ErrMismatch, name)
	}
	switch {
	case strings.HasPrefix(name, "embeddings.") && strings.HasSuffix(name, "_ids"):
		return nil // a buffer (token_type_ids), not a weight
	case strings.HasPrefix(name, "embeddings."):
		return fmt.Errorf("%w: the checkpoint has %s, which BERT's embeddings do not have as this converter knows them", ErrMismatch, name)
	case strings.HasPrefix(name, "classifier.") && (cfg.Architecture == lepfile.ArchBertModel || cfg.Architecture == lepfile.ArchDistilBertModel):
		return nil
	case strings.HasPrefix(name, "pooler.") && cfg.Architecture == lepfile.ArchDistilBertModel:
		return nil // DistilBERT's pre_classifier belongs to the classification head
	}
	return fmt.Errorf("%w: the checkpoint has %s, which config.json's %s does not use", ErrMismatch, name, cfg.Architecture)
}

// loadTokenizer reads tokenizer.json, or vocab.txt with the normalisation
// options of tokenizer_config.json, and returns the file it used.
func loadTokenizer(dir string) (*tokenize.Tokenizer, string, error) {
	jsonPath := filepath.Join(dir, "tokenizer.json")
	if data, err := os.ReadFile(jsonPath); err == nil {
		t, err := tokenize.FromJSON(data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", jsonPath, err)
		}
		return t, jsonPath, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	vocabPath := filepath.Join(dir, "vocab.txt")
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", describeDir(dir, &missingFile{name: "tokenizer.json or vocab.txt", err: err})
		}
		return nil, "", err
	}
	// Hugging Face's BertTokenizer defaults: lowercase, split CJK, accents
	// stripped when lowercasing.
	var tc struct {
		DoLowerCase     *bool `json:"do_lower_case"`
		TokenizeChinese *bool `json:"tokenize_chinese_chars"`
		StripAccents    *bool `json:"strip_accents"`
	}
	if b, err := readSmall(filepath.Join(dir, "tokenizer_config.json")); err == nil {
		if err := json.Unmarshal(b, &tc); err != nil {
			return nil, "", fmt.Errorf("%s: %w: %v", filepath.Join(dir, "tokenizer_config.json"), ErrUnsupported, err)
		}
	}
	vo := tokenize.VocabOptions{Lowercase: true, HandleCJK: true, StripAccents: tc.StripAccents}
	if tc.DoLowerCase != nil {
		vo.Lowercase = *tc.DoLowerCase
	}
	if tc.TokenizeChinese != nil {
		vo.HandleCJK = *tc.TokenizeChinese
	}
	t, err := tokenize.FromVocab(data, vo)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", vocabPath, err)
	}
	return t, vocabPath, nil
}

// readSmall reads a JSON side file, refusing absurd sizes.
func readSmall(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxConfigJSON {
		return nil, fmt.Errorf("%s: %w: %d bytes is too large", path, ErrUnsupported, st.Size())
	}
	return os.ReadFile(path)
}

// checkDir reports a model directory that does not exist or is not a
// directory as such, rather than as the first file missing from it.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &dirError{msg: fmt.Sprintf("model directory %s does not exist", dir), err: err}
	case err != nil:
		return err
	case !st.IsDir():
		return &dirError{msg: fmt.Sprintf("%s is not a directory: want a Hugging Face model directory (config.json, model.safetensors, tokenizer.json or vocab.txt)", dir), err: ErrMissingFile}
	}
	return nil
}

// dirError is an error whose message is complete in itself (the wrapped
// error's text, such as "stat DIR: no such file or directory", would only
// repeat it) but that keeps the cause in the chain for errors.Is.
type dirError struct {
	msg string
	err error
}

func (e *dirError) Error() string { return e.msg }
func (e *dirError) Unwrap() error { return e.err }

// missingFile is a required file that is absent from the model directory;
// err is the file-system error (fs.ErrNotExist).
type missingFile struct {
	name string
	err  error
}

func (e *missingFile) Error() string { return "no " + e.name }
func (e *missingFile) Unwrap() error { return e.err }

// describeDir reports a file missing from dir as "model directory DIR has
// no NAME", with the directory listing so the user sees what it holds (e.g.
// only pytorch_model.bin). The error wraps ErrMissingFile and the
// file-system error (fs.ErrNotExist).
func describeDir(dir string, err error) error {
	name := "a required file"
	var mf *missingFile
	var pe *fs.PathError
	switch {
	case errors.As(err, &mf):
		name = mf.name
	case errors.As(err, &pe):
		name = filepath.Base(pe.Path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		// Unreadable rather than absent (permissions, I/O): say so.
		return fmt.Errorf("model directory %s: %w: %w", dir, ErrMissingFile, err)
	}
	msg := fmt.Sprintf("model directory %s has no %s", dir, name)
	ents, derr := os.ReadDir(dir)
	if derr != nil {
		return &dirError{msg: msg, err: errors.Join(ErrMissingFile, err)}
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	hint := ""
	if slices.Contains(names, "pytorch_model.bin") && !slices.Contains(names, "model.safetensors") {
		hint = " (pytorch_model.bin is not supported: save the model with safe_serialization=True)"
	}
	if slices.Contains(names, "model.safetensors.index.json") && !slices.Contains(names, "model.safetensors") {
		hint = " (sharded checkpoints are not supported)"
	}
	msg += fmt.Sprintf("; it holds: %s%s", abbreviate(names, 10), hint)
	return &dirError{msg: msg, err: errors.Join(ErrMissingFile, err)}
}
