//go:build unix

package lepfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// mmapFile maps size bytes of fh read-only and shared: the pages come from
// the page cache, are shared by every process using the model and can never
// be written through the mapping. The mapping starts on a page boundary, so
// 64-byte aligned file offsets are 64-byte aligned addresses.
func mmapFile(fh *os.File, size int) ([]byte, func() error, error) {
	data, err := unix.Mmap(int(fh.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return unix.Munmap(data) }, nil
}
