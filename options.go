package lepton

import (
	"context"
	"fmt"
	"runtime"

	"lepton/internal/bert"
	"lepton/internal/lepfile"
	"lepton/quant"
)

// Pooling selects how Embed turns a text's token vectors into one vector.
type Pooling int

// Pooling modes.
const (
	// PoolDefault uses the pooling recorded in the model file: for a
	// converted sentence-transformers folder, its Pooling module's (which
	// may be several modes concatenated, Info().Pooling says which);
	// otherwise mean for encoders and CLS for classifiers.
	PoolDefault Pooling = iota
	// PoolCLS takes the final hidden state of the [CLS] token.
	PoolCLS
	// PoolMean averages the final hidden states of all the text's tokens
	// (special tokens included, as the attention mask does).
	PoolMean
	// PoolMax takes the maximum of each dimension over the text's tokens
	// (special tokens included), as sentence-transformers' max pooling.
	PoolMax
)

// String returns "default", "cls", "mean" or "max".
func (p Pooling) String() string {
	switch p {
	case PoolCLS:
		return "cls"
	case PoolMean:
		return "mean"
	case PoolMax:
		return "max"
	}
	return "default"
}

// ParsePooling maps "cls", "mean", "max" and "" (default) to a Pooling,
// for command lines and config files.
func ParsePooling(s string) (Pooling, error) {
	switch s {
	case "", "default":
		return PoolDefault, nil
	case "cls", "CLS":
		return PoolCLS, nil
	case "mean", "MEAN":
		return PoolMean, nil
	case "max", "MAX":
		return PoolMax, nil
	}
	return 0, fmt.Errorf("%w: pooling %q (want cls, mean or max)", ErrInvalidOption, s)
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
	// normalizeSet: WithNormalize was given; otherwise Embed follows the
	// model file (its Normalize module).
	normalizeSet bool
	// prompt names the prompt Embed prepends when promptSet (WithPrompt);
	// otherwise the model's default prompt.
	prompt    string
	promptSet bool
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
	threads      int
	actBits      int   // WithActivationBits
	scratchLimit int64 // WithScratchLimit
	noMmap       bool  // WithMmap(false)
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

// MaxThreads is the most goroutines one Model may use (WithThreads). More
// would not speed up BERT's matrices and would cost memory: every thread
// adds attention scratch to each call's workspace.
const MaxThreads = quant.MaxThreads

// WithThreads sets how many goroutines one call may use for the matrix
// products and attention heads (default runtime.GOMAXPROCS(0), capped at
// MaxThreads; 0 means the default). Concurrent calls share these workers.
// A negative value or one above MaxThreads is an error.
func WithThreads(n int) Option {
	return modelOption(func(c *modelConfig) error {
		if n < 0 || n > MaxThreads {
			return fmt.Errorf("%w: threads %d (want 0..%d)", ErrInvalidOption, n, MaxThreads)
		}
		if n == 0 {
			n = min(runtime.GOMAXPROCS(0), MaxThreads)
		}
		c.threads = n
		return nil
	})
}

// DefaultScratchLimit is the most scratch memory one call may need unless
// WithScratchLimit says otherwise: 1 GiB, several times what BERT-base or
// BERT-large needs (docs/FORMAT.md, "Memory", lists worst cases), far
// below what a crafted file could ask for.
const DefaultScratchLimit int64 = 1 << 30

// WithScratchLimit sets the most scratch memory (bytes) one call may need
// (default DefaultScratchLimit). Open works out the worst case of the model
// (its longest input, max_positions tokens, in the largest batch a call
// runs, on WithThreads goroutines, and the fp32 reference path when the
// file has float weights) and refuses with ErrInvalidModel, quoting the
// figure, a model that could need more; every batch is checked again
// before its buffers grow. Each call in flight has its own scratch, so
// concurrent calls need this much each; the texts, token ids and results
// of a call come on top, in proportion to the input. Raise the limit for a
// long-context model you trust; lower it on a small device. Values below
// 1 MiB are an error.
func WithScratchLimit(bytes int64) Option {
	return modelOption(func(c *modelConfig) error {
		if bytes < 1<<20 {
			return fmt.Errorf("%w: scratch limit %d bytes (want at least 1 MiB)", ErrInvalidOption, bytes)
		}
		c.scratchLimit = bytes
		return nil
	})
}

// WithMmap chooses how Open loads the file: mapped read-only and used in
// place (true, the default: opening costs the same for any size and
// processes share the pages) or read into memory (false: opening reads the
// whole file, and the Model uses a private copy). Choose false when the
// file may be replaced, truncated or rewritten in place while the Model
// is open (a mapped file that shrinks under a running process kills it
// with SIGBUS) or lives on a file system that cannot map. OpenBytes
// ignores it.
func WithMmap(on bool) Option {
	return modelOption(func(c *modelConfig) error {
		c.noMmap = !on
		return nil
	})
}

// scratchBytes formats a byte count for messages.
func scratchBytes(n int64) string { return bert.FormatBytes(n) }

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
		if p < PoolDefault || p > PoolMax {
			return fmt.Errorf("%w: pooling %d", ErrInvalidOption, p)
		}
		c.pooling = p
		return nil
	})
}

// WithNormalize chooses whether Embed scales every vector to unit L2 norm,
// so that dot products are cosine similarities. The default is the model
// file's: true for a sentence-transformers model with a Normalize module
// (Info().Normalize), false otherwise.
func WithNormalize(normalize bool) CallOption {
	return callOption(func(c *callConfig) error {
		c.normalize, c.normalizeSet = normalize, true
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
