package testshared

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB whose Fatalf and Skipf record the outcome and
// stop the calling goroutine, as the real ones do.
type recorder struct {
	testing.TB
	outcome, msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.outcome, r.msg = "fail", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.outcome, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder in its own goroutine and returns the
// recorder once f returned or ended the "test".
func run(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t, outcome: "pass"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestMissingSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		env, want string
	}{
		{"", "skip"},
		{"0", "skip"},
		{"1", "fail"},
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.env)
			r := run(t, func(tb testing.TB) { Path(tb, "no-such-dir-for-testshared/x.tsv") })
			require.Equal(t, tc.want, r.outcome, r.msg)
			require.Contains(t, r.msg, "../shared/no-such-dir-for-testshared/x.tsv not found")
			require.Contains(t, r.msg, RequireEnv)

			r = run(t, func(tb testing.TB) { ReadSST2(tb, filepath.Join(t.TempDir(), "missing.tsv")) })
			require.Equal(t, tc.want, r.outcome, r.msg)
			require.Contains(t, r.msg, "SST-2 validation data not found")
		})
	}
}

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	_, err := os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "internal", "testshared", "testshared.go"))
}

func TestReadSST2(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, data string
		texts      []string
		labels     []int
		outcome    string
	}{
		{"header only", "sentence\tlabel\n", nil, nil, "pass"},
		{"two rows, no final newline", "sentence\tlabel\na fine film .\t1\nawful\t0", []string{"a fine film .", "awful"}, []int{1, 0}, "pass"},
		{"no tab", "sentence\tlabel\nno tab here\n", nil, nil, "fail"},
		{"bad label", "sentence\tlabel\nx\tpositive\n", nil, nil, "fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".tsv")
			require.NoError(t, os.WriteFile(p, []byte(tc.data), 0o644))
			var texts []string
			var labels []int
			r := run(t, func(tb testing.TB) { texts, labels = ReadSST2(tb, p) })
			require.Equal(t, tc.outcome, r.outcome, r.msg)
			if tc.outcome == "pass" {
				require.Equal(t, tc.texts, texts)
				require.Equal(t, tc.labels, labels)
			}
		})
	}
}
