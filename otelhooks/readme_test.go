package otelhooks_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEUsageIsTheExample keeps the README's usage snippet compiling:
// it must be, as written, the code between the markers in
// example_options_test.go, which Example runs.
func TestREADMEUsageIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, block, ok := strings.Cut(string(readme), "```go\n")
	require.True(t, ok, "README.md has a Go block")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)

	src, err := os.ReadFile("example_options_test.go")
	require.NoError(t, err)
	_, example, ok := strings.Cut(string(src), "// The README's usage, as written there.\n\n")
	require.True(t, ok)
	example, _, ok = strings.Cut(example, "\n// End of the README's usage.")
	require.True(t, ok)

	assert.Equal(t, example, block, "README.md's usage and the example differ")
}
