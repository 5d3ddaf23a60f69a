package bench

import (
	"net/http"
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
			allocs := make(map[string]float64)
			for _, m := range connModels {
				base := newBase()
				rt := connModelTransport(base, tps.sampled, m.connSpans, m.instrument)
				ctx, parent := tps.sampled.Tracer("bench").Start(t.Context(), parentName)
				require.NoError(t, get(ctx, rt, target)) // dial before measuring
				var err error
				allocs[m.name] = testing.AllocsPerRun(200, func() {
					if e := get(ctx, rt, target); e != nil {
						err = e
					}
				})
				require.NoError(t, err)
				parent.End()
				base.CloseIdleConnections()
			}
			t.Logf("allocs per request on a reused connection: %v", allocs)
			assert.LessOrEqual(t, allocs["otelhooks-connspans"], allocs["otelhooks"])
			assert.LessOrEqual(t, allocs["otelhooks-connspans+instrumented"], allocs["otelhooks+instrumented"])
		})
	}
}
