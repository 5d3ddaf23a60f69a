package propagation

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Propagator injects the trace context and baggage of a context into HTTP
// requests, as its options say, and extracts them from received requests.
// It is built once, by [New], and is safe for concurrent use; it holds no
// per-request state.
//
// The zero value and a nil *Propagator behave like New() with no option.
type Propagator struct {
	// static is the propagator set by WithPropagators; nil means the
	// default, resolved at each use.
	static  *resolved
	policy  func(host string) Policy
	filters []func(baggage.Member) bool
}

// zero is the Propagator with no option.
var zero Propagator

// New returns a Propagator configured by opts. The options are resolved
// here, once; the default propagator, when no [WithPropagators] option is
// given, is resolved at each use, so that a global propagator that the
// application sets later is honored.
func New(opts ...Option) *Propagator {
	c := newConfig(opts)
	p := &Propagator{policy: c.hostPolicy, filters: c.baggageFilters}
	if c.propagator != nil {
		r := newResolved(c.propagator)
		p.static = &r
	}
	return p
}

// Inject sets on req.Header, in place, the propagation fields of ctx that
// the host policy allows for req.URL's host. The caller owns req and must not
// be using it concurrently; Inject is meant for a request being built, or one
// that the caller has cloned. To leave req alone, use [Propagator.Clone].
//
// Inject first deletes every header field that the propagator owns (its
// Fields, compared case-insensitively), so that a stale value, such as one
// copied by http.Client onto a redirect or left by an earlier attempt of a
// retried request, never survives, and a field the policy now forbids is
// removed. It then injects the fields the policy allows: each one set once,
// replacing, never appending. The context is the only source: a traceparent
// the caller set by hand is replaced by ctx's, or removed if ctx has no span.
//
// A nil ctx means req.Context(). A nil req.Header gets a new map. A nil req
// or a nil req.URL makes Inject do nothing. Inject never fails.
func (p *Propagator) Inject(ctx context.Context, req *http.Request) {
	if req == nil || req.URL == nil {
		return
	}
	if p == nil {
		p = &zero
	}
	if ctx == nil {
		ctx = req.Context()
	}
	r := p.resolve(false)
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	for k := range req.Header {
		if r.owns(k) {
			delete(req.Header, k)
		}
	}
	p.inject(ctx, r, req.Header, req.URL)
}

// Clone returns a shallow copy of req that carries ctx, as req.WithContext
// does, with a Header map of its own: req's header fields, less those the
// propagator owns, plus the propagation fields of ctx that the host policy
// allows for req.URL's host, as [Propagator.Inject] sets them. req and its
// Header map are never modified, so Clone is safe on a request that other
// goroutines read, and is what a RoundTripper should use.
//
// The new Header shares the value slices of req.Header, capped so that
// appending to them, as Header.Add does, copies them first: replace or
// append to the values of the clone's fields, but do not assign to their
// elements in place.
//
// A nil ctx means req.Context(). A nil req gives nil. If req.URL is nil, the
// copy carries req's header fields unchanged.
//
// Cost: one Request, one map, and what the propagator injects; for a sampled
// span and no baggage, with the W3C propagators, five allocations in all (the
// map takes two: its header and its table). Nothing is resolved again per
// request: the options were resolved by New, the zero-setup propagator once,
// and the Fields of a global propagator are cached. Baggage, when baggage
// propagation is configured, costs more: it is encoded once to check the
// limits.
func (p *Propagator) Clone(ctx context.Context, req *http.Request) *http.Request {
	if req == nil {
		return nil
	}
	if p == nil {
		p = &zero
	}
	if ctx == nil {
		ctx = req.Context()
	}
	r2 := req.WithContext(ctx)
	if req.URL == nil {
		r2.Header = req.Header.Clone()
		return r2
	}
	r := p.resolve(false)
	h := make(http.Header, len(req.Header)+len(r.fields))
	for k, v := range req.Header {
		if !r.owns(k) {
			h[k] = v[:len(v):len(v)]
		}
	}
	r2.Header = h
	p.inject(ctx, r, h, req.URL)
	return r2
}

