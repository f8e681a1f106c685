//go:build !unix

package lepfile

import (
	"errors"
	"os"
)

// mmapFile is unavailable on this platform; Open falls back to reading the
// file into an aligned arena.
func mmapFile(fh *os.File, size int) ([]byte, func() error, error) {
	return nil, nil, errors.New("lepfile: mmap not supported on this platform")
}
