package clienttrace

import (
	"context"
	"net/http/httptrace"
)

// traceCtxKey is the key under which a context answers with its newest
// *traceCtx.
type traceCtxKey struct{}

// traceCtx is the context WithClientTrace returns. One allocation holds the
// installed trace, the link to the previous install and the hooks handed to
// net/http.
type traceCtx struct {
	// Context is the parent with ht installed through httptrace.
	context.Context

	trace *ClientTrace
	older *traceCtx // the previous WithClientTrace in the chain, or nil
	// lifecycle is whether this install or an older one has a hook
	// NewTransport calls.
	lifecycle bool
	ht        httptrace.ClientTrace
}

func (c *traceCtx) Value(key any) any {
	if key == (traceCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *traceCtx) String() string {
	return "clienttrace.WithClientTrace"
}

// claimKey is the key under which a context answers with its newest
// *claimCtx.
type claimKey struct{}

// claimCtx is the context a [NewTransport] transport passes to its base: it
// says that the lifecycle hooks of upTo and of every install older than it
// are reported by that transport, so that a transport further in reports
// only the installs newer than upTo, and no hook fires twice for one event.
type claimCtx struct {
	context.Context
	upTo *traceCtx
}

func (c *claimCtx) Value(key any) any {
	if key == (claimKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *claimCtx) String() string {
	return "clienttrace.NewTransport"
}

// claimedBy returns the newest install whose lifecycle hooks a transport
// further out reports for the request of ctx, or nil.
func claimedBy(ctx context.Context) *traceCtx {
	if c, ok := ctx.Value(claimKey{}).(*claimCtx); ok {
		return c.upTo
	}
	return nil
}

// installed returns the newest install in ctx, or nil.
func installed(ctx context.Context) *traceCtx {
	c, _ := ctx.Value(traceCtxKey{}).(*traceCtx)
	return c
}

// WithClientTrace returns a copy of ctx in which trace is installed: net/http
// calls its hooks for requests made with the returned context, including the
// DNS and dial hooks, and a [NewTransport] transport calls its lifecycle
// hooks.
//
// The trace composes with every trace already in ctx, whether installed by
// WithClientTrace or by [httptrace.WithClientTrace]: for each event, the hooks
// of trace run first, then the older ones, newest to oldest, each once. A
// trace installed later with httptrace.WithClientTrace still reaches this one
// through net/http's own composition.
//
// Unlike httptrace.WithClientTrace, it never modifies trace, so one
// ClientTrace may be installed on any number of contexts, concurrently.
// Composition uses no reflection. Installing a trace that ctx already carries
// from an earlier WithClientTrace returns ctx unchanged, so no hook fires twice
// for one event.
//
// A nil trace returns ctx unchanged; a nil ctx is taken as
// [context.Background].
func WithClientTrace(ctx context.Context, trace *ClientTrace) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if trace == nil {
		return ctx
	}
	older := installed(ctx)
	for c := older; c != nil; c = c.older {
		if c.trace == trace {
			return ctx
		}
	}

	c := &traceCtx{
		trace:     trace,
		older:     older,
		lifecycle: trace.hasLifecycleHooks() || (older != nil && older.lifecycle),
	}
	if !trace.hasHTTPHooks() {
		c.Context = ctx
		return c
	}
	hooks := trace
	if prev := httptrace.ContextClientTrace(ctx); prev != nil {
		// Compose the older net/http hooks in ourselves, with types
		// instead of the reflection httptrace would use, and hide them
		// from httptrace so it does not compose them a second time.
		hooks = Compose(trace, FromHTTPTrace(prev))
		ctx = hideHTTPTrace{ctx, prev}
	}
	copyToHTTPTrace(&c.ht, hooks)
	c.Context = httptrace.WithClientTrace(ctx, &c.ht)
	return c
}

// ContextClientTrace returns the trace most recently installed in ctx with
// [WithClientTrace], or nil if there is none or ctx is nil. Traces installed
// with [httptrace.WithClientTrace] are not reported; use
// [httptrace.ContextClientTrace] for those.
func ContextClientTrace(ctx context.Context) *ClientTrace {
	if ctx == nil {
		return nil
	}
	if c := installed(ctx); c != nil {
		return c.trace
	}
	return nil
}

// hideHTTPTrace is a context in which the net/http trace it holds is not
// visible, so that httptrace.WithClientTrace installs a new trace without
// composing it (by reflection, modifying it) with that older one, which
// WithClientTrace has already composed in.
type hideHTTPTrace struct {
	context.Context
	hidden *httptrace.ClientTrace
}

func (c hideHTTPTrace) Value(key any) any {
	v := c.Context.Value(key)
	if t, ok := v.(*httptrace.ClientTrace); ok && t == c.hidden {
		return nil
	}
	return v
}

func (c hideHTTPTrace) String() string {
	return "clienttrace.hideHTTPTrace"
}
