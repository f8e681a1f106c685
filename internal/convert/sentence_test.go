package convert_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"lepton/internal/bert"
	"lepton/internal/convert"
	"lepton/internal/lepfile"
	"lepton/internal/safetensors"
)

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// stModules is modules.json for Transformer (at path) -> Pooling [->
// Normalize].
func stModules(path string, normalize bool) []map[string]any {
	mods := []map[string]any{
		{"idx": 0, "name": "0", "path": path, "type": "sentence_transformers.models.Transformer"},
		{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
	}
	if normalize {
		mods = append(mods, map[string]any{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
	}
	return mods
}

// stDir makes a sentence-transformers folder around a BertModel.
func stDir(t *testing.T, transformerPath string, normalize bool, pooling map[string]any) (string, bert.Config) {
	t.Helper()
	cfg := tinyConfig()
	cfg.Architecture, cfg.Labels, cfg.Pooling = lepfile.ArchBertModel, nil, "mean"
	hf := hfDir(t, cfg, convert.Random(cfg, 5), "", "F32", false, nil)
	dir := t.TempDir()
	tdir := filepath.Join(dir, transformerPath)
	require.NoError(t, os.MkdirAll(tdir, 0o755))
	ents, err := os.ReadDir(hf)
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(hf, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(tdir, e.Name()), b, 0o644))
	}
	writeJSON(t, filepath.Join(dir, "modules.json"), stModules(transformerPath, normalize))
	writeJSON(t, filepath.Join(dir, "1_Pooling", "config.json"), pooling)
	return dir, cfg
}

func TestSentenceTransformersFolder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		path       string
		normalize  bool
		pooling    map[string]any
		extra      func(t *testing.T, dir string)
		want       bert.Config // the fields the folder sets
		wantMeta   map[string]string
		explicitPl string
	}{
		{
			name: "all-MiniLM-L6-v2 style", normalize: true,
			pooling: map[string]any{"word_embedding_dimension": 18, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
				"pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false},
			extra: func(t *testing.T, dir string) {
				writeJSON(t, filepath.Join(dir, "sentence_bert_config.json"), map[string]any{"max_seq_length": 7, "do_lower_case": false})
			},
			want:     bert.Config{Pooling: "mean", Normalize: true, MaxLength: 7},
			wantMeta: map[string]string{"sentence_transformers": "Transformer (.) -> Pooling (1_Pooling) -> Normalize (2_Normalize)", "max_length_source": "sentence_bert_config.json max_seq_length"},
		},
		{
			name: "bge style: cls, normalize, newer flags", normalize: true,
			pooling: map[string]any{"word_embedding_dimension": 18, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false,
				"pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false, "pooling_mode_weightedmean_tokens": false,
				"pooling_mode_lasttoken": false, "include_prompt": true},
			want: bert.Config{Pooling: "cls", Normalize: true},
		},
		{
			name: "old layout in 0_Transformer, max pooling, no Normalize", path: "0_Transformer",
			pooling: map[string]any{"word_embedding_dimension": 18, "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": true},
			want:    bert.Config{Pooling: "max"},
		},
		{
			name: "defaults: mean when the flags are absent; pooling_mode string",
			pooling: map[string]any{"word_embedding_dimension": 18, "pooling_mode": "weightedmean",
				"pooling_mode_mean_tokens": true},
			want: bert.Config{Pooling: "weightedmean"},
		},
		{
			name: "several modes, prompts, include_prompt false", normalize: true,
			pooling: map[string]any{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true, "include_prompt": false},
			extra: func(t *testing.T, dir string) {
				writeJSON(t, filepath.Join(dir, "config_sentence_transformers.json"), map[string]any{
					"prompts": map[string]string{"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query", "similarity_fn_name": "cosine"})
			},
			want: bert.Config{Pooling: "cls+max+mean", Normalize: true, ExcludePrompt: true,
				Prompts: map[string]string{"query": "query: ", "passage": "passage: "}, DefaultPrompt: "query"},
			wantMeta: map[string]string{"similarity_fn_name": "cosine"},
		},
		{
			name: "--pooling wins over the folder", normalize: true, explicitPl: "cls",
			pooling:  map[string]any{"pooling_mode_mean_tokens": true},
			want:     bert.Config{Pooling: "cls", Normalize: true},
			wantMeta: map[string]string{"pooling_source": "--pooling (the folder says mean)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, cfg := stDir(t, tc.path, tc.normalize, tc.pooling)
			if tc.extra != nil {
				tc.extra(t, filepath.Join(dir, tc.path))
			}
			m, tok, meta, err := convert.FromHFPooling(dir, tc.explicitPl, convert.Options{})
			require.NoError(t, err)
			got := m.Config
			require.Equal(t, tc.want.Pooling, got.Pooling)
			require.Equal(t, tc.want.Normalize, got.Normalize)
			require.Equal(t, tc.want.ExcludePrompt, got.ExcludePrompt)
			require.Equal(t, tc.want.Prompts, got.Prompts)
			require.Equal(t, tc.want.DefaultPrompt, got.DefaultPrompt)
			require.Equal(t, tc.want.MaxLength, got.MaxLength)
			require.Equal(t, filepath.Base(dir), meta["source"], "the folder, not its transformer subfolder")
			for k, v := range tc.wantMeta {
				require.Equal(t, v, meta[k], k)
			}
			// The weights are those of the plain conversion.
			plain, _, _, err := convert.FromHF(filepath.Join(dir, tc.path), convert.Options{})
			require.NoError(t, err)
			require.Equal(t, plain.Layers, m.Layers)
			require.Equal(t, cfg.Hidden, got.Hidden)

			// The settings survive the file (format 1.1).
			var buf bytes.Buffer
			require.NoError(t, lepfile.Write(&buf, m, tok, meta))
			f, err := lepfile.OpenBytes(buf.Bytes())
			require.NoError(t, err)
			require.Equal(t, 1, f.Minor)
			got.Labels = []string{} // the file's empty list
			require.Equal(t, got, f.Model.Config)
		})
	}
}

func TestSentenceTransformersFolderErrors(t *testing.T) {
	meanPool := map[string]any{"pooling_mode_mean_tokens": true}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) string
		want  []string
	}{
		{"a Dense module", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			mods := stModules("", false)
			mods = append(mods, map[string]any{"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
			writeJSON(t, filepath.Join(dir, "modules.json"), mods)
			return dir
		}, []string{"Transformer (.) -> Pooling (1_Pooling) -> Dense (2_Dense)", "Dense or LayerNorm"}},
		{"Normalize before Pooling", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			mods := stModules("", true)
			mods[1]["idx"], mods[2]["idx"] = 2, 1
			writeJSON(t, filepath.Join(dir, "modules.json"), mods)
			return dir
		}, []string{"Normalize (2_Normalize) -> Pooling"}},
		{"no Pooling config", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			require.NoError(t, os.Remove(filepath.Join(dir, "1_Pooling", "config.json")))
			return dir
		}, []string{"Pooling module", "no such file"}},
		{"every flag false", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, map[string]any{"pooling_mode_mean_tokens": false})
			return dir
		}, []string{"every pooling_mode_* flag is false"}},
		{"unknown pooling_mode", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, map[string]any{"pooling_mode": "median"})
			return dir
		}, []string{`pooling_mode "median"`}},
		{"dimension mismatch", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, map[string]any{"word_embedding_dimension": 384})
			return dir
		}, []string{"word_embedding_dimension 384", "hidden size 18"}},
		{"module path outside the folder", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			writeJSON(t, filepath.Join(dir, "modules.json"), stModules("../elsewhere", true))
			return dir
		}, []string{"leaves the model folder"}},
		{"default prompt not among the prompts", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			writeJSON(t, filepath.Join(dir, "config_sentence_transformers.json"), map[string]any{"prompts": map[string]string{"q": "q: "}, "default_prompt_name": "query"})
			return dir
		}, []string{`default_prompt_name "query"`}},
		{"do_lower_case with a cased tokenizer", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			writeJSON(t, filepath.Join(dir, "sentence_bert_config.json"), map[string]any{"max_seq_length": 8, "do_lower_case": true})
			writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"do_lower_case": false})
			return dir
		}, []string{"do_lower_case"}},
		{"max_seq_length too short", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			writeJSON(t, filepath.Join(dir, "sentence_bert_config.json"), map[string]any{"max_seq_length": 2})
			return dir
		}, []string{"max_seq_length 2"}},
		{"a classifier under a Pooling module", func(t *testing.T) string {
			dir := hfDir(t, tinyConfig(), convert.Random(tinyConfig(), 3), "bert.", "F32", false, nil)
			writeJSON(t, filepath.Join(dir, "modules.json"), stModules("", false))
			writeJSON(t, filepath.Join(dir, "1_Pooling", "config.json"), meanPool)
			return dir
		}, []string{"Pooling module over a BertForSequenceClassification"}},
		{"modules.json not JSON", func(t *testing.T) string {
			dir, _ := stDir(t, "", true, meanPool)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "modules.json"), []byte("[{"), 0o644))
			return dir
		}, []string{"modules.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := convert.FromHF(tc.setup(t), convert.Options{})
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestSentenceLowercaseTokenizer: do_lower_case with an uncased
// tokenizer (the usual case) converts.
func TestSentenceLowercaseTokenizer(t *testing.T) {
	dir, _ := stDir(t, "", true, map[string]any{"pooling_mode_mean_tokens": true})
	writeJSON(t, filepath.Join(dir, "sentence_bert_config.json"), map[string]any{"max_seq_length": 8, "do_lower_case": true})
	_, _, _, err := convert.FromHF(dir, convert.Options{})
	require.NoError(t, err)
}

// distilDir writes the tensors of a BERT model (convert.Random names) as a
// DistilBERT checkpoint of the same weights: DistilBERT's names, no token
// type table, the pooler as pre_classifier.
func distilDir(t *testing.T, cfg bert.Config, ts map[string][]float32, extra map[string]any) string {
	t.Helper()
	dir := hfDir(t, cfg, map[string][]float32{}, "", "F32", false, nil) // vocab.txt
	hc := map[string]any{
		"architectures": []string{cfg.Architecture}, "model_type": "distilbert", "vocab_size": cfg.Vocab,
		"dim": cfg.Hidden, "n_layers": cfg.Layers, "n_heads": cfg.Heads, "hidden_dim": cfg.Intermediate,
		"max_position_embeddings": cfg.MaxPositions, "activation": "gelu", "sinusoidal_pos_embds": false,
		"dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "initializer_range": 0.02,
	}
	if len(cfg.Labels) > 0 {
		id2label := map[string]string{}
		for i, l := range cfg.Labels {
			id2label[string(rune('0'+i))] = l
		}
		hc["id2label"] = id2label
	}
	for k, v := range extra {
		if v == nil {
			delete(hc, k)
		} else {
			hc[k] = v
		}
	}
	writeJSON(t, filepath.Join(dir, "config.json"), hc)
	rename := strings.NewReplacer(
		"encoder.layer.", "transformer.layer.",
		"attention.self.query", "attention.q_lin", "attention.self.key", "attention.k_lin",
		"attention.self.value", "attention.v_lin", "attention.output.dense", "attention.out_lin",
		"attention.output.LayerNorm", "sa_layer_norm", "intermediate.dense", "ffn.lin1",
		"output.dense", "ffn.lin2", "output.LayerNorm", "output_layer_norm")
	prefix := ""
	if lepfile.IsClassifier(cfg.Architecture) {
		prefix = "distilbert."
	}
	var tensors []safetensors.Tensor
	for n, v := range ts {
		name := prefix + rename.Replace(n)
		switch {
		case n == convert.NameTokenType:
			continue
		case strings.HasPrefix(n, "pooler.dense."):
			if !lepfile.IsClassifier(cfg.Architecture) {
				continue
			}
			name = "pre_classifier." + strings.TrimPrefix(n, "pooler.dense.")
		case strings.HasPrefix(n, "classifier."):
			name = n
		}
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: "F32", Shape: shapeFor(cfg, n), Data: safetensors.F32Bytes(v)})
	}
	// The MLM head of a DistilBertForMaskedLM checkpoint, which is ignored.
	tensors = append(tensors, safetensors.Tensor{Name: "vocab_projector.bias", DType: "F32", Shape: []int{cfg.Vocab}, Data: make([]byte, 4*cfg.Vocab)},
		safetensors.Tensor{Name: prefix + "embeddings.position_ids", DType: "I64", Shape: []int{1, cfg.MaxPositions}, Data: make([]byte, 8*cfg.MaxPositions)})
	var buf bytes.Buffer
	require.NoError(t, safetensors.Write(&buf, tensors, nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), buf.Bytes(), 0o644))
	return dir
}

