package otelhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
	"github.com/wiretrace/wiretrace/propagation"
)

// The tests in this file send requests through NewTransport to servers that
// continue the trace with propagation.Extract, as a service instrumented
// with the propagation package would. They leave the global propagator
// alone: what the propagation package does with it is its own tests' matter.
// (They were propagation's tests; they live here so that the lower layer's
// tests do not import the upper one.)

// w3c is W3C Trace Context and W3C Baggage, given explicitly.
var w3c = otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})

// seen is what a continuing server saw of one request.
type seen struct {
	path        string
	header      http.Header
	traceparent []string
	parent      trace.SpanContext // what Extract found
	members     []string          // extracted baggage, "key=value", sorted
}

// continuingServer is an HTTP server on 127.0.0.1 that extracts each
// request's context with the propagation package and remembers it.
type continuingServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seen
}

// newContinuingServer starts a continuingServer; next, if not nil, writes
// the response, else the server answers 204.
func newContinuingServer(t *testing.T, next http.HandlerFunc, opts ...propagation.Option) *continuingServer {
	t.Helper()
	s := &continuingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.Extract(r.Context(), r, opts...)
		var members []string
		for _, m := range baggage.FromContext(ctx).Members() {
			members = append(members, m.Key()+"="+m.Value())
		}
		slices.Sort(members)
		s.mu.Lock()
		s.seen = append(s.seen, seen{
			path:        r.URL.Path,
			header:      r.Header.Clone(),
			traceparent: r.Header.Values("Traceparent"),
			parent:      trace.SpanContextFromContext(ctx),
			members:     members,
		})
		s.mu.Unlock()
		if next != nil {
			next(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return s
}

// only returns what the server saw of its one request.
func (s *continuingServer) only(t *testing.T) seen {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.seen, 1)
	return s.seen[0]
}

// withMember returns ctx with baggage of one member.
func withMember(t *testing.T, ctx context.Context, key, value string) context.Context {
	t.Helper()
	m, err := baggage.NewMember(key, value)
	require.NoError(t, err)
	b, err := baggage.New(m)
	require.NoError(t, err)
	return baggage.ContextWithBaggage(ctx, b)
}

func TestPropagationServerContinuesTheTrace(t *testing.T) {
	tests := []struct {
		name string
		opts []otelhooks.Option
		// members is the baggage the server gets: none unless the
		// application configured baggage propagation.
		members []string
	}{
		{name: "default propagator: the trace context, no baggage"},
		{name: "W3C trace context and baggage", opts: []otelhooks.Option{otelhooks.WithPropagators(w3c)}, members: []string{"tenant=acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := newContinuingServer(t, nil)
			ctx, root := e.root(t.Context())
			get(t, withMember(t, ctx, "tenant", "acme"), e.client(srv.Client().Transport, tt.opts...), srv.URL)
			root.End()

			reqSpan := one(t, e.spans(), http.MethodGet)
			got := srv.only(t)
			assert.Equal(t, root.SpanContext().TraceID(), got.parent.TraceID(), "one trace")
			assert.Equal(t, reqSpan.SpanContext().SpanID(), got.parent.SpanID(), "the request span is the server's parent")
			assert.True(t, got.parent.IsRemote())
			assert.Equal(t, tt.members, got.members)
			assert.Len(t, got.header.Values("Baggage"), len(tt.members), "baggage headers")
		})
	}
}

// ownFormat is a propagator of a format of its own, standing in for B3 or
// Jaeger: "X-Own-Trace: <trace-id>:<span-id>".
type ownFormat struct{}

func (ownFormat) Inject(ctx context.Context, c otelpropagation.TextMapCarrier) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		c.Set("x-own-trace", sc.TraceID().String()+":"+sc.SpanID().String())
	}
}

func (ownFormat) Extract(ctx context.Context, c otelpropagation.TextMapCarrier) context.Context {
	tid, sid, ok := strings.Cut(c.Get("x-own-trace"), ":")
	if !ok {
		return ctx
	}
	traceID, err1 := trace.TraceIDFromHex(tid)
	spanID, err2 := trace.SpanIDFromHex(sid)
	if err1 != nil || err2 != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
}

