package lepfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFormatDocLimits keeps docs/FORMAT.md's "Limits readers enforce"
// table in step with the constants this reader enforces: each row must
// state the value the code checks.
func TestFormatDocLimits(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "FORMAT.md"))
	require.NoError(t, err)
	text := string(doc)
	i := strings.Index(text, "## Limits readers enforce")
	require.GreaterOrEqual(t, i, 0, "FORMAT.md documents the limits")
	table := text[i:]
	table = table[:strings.Index(table[3:], "\n## ")+3]
	mib := func(n int) string { return fmt.Sprintf("%d MiB", n>>20) }
	for _, want := range []string{
		fmt.Sprintf("| sections in the section table | 1 ..= %d |", maxSections),
		fmt.Sprintf("| `CONF`, `META`, `TDIR` payload (each) | %s |", mib(maxJSONSection)),
		fmt.Sprintf("| `TOKN` payload | %s |", mib(maxTokenizer)),
		fmt.Sprintf("| %d / %d / %d |", maxLayers, maxHidden, maxIntermediate),
		fmt.Sprintf("| %d / %d / %d |", maxVocab, maxPositions, maxTypeVocab),
		fmt.Sprintf("1 ..= %d for the sequence classifiers, 2 ..= %d for `BertForTokenClassification`", maxLabels, maxLabels),
		fmt.Sprintf("| label length | at most %d bytes", maxLabelLen),
		fmt.Sprintf("| tensors in `TDIR` | 0 ..= %d |", maxTensors),
		fmt.Sprintf("| tensor name length | 1 ..= %d bytes |", maxNameLen),
		fmt.Sprintf("| tensor dimensions | 1 ..= %d, each 1 ..= 2^31 - 1 |", maxDims),
		"| tensor elements | at most 2^40 |",
		fmt.Sprintf("| the first %d |", maxVerifyErrors),
	} {
		require.Contains(t, table, want)
	}
	require.Equal(t, int64(1<<31-1), int64(maxDim))
	require.Equal(t, int64(1<<40), int64(maxElements))
}
