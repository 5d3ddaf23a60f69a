package bench

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"testing"

	"github.com/wiretrace/wiretrace/internal/spantest"
)

// parallelSetups are the setups of BenchmarkParallelGET: those where
// requests share something, one keep-alive pool (K) or one HTTP/2
// connection (H2).
var parallelSetups = []string{"K", "H2"}

// parallelVariants are its rows: bare, ours, and the anchor. A row whose
// perRequest keeps state (propagate) cannot be one.
var parallelVariants = []string{"bare", "otelhooks", "otelhttptrace"}

// parallelIdleConns is the keep-alive pool of the K setup under
// BenchmarkParallelGET: room for a connection per goroutine at -cpu 4 and
// more, so that requests wait for each other in the pool and in the SDK,
// not for a dial.
const parallelIdleConns = 64

// BenchmarkParallelGET sends GETs from GOMAXPROCS goroutines at once
// (b.RunParallel) through one transport per row: over one keep-alive pool
// (K) and over the streams of one HTTP/2 connection (H2). Run it with -cpu
// 1,2,4 (bench/run.sh does): the overhead of each variant over bare at each
// parallelism says whether it grows with contention, on the transport's
// locks, the SDK's (span processor, ID generator) or ours.
//
// The names are BenchmarkParallelGET/setup=K/variant=bare-4 and so on:
// bench/overhead reads the -4 as the parallelism of the row.
func BenchmarkParallelGET(b *testing.B) {
	tps := newProviders(spantest.Discard{})
	for _, name := range parallelSetups {
		s := setupNamed(b, name)
		b.Run("setup="+s.name, func(b *testing.B) {
			target, newBase := s.start(b)
			for _, vname := range parallelVariants {
				v := variantNamed(b, vname)
				b.Run("variant="+v.name, func(b *testing.B) {
					base := newBase()
					base.MaxIdleConnsPerHost = parallelIdleConns
					benchmarkParallelGET(b, s, v, tps, target, base)
				})
			}
		})
	}
}

func benchmarkParallelGET(b *testing.B, s *setup, v *variant, tps providers, target string, base *http.Transport) {
	b.Helper()
	defer base.CloseIdleConnections()
	rt := v.transport(base, tps.forVariant(v))
	ctx, parent := tps.parent(v)
	defer parent.End()

	// Before the timer: as many requests at once as there will be
	// goroutines, so that the pool holds about a connection for each
	// (HTTP/2: one connection, dialed once) and lazy initializations are
	// done.
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			if err := get(ctx, rt, target); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := getWith(ctx, v, rt, target); err != nil {
				// Fatal may not be called from this goroutine.
				b.Errorf("setup %s, variant %s: %v", s.name, v.name, err)
				return
			}
		}
	})
}

// getWith sends one GET as the variant's rows do, with its per-request
// context if it has one.
func getWith(ctx context.Context, v *variant, rt http.RoundTripper, target string) error {
	if v.perRequest != nil {
		ctx = v.perRequest(ctx)
	}
	return get(ctx, rt, target)
}
