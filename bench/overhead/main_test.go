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
	res := newResults()
	require.NoError(t, res.read(strings.NewReader(sample)))
	assert.Equal(t, []string{"K"}, res.setups)
	assert.Equal(t, []string{"bare", "ours"}, res.variants)
	assert.Equal(t, []float64{40000, 41000}, res.get("K", "ours").samples[unitTime])
	assert.InDelta(t, 80.5, res.get("K", "ours").median(unitAllocs), 1e-9)
}

func TestKeysDropTheGOMAXPROCSSuffix(t *testing.T) {
	k, ok := keys("BenchmarkGET/setup=H2/variant=otelhttp+otelhooks-16")
	assert.True(t, ok)
	assert.Equal(t, benchKeys{setup: "H2", variant: "otelhttp+otelhooks", procs: 16}, k)

	_, ok = keys("BenchmarkGET/setup=K")
	assert.False(t, ok)
}

func TestKeysOfAParallelRowWithoutSuffixAreAtOneProc(t *testing.T) {
	k, ok := keys("BenchmarkParallelGET/setup=K/variant=otelhooks")
	assert.True(t, ok)
	assert.Equal(t, benchKeys{setup: "K", variant: "otelhooks", parallel: true, procs: 1}, k)
}

const floorSample = `BenchmarkGET/setup=K/variant=bare-2        1000 30000 ns/op 5000 B/op 60 allocs/op
BenchmarkGET/setup=K/variant=noop-trace-2  1000 30500 ns/op 5300 B/op 66 allocs/op
BenchmarkGET/setup=K/variant=propagate-2   1000 31000 ns/op 5900 B/op 67 allocs/op
BenchmarkGET/setup=K/variant=sdk-spans-2   1000  5000 ns/op 6000 B/op 22 allocs/op
BenchmarkGET/setup=K/variant=otelhooks-2   1000 40000 ns/op 14000 B/op 100 allocs/op
`

func TestFloorIsTheSumOfItsTerms(t *testing.T) {
	res := newResults()
	require.NoError(t, res.read(strings.NewReader(floorSample)))
	// (66 − 60) + (67 − 60) + 22, and the bytes likewise.
	assert.InDelta(t, 35, res.floor("K", floorSpans, unitAllocs), 1e-9)
	assert.InDelta(t, 300+900+6000, res.floor("K", floorSpans, unitBytes), 1e-9)
	// The replay row's figures are its own, not an overhead over bare.
	assert.InDelta(t, 22, res.overhead("K", rowSDKSpans, unitAllocs), 1e-9)
	// No sdk-events row: no events floor.
	assert.True(t, math.IsNaN(res.floor("K", floorEvents, unitAllocs)))
}

func TestVerdictAgainstTheFloor(t *testing.T) {
	res := newResults()
	require.NoError(t, res.read(strings.NewReader(floorSample)))
	tg := target{variant: "otelhooks", anchor: floorSpans, ratio: 1.05}
	// +40 allocations over a floor of 35: 1.14, 3.25 over 36.75.
	line := res.verdict(tg, "K", unitAllocs, "")
	assert.Contains(t, line, "| +40 | +35 | 1.14 |")
	assert.Contains(t, line, "NOT MET: 3.2 over")

	tg = target{variant: "otelhooks", anchor: rowPropagate, ratio: 1, plus: 35}
	assert.Contains(t, res.verdict(tg, "K", unitAllocs, ""), "| met |")
}

const parallelSample = `BenchmarkParallelGET/setup=K/variant=bare             1000 30000 ns/op 5000 B/op 60 allocs/op
BenchmarkParallelGET/setup=K/variant=otelhooks        1000 40000 ns/op 7000 B/op 80 allocs/op
BenchmarkParallelGET/setup=K/variant=otelhttptrace    1000 50000 ns/op 9000 B/op 90 allocs/op
BenchmarkParallelGET/setup=K/variant=bare-4           1000 20000 ns/op 5000 B/op 60 allocs/op
BenchmarkParallelGET/setup=K/variant=otelhooks-4      1000 40000 ns/op 7200 B/op 82 allocs/op
BenchmarkParallelGET/setup=K/variant=otelhttptrace-4  1000 45000 ns/op 9100 B/op 90 allocs/op
`

func TestParallelRowsAreKeptApartFromTheSetups(t *testing.T) {
	res := newResults()
	require.NoError(t, res.read(strings.NewReader(sample+parallelSample)))
	assert.Equal(t, []string{"K"}, res.setups)
	assert.Equal(t, []string{"K"}, res.parallelSetups())
	assert.Equal(t, []int{1, 4}, res.procsOf("K"))
	assert.InDelta(t, 20000, res.overhead(parallelSetup("K", 4), "otelhooks", unitTime), 1e-9)

	var out strings.Builder
	res.printGrowthTarget(&out)
	// Time: ours 10 µs → 20 µs (2.00), the anchor's 20 µs → 25 µs (1.25).
	assert.Contains(t, out.String(), "| K | 4 | ns/op | 2.00 | 1.25 |")
	// Allocations: ours 20 → 22, the anchor's 30 → 30: more than the
	// tolerance. Bytes: 2000 → 2200 against 4000 → 4100.
	assert.Contains(t, out.String(), "| K | 4 | allocs/op | 1.10 | 1.00 | NOT MET |")
	assert.Contains(t, out.String(), "| K | 4 | B/op | 1.10 | 1.02 | NOT MET |")
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