// inject injects into h the fields of ctx that the policy allows for u's
// host. The owned fields are already gone from h.
func (p *Propagator) inject(ctx context.Context, r resolved, h http.Header, u *url.URL) {
	policy := SendAll
	if p.policy != nil {
		policy = p.policy(destinationHost(u)) & SendAll
	}
	if policy == SendNothing {
		return
	}

	// Splitting trace context from baggage through the context, not the
	// header names, works with any propagator: with no baggage in the
	// context, no propagator sends baggage; with an invalid span context,
	// none sends a trace context.
	ictx := ctx
	if b := baggage.FromContext(ctx); b.Len() > 0 && !r.noBaggage {
		if policy&SendBaggage == 0 {
			ictx = baggage.ContextWithoutBaggage(ictx)
		} else if nb, changed := limitBaggage(b, p.filters); changed {
			if nb.Len() == 0 {
				ictx = baggage.ContextWithoutBaggage(ictx)
			} else {
				ictx = baggage.ContextWithBaggage(ictx, nb)
			}
		}
	}
	if policy&SendTraceContext == 0 && trace.SpanContextFromContext(ctx).IsValid() {
		ictx = trace.ContextWithSpanContext(ictx, trace.SpanContext{})
	}
	r.prop.Inject(ictx, injectCarrier(h))
}

// Extract returns a copy of ctx with the trace context and baggage of req's
// headers: the remote span context, to be the parent of the server's span,
// and the baggage. It never fails: what is missing, malformed or hostile is
// left out and ctx returned without it, so a server must not answer with an
// error because of these headers.
//
// With the W3C fields, the rules of the specifications apply before the
// propagator sees them: a traceparent sent more than once, or longer than
// 512 bytes, is ignored, and with it the tracestate; repeated tracestate
// lines are combined, and ignored if longer than 32896 bytes, twice the
// longest valid tracestate; baggage lines are
// combined and kept list-member by list-member, the invalid ones dropped and
// the rest within the limits that Inject enforces (64 list-members, 4096
// bytes each, 8192 bytes in all), in order.
//
// A nil ctx means req.Context(), or context.Background() if req is nil too.
// A nil req gives ctx back. The host policy and the baggage filters do not
// apply to extraction.
func (p *Propagator) Extract(ctx context.Context, req *http.Request) context.Context {
	if ctx == nil {
		if req == nil {
			return context.Background()
		}
		ctx = req.Context()
	}
	if req == nil || len(req.Header) == 0 {
		return ctx
	}
	if p == nil {
		p = &zero
	}
	return p.resolve(true).prop.Extract(ctx, extractCarrier(req.Header))
}

// Inject is New(opts...).Inject(ctx, req). To inject many requests, build
// the [Propagator] once.
func Inject(ctx context.Context, req *http.Request, opts ...Option) {
	newOrZero(opts).Inject(ctx, req)
}

// Extract is New(opts...).Extract(ctx, req), for use in servers:
//
//	ctx := propagation.Extract(r.Context(), r)
//	ctx, span := tracer.Start(ctx, "GET /items", trace.WithSpanKind(trace.SpanKindServer))
//
// To extract from many requests with options, build the [Propagator] once.
func Extract(ctx context.Context, req *http.Request, opts ...Option) context.Context {
	return newOrZero(opts).Extract(ctx, req)
}

func newOrZero(opts []Option) *Propagator {
	if len(opts) == 0 {
		return &zero
	}
	return New(opts...)
}

// resolve returns the propagator to use now, with its fields: to extract, or
// to inject.
func (p *Propagator) resolve(extract bool) resolved {
	if p.static == nil {
		return resolveDefault(extract)
	}
	if p.static.fields == nil {
		// Fields were empty when p was built: p.static may be a
		// delegating propagator, like otel.GetTextMapPropagator()'s
		// before the global is set, whose Fields change later.
		return newResolved(p.static.prop)
	}
	return *p.static
}

// resolved is a propagator with the canonical keys of its Fields.
type resolved struct {
	prop   otelpropagation.TextMapPropagator
	fields []string
	// noBaggage is whether prop is known never to inject baggage, so that
	// the baggage need not be filtered and limited first.
	noBaggage bool
}

func newResolved(p otelpropagation.TextMapPropagator) resolved {
	fs := p.Fields()
	if len(fs) == 0 {
		return resolved{prop: p}
	}
	fields := make([]string, 0, len(fs))
	for _, f := range fs {
		if k := canonicalKey(f); k != "" && !slices.Contains(fields, k) {
			fields = append(fields, k)
		}
	}
	return resolved{prop: p, fields: fields}
}

// owns reports whether the header key, in any case, is one of r's fields.
func (r resolved) owns(key string) bool {
	for _, f := range r.fields {
		if len(f) == len(key) && (f == key || equalFoldASCII(f, key)) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether a and b, of the same length, are equal
// under ASCII case folding, which is how HTTP compares field names.
func equalFoldASCII(a, b string) bool {
	for i := range len(a) {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
