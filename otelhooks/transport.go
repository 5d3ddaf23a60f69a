package otelhooks

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/propagation"
)

// ScopeName is the instrumentation scope name of the spans this package
// creates: its import path.
const ScopeName = "github.com/wiretrace/wiretrace/otelhooks"

var errNilRequest = errors.New("otelhooks: nil *http.Request")

// NewTransport returns an [http.RoundTripper] that traces each round trip
// through base, or through [http.DefaultTransport] if base is nil.
//
// For each request it starts a client span named after the method (see
// [WithSpanNameFormatter]) under the span in the request's context, injects
// that span's context into the outgoing request with the propagation
// package, and records every phase net/http reports as a child span of it
// (or as events, with [WithoutSubSpans]). The request span and all its
// phases end when the response body is read to the end, fails, or is
// closed, or when the round trip fails: a body that is never closed keeps
// them open, as it keeps the connection.
//
// When the request span is not recording (its trace is not sampled), no
// span is recorded and the context is still propagated. If metrics record
// too (see [WithMeterProvider]), the request gets the six hooks they need
// (GetConn, GotConn, DNSStart, DNSDone and the two lifecycle hooks; no DNS
// hooks for an IP address); if not, no hook at all. Requests that a
// [WithFilter] filter rejects are sent as they are.
//
// The caller's request is never modified: the transport sends a copy with
// its own context and headers. It is safe for concurrent use, and forwards
// CloseIdleConnections to base if base has it.
//
// The copy is the response's Request. Its context has the request span (and
// everything the caller's context had) for as long as it is kept; the
// transport's hooks are gone from it once RoundTrip returns, so a request
// sent with it, even while the body is still open, records nothing in the
// first one's spans. Under WithConnectionSpans the hooks stay (a dial that
// outlives the round trip still reports to its connection's setup): they
// record nothing once the request ended, but a request sent with the
// context before the body ended is recorded in the first one's spans too.
// Over an *http.Transport, the
// transport reuses the state of a finished request for the next one, once
// net/http can report nothing more of the first (docs/performance.md).
func NewTransport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	cfg := newConfig(opts)
	t := &transport{
		base:      base,
		lifecycle: clienttrace.NewTransport(base),
		cfg:       cfg,
		prop:      propagation.New(cfg.propOpts...),
	}
	t.learnBase(base)
	t.starts.New = func() any { return newSpanStart(cfg) }
	if reusesState(t) {
		t.reuse = true
		t.requests.New = func() any { return newPooledRequest(&t.requests) }
	}
	if cfg.connSpans {
		t.conns = newConnRegistry()
	}
	if cfg.provider != nil {
		t.tracer = newTracer(cfg.provider)
	}
	if !cfg.noMetrics {
		t.inst = newInstruments(cfg.meterProvider)
	}
	return t
}

type transport struct {
	base      http.RoundTripper
	lifecycle http.RoundTripper // base, wrapped to report the lifecycle hooks
	cfg       *config
	prop      *propagation.Propagator
	tracer    trace.Tracer // nil: resolved per request
	inst      *instruments // nil: WithoutMetrics
	// direct is whether base is an *http.Transport without a proxy, which
	// does no TLS handshake for plain HTTP. The fields above and direct
	// are read-only once NewTransport returns.
	direct bool
	// customTLSDial is whether base dials HTTPS connections with
	// DialTLSContext or DialTLS, which do the handshake themselves (see
	// hooksFor); read-only too. plainDial is whether base is direct and
	// dials with net/http's own net.Dialer, no custom dialer (pool.go);
	// read-only.
	customTLSDial bool
	plainDial     bool

	// starts holds *spanStart, for the options of the request spans.
	starts sync.Pool
	// reuse is whether requests take their state from requests, which
	// holds *pooledRequest (pool.go); read-only once NewTransport returns.
	reuse      bool
	keepAlives bool // base keeps connections alive; read-only
	requests   sync.Pool
	// conns pairs connections with their setups under
	// WithConnectionSpans (connspans.go); nil without it. Safe for
	// concurrent use.
	conns *connRegistry
}

