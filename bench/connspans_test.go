package bench

import (
	"context"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// connModels are the two connection models of otelhooks, for the rows that
// compare them on a reused connection (docs/performance.md, "The connection
// model"): the default one (http.getconn per request) and
// WithConnectionSpans (a link per request to the connection's setup), each
// with and without InstrumentTransport's connections.
var connModels = []struct {
	name       string
	connSpans  bool
	instrument bool
}{
	{"otelhooks", false, false},
	{"otelhooks-connspans", true, false},
	{"otelhooks+instrumented", false, true},
	{"otelhooks-connspans+instrumented", true, true},
}

func connModelTransport(base *http.Transport, tp trace.TracerProvider, connSpans, instrument bool) http.RoundTripper {
	if instrument {
		otelhooks.InstrumentTransport(base, otelhooks.WithMeterProvider(noopmetric.NewMeterProvider()))
	}
	opts := []otelhooks.Option{otelhooks.WithTracerProvider(tp), otelhooks.WithMeterProvider(noopmetric.NewMeterProvider())}
	if connSpans {
		opts = append(opts, otelhooks.WithConnectionSpans())
	}
	return otelhooks.NewTransport(base, opts...)
}

// BenchmarkConnModel measures a GET on a reused connection (setups K and
// H2) under each connection model; run with -benchmem for the allocations.
func BenchmarkConnModel(b *testing.B) {
	tps := newProviders(spantest.Discard{})
	for _, s := range setups {
		if !s.keepAlive {
			continue
		}
		b.Run("setup="+s.name, func(b *testing.B) {
			target, newBase := s.start(b)
			for _, m := range connModels {
				b.Run("variant="+m.name, func(b *testing.B) {
					base := newBase()
					defer base.CloseIdleConnections()
					rt := connModelTransport(base, tps.sampled, m.connSpans, m.instrument)
					ctx, parent := tps.sampled.Tracer("bench").Start(b.Context(), parentName)
					defer parent.End()
					if err := get(ctx, rt, target); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if err := get(ctx, rt, target); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// connModelRuns is how many requests TestConnModelCostsNoMoreOnReusedConnection
// averages each model over, in connModelRounds interleaved rounds.
const (
	connModelRuns   = 400
	connModelRounds = 4
)

// connModelNoise is by how much one model's mean may exceed the other's,
// and connModelRaceNoise the same under the race detector. The means are
// exact (meanAllocs), not rounded down as testing.AllocsPerRun's are, so
// without -race two models of the same cost differ by a hundredth. Under
// -race the detector drops sync.Pool items at random and the in-process
// server's and HTTP/2's background work lands in some requests: the
// means of equal models were seen up to 0.36 apart. One more allocation
// per request fails either way.
const (
	connModelNoise     = 0.25
	connModelRaceNoise = 0.75
)

// meanAllocs is testing.AllocsPerRun without the rounding: the mean number
// of heap allocations of the whole process per call of f, after one
// warm-up call, with GOMAXPROCS 1.
func meanAllocs(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs)
}

// TestConnModelCostsNoMoreOnReusedConnection pins the bound: on a
// reused connection, WithConnectionSpans allocates no more per request than
// the default model. Allocations, not time: they are stable on a loaded
// machine.
func TestConnModelCostsNoMoreOnReusedConnection(t *testing.T) {
	tps := newProviders(spantest.Discard{})
	for _, s := range setups {
		if !s.keepAlive {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			target, newBase := s.start(t)
			type model struct {
				rt  http.RoundTripper
				ctx context.Context
			}
			models := make([]model, len(connModels))
			for i, m := range connModels {
				base := newBase()
				t.Cleanup(base.CloseIdleConnections)
				ctx, parent := tps.sampled.Tracer("bench").Start(t.Context(), parentName)
				t.Cleanup(func() { parent.End() })
				models[i] = model{connModelTransport(base, tps.sampled, m.connSpans, m.instrument), ctx}
				require.NoError(t, get(ctx, models[i].rt, target)) // dial before measuring
			}
			sum := make(map[string]float64)
			var err error
			for range connModelRounds {
				for i, m := range connModels {
					sum[m.name] += meanAllocs(connModelRuns, func() {
						if e := get(models[i].ctx, models[i].rt, target); e != nil {
							err = e
						}
					})
				}
			}
			require.NoError(t, err)
			allocs := make(map[string]float64, len(sum))
			for _, m := range connModels {
				allocs[m.name] = sum[m.name] / connModelRounds
				t.Logf("%s: %.2f allocs per request on a reused connection", m.name, allocs[m.name])
			}
			noise := connModelNoise
			if raceEnabled {
				noise = connModelRaceNoise
			}
			assert.LessOrEqual(t, allocs["otelhooks-connspans"], allocs["otelhooks"]+noise)
			assert.LessOrEqual(t, allocs["otelhooks-connspans+instrumented"], allocs["otelhooks+instrumented"]+noise)
		})
	}
}
