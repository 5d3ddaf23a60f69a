package otelhooks_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// allocRuns is how many requests testing.AllocsPerRun averages over, per
// row. Its result is the mean rounded down, so two rows compared can move
// by one between runs; over this many requests, by no more.
const allocRuns = 400

// allocNoise is by how much a mode may exceed its budget: AllocsPerRun
// returns the mean rounded down, and two rows compared (ours and bare) can
// each land on either side of an integer. Under the race detector, whose
// sync.Pool drops what is put back at random, the counts move by up to two
// between runs (seen: T 67–69, events N 58–60), so raceNoise is two.
const (
	allocNoise = 1
	raceNoise  = 2
)

// allocBudget is one mode of NewTransport with the allocations it may
// cost per request over the same request through the bare transport.
type allocBudget struct {
	name string
	// setup is "K" (HTTP/1.1 keep-alive to 127.0.0.1), "N" (HTTP/1.1 to
	// localhost, a new connection and a DNS lookup per request) or "T"
	// (HTTPS to 127.0.0.1, a new connection and a full TLS handshake per
	// request).
	setup string
	opts  []otelhooks.Option
	// unsampled runs the requests under a parent that is not sampled.
	unsampled bool
	// otelhttp runs each request under a client span of its own, started
	// before the round trip and ended after the body is closed, as
	// otelhttp does around an inner transport; the bare request it is
	// compared with has the same span.
	otelhttp bool
	// budget is the allocations per request over bare measured when it
	// was set; raceBudget the same under the race detector, which
	// changes the counts (its sync.Pool, for one, drops a quarter of what
	// is put back).
	budget, raceBudget float64
}

// TestAllocationBudgets measures, with testing.AllocsPerRun, the
// allocations per request of NewTransport in each mode over those of the
// same request through the bare transport, to the same loopback server in
// the same process (so the server's allocations cancel out), and fails if a
// mode costs more than its budget.
//
// The budgets are the counts measured when they were set (the commit that
// last changed this table), exactly: the assertion allows allocNoise more,
// the one allocation by which two rounded-down means can differ (raceNoise,
// two, under the race detector), and no other padding. An optimisation that
// lowers a count should lower its budget here, and a change that raises one
// must say why in the same commit. The figures match bench/'s rows of the
// same names (docs/performance.md), which break them down. Every
// instrumented row propagates (W3C traceparent), as bench/ does.
func TestAllocationBudgets(t *testing.T) {
	noMetrics := otelhooks.WithMeterProvider(noopmetric.NewMeterProvider())
	metered := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = metered.Shutdown(context.Background()) })

	budgets := []allocBudget{
		{name: "sub-spans", setup: "K", opts: []otelhooks.Option{noMetrics}, budget: 35, raceBudget: 45},
		{name: "sub-spans", setup: "N", opts: []otelhooks.Option{noMetrics}, budget: 50, raceBudget: 64},
		{name: "sub-spans", setup: "T", opts: []otelhooks.Option{noMetrics}, budget: 47, raceBudget: 61},
		{name: "events", setup: "K", opts: []otelhooks.Option{otelhooks.WithoutSubSpans(), noMetrics}, budget: 27, raceBudget: 34},
		{name: "events", setup: "N", opts: []otelhooks.Option{otelhooks.WithoutSubSpans(), noMetrics}, budget: 41, raceBudget: 50},
		{name: "unsampled", setup: "K", opts: []otelhooks.Option{noMetrics}, unsampled: true, budget: 11, raceBudget: 11},
		{name: "metered", setup: "K", opts: []otelhooks.Option{otelhooks.WithMeterProvider(metered)}, budget: 36, raceBudget: 46},
		{name: "metered", setup: "N", opts: []otelhooks.Option{otelhooks.WithMeterProvider(metered)}, budget: 51, raceBudget: 66},
		{name: "unsampled-metered", setup: "K", opts: []otelhooks.Option{otelhooks.WithMeterProvider(metered)}, unsampled: true, budget: 14, raceBudget: 17},
		{name: "unsampled-metered", setup: "N", opts: []otelhooks.Option{otelhooks.WithMeterProvider(metered)}, unsampled: true, budget: 22, raceBudget: 27},
		{name: "under-otelhttp", setup: "K", opts: []otelhooks.Option{otelhooks.WithoutRequestSpan(), noMetrics}, otelhttp: true, budget: 28, raceBudget: 35},
		{name: "under-otelhttp", setup: "N", opts: []otelhooks.Option{otelhooks.WithoutRequestSpan(), noMetrics}, otelhttp: true, budget: 43, raceBudget: 54},
	}

	servers := map[string]func() (string, *http.Transport){
		"K": func() (string, *http.Transport) {
			return allocServer(t, false), &http.Transport{MaxIdleConnsPerHost: 1}
		},
		"N": func() (string, *http.Transport) {
			return allocServer(t, true), &http.Transport{DisableKeepAlives: true}
		},
		"T": func() (string, *http.Transport) {
			srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
			tr.DisableKeepAlives = true
			return srv.URL, tr
		},
	}
	sampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(spantest.Discard{}))
	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())), sdktrace.WithSpanProcessor(spantest.Discard{}))

	for _, b := range budgets {
		t.Run(b.name+"/"+b.setup, func(t *testing.T) {
			tp := sampled
			if b.unsampled {
				tp = unsampled
			}
			target, base := servers[b.setup]()
			t.Cleanup(base.CloseIdleConnections)
			ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
			t.Cleanup(func() { parent.End() })
			opts := append([]otelhooks.Option{otelhooks.WithTracerProvider(tp)}, b.opts...)
			rt := otelhooks.NewTransport(base, opts...)

			var outer trace.Tracer
			if b.otelhttp {
				outer = tp.Tracer("otelhttp-like")
			}
			bare := allocsPerRequest(t, ctx, outer, base, target)
			ours := allocsPerRequest(t, ctx, outer, rt, target)
			budget, noise := b.budget, float64(allocNoise)
			if raceEnabled {
				budget, noise = b.raceBudget, raceNoise
			}
			t.Logf("%s %s: %.0f allocs/request, bare %.0f: %+.0f, budget %+.0f", b.name, b.setup, ours, bare, ours-bare, budget)
			assert.LessOrEqual(t, ours-bare, budget+noise, "allocations per request over bare")
		})
	}
}

// allocsPerRequest returns the allocations of one GET to target through rt,
// its body read and closed, averaged by testing.AllocsPerRun. With outer
// set, the request runs under a client span of its own from outer.
func allocsPerRequest(t *testing.T, ctx context.Context, outer trace.Tracer, rt http.RoundTripper, target string) float64 {
	t.Helper()
	var err error
	n := testing.AllocsPerRun(allocRuns, func() {
		if err != nil {
			return
		}
		reqCtx, span := ctx, trace.Span(nil)
		if outer != nil {
			reqCtx, span = outer.Start(ctx, http.MethodGet, clientKind...)
		}
		err = getOnce(reqCtx, rt, target)
		if span != nil {
			span.End()
		}
	})
	require.NoError(t, err)
	return n
}

// clientKind is the start option of the otelhttp-like span, built once.
var clientKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

func getOnce(ctx context.Context, rt http.RoundTripper, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return err
}

// allocServer starts a server on 127.0.0.1 and returns its URL, with the
// host "localhost" if byName.
func allocServer(t *testing.T, byName bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)
	if byName {
		return testnet.ByName(t, srv.URL)
	}
	return srv.URL
}
