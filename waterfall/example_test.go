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

// fixedIDs gives every trace the same id and numbers spans from 1, so the
// example's output is the same on every run.
type fixedIDs struct{ n uint64 }

func (g *fixedIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
		g.NewSpanID(context.Background(), trace.TraceID{})
}

func (g *fixedIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	g.n++
	return trace.SpanID{7: byte(g.n)}
}

func ExampleNewExporter() {
	exp := waterfall.NewExporter(os.Stdout, waterfall.WithWidth(80), waterfall.WithColor(false))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(&fixedIDs{}))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("example")

	// Real programs let the SDK take the time; the example fixes it.
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) trace.SpanEventOption {
		return trace.WithTimestamp(t0.Add(time.Duration(n) * time.Millisecond))
	}

	ctx, req := tracer.Start(context.Background(), "GET", trace.WithSpanKind(trace.SpanKindClient), ms(0),
		trace.WithAttributes(
			attribute.String("url.full", "https://example.com/"),
			attribute.Int("http.response.status_code", 200),
		))
	_, conn := tracer.Start(ctx, "http.getconn", ms(1))
	conn.SetAttributes(
		attribute.String("network.peer.address", "93.184.216.34"),
		attribute.Int("network.peer.port", 443),
		attribute.Bool("wiretrace.conn.reused", true),
	)
	conn.End(ms(2))
	_, wait := tracer.Start(ctx, "http.wait", ms(2))
	wait.End(ms(38))
	_, recv := tracer.Start(ctx, "http.receive", ms(38))
	recv.SetAttributes(attribute.Int("http.response.body.size", 1256))
	recv.End(ms(40))
	req.End(ms(40)) // the trace is complete: it is printed now
	// Output:
	// trace 0af7651916cd43dd8448eb211c80319c          40.0ms |0                40.0ms|
	// GET https://example.com/ 200                    40.0ms |███████████████████████|
	// ├─ http.getconn 93.184.216.34:443 reused        1.00ms | █                     |
	// ├─ http.wait                                    36.0ms | █████████████████████ |
	// └─ http.receive 1.3 kB                          2.00ms |                      █|
}