func (ownFormat) Fields() []string { return []string{"x-own-trace"} }

func TestPropagationWithPropagatorsOfItsOwnFormat(t *testing.T) {
	e := newEnv(t)
	srv := newContinuingServer(t, nil, propagation.WithPropagators(ownFormat{}))
	ctx, root := e.root(t.Context())
	get(t, ctx, e.client(srv.Client().Transport, otelhooks.WithPropagators(ownFormat{})), srv.URL)
	root.End()

	got := srv.only(t)
	assert.Empty(t, got.traceparent, "the configured propagator, not W3C, is used")
	reqSpan := one(t, e.spans(), http.MethodGet)
	assert.Equal(t, []string{reqSpan.SpanContext().TraceID().String() + ":" + reqSpan.SpanContext().SpanID().String()},
		got.header.Values("X-Own-Trace"))
	assert.Equal(t, reqSpan.SpanContext().SpanID(), got.parent.SpanID())
}

func TestPropagationRedirectHopsCarryTheirOwnSpans(t *testing.T) {
	e := newEnv(t)
	hop3 := newContinuingServer(t, nil)
	hop2 := newContinuingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hop3.URL+"/3", http.StatusFound)
	})
	hop1 := newContinuingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hop2.URL+"/2", http.StatusSeeOther)
	})

	ctx, root := e.root(t.Context())
	const stale = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hop1.URL+"/1", nil)
	require.NoError(t, err)
	req.Header = http.Header{"Traceparent": {stale}, "traceparent": {stale}}
	before := req.Header.Clone()
	resp, err := e.client(hop1.Client().Transport).Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	root.End()

	reqSpans := named(e.spans(), http.MethodGet)
	require.Len(t, reqSpans, 3)
	for i, srv := range []*continuingServer{hop1, hop2, hop3} {
		got := srv.only(t)
		require.Len(t, got.traceparent, 1, "hop %d carries exactly one traceparent", i+1)
		assert.Equal(t, root.SpanContext().TraceID(), got.parent.TraceID(), "hop %d", i+1)
		assert.Equal(t, reqSpans[i].SpanContext().SpanID(), got.parent.SpanID(), "hop %d sees its own span as parent", i+1)
	}
	assert.Equal(t, before, req.Header, "the caller's header map is unchanged")
}

func TestPropagationHostPolicyKeepsBaggageFromUntrustedHosts(t *testing.T) {
	e := newEnv(t)
	internal := newContinuingServer(t, nil)
	external := newContinuingServer(t, nil)
	client := e.client(&http.Transport{}, otelhooks.WithPropagators(w3c), otelhooks.WithPropagationOptions(
		propagation.WithHostPolicy(propagation.TrustedHosts("localhost"))))
	t.Cleanup(client.CloseIdleConnections)

	ctx, root := e.root(t.Context())
	ctx = withMember(t, ctx, "user", "alice")
	// The same kind of server, by name (trusted) and by address (not).
	u, err := url.Parse(internal.URL)
	require.NoError(t, err)
	get(t, ctx, client, "http://localhost:"+u.Port()+"/")
	get(t, ctx, client, external.URL)
	root.End()

	in, ex := internal.only(t), external.only(t)
	assert.Equal(t, []string{"user=alice"}, in.members, "a trusted host gets baggage")
	assert.Len(t, in.traceparent, 1)
	assert.Empty(t, ex.header.Values("Baggage"), "an untrusted host gets no baggage")
	assert.Len(t, ex.traceparent, 1, "but still the trace context")
}

func TestPropagationLeavesCallersRequestUnchanged(t *testing.T) {
	e := newEnv(t)
	srv := newContinuingServer(t, nil)
	ctx, root := e.root(t.Context())
	defer root.End()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("X-Keep", "1")
	header := req.Header
	before := req.Header.Clone()
	resp, err := e.client(srv.Client().Transport).Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, before, req.Header)
	assert.Equal(t, before, header, "the map itself was not written to")
	assert.Empty(t, req.Header.Get("Traceparent"))
	assert.Equal(t, ctx, req.Context())
}
