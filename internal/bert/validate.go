package bert

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors of the forward pass. Callers test them with errors.Is; the
// wrapped message says which tensor or which input is at fault.
var (
	// ErrModel reports a model whose tensors disagree with its config. A
	// model that passes Validate never makes the forward pass index out of
	// range, whatever file it came from.
	ErrModel = errors.New("bert: invalid model")
	// ErrInput reports a token sequence the model cannot run: empty, longer
	// than the position table, or with ids outside the vocabulary.
	ErrInput = errors.New("bert: invalid input")
)

// maxDim bounds every dimension so that products of two dimensions cannot
// overflow int on 32-bit platforms and hostile configs cannot ask for
// absurd scratch buffers.
const maxDim = 1 << 20

// Validate checks that every tensor of m agrees with m.Config. The loader
// validates offsets and lengths of the file; Validate checks the semantic
// shape the forward pass relies on, so Forward can index without checks.
func (m *Model) Validate() error {
	c := &m.Config
	for _, d := range []struct {
		name string
		v    int
	}{{"layers", c.Layers}, {"hidden", c.Hidden}, {"heads", c.Heads}, {"intermediate", c.Intermediate},
		{"vocab", c.Vocab}, {"max positions", c.MaxPositions}, {"type vocab", c.TypeVocab}} {
		if d.v <= 0 || d.v > maxDim {
			return fmt.Errorf("%w: config %s = %d", ErrModel, d.name, d.v)
		}
	}
	if c.Hidden%c.Heads != 0 {
		return fmt.Errorf("%w: hidden %d not divisible by heads %d", ErrModel, c.Hidden, c.Heads)
	}
	if c.Activation != "gelu" {
		return fmt.Errorf("%w: activation %q (only erf \"gelu\" is supported)", ErrModel, c.Activation)
	}
	if !(c.LayerNormEps > 0) || math.IsInf(float64(c.LayerNormEps), 0) {
		return fmt.Errorf("%w: layer norm eps %v", ErrModel, c.LayerNormEps)
	}
	if err := c.validateHeads(); err != nil {
		return err
	}
	if len(m.Layers) != c.Layers {
		return fmt.Errorf("%w: config has %d layers, model %d", ErrModel, c.Layers, len(m.Layers))
	}
	h := c.Hidden
	if err := m.Word.check("word embeddings", c.Vocab, h); err != nil {
		return err
	}
	if err := m.Position.check("position embeddings", c.MaxPositions, h); err != nil {
		return err
	}
	if err := m.TokenType.check("token type embeddings", c.TypeVocab, h); err != nil {
		return err
	}
	if err := m.EmbLN.check("embeddings LayerNorm", h); err != nil {
		return err
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("layer %d ", i)
		if err := l.QKV.check(p+"qkv", 3*h, h); err != nil {
			return err
		}
		if err := l.AttnOut.check(p+"attention output", h, h); err != nil {
			return err
		}
		if err := l.AttnLN.check(p+"attention LayerNorm", h); err != nil {
			return err
		}
		if err := l.Inter.check(p+"intermediate", c.Intermediate, h); err != nil {
			return err
		}
		if err := l.Output.check(p+"output", h, c.Intermediate); err != nil {
			return err
		}
		if err := l.OutLN.check(p+"output LayerNorm", h); err != nil {
			return err
		}
	}
	if m.Pooler != nil {
		if err := m.Pooler.check("pooler", h, h); err != nil {
			return err
		}
	}
	if m.Classifier != nil {
		n := m.Classifier.W.N
		if err := m.Classifier.check("classifier", n, h); err != nil {
			return err
		}
		if len(c.Labels) != 0 && len(c.Labels) != n {
			return fmt.Errorf("%w: %d labels for a classifier with %d outputs", ErrModel, len(c.Labels), n)
		}
	}
	if m.TokenClassifier != nil {
		if m.Classifier != nil {
			return fmt.Errorf("%w: both a sequence and a token classifier head", ErrModel)
		}
		n := m.TokenClassifier.W.N
		if err := m.TokenClassifier.check("token classifier", n, h); err != nil {
			return err
		}
		if len(c.Labels) != 0 && len(c.Labels) != n {
			return fmt.Errorf("%w: %d labels for a token classifier with %d outputs", ErrModel, len(c.Labels), n)
		}
	}
	return nil
}

func (e *Embedding) check(name string, rows, dim int) error {
	if e.Rows != rows || e.Dim != dim {
		return fmt.Errorf("%w: %s are %dx%d, want %dx%d", ErrModel, name, e.Rows, e.Dim, rows, dim)
	}
	if len(e.Data) != rows*dim || len(e.Scales) != rows {
		return fmt.Errorf("%w: %s has %d values and %d scales for %dx%d", ErrModel, name, len(e.Data), len(e.Scales), rows, dim)
	}
	if e.F32 != nil && len(e.F32) != rows*dim {
		return fmt.Errorf("%w: %s float copy has %d values for %dx%d", ErrModel, name, len(e.F32), rows, dim)
	}
	return nil
}

func (l *Linear) check(name string, n, k int) error {
	if l.W.N != n || l.W.K != k {
		return fmt.Errorf("%w: %s weight is %dx%d, want %dx%d", ErrModel, name, l.W.N, l.W.K, n, k)
	}
	if n <= 0 || n > 4*maxDim {
		return fmt.Errorf("%w: %s has %d outputs", ErrModel, name, n)
	}
	if err := l.W.Validate(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrModel, name, err)
	}
	if len(l.Bias) != n {
		return fmt.Errorf("%w: %s bias has %d values, want %d", ErrModel, name, len(l.Bias), n)
	}
	if l.F32 != nil && len(l.F32) != n*k {
		return fmt.Errorf("%w: %s float weight has %d values, want %d", ErrModel, name, len(l.F32), n*k)
	}
	return nil
}

func (ln *LayerNorm) check(name string, h int) error {
	if len(ln.Gamma) != h || len(ln.Beta) != h {
		return fmt.Errorf("%w: %s has %d/%d parameters, want %d", ErrModel, name, len(ln.Gamma), len(ln.Beta), h)
	}
	return nil
}

// checkSeqs validates token sequences against the model's tables.
func (m *Model) checkSeqs(seqs []Sequence) error {
	c := &m.Config
	for i, s := range seqs {
		if len(s.IDs) == 0 {
			return fmt.Errorf("%w: sequence %d is empty", ErrInput, i)
		}
		if len(s.IDs) > c.MaxPositions {
			return fmt.Errorf("%w: sequence %d has %d tokens, the model takes at most %d", ErrInput, i, len(s.IDs), c.MaxPositions)
		}
		if s.TypeIDs != nil && len(s.TypeIDs) != len(s.IDs) {
			return fmt.Errorf("%w: sequence %d has %d ids and %d type ids", ErrInput, i, len(s.IDs), len(s.TypeIDs))
		}
		for j, id := range s.IDs {
			if id < 0 || int(id) >= c.Vocab {
				return fmt.Errorf("%w: sequence %d token %d: id %d outside vocabulary of %d", ErrInput, i, j, id, c.Vocab)
			}
		}
		for j, id := range s.TypeIDs {
			if id < 0 || int(id) >= c.TypeVocab {
				return fmt.Errorf("%w: sequence %d token %d: type id %d outside %d token types", ErrInput, i, j, id, c.TypeVocab)
			}
		}
	}
	return nil
}
