package bert

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Pooling is a set of ways to turn a sequence's final hidden states into one
// sentence embedding: the modes of sentence-transformers' Pooling module.
// Several modes may be set; their vectors are then concatenated in the
// order of the constants below, the order sentence-transformers uses, and
// the embedding has Dim(hidden) values.
type Pooling uint8

// Pooling modes, in concatenation order.
const (
	PoolCLS          Pooling = 1 << iota // the first ([CLS]) token's hidden state
	PoolMax                              // the maximum over the pooled tokens, per dimension
	PoolMean                             // the mean over the pooled tokens
	PoolMeanSqrtLen                      // the sum over the pooled tokens divided by sqrt(their count)
	PoolWeightedMean                     // the mean weighted by position (1, 2, ...; SGPT)
	PoolLastToken                        // the last pooled token's hidden state

	poolAll = PoolCLS | PoolMax | PoolMean | PoolMeanSqrtLen | PoolWeightedMean | PoolLastToken
)

// poolNames are the config names of the modes, in bit order.
var poolNames = [...]string{"cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"}

// ParsePooling parses a pooling as stored in a model's config: one mode
// name ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean",
// "lasttoken"; sentence-transformers' names) or several joined by "+", in
// any order, each at most once. An empty name means PoolCLS, as in files
// written before the other modes existed; "CLS" and "MEAN" are accepted for
// the same reason.
func ParsePooling(s string) (Pooling, error) {
	switch s {
	case "", "CLS":
		return PoolCLS, nil
	case "MEAN":
		return PoolMean, nil
	}
	var p Pooling
	for rest, more := s, true; more; {
		// strings.Cut, not Split: Embed parses the model's pooling on
		// every call, which must not allocate.
		var name string
		name, rest, more = strings.Cut(rest, "+")
		i := 0
		for i < len(poolNames) && poolNames[i] != name {
			i++
		}
		if i == len(poolNames) {
			return 0, fmt.Errorf("%w: unknown pooling %q (want %s, or several joined by +)", ErrInput, name, strings.Join(poolNames[:], ", "))
		}
		if p&(1<<i) != 0 {
			return 0, fmt.Errorf("%w: pooling %q names %s twice", ErrInput, s, name)
		}
		p |= 1 << i
	}
	return p, nil
}

// String returns the config name of p: its modes joined by "+" in
// concatenation order ("cls" for the empty set, which ParsePooling never
// returns).
func (p Pooling) String() string {
	var names []string
	for i, n := range poolNames {
		if p&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "cls"
	}
	return strings.Join(names, "+")
}

// Dim is the length of an embedding pooled with p from hidden states of
// size hidden.
func (p Pooling) Dim(hidden int) int {
	return max(1, bits.OnesCount8(uint8(p&poolAll))) * hidden
}

// maskedMax is what sentence-transformers' max pooling gives a dimension
// when no token is pooled: masked tokens are set to -1e9 before the max.
const maskedMax = -1e9

// The mean poolings sum a block of poolBlock columns at a time, walking
// the rows in order: each column's sum keeps its order (so its bits), but
// the walk is along rows in memory and the columns' sums are independent,
// where one column at a time would stride through memory on one serial
// chain of additions.
const poolBlock = 64

