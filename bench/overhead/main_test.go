package main

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
BenchmarkGET/setup=K/variant=bare-2         	    1000	     30000 ns/op	    5000 B/op	      60 allocs/op
BenchmarkGET/setup=K/variant=ours-2         	    1000	     40000 ns/op	    7000 B/op	      80 allocs/op
BenchmarkGET/setup=K/variant=bare-2         	    1000	     32000 ns/op	    5000 B/op	      60 allocs/op
BenchmarkGET/setup=K/variant=ours-2         	    1000	     41000 ns/op	    7100 B/op	      81 allocs/op
BenchmarkOther-2                            	    1000	       100 ns/op
PASS
`

func TestReadKeepsPassOrderAndSkipsOtherLines(t *testing.T) {
	res := &results{rows: map[string]map[string]*row{}}
	require.NoError(t, res.read(strings.NewReader(sample)))
	assert.Equal(t, []string{"K"}, res.setups)
	assert.Equal(t, []string{"bare", "ours"}, res.variants)
	assert.Equal(t, []float64{40000, 41000}, res.get("K", "ours").samples[unitTime])
	assert.InDelta(t, 80.5, res.get("K", "ours").median(unitAllocs), 1e-9)
}

func TestKeysDropTheGOMAXPROCSSuffix(t *testing.T) {
	setup, variant, ok := keys("BenchmarkGET/setup=H2/variant=otelhttp+otelhooks-16")
	assert.True(t, ok)
	assert.Equal(t, "H2", setup)
	assert.Equal(t, "otelhttp+otelhooks", variant)

	_, _, ok = keys("BenchmarkGET/setup=K")
	assert.False(t, ok)
}

func TestSignTest(t *testing.T) {
	bare := []float64{10, 10, 10, 10, 10, 10, 10, 10}
	anchor := []float64{30, 30, 30, 30, 30, 30, 30, 30}
	// Over half of the anchor's overhead in all 8 passes: p = 2/2^8.
	pos, n, p := signTest([]float64{25, 25, 25, 25, 25, 25, 25, 25}, bare, anchor, 0.5)
	assert.Equal(t, 8, pos)
	assert.Equal(t, 8, n)
	assert.InDelta(t, 2.0/256, p, 1e-12)

	// Split evenly: no evidence either way.
	_, _, p = signTest([]float64{25, 15, 25, 15, 25, 15, 25, 15}, bare, anchor, 0.5)
	assert.InDelta(t, 1, p, 1e-12)
}

func TestMedianOfNothingIsNaN(t *testing.T) {
	assert.True(t, math.IsNaN(median(nil)))
	assert.InDelta(t, 2, median([]float64{3, 1, 2}), 1e-12)
}
