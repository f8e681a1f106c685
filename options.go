package lepton

import (
	"context"
	"fmt"
	"runtime"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
)

// Pooling selects how Embed turns a text's token vectors into one vector.
type Pooling int

// Pooling modes.
const (
	// PoolDefault uses the pooling recorded in the model file (mean for
	// sentence-embedding models, CLS otherwise).
	PoolDefault Pooling = iota
	// PoolCLS takes the final hidden state of the [CLS] token.
	PoolCLS
	// PoolMean averages the final hidden states of all the text's tokens
	// (special tokens included, as the attention mask does).
	PoolMean
)

// String returns "default", "cls" or "mean".
func (p Pooling) String() string {
	switch p {
	case PoolCLS:
		return "cls"
	case PoolMean:
		return "mean"
	}
	return "default"
}

// ParsePooling maps "cls", "mean" and "" (default) to a Pooling, for
// command lines and config files.
func ParsePooling(s string) (Pooling, error) {
	switch s {
	case "", "default":
		return PoolDefault, nil
	case "cls", "CLS":
		return PoolCLS, nil
	case "mean", "MEAN":
		return PoolMean, nil
	}
	return 0, fmt.Errorf("%w: pooling %q (want cls or mean)", ErrInvalidOption, s)
}

// callConfig holds the settings of one call. Open's options set a Model's
// defaults; CallOptions passed to a method override them for that call.
// Features added later (privacy, fairness hooks) add fields here and
// CallOption constructors beside it.
type callConfig struct {
	maxLength int  // 0: the model's max positions
	truncate  bool // truncate over-long texts (true) or fail with ErrTooLong
	pooling   Pooling
	normalize bool
	// reference runs the float reference path (WithFloat32(true); nil: the
	// int8 path). Reached only through this field, so programs that never
	// ask for it do not link the reference code.
	reference func(m *Model, ctx context.Context, st *callState, k int) (*bert.RefOutput, error)
	fair      fairnessConfig // WithCalibration, WithGroups (fairness_options.go)
	tag       tagConfig      // WithAggregation, WithIgnoreLabels, WithStride (tag.go)
	priv      privacyConfig  // WithPrivateLabel, WithPrivateEmbedding, WithPrivacy (privacy_options.go)
}

// modelConfig holds the settings fixed at Open.
type modelConfig struct {
	threads int
	actBits int // WithActivationBits
	// verify checks every payload at Open (WithVerify(true); nil: no
	// check). A field, not a flag, so that programs that never verify do
	// not link the checks.
	verify   func(*lepfile.File) error
	defaults callConfig
}

// Option configures Open.
type Option interface {
	applyModel(*modelConfig) error
}

// CallOption configures one call of Classify, ClassifyPairs or Embed. Every
// CallOption can also be passed to Open, where it sets the Model's default.
type CallOption interface {
	Option
	applyCall(*callConfig) error
}

// modelOption is an Option that only makes sense at Open.
type modelOption func(*modelConfig) error

func (f modelOption) applyModel(c *modelConfig) error { return f(c) }

// callOption is a CallOption; at Open it changes the Model's defaults.
type callOption func(*callConfig) error

func (f callOption) applyCall(c *callConfig) error   { return f(c) }
func (f callOption) applyModel(c *modelConfig) error { return f(&c.defaults) }

// WithThreads sets how many goroutines one call may use for the matrix
// products and attention heads (default runtime.GOMAXPROCS(0); 0 means the
// default). Concurrent calls share these workers. A negative value is an
// error.
func WithThreads(n int) Option {
	return modelOption(func(c *modelConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: threads %d", ErrInvalidOption, n)
		}
		if n == 0 {
			n = runtime.GOMAXPROCS(0)
		}
		c.threads = n
		return nil
	})
}

// DefaultActivationBits is the activation precision of the int8 path unless
// WithActivationBits says otherwise.
const DefaultActivationBits = 7

