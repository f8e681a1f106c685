//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package privacy

// lockFile is a no-op where the platform offers no advisory file lock
// through x/sys (plan9, wasm, solaris, aix): there one ledger file must
// be used by one process at a time.
func lockFile(path string) (unlock func(), err error) {
	return func() {}, nil
}