// TestDistilBERT: a DistilBERT checkpoint converts to exactly the model its
// weights make under BERT's names with a zero token type table, the ReLU
// head for the classifier and no pooler for the encoder.
func TestDistilBERT(t *testing.T) {
	for _, arch := range []string{lepfile.ArchDistilBertClassification, lepfile.ArchDistilBertModel} {
		t.Run(arch, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.Architecture = arch
			if arch == lepfile.ArchDistilBertModel {
				cfg.Labels, cfg.Pooling = nil, "mean"
			}
			cfg.PoolerActivation = lepfile.PoolerActivation(arch)
			ts := convert.Random(cfg, 13)
			m, tok, meta, err := convert.FromHF(distilDir(t, cfg, ts, nil), convert.Options{})
			require.NoError(t, err)

			ts[convert.NameTokenType] = make([]float32, cfg.TypeVocab*cfg.Hidden)
			if arch == lepfile.ArchDistilBertModel {
				delete(ts, convert.NamePooler+".weight")
				delete(ts, convert.NamePooler+".bias")
			}
			want, err := convert.FromFloat(cfg, ts, convert.Options{})
			require.NoError(t, err)
			require.Equal(t, want, m)
			require.Equal(t, arch == lepfile.ArchDistilBertClassification, m.Pooler != nil)
			require.Equal(t, cfg.PoolerActivation, m.Config.PoolerActivation)
			require.Equal(t, "2", meta["source_tensors_ignored"], "position_ids and the MLM head")

			var buf bytes.Buffer
			require.NoError(t, lepfile.Write(&buf, m, tok, meta))
			f, err := lepfile.OpenBytes(buf.Bytes())
			require.NoError(t, err)
			require.Equal(t, 1, f.Minor, "DistilBERT needs format 1.1")
			want2 := m.Config
			if want2.Labels == nil {
				want2.Labels = []string{} // the file's empty list
			}
			require.Equal(t, want2, f.Model.Config)
			require.NoError(t, f.Model.Validate())
		})
	}
}

