package bench

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"net/http/httptrace"
	"net/textproto"

	"go.opentelemetry.io/contrib/instrumentation/net/http/httptrace/otelhttptrace"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
	wtpropagation "github.com/wiretrace/wiretrace/propagation"
)

// variant is one way of instrumenting the client: a column of the tables in
// docs/performance.md. To add one, append it to variants; the benchmark, the
// span accounting and bench/run.sh pick it up.
type variant struct {
	// name is the value of the variant key in the benchmark name.
	name string
	// transport wraps the setup's base transport. The variant's
	// instrumentation takes its tracer provider from tp.
	transport func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper
	// perRequest, if set, derives the context of each request from the
	// parent's.
	perRequest func(ctx context.Context) context.Context
	// unsampled is whether the requests run under a parent that is not
	// sampled, from a ParentBased(NeverSample) provider.
	unsampled bool
	// ours is whether the spans are this project's: the span accounting
	// fails if one of them is left unended.
	ours bool
	// replays, if set, names the variant whose spans the row starts and
	// ends through the SDK alone, with no request sent: the SDK's share of
	// the floor (floor_test.go). transport is not used.
	replays string
}

func bare(base http.RoundTripper, _ trace.TracerProvider) http.RoundTripper { return base }

// variants are the rows of the suite, in the order the tables show them.
var variants = []variant{
	{name: "bare", transport: bare},
	// net/http's own hooks, doing nothing: what any httptrace-based
	// instrumentation pays before it records anything.
	{name: "noop-trace", transport: bare, perRequest: func(ctx context.Context) context.Context {
		return httptrace.WithClientTrace(ctx, noopTrace())
	}},
	// Clone the request and inject traceparent, nothing else: what any
	// instrumentation that propagates pays. The second term of the floor.
	// Each request carries a span ID of its own, as under any tracer: over
	// HTTP/2, a traceparent repeated unchanged would cost the server
	// nothing to decode (HPACK indexes it).
	{name: "propagate", perRequest: newSpanIDs().next, transport: func(base http.RoundTripper, _ trace.TracerProvider) http.RoundTripper {
		return wtpropagation.NewTransport(base)
	}},
	// The SDK alone starting and ending the spans, attributes and events
	// of one otelhooks request of the setup, recorded in the same run: the
	// third term of the floor. No HTTP.
	{name: "sdk-spans", transport: bare, replays: "otelhooks"},
	// The same for the events mode: one span and its events.
	{name: "sdk-events", transport: bare, replays: "otelhooks-events"},
	// Three no-op traces composed by httptrace.WithClientTrace, as three
	// libraries installing their own would be.
	{name: "compose3", transport: bare, perRequest: func(ctx context.Context) context.Context {
		ctx = httptrace.WithClientTrace(ctx, noopTrace())
		ctx = httptrace.WithClientTrace(ctx, noopTrace())
		return httptrace.WithClientTrace(ctx, noopTrace())
	}},
	{name: "otelhttp", transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhttp.NewTransport(base, otelhttpOptions(tp)...)
	}},
	// otelhttp with otelhttptrace's hooks, as otelhttptrace's README
	// installs them: the anchor of the targets.
	{name: "otelhttptrace", transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhttp.NewTransport(base, otelhttpTraceOptions(tp)...)
	}},
	{name: "otelhttptrace-events", transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhttp.NewTransport(base, otelhttpTraceOptions(tp, otelhttptrace.WithoutSubSpans())...)
	}},
	{name: "otelhooks", ours: true, transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp), otelhooks.WithMeterProvider(noopmetric.NewMeterProvider()))
	}},
	{name: "otelhooks-events", ours: true, transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp), otelhooks.WithoutSubSpans(),
			otelhooks.WithMeterProvider(noopmetric.NewMeterProvider()))
	}},
	{name: "otelhooks-unsampled", ours: true, unsampled: true, transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp), otelhooks.WithMeterProvider(noopmetric.NewMeterProvider()))
	}},
	// Metrics on, into an SDK meter provider whose reader is never
	// collected: what recording the HTTP client metrics costs, on top of
	// the rows above (which record none).
	{name: "otelhttp+metrics", transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(meterProvider))
	}},
	{name: "otelhooks+metrics", ours: true, transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp), otelhooks.WithMeterProvider(meterProvider))
	}},
	{name: "otelhooks-unsampled+metrics", ours: true, unsampled: true, transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		return otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp), otelhooks.WithMeterProvider(meterProvider))
	}},
	// The documented interop: otelhttp's client span, our phases under it.
	{name: "otelhttp+otelhooks", ours: true, transport: func(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
		inner := otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp), otelhooks.WithoutRequestSpan(),
			otelhooks.WithMeterProvider(noopmetric.NewMeterProvider()))
		return otelhttp.NewTransport(inner, otelhttpOptions(tp)...)
	}},
}