var _ http.RoundTripper = (*transport)(nil)

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errNilRequest
	}
	if req.URL == nil || !t.cfg.traced(req) {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	tracer := t.tracerFor(ctx)
	metered := t.inst.enabled(ctx)

	// span is what the phases go under: the request span, or, with
	// WithoutRequestSpan, the span of the instrumentation around us; nil
	// if it does not record, and then only metrics are, if any.
	var span trace.Span
	ownsSpan := false
	if t.cfg.noRequestSpan {
		if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
			span = parent
		}
	} else {
		// What a sampler may decide on (method, URL, server) is passed to
		// Start; the rest is set when the span ends, all at once.
		var s trace.Span
		ss := t.starts.Get().(*spanStart)
		ctx, s = tracer.Start(ctx, t.cfg.spanName(req), ss.options(req)...)
		t.starts.Put(ss.reset())
		if s.IsRecording() {
			span, ownsSpan = s, true
		} else {
			// Nothing will be recorded into it, and nothing else ends
			// it: ended now, its context still propagated. A tracer may
			// keep state for a span until End, recording or not.
			s.End()
		}
	}
	var user *clienttrace.ClientTrace
	if t.cfg.clientTrace != nil {
		user = t.cfg.clientTrace(ctx)
	}
	if span == nil && !metered {
		if user != nil {
			ctx = clienttrace.WithClientTrace(ctx, user)
			return t.lifecycle.RoundTrip(t.prop.Clone(ctx, req))
		}
		return t.base.RoundTrip(t.prop.Clone(ctx, req))
	}
	var r *request
	var pooled *pooledRequest
	if t.reuse && user == nil {
		// (t.reuse: keep-alives, or net/http's own dials, whose hooks
		// tell when a dial is over, even for a request without spans:
		// pool.go.)
		pooled = t.pooledRequestFor(ctx, tracer, span, ownsSpan, req)
		r = &pooled.r
	} else {
		r = newRequest(ctx, t.cfg, tracer, span, ownsSpan, req, t)
	}
	if user != nil && user.Got1xxResponse != nil {
		r.max1xx = 0 // the caller sees the 1xx responses: see max1xxHeaderBytes
	}
	if metered {
		// Metrics count every request, sampled or not. Under another
		// instrumentation's span, that instrumentation records the
		// request-level metrics itself: only the phases' are recorded.
		r.meter = newRequestMeter(ctx, t.inst, req, !t.cfg.noRequestSpan, t.cfg.metricAttrs(req))
	}
	if pooled != nil {
		// pool.go: the request's hooks, in a context that stops
		// answering with them once the state carries another request.
		sent := pooled.context(ctx, t.direct)
		resp, err := t.lifecycle.RoundTrip(t.prop.Clone(sent, req))
		// The caller may keep the context and send other requests with it
		// while the body is open: none of them may take the hooks (pool.go).
		// pooled may carry another request by now; sent is this one's.
		// Under WithConnectionSpans a dial that outlives the request
		// reports its later steps to its setup, which would never end:
		// the hooks stay, and taking them keeps the state from the pool
		// (pool.go).
		sent.returned.Store(true)
		return resp, err
	}
	hooked := r.withProxy(ctx, t.direct) // proxy.go: lets the dial find the request
	hooked = r.csContext(hooked)         // WithConnectionSpans: for InstrumentDialer
	hooks := &r.trace
	if user != nil {
		hooks = clienttrace.Compose(hooks, user)
	}
	hooked = clienttrace.WithClientTrace(hooked, hooks)
	sent, kept := r.keptContext(ctx, hooked)
	resp, err := t.lifecycle.RoundTrip(t.prop.Clone(sent, req))
	if kept != nil {
		kept.returned.Store(true) // pool.go: a kept context takes no hooks
	}
	return resp, err
}

// spanStart is the options one request span starts with: the config's,
// then the request's attributes. Transports keep them in a pool, so that
// the slices and the attribute option are built once, not per request:
// tracer.Start reads its options before it returns (trace.NewSpanStartConfig
// copies the attributes), and the pool gets them back only then.
type spanStart struct {
	opts  []trace.SpanStartOption // the config's (kind, WithSpanOptions'), then attrOpt
	attrs [5]attribute.KeyValue   // requestAttrs' most
	// attrOpt passes attrs[:n]; built again only when n changes.
	attrOpt trace.SpanStartOption
	n       int
	scrub   *scrubber // the config's
}

func newSpanStart(cfg *config) *spanStart {
	// The request's attributes come last: the span keeps the last of two
	// attributes with one key, so ours win over WithSpanOptions's, as
	// otelhttp's do (it sets them after the start).
	ss := &spanStart{opts: make([]trace.SpanStartOption, len(cfg.startOpts)+1), scrub: cfg.scrub}
	copy(ss.opts, cfg.startOpts)
	return ss
}

// options returns the start options of a span for req. ss must not be
// reused until the span started.
func (ss *spanStart) options(req *http.Request) []trace.SpanStartOption {
	attrs := requestAttrs(ss.attrs[:0], req, ss.scrub)
	if len(attrs) > len(ss.attrs) {
		// Past the array, append copied them (never, for requestAttrs
		// as it is).
		ss.opts[len(ss.opts)-1] = trace.WithAttributes(attrs...)
		ss.n = -1
		return ss.opts
	}
	if len(attrs) != ss.n {
		ss.n = len(attrs)
		ss.attrOpt = trace.WithAttributes(ss.attrs[:ss.n]...)
	}
	ss.opts[len(ss.opts)-1] = ss.attrOpt
	return ss.opts
}

// reset drops what ss holds of the last request, so that the pool keeps no
// URL alive.
func (ss *spanStart) reset() *spanStart {
	clear(ss.attrs[:])
	return ss
}

// CloseIdleConnections calls base's CloseIdleConnections, if it has one.
// With WithConnectionSpans, it then ends the setups of the dials that call
// canceled where no hook shows it (connRegistry.closeIdle).
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
	if t.conns != nil {
		t.conns.closeIdle()
	}
}

// tracerFor returns the configured tracer, or one from the provider of the
// span in ctx if it is valid, or from the global provider.
func (t *transport) tracerFor(ctx context.Context) trace.Tracer {
	if t.tracer != nil {
		return t.tracer
	}
	return tracerFor(ctx)
}

func tracerFor(ctx context.Context) trace.Tracer {
	if span := trace.SpanFromContext(ctx); span.SpanContext().IsValid() {
		return newTracer(span.TracerProvider())
	}
	return newTracer(otel.GetTracerProvider())
}

// tracerOptions are built once, so that asking a provider for the tracer
// allocates nothing.
var tracerOptions = []trace.TracerOption{
	trace.WithInstrumentationVersion(Version()),
	trace.WithSchemaURL(semconv.SchemaURL),
}

func newTracer(tp trace.TracerProvider) trace.Tracer {
	return tp.Tracer(ScopeName, tracerOptions...)
}
