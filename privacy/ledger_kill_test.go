package privacy

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The kill harness of issue 13: a child process charges a file ledger as
// fast as it can (compacting it now and then) and prints the release count
// after every charge that returned; the parent kills it with SIGKILL at a
// random moment, then checks the file: it verifies, holds every release
// the child was told about (at most one more: a charge made durable but
// killed before it returned), and the temp files the killed writer left
// are gone after the next open. LEPTON_LEDGER_KILLS sets the number of
// trials (default 20; the audit ran 200).

const killChildEnv = "LEPTON_LEDGER_KILL_CHILD"

var killBudget = Budget{Epsilon: 1e12, Delta: 1e-5}

// killChild is the child's loop; it never returns.
func killChild(path string) {
	l, err := OpenLedger(path, killBudget)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	for i := 0; ; i++ {
		c := pureCost(0.001)
		if i%3 == 1 {
			c = gaussCost(4)
		}
		s, err := l.Charge(c)
		if err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(3)
		}
		fmt.Fprintln(w, "ok", s.Releases)
		w.Flush()
		if s.Releases%37 == 0 {
			if _, err := l.Compact(""); err != nil {
				fmt.Fprintln(w, "error", err)
				w.Flush()
				os.Exit(3)
			}
		}
	}
}

func TestLedgerKillHarness(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no subprocesses")
	}
	trials := 20
	if v := os.Getenv("LEPTON_LEDGER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		trials = n
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "budget.ledger")
	_, err := OpenLedger(path, killBudget)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(13, 200))
	var acked, inflight, leftovers, trialsWithLeftovers, compacted int
	for trial := 0; trial < trials; trial++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerKillHarness$", "-test.count=1")
		cmd.Env = append(os.Environ(), killChildEnv+"="+path)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		if err := cmd.Start(); err != nil {
			if trial == 0 && errors.Is(err, syscall.ENOEXEC) {
				// go test -exec qemu-...: the test binary is not for this
				// host, and without binfmt_misc it cannot run itself.
				t.Skipf("cannot start the test binary as a child here (an emulated run?): %v", err)
			}
			require.NoError(t, err)
		}
		sc := bufio.NewScanner(out)
		require.True(t, sc.Scan(), "child started")
		require.Equal(t, "ready", sc.Text())
		time.Sleep(time.Duration(rng.IntN(40_000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Kill()) // SIGKILL on Unix
		last := -1
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			require.Equal(t, "ok", f[0], "child: %s", sc.Text())
			n, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			last = n
		}
		_ = cmd.Wait()

		// Left behind by the killed writer?
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		n := 0
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), tempPrefix(path)) {
				n++
			}
		}
		leftovers += n
		if n > 0 {
			trialsWithLeftovers++
		}

		l, err := OpenLedger(path, killBudget)
		require.NoError(t, err, "trial %d: the ledger verifies after SIGKILL", trial)
		got := l.Spent().Releases
		if last >= 0 {
			require.GreaterOrEqual(t, got, last, "trial %d: a release the child was told about is lost", trial)
			require.LessOrEqual(t, got, last+1, "trial %d: more than one release in flight", trial)
			acked = last
			inflight += got - last
		}
		if c := l.Carried(); c != nil {
			compacted = c.Compactions
		}
		ents, err = os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range ents {
			require.False(t, strings.HasPrefix(e.Name(), tempPrefix(path)), "trial %d: %s not removed at open", trial, e.Name())
		}
	}
	l, err := OpenLedger(path, killBudget)
	require.NoError(t, err)
	t.Logf("%d SIGKILL trials: %d releases acknowledged, none lost, %d more made durable but killed before returning; %d compactions; "+
		"%d temp files left by killed writers (in %d trials), all removed at the next open; final file %d releases",
		trials, acked, inflight, compacted, leftovers, trialsWithLeftovers, l.Spent().Releases)
}
