package bench

import (
	"runtime"
	"testing"

	"github.com/wiretrace/wiretrace/internal/spantest"
)

const (
	heapWarmup   = 1_000
	heapRequests = 100_000
	// heapBound is how much the live heap may grow over heapRequests:
	// far above what a steady state moves (a few KiB of pools and
	// caches), far below what one leaked span per request would hold
	// (100k spans, tens of MiB).
	heapBound = 4 << 20
)

// TestNoHeapGrowth sends 100k sequential keep-alive requests through
// otelhooks.NewTransport with sub-spans, every span sampled, and fails if
// the live heap after GC grew by more than heapBound: nothing per request
// outlives the request.
func TestNoHeapGrowth(t *testing.T) {
	s := setupNamed(t, "K")
	v := variantNamed(t, "otelhooks")
	target, newBase := s.start(t)
	tps := newProviders(spantest.Discard{})
	base := newBase()
	defer base.CloseIdleConnections()
	rt := v.transport(base, tps.forVariant(v))
	ctx, parent := tps.parent(v)
	defer parent.End()

	for range heapWarmup {
		if err := get(ctx, rt, target); err != nil {
			t.Fatal(err)
		}
	}
	before := liveHeap()
	for range heapRequests {
		if err := get(ctx, rt, target); err != nil {
			t.Fatal(err)
		}
	}
	after := liveHeap()
	growth := int64(after) - int64(before)
	t.Logf("live heap after %d requests: %d B, after %d more: %d B (growth %+d B, bound %d B)",
		heapWarmup, before, heapRequests, after, growth, heapBound)
	if growth > heapBound {
		t.Errorf("live heap grew by %d B over %d requests, more than %d B", growth, heapRequests, heapBound)
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second one frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func setupNamed(tb testing.TB, name string) *setup {
	tb.Helper()
	for i := range setups {
		if setups[i].name == name {
			return &setups[i]
		}
	}
	tb.Fatalf("no setup %q", name)
	return nil
}

func variantNamed(tb testing.TB, name string) *variant {
	tb.Helper()
	for i := range variants {
		if variants[i].name == name {
			return &variants[i]
		}
	}
	tb.Fatalf("no variant %q", name)
	return nil
}