// PoolInto writes the embedding of one sequence into dst (len
// mode.Dim(h)): hidden holds the sequence's final hidden states, [n][h]
// row-major. skip is the number of leading tokens left out of the masked
// modes (every mode but CLS): sentence-transformers' include_prompt=false,
// which drops [CLS] and the prompt's tokens. normalize scales the whole
// vector to unit L2 norm (the Normalize module; a zero vector stays zero).
//
// Each mode follows sentence-transformers' Pooling.forward with the
// sequence's real tokens as the attention mask: with nothing left to pool,
// mean, mean_sqrt_len_tokens, weightedmean and lasttoken give zeros and max
// gives -1e9. Sums run in float64 (sequences can be hundreds of tokens
// long), so results agree with PyTorch's float32 to rounding.
func PoolInto(dst, hidden []float32, h int, mode Pooling, skip int, normalize bool) {
	if mode&poolAll == 0 {
		mode = PoolCLS
	}
	n := len(hidden) / h
	skip = min(max(skip, 0), n)
	out := dst[:0]
	for bit := PoolCLS; bit <= PoolLastToken; bit <<= 1 {
		if mode&bit == 0 {
			continue
		}
		v := dst[len(out) : len(out)+h]
		out = dst[:len(out)+h]
		switch bit {
		case PoolCLS:
			copy(v, hidden[:h])
		case PoolMax:
			for d := range v {
				m := float32(maskedMax)
				for r := skip; r < n; r++ {
					m = max(m, hidden[r*h+d])
				}
				v[d] = m
			}
		case PoolMean, PoolMeanSqrtLen:
			div := float64(n - skip)
			if bit == PoolMeanSqrtLen {
				div = math.Sqrt(div)
			}
			for d0 := 0; d0 < h; d0 += poolBlock {
				var acc [poolBlock]float64
				cols := acc[:min(poolBlock, h-d0)]
				for r := skip; r < n; r++ {
					for j, x := range hidden[r*h+d0 : r*h+d0+len(cols)] {
						cols[j] += float64(x)
					}
				}
				for j, s := range cols {
					if div > 0 {
						s /= div
					}
					v[d0+j] = float32(s)
				}
			}
		case PoolWeightedMean:
			// Weights are 1-based positions in the sequence, prompt tokens
			// included in the count but not in the sum.
			var wsum float64
			for r := skip; r < n; r++ {
				wsum += float64(r + 1)
			}
			for d0 := 0; d0 < h; d0 += poolBlock {
				var acc [poolBlock]float64
				cols := acc[:min(poolBlock, h-d0)]
				for r := skip; r < n; r++ {
					wr := float64(r + 1)
					for j, x := range hidden[r*h+d0 : r*h+d0+len(cols)] {
						cols[j] += wr * float64(x)
					}
				}
				for j, s := range cols {
					if wsum > 0 {
						s /= wsum
					}
					v[d0+j] = float32(s)
				}
			}
		case PoolLastToken:
			if skip < n {
				copy(v, hidden[(n-1)*h:n*h])
			} else {
				clear(v)
			}
		}
	}
	if normalize {
		L2Normalize(out)
	}
}

// L2Normalize scales v to unit Euclidean norm in place; a zero vector is
// left unchanged.
func L2Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}

// Embed writes the embedding of sequence i of the last batch into dst
// (len mode.Dim(hidden)) with PoolInto, no tokens skipped.
func (w *Workspace) Embed(dst []float32, i int, mode Pooling, normalize bool) {
	PoolInto(dst, w.Hidden(i), w.hidden, mode, 0, normalize)
}

// RefPool pools reference hidden states ([n][h]) like Workspace.Embed.
func RefPool(hidden []float32, h int, mode Pooling, normalize bool) []float32 {
	out := make([]float32, mode.Dim(h))
	PoolInto(out, hidden, h, mode, 0, normalize)
	return out
}

// poolerActivation applies the activation between the pooler (or
// DistilBERT's pre_classifier) and the classifier in place: tanh for BERT
// (Config.PoolerActivation "" or "tanh"), ReLU for DistilBERT ("relu").
// Validate refuses other names.
func poolerActivation(x []float32, name string) {
	if name == "relu" {
		for i, v := range x {
			x[i] = max(v, 0)
		}
		return
	}
	for i, v := range x {
		x[i] = float32(math.Tanh(float64(v)))
	}
}

// refPoolerActivation is poolerActivation on the reference path's float64.
func refPoolerActivation(x []float64, name string) {
	for i, v := range x {
		if name == "relu" {
			x[i] = max(v, 0)
		} else {
			x[i] = math.Tanh(v)
		}
	}
}

// validateHeads checks the settings around the encoder: pooling, the
// pooler's activation, the score activation, prompts and the default max
// length.
func (c *Config) validateHeads() error {
	if _, err := ParsePooling(c.Pooling); err != nil {
		return fmt.Errorf("%w: %v", ErrModel, err)
	}
	switch c.PoolerActivation {
	case "", "tanh", "relu":
	default:
		return fmt.Errorf("%w: pooler activation %q (want tanh or relu)", ErrModel, c.PoolerActivation)
	}
	switch c.ScoreActivation {
	case "", "sigmoid", "identity", "tanh":
	default:
		return fmt.Errorf("%w: score activation %q (want sigmoid, identity or tanh)", ErrModel, c.ScoreActivation)
	}
	if c.MaxLength < 0 || c.MaxLength > c.MaxPositions {
		return fmt.Errorf("%w: default max length %d outside 0..%d (max positions)", ErrModel, c.MaxLength, c.MaxPositions)
	}
	if _, ok := c.Prompts[c.DefaultPrompt]; c.DefaultPrompt != "" && !ok {
		return fmt.Errorf("%w: default prompt %q is not one of the model's prompts", ErrModel, c.DefaultPrompt)
	}
	return nil
}

// Score applies a single-output head's score activation (Config.
// ScoreActivation) to its logit.
func Score(logit float32, activation string) float32 {
	switch activation {
	case "sigmoid":
		return float32(1 / (1 + math.Exp(-float64(logit))))
	case "tanh":
		return float32(math.Tanh(float64(logit)))
	}
	return logit
}
