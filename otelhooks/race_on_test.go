//go:build race

package otelhooks_test

// raceEnabled is whether the tests run under the race detector, which
// changes allocation counts (TestAllocationBudgets, TestPoolReusesOnlyFinishedStates).
const raceEnabled = true