// meterProvider records the metrics of the +metrics rows, into a reader
// that is never collected.
var meterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))

// otelhttpOptions are the options of every otelhttp transport: the
// variant's tracer provider, and a no-op meter provider, stated rather
// than left to the global one.
func otelhttpOptions(tp trace.TracerProvider) []otelhttp.Option {
	return []otelhttp.Option{
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(noopmetric.NewMeterProvider()),
	}
}

// otelhttpTraceOptions installs otelhttptrace's hooks on every request, with
// the same tracer provider and otherwise its defaults.
func otelhttpTraceOptions(tp trace.TracerProvider, opts ...otelhttptrace.ClientTraceOption) []otelhttp.Option {
	opts = append([]otelhttptrace.ClientTraceOption{otelhttptrace.WithTracerProvider(tp)}, opts...)
	return append(otelhttpOptions(tp), otelhttp.WithClientTrace(func(ctx context.Context) *httptrace.ClientTrace {
		return otelhttptrace.NewClientTrace(ctx, opts...)
	}))
}

// noopTrace returns a fresh trace whose hooks all do nothing, except
// WroteHeaderField, which makes net/http build a slice per header and which
// neither otelhooks nor the no-op rows set. Fresh per request, since
// httptrace.WithClientTrace modifies a trace it composes.
func noopTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) {},
		GotConn:              func(httptrace.GotConnInfo) {},
		PutIdleConn:          func(error) {},
		GotFirstResponseByte: func() {},
		Got100Continue:       func() {},
		Got1xxResponse:       func(int, textproto.MIMEHeader) error { return nil },
		DNSStart:             func(httptrace.DNSStartInfo) {},
		DNSDone:              func(httptrace.DNSDoneInfo) {},
		ConnectStart:         func(string, string) {},
		ConnectDone:          func(string, string, error) {},
		TLSHandshakeStart:    func() {},
		TLSHandshakeDone:     func(tls.ConnectionState, error) {},
		WroteHeaders:         func() {},
		Wait100Continue:      func() {},
		WroteRequest:         func(httptrace.WroteRequestInfo) {},
	}
}

// spanIDs hands out contexts whose span context is the parent's with a span
// ID of its own, made before the timer, so that the rows that propagate
// without starting spans send a new traceparent per request, and making it
// costs them nothing. Not safe for concurrent use: the rows that use it run
// their requests one at a time.
type spanIDs struct {
	parent context.Context
	ctxs   []context.Context
	i      int
}

// spanIDRing is how many contexts spanIDs cycles through: more traceparents
// than an HPACK table of 4 KiB holds.
const spanIDRing = 256

func newSpanIDs() *spanIDs { return &spanIDs{} }

// next returns the next context under parent, making the ring the first
// time it sees parent.
func (s *spanIDs) next(parent context.Context) context.Context {
	if s.parent != parent {
		s.parent, s.i = parent, 0
		s.ctxs = make([]context.Context, spanIDRing)
		sc := trace.SpanContextFromContext(parent)
		for i := range s.ctxs {
			var id trace.SpanID
			binary.BigEndian.PutUint64(id[:], uint64(i+1)<<16|0xbe9c)
			s.ctxs[i] = trace.ContextWithSpanContext(parent, sc.WithSpanID(id))
		}
	}
	ctx := s.ctxs[s.i%spanIDRing]
	s.i++
	return ctx
}
