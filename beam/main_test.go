package leptonbeam

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/stretchr/testify/require"

	"lepton"
	"lepton/models/clinic"
)

// The pipelines of these tests run on Beam's embedded Prism runner, with
// this test binary as the (loopback) worker.
func TestMain(m *testing.M) {
	// Prism logs every job step at INFO; keep test output to what matters
	// (beam.Init sets up slog at this level).
	beamlog.LogLevel = "warn"
	ptest.MainWithDefault(m, "prism")
}

const testModel = "clinic-test"

func init() { RegisterEmbedded(testModel, clinic.Bytes) }

// clinicModel opens the model the DoFns use, to compute what they should
// return with plain lepton calls.
func clinicModel(t *testing.T, opts ...lepton.Option) *lepton.Model {
	t.Helper()
	m, err := clinic.Open(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// run runs the pipeline that build makes on Prism and returns its result.
func run(t *testing.T, build func(s beam.Scope)) beam.PipelineResult {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	build(s)
	res, err := ptest.RunWithMetrics(p)
	require.NoError(t, err)
	return res
}

// readLines returns the lines of the file(s) name: name itself or, with
// shards > 1, its shard files. They must exist.
func readLines(t *testing.T, name string, shards int) []string {
	t.Helper()
	var lines []string
	for i := range shards {
		f, err := os.Open(ShardName(name, i, shards))
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	slices.Sort(lines)
	return lines
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

var bg = context.Background()
