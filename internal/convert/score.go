package convert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"lepton/internal/lepfile"
)

// scoreActivation decides how the logit of a single-output head (a
// cross-encoder reranker, a regression head) becomes its score, the way
// sentence-transformers' CrossEncoder does when it loads the folder:
//
//   - config.json's "sentence_transformers": {"activation_fn": ...}
//     (CrossEncoder 4.x), else its "sbert_ce_default_activation_function"
//     (older CrossEncoders), naming a torch.nn module: Sigmoid, Identity or
//     Tanh;
//   - otherwise sigmoid, CrossEncoder's default for one output (and what
//     Hugging Face's text-classification pipeline applies), except for a
//     config whose problem_type is "regression", whose output is the
//     prediction itself (identity).
//
// `lepton quantize --score-activation` overrides the choice.
func scoreActivation(data []byte, problemType string) (string, error) {
	var c struct {
		SentenceTransformers *struct {
			ActivationFn *string `json:"activation_fn"`
		} `json:"sentence_transformers"`
		Legacy *string `json:"sbert_ce_default_activation_function"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("%w: config.json: %v", ErrUnsupported, err)
	}
	switch {
	case c.SentenceTransformers != nil && c.SentenceTransformers.ActivationFn != nil && *c.SentenceTransformers.ActivationFn != "":
		return torchActivation(*c.SentenceTransformers.ActivationFn, "sentence_transformers.activation_fn")
	case c.Legacy != nil && *c.Legacy != "":
		return torchActivation(*c.Legacy, "sbert_ce_default_activation_function")
	case problemType == "regression":
		return "identity", nil
	}
	return "sigmoid", nil
}

// torchActivation maps a torch.nn activation's import path
// ("torch.nn.modules.activation.Sigmoid", "torch.nn.Identity", ...) to a
// score activation name.
func torchActivation(path, key string) (string, error) {
	if strings.HasPrefix(path, "torch.nn.") {
		switch path[strings.LastIndexByte(path, '.')+1:] {
		case "Sigmoid":
			return "sigmoid", nil
		case "Identity":
			return "identity", nil
		case "Tanh":
			return "tanh", nil
		}
	}
	return "", fmt.Errorf("%w: config.json %s %q (supported for a single-output head: torch.nn Sigmoid, Identity, Tanh; or choose with --score-activation)", ErrUnsupported, key, path)
}

// CheckScoreActivation checks a score activation name given by a user
// (`lepton quantize --score-activation`).
func CheckScoreActivation(name string) error {
	if !slices.Contains(lepfile.ScoreActivations, name) {
		return fmt.Errorf("%w: score activation %q (want %s)", ErrUnsupported, name, strings.Join(lepfile.ScoreActivations, ", "))
	}
	return nil
}
