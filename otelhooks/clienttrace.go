package otelhooks

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
)

// NewClientTrace returns hooks that record the phases of one HTTP request as
// child spans of the span in ctx (or as its events, with [WithoutSubSpans]):
// for code that creates its own span per request and wants only the phases
// under it. Install the result with [clienttrace.WithClientTrace] on the
// request's context; use it for one request only.
//
// Lifecycle: the phases that end with a net/http hook (DNS, each dial, TLS,
// sending, waiting) end by themselves. The others need the lifecycle events
// of a [clienttrace.NewTransport] in the client's transport chain
// ([NewTransport] includes one): the wait for a connection of a request that
// fails before getting one ends when the round trip fails, "http.receive"
// starts when the round trip returns and ends when the body is done, and
// any phase still open then ends, marked abandoned, so that every span that
// starts ends. Without such a transport, no "http.receive" span is created,
// and the "http.getconn" span of a request that never gets a connection is
// never ended.
//
// It never returns nil. When ctx is nil or the span in ctx is not recording,
// nothing is recorded for a trace that is not sampled: it returns a new
// ClientTrace with no hooks, so that otelhttptrace's migration pattern,
// httptrace.WithClientTrace(ctx, clienttrace.ToHTTPTrace(NewClientTrace(ctx))),
// works on every request (httptrace.WithClientTrace panics on nil). The span
// in ctx is the caller's: the hooks add events to it but never end it or set
// its attributes or status.
func NewClientTrace(ctx context.Context, opts ...Option) *clienttrace.ClientTrace {
	if ctx == nil {
		return new(clienttrace.ClientTrace)
	}
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return new(clienttrace.ClientTrace)
	}
	cfg := newConfig(opts)
	tracer := tracerFor(ctx)
	if cfg.provider != nil {
		tracer = newTracer(cfg.provider)
	}
	r := newRequest(ctx, cfg, tracer, parent, false, nil, nil)
	return &r.trace
}
