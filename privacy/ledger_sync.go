package privacy

import (
	"os"
	"runtime"
)

// syncDir fsyncs a directory so that a rename inside it is durable. Windows
// cannot open directories for syncing; there the rename (MoveFileEx with
// MOVEFILE_REPLACE_EXISTING) is the best the platform offers.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