func TestDistilBERTErrors(t *testing.T) {
	cfg := tinyConfig()
	cfg.Architecture = lepfile.ArchDistilBertClassification
	ts := convert.Random(cfg, 3)
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  []string
	}{
		{"sinusoidal positions", map[string]any{"sinusoidal_pos_embds": true}, []string{"sinusoidal_pos_embds"}},
		{"relu FFN", map[string]any{"activation": "relu"}, []string{`activation "relu"`}},
		{"masked LM", map[string]any{"architectures": []string{"DistilBertForMaskedLM"}}, []string{"DistilBertForMaskedLM", "supported: bert (BertModel"}},
		{"multi-label head", map[string]any{"problem_type": "multi_label_classification"}, []string{"multi_label_classification"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := convert.FromHF(distilDir(t, cfg, ts, tc.extra), convert.Options{})
			require.ErrorIs(t, err, convert.ErrUnsupported)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestScoreActivation: a single-output head (cross-encoder) converts with
// the score activation its config.json implies, or the one asked for.
func TestScoreActivation(t *testing.T) {
	cfg := tinyConfig()
	cfg.Labels = []string{"LABEL_0"}
	ts := convert.Random(cfg, 8)
	for _, tc := range []struct {
		name   string
		extra  map[string]any
		opt    string
		want   string
		reject string
	}{
		{"no hint: sigmoid (CrossEncoder's default)", nil, "", "sigmoid", ""},
		{"regression problem: identity", map[string]any{"problem_type": "regression"}, "", "identity", ""},
		{"CrossEncoder 4.x", map[string]any{"sentence_transformers": map[string]any{"activation_fn": "torch.nn.modules.linear.Identity", "version": "4.0.1"}}, "", "identity", ""},
		{"older CrossEncoder", map[string]any{"sbert_ce_default_activation_function": "torch.nn.modules.activation.Tanh"}, "", "tanh", ""},
		{"short torch path", map[string]any{"sbert_ce_default_activation_function": "torch.nn.Sigmoid"}, "", "sigmoid", ""},
		{"null legacy key", map[string]any{"sbert_ce_default_activation_function": nil}, "", "sigmoid", ""},
		{"override", map[string]any{"sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity"}, "sigmoid", "sigmoid", ""},
		{"not torch", map[string]any{"sbert_ce_default_activation_function": "mypkg.Sigmoid"}, "", "", "mypkg.Sigmoid"},
		{"bad override", nil, "softmax", "", `score activation "softmax"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]any{"id2label": map[string]string{"0": "LABEL_0"}}
			for k, v := range tc.extra {
				extra[k] = v
			}
			m, _, meta, err := convert.FromHF(hfDir(t, cfg, ts, "bert.", "F32", false, extra), convert.Options{ScoreActivation: tc.opt})
			if tc.reject != "" {
				require.ErrorIs(t, err, convert.ErrUnsupported)
				require.Contains(t, err.Error(), tc.reject)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Config.ScoreActivation)
			require.Contains(t, meta["score_activation"], tc.want)
		})
	}
	// A score activation for a multi-output head is a usage error.
	_, _, _, err := convert.FromHF(hfDir(t, tinyConfig(), convert.Random(tinyConfig(), 1), "bert.", "F32", false, nil), convert.Options{ScoreActivation: "sigmoid"})
	require.ErrorIs(t, err, convert.ErrUnsupported)
	require.Contains(t, err.Error(), "2 outputs")
}

// TestTokenizerMaxLength: tokenizer_config.json's model_max_length becomes
// the default max length when shorter than the position table.
func TestTokenizerMaxLength(t *testing.T) {
	cfg := tinyConfig()
	for _, tc := range []struct {
		value any
		want  int
	}{{6, 6}, {9, 0}, {512, 0}, {1e30, 0}, {nil, 0}} {
		dir := hfDir(t, cfg, convert.Random(cfg, 2), "bert.", "F32", false, nil)
		if tc.value != nil {
			writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"model_max_length": tc.value})
		}
		m, _, meta, err := convert.FromHF(dir, convert.Options{})
		require.NoError(t, err)
		require.Equal(t, tc.want, m.Config.MaxLength, "%v", tc.value)
		if tc.want != 0 {
			require.Equal(t, "tokenizer_config.json model_max_length", meta["max_length_source"])
		}
	}
}

// TestDistilBERTEncoderIgnoresHead: a DistilBertForSequenceClassification
// checkpoint under a DistilBertModel config converts the encoder alone and
// counts the head (pre_classifier, classifier) as ignored, as BertModel does
// with a BERT classifier.
func TestDistilBERTEncoderIgnoresHead(t *testing.T) {
	enc := tinyConfig()
	enc.Architecture = lepfile.ArchDistilBertModel
	enc.Labels, enc.Pooling = nil, "mean"
	enc.PoolerActivation = lepfile.PoolerActivation(enc.Architecture)
	dir := distilDir(t, enc, convert.Random(enc, 17), nil)
	h := enc.Hidden
	addTensors(t, dir, map[string][]int{
		"distilbert.pre_classifier.weight": {h, h}, "distilbert.pre_classifier.bias": {h},
		"classifier.weight": {2, h}, "classifier.bias": {2},
	})
	m, _, meta, err := convert.FromHF(dir, convert.Options{})
	require.NoError(t, err)
	require.Nil(t, m.Classifier)
	require.Nil(t, m.Pooler)
	require.Equal(t, "6", meta["source_tensors_ignored"], "position_ids, the MLM head and the classification head's 4 tensors: %s", meta["source_tensors_ignored_names"])
	for _, n := range []string{"distilbert.pre_classifier.weight", "classifier.bias"} {
		require.Contains(t, meta["source_tensors_ignored_names"], n)
	}
}
