//go:build race

package bench

// raceEnabled is whether the tests run under the race detector, which
// changes allocation counts (TestConnModelCostsNoMoreOnReusedConnection).
const raceEnabled = true
