package tokenize

import (
	"fmt"
	"runtime"
	"testing"

	"lepton/internal/testshared"
)

// outcomeTB is a testing.TB whose Fatalf and Skipf record the outcome and
// stop the calling goroutine, as the real ones do.
type outcomeTB struct {
	testing.TB
	outcome, msg string
}

func (r *outcomeTB) Helper() {}
func (r *outcomeTB) Fatalf(format string, args ...any) {
	r.outcome, r.msg = "fail", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *outcomeTB) Skipf(format string, args ...any) {
	r.outcome, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestSharedPathRequired checks that a missing ../shared file fails the
// parity tests when LEPTON_REQUIRE_SHARED=1 (CI) and only skips otherwise,
// so CI cannot pass by silently skipping the acceptance tests.
func TestSharedPathRequired(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"", "skip"},
		{"0", "skip"},
		{"1", "fail"},
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(testshared.RequireEnv, tc.env)
			r := &outcomeTB{TB: t, outcome: "pass"}
			done := make(chan struct{})
			go func() {
				defer close(done)
				sharedPath(r, "no-such-dir-for-tokenize/tokenizer.json")
			}()
			<-done
			if r.outcome != tc.want {
				t.Fatalf("sharedPath with %s=%q: outcome %s (%s), want %s", testshared.RequireEnv, tc.env, r.outcome, r.msg, tc.want)
			}
		})
	}
}
