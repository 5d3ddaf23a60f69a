package bench

import (
	"net/http"
	"testing"

	"github.com/wiretrace/wiretrace/internal/spantest"
)

// BenchmarkGET sends GETs to a loopback server, reading and closing each
// body, for every setup and variant: BenchmarkGET/setup=K/variant=bare and
// so on, for "benchstat -col /variant". bench/run.sh runs it interleaved.
func BenchmarkGET(b *testing.B) {
	tps := newProviders(spantest.Discard{})
	for _, s := range setups {
		b.Run("setup="+s.name, func(b *testing.B) {
			target, newBase := s.start(b)
			for i := range variants {
				v := &variants[i]
				b.Run("variant="+v.name, func(b *testing.B) {
					benchmarkGET(b, &s, v, tps, target, newBase())
				})
			}
		})
	}
}

func benchmarkGET(b *testing.B, s *setup, v *variant, tps providers, target string, base *http.Transport) {
	b.Helper()
	if v.replays != "" {
		benchmarkReplay(b, s, v, tps, target, base)
		return
	}
	defer base.CloseIdleConnections()
	rt := v.transport(base, tps.forVariant(v))
	ctx, parent := tps.parent(v)
	defer parent.End()

	// A first request, before the timer: it dials the connection the
	// keep-alive setups reuse, and brings every lazy initialization of the
	// variant (tracers, sync.Pools) out of the measurement.
	if err := get(ctx, rt, target); err != nil {
		b.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		reqCtx := ctx
		if v.perRequest != nil {
			reqCtx = v.perRequest(ctx)
		}
		if err := get(reqCtx, rt, target); err != nil {
			b.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
		}
	}
}

// benchmarkReplay runs a replay row: the spans of one request of the setup,
// recorded before the timer, started and ended through the SDK alone per
// iteration, under the same provider and parent as the other rows.
func benchmarkReplay(b *testing.B, s *setup, v *variant, tps providers, target string, base *http.Transport) {
	b.Helper()
	r := newReplayer(tps.forVariant(v), replayShape(b, s, v, target, base))
	ctx, parent := tps.parent(v)
	defer parent.End()
	r.replay(ctx)
	b.ReportAllocs()
	for b.Loop() {
		r.replay(ctx)
	}
}
