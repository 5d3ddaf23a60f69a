package otelhooks_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// BenchmarkKeepAliveGET sends keep-alive GETs to a loopback server, reading
// and closing each body, through the bare transport and through
// NewTransport in its modes.
func BenchmarkKeepAliveGET(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	sampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(spantest.Discard{}))
	metered := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = metered.Shutdown(context.Background()) }()
	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())), sdktrace.WithSpanProcessor(spantest.Discard{}))

	variants := []struct {
		name string
		rt   http.RoundTripper
		tp   trace.TracerProvider
	}{
		{"variant=bare", base, sampled},
		{"variant=subspans", otelhooks.NewTransport(base, otelhooks.WithTracerProvider(sampled)), sampled},
		{"variant=events", otelhooks.NewTransport(base, otelhooks.WithTracerProvider(sampled), otelhooks.WithoutSubSpans()), sampled},
		{"variant=unsampled", otelhooks.NewTransport(base, otelhooks.WithTracerProvider(unsampled)), unsampled},
		{"variant=subspans+metrics", otelhooks.NewTransport(base, otelhooks.WithTracerProvider(sampled), otelhooks.WithMeterProvider(metered)), sampled},
		{"variant=unsampled+metrics", otelhooks.NewTransport(base, otelhooks.WithTracerProvider(unsampled), otelhooks.WithMeterProvider(metered)), unsampled},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			ctx, parent := v.tp.Tracer("bench").Start(context.Background(), "parent")
			defer parent.End()
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := v.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
