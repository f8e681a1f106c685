package bert

import (
	"context"
	"fmt"
	"math"

	"lepton/quant"
)

// RefOutput is the result of the float reference path for one sequence.
type RefOutput struct {
	Hidden []float32 // [len][hidden] final hidden states
	Pooled []float32 // pooler output (tanh dense on [CLS]); nil without a pooler
	Logits []float32 // classifier scores; nil without a classifier
	// TokenLogits holds the token classifier's scores, [len][labels];
	// nil without a token head.
	TokenLogits []float32
}

// Reference runs one sequence through the model with straightforward loops,
// float weights and float64 accumulation. It is the yardstick the int8 path
// is measured against and the path that reproduces PyTorch / ONNX Runtime
// to ~1e-5. It uses the float copies of the weights (Linear.F32,
// Embedding.F32, present in files written with --keep-fp32) and falls back
// to dequantised int8 weights where a copy is missing, in which case it
// measures only the error of quantising activations.
//
// It is slow (no packing, no threads, allocations per call) by design: it
// shares no code with Forward beyond the model struct, so a bug in one
// shows up as a difference against the other. ctx is looked at for every
// row of every matrix product and of attention, so a cancelled call returns
// ctx.Err() promptly. ReferenceScratch bounds what it allocates.
func (m *Model) Reference(ctx context.Context, s Sequence) (*RefOutput, error) {
	if err := m.checkSeqs([]Sequence{s}); err != nil {
		return nil, err
	}
	c := &m.Config
	h, n := c.Hidden, len(s.IDs)
	eps := float64(c.LayerNormEps)

	word, pos, typ := m.Word.floats(), m.Position.floats(), m.TokenType.floats()
	x := make([]float64, n*h)
	for p, id := range s.IDs {
		var tt int32
		if s.TypeIDs != nil {
			tt = s.TypeIDs[p]
		}
		for d := 0; d < h; d++ {
			x[p*h+d] = float64(word[int(id)*h+d]) + float64(pos[p*h+d]) + float64(typ[int(tt)*h+d])
		}
		refLayerNorm(x[p*h:(p+1)*h], m.EmbLN, eps)
	}

	heads := c.Heads
	dh := h / heads
	for li := range m.Layers {
		l := &m.Layers[li]
		qkv, err := refLinear(ctx, x, n, h, &l.QKV)
		if err != nil {
			return nil, err
		}
		ctxv := make([]float64, n*h)
		scores := make([]float64, n)
		for hd := 0; hd < heads; hd++ {
			for i := 0; i < n; i++ {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				mx := math.Inf(-1)
				for j := 0; j < n; j++ {
					var s float64
					for e := 0; e < dh; e++ {
						s += qkv[i*3*h+hd*dh+e] * qkv[j*3*h+h+hd*dh+e]
					}
					scores[j] = s / math.Sqrt(float64(dh))
					mx = math.Max(mx, scores[j])
				}
				var sum float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - mx)
					sum += scores[j]
				}
				for j := range scores {
					p := scores[j] / sum
					for e := 0; e < dh; e++ {
						ctxv[i*h+hd*dh+e] += p * qkv[j*3*h+2*h+hd*dh+e]
					}
				}
			}
		}
		attn, err := refLinear(ctx, ctxv, n, h, &l.AttnOut)
		if err != nil {
			return nil, err
		}
		for i := range attn {
			attn[i] += x[i]
		}
		for p := 0; p < n; p++ {
			refLayerNorm(attn[p*h:(p+1)*h], l.AttnLN, eps)
		}
		x = attn
		inter, err := refLinear(ctx, x, n, h, &l.Inter)
		if err != nil {
			return nil, err
		}
		for i, v := range inter {
			inter[i] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		}
		out, err := refLinear(ctx, inter, n, c.Intermediate, &l.Output)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] += x[i]
		}
		for p := 0; p < n; p++ {
			refLayerNorm(out[p*h:(p+1)*h], l.OutLN, eps)
		}
		x = out
	}

	res := &RefOutput{Hidden: toF32(x)}
	cls := x[:h]
	if m.Pooler != nil {
		pooled, err := refLinear(ctx, cls, 1, h, m.Pooler)
		if err != nil {
			return nil, err
		}
		refPoolerActivation(pooled, c.PoolerActivation)
		res.Pooled = toF32(pooled)
		cls = pooled
	}
	if m.Classifier != nil {
		logits, err := refLinear(ctx, cls, 1, h, m.Classifier)
		if err != nil {
			return nil, err
		}
		res.Logits = toF32(logits)
	}
	if m.TokenClassifier != nil {
		logits, err := refLinear(ctx, x, n, h, m.TokenClassifier)
		if err != nil {
			return nil, err
		}
		res.TokenLogits = toF32(logits)
	}
	return res, nil
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// floats returns the float rows of e, dequantising the int8 table when the
// file carries no float copy.
func (e *Embedding) floats() []float32 {
	if e.F32 != nil {
		return e.F32
	}
	out := make([]float32, len(e.Data))
	for r := 0; r < e.Rows; r++ {
		for d := 0; d < e.Dim; d++ {
			out[r*e.Dim+d] = float32(e.Data[r*e.Dim+d]) * e.Scales[r]
		}
	}
	return out
}

// Floats returns W as row-major [N][K] float32, dequantising the packed
// int8 weights when the model carries no float copy.
func (l *Linear) Floats() []float32 {
	if l.F32 != nil {
		return l.F32
	}
	q := quant.Unpack(&l.W)
	out := make([]float32, len(q))
	for i := 0; i < l.W.N; i++ {
		for j := 0; j < l.W.K; j++ {
			out[i*l.W.K+j] = float32(q[i*l.W.K+j]) * l.W.Scales[i]
		}
	}
	return out
}

// refLinear returns x[n][k] W^T + b in float64, or ctx.Err() (looked at
// before each row).
func refLinear(ctx context.Context, x []float64, n, k int, l *Linear) ([]float64, error) {
	w := l.Floats()
	outN := l.W.N
	y := make([]float64, n*outN)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		xr := x[i*k : (i+1)*k]
		for o := 0; o < outN; o++ {
			wr := w[o*k : (o+1)*k]
			// Four float64 partial sums: exact enough (float64 against
			// fp32 references) and not one long dependency chain.
			var s0, s1, s2, s3 float64
			j := 0
			for ; j+4 <= k; j += 4 {
				s0 += xr[j] * float64(wr[j])
				s1 += xr[j+1] * float64(wr[j+1])
				s2 += xr[j+2] * float64(wr[j+2])
				s3 += xr[j+3] * float64(wr[j+3])
			}
			for ; j < k; j++ {
				s0 += xr[j] * float64(wr[j])
			}
			y[i*outN+o] = float64(l.Bias[o]) + ((s0 + s1) + (s2 + s3))
		}
	}
	return y, nil
}

func refLayerNorm(x []float64, ln LayerNorm, eps float64) {
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var variance float64
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	variance /= float64(len(x))
	inv := 1 / math.Sqrt(variance+eps)
	for i, v := range x {
		x[i] = (v-mean)*inv*float64(ln.Gamma[i]) + float64(ln.Beta[i])
	}
}

// String describes a model's shape for messages and `lepton info`.
func (c *Config) String() string {
	return fmt.Sprintf("%s: %d layers, hidden %d, %d heads, intermediate %d, vocab %d, max positions %d",
		c.Architecture, c.Layers, c.Hidden, c.Heads, c.Intermediate, c.Vocab, c.MaxPositions)
}