// WithActivationBits sets the precision, 7 or 8 bits, that activations are
// quantised to (per token, symmetrically) before each int8 matrix product
// (default DefaultActivationBits, 7). Weights are 8-bit either way.
//
// 7 bits lets the AVX2 kernel multiply without its exact-sign workaround,
// which makes the matrix products about 1.25x faster on CPUs without VNNI
// (whole inferences 1.14-1.20x on MiniLM and BERT-base shapes); PyTorch's
// x86 int8 backend makes the same choice. On the VNNI tiers (AVX-512 VNNI,
// AVX-VNNI) both precisions run at the same speed, so fleets of such CPUs
// lose nothing with 8. The default is the same on every tier so that a
// model gives the same outputs on every machine. 7 bits doubles the
// activation rounding step: on the SST-2 test model argmax agreement with
// fp32 is 99.9% (1 of 872 sentences flips) instead of 100%, and mean-pooled
// embeddings keep a cosine of at least 0.9996 with fp32 instead of 0.9998.
// Choose 8 when those last digits matter more than speed on AVX2 CPUs.
// Results are identical on every kernel tier for either setting.
func WithActivationBits(bits int) Option {
	return modelOption(func(c *modelConfig) error {
		if bits != 7 && bits != 8 {
			return fmt.Errorf("%w: activation bits %d (want 7 or 8)", ErrInvalidOption, bits)
		}
		c.actBits = bits
		return nil
	})
}

// WithVerify makes Open and OpenBytes check every payload of the file
// before returning, as Model.Verify does (default false): a file that fails
// is not opened, and the error wraps ErrInvalidModel. Without it Open checks
// the file's structure and the checksums of its header and directory only,
// which costs the same for any model size; with it opening reads every
// weight once, a cost proportional to the file's size. Use it where a file
// may have been damaged on its way (copied to a device, stored on flash)
// and a slightly wrong answer is worse than a slower start.
func WithVerify(on bool) Option {
	return modelOption(func(c *modelConfig) error {
		c.verify = nil
		if on {
			c.verify = (*lepfile.File).Verify
		}
		return nil
	})
}

// WithMaxLength sets the maximum number of tokens per input, [CLS] and
// [SEP] included (default and upper bound: the model's max positions,
// typically 512). Longer inputs are truncated, or rejected with ErrTooLong
// under WithTruncation(false). Values below 3 are an error, as are values
// above the model's position table (checked when the model is known).
func WithMaxLength(n int) CallOption {
	return callOption(func(c *callConfig) error {
		if n < 3 {
			return fmt.Errorf("%w: max length %d (need room for [CLS], a token and [SEP])", ErrInvalidOption, n)
		}
		c.maxLength = n
		return nil
	})
}

// WithTruncation chooses what happens to an input longer than the max
// length: true (the default) truncates it (the longer text of a pair
// first), false fails the call with ErrTooLong.
func WithTruncation(truncate bool) CallOption {
	return callOption(func(c *callConfig) error {
		c.truncate = truncate
		return nil
	})
}

// WithPooling sets how Embed pools token vectors (default PoolDefault: the
// pooling recorded in the model file).
func WithPooling(p Pooling) CallOption {
	return callOption(func(c *callConfig) error {
		if p < PoolDefault || p > PoolMean {
			return fmt.Errorf("%w: pooling %d", ErrInvalidOption, p)
		}
		c.pooling = p
		return nil
	})
}

// WithNormalize makes Embed scale every vector to unit L2 norm (default
// false), so that dot products are cosine similarities.
func WithNormalize(normalize bool) CallOption {
	return callOption(func(c *callConfig) error {
		c.normalize = normalize
		return nil
	})
}

// WithFloat32 runs the float reference path instead of the int8 one (default
// false): fp32 weights, straightforward loops and float64 accumulation, one
// input at a time. It is many times slower and exists to check int8 results
// against fp32 on your own data. It needs a file converted with
// --keep-fp32 (Info().HasFloat32); otherwise calls fail with
// ErrInvalidOption.
func WithFloat32(on bool) CallOption {
	return callOption(func(c *callConfig) error {
		c.reference = nil
		if on {
			c.reference = (*Model).runReference
		}
		return nil
	})
}
