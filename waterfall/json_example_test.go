package waterfall_test

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/waterfall"
)

func ExampleNewJSONExporter() {
	exp := waterfall.NewJSONExporter(os.Stdout)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(&fixedIDs{}))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("example")

	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx, req := tracer.Start(context.Background(), "GET", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(t0), trace.WithAttributes(attribute.String("url.full", "https://example.com/")))
	_, dns := tracer.Start(ctx, "http.dns", trace.WithTimestamp(t0))
	dns.SetAttributes(attribute.StringSlice("dns.answers", []string{"93.184.216.34"}))
	dns.End(trace.WithTimestamp(t0.Add(1500 * time.Microsecond)))
	req.SetAttributes(attribute.Int("http.response.status_code", 200))
	req.End(trace.WithTimestamp(t0.Add(40 * time.Millisecond)))
	// Output:
	// {"name":"http.dns","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"0000000000000002","parent_span_id":"0000000000000001","kind":"internal","start":"2025-01-02T03:04:05Z","end":"2025-01-02T03:04:05.0015Z","duration_ms":1.5,"status":{"code":"Unset","description":""},"attributes":{"dns.answers":["93.184.216.34"]},"events":[]}
	// {"name":"GET","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"0000000000000001","parent_span_id":"","kind":"client","start":"2025-01-02T03:04:05Z","end":"2025-01-02T03:04:05.04Z","duration_ms":40,"status":{"code":"Unset","description":""},"attributes":{"http.response.status_code":200,"url.full":"https://example.com/"},"events":[]}
}
