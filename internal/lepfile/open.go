package lepfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"lepton/quant"
)

// Option adjusts Open.
type Option func(*openConfig)

type openConfig struct {
	noMmap bool
}

// WithoutMmap makes Open read the file into an aligned heap arena instead of
// mapping it (the default where mmap is unavailable). Useful on file systems
// that do not support mapping, or when the file may be replaced while open.
func WithoutMmap() Option { return func(c *openConfig) { c.noMmap = true } }

// Open maps the .lep file at path read-only and validates it (see the
// package doc). Tensors alias the mapping and stay valid until Close. If the
// file cannot be mapped it is read into an aligned arena instead.
func Open(path string, opts ...Option) (*File, error) {
	var oc openConfig
	for _, o := range opts {
		o(&oc)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError: names the path, errors.Is(err, fs.ErrNotExist) works
	}
	defer fh.Close() // a mapping outlives its descriptor
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrFormat)
	}
	size := st.Size()
	if size == 0 {
		return nil, fmt.Errorf("%s: %w: empty file", path, ErrTruncated)
	}
	if size > math.MaxInt || size < 0 {
		return nil, fmt.Errorf("%s: %w: file of %d bytes is too large for this platform", path, ErrFormat, size)
	}
	var (
		data    []byte
		release func() error
		mapped  bool
	)
	if !oc.noMmap {
		data, release, err = mmapFile(fh, int(size))
		mapped = err == nil
	}
	if !mapped {
		data = alignedArena(int(size))
		if _, err := io.ReadFull(fh, data); err != nil {
			return nil, fmt.Errorf("%s: reading: %w", path, err)
		}
		release = func() error { return nil }
	}
	f, err := parse(data)
	if err != nil {
		_ = release()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Mapped, f.release = mapped, release
	return f, nil
}

// Close releases the mapping or arena. Every slice obtained from the File
// (the model's weights, the tokenizer blob) becomes invalid: with a mapping,
// touching them afterwards faults. Close must not run concurrently with
// other uses of the File; calling it twice is harmless.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.release != nil {
		err = f.release()
	}
	f.data = nil
	return err
}

// maxVerifyErrors bounds the problems Verify reports for a badly damaged file.
const maxVerifyErrors = 20

// Verify reads every payload: it checks the CRC32C of every section and
// every tensor, that float tensors are finite and scales non-negative, that
// int8 codes lie in [-127, 127], that packed padding is zero and that column
// sums match the packed data. Its cost is proportional to the file size. All
// problems found (up to 20) are returned joined.
func (f *File) Verify() error { return f.VerifyContext(context.Background()) }

// VerifyContext is Verify checking ctx between tensors: a cancelled
// verification returns ctx.Err() (and no verdict) promptly.
func (f *File) VerifyContext(ctx context.Context) error {
	if f.closed || f.data == nil {
		return ErrClosed
	}
	var errs []error
	add := func(err error) bool {
		errs = append(errs, err)
		return len(errs) < maxVerifyErrors
	}
	for _, s := range f.Sections {
		if err := ctx.Err(); err != nil {
			return err
		}
		if got := checksum(f.data[s.Offset : s.Offset+s.Length]); got != s.CRC {
			if !add(errf(ErrChecksum, "section %q CRC32C %08x, computed %08x", s.Kind, s.CRC, got)) {
				return errors.Join(errs...)
			}
		}
	}
	byName := map[string]*TensorInfo{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		byName[t.Name] = t
		if err := ctx.Err(); err != nil {
			return err
		}
		if got := checksum(f.data[t.Offset : t.Offset+t.Length]); got != t.CRC {
			if !add(errf(ErrChecksum, "tensor %s CRC32C %08x, computed %08x", t.Name, t.CRC, got)) {
				return errors.Join(errs...)
			}
		}
	}
	if f.Model == nil {
		return errors.Join(errs...)
	}
	slots := modelSlots(f.Model, f.Model.Word.F32 != nil)
	colsums := map[string][]int32{}
	for _, s := range slots {
		if s.i32 != nil {
			colsums[s.name] = *s.i32
		}
	}
	for _, s := range slots {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch {
		case s.f32 != nil:
			err = checkFloats(*s.f32, strings.HasSuffix(s.name, ".scales"))
		case s.i8 != nil:
			err = checkCodes(*s.i8)
			if err == nil && s.layout == quant.LayoutI8P16K4 {
				err = checkPacked(*s.i8, colsums[strings.TrimSuffix(s.name, ".weight")+".colsums"], s.shape[0], s.shape[1])
			}
		}
		if err != nil && !add(errf(ErrFormat, "tensor %s: %v", s.name, err)) {
			break
		}
	}
	return errors.Join(errs...)
}

// checkFloats reports the first non-finite value (or negative scale).
func checkFloats(x []float32, scales bool) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("non-finite value %v at index %d", v, i)
		}
		if scales && v < 0 {
			return fmt.Errorf("negative scale %v at index %d", v, i)
		}
	}
	return nil
}

// checkCodes reports an int8 code of -128, which symmetric quantisation
// never produces and some SIMD kernels (saturating u8 x s8 pairs) rely on.
func checkCodes(q []int8) error {
	for i, v := range q {
		if v == -128 {
			return fmt.Errorf("int8 code -128 at index %d (codes must lie in [-127, 127])", i)
		}
	}
	return nil
}

// checkPacked checks that the padding of a packed n x k matrix is zero and
// that colSums holds each channel's sum.
func checkPacked(data []int8, colSums []int32, n, k int) error {
	np, kp := quant.RoundUp(n, quant.NR), quant.RoundUp(k, quant.KR)
	if len(data) != np*kp || len(colSums) != np {
		return fmt.Errorf("packed %dx%d has %d values and %d column sums", n, k, len(data), len(colSums))
	}
	for i := range np {
		panel, lane := i/quant.NR, i%quant.NR
		var sum int32
		for j := range kp {
			v := data[panel*kp*quant.NR+(j/quant.KR)*quant.NR*quant.KR+lane*quant.KR+j%quant.KR]
			if (i >= n || j >= k) && v != 0 {
				return fmt.Errorf("non-zero padding at channel %d, input %d", i, j)
			}
			sum += int32(v)
		}
		if sum != colSums[i] {
			return fmt.Errorf("column sum of channel %d is %d, stored %d", i, sum, colSums[i])
		}
	}
	return nil
}
