package propagation_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

func TestInjectReplacesOwnedFields(t *testing.T) {
	requireNoGlobalPropagator(t)
	tests := []struct {
		name   string
		header http.Header
		ctx    context.Context
		opts   []propagation.Option
		want   http.Header
	}{
		{
			name:   "stale fields in any case are replaced",
			header: http.Header{"Traceparent": {staleTraceparent, staleTraceparent}, "traceparent": {staleTraceparent}, "TRACESTATE": {"a=b"}, "X-Other": {"1"}},
			ctx:    contextWithSpan(context.Background()),
			want:   http.Header{"Traceparent": {fixedTraceparent}, "X-Other": {"1"}},
		},
		{
			name:   "no span removes the stale fields",
			header: http.Header{"Traceparent": {staleTraceparent}, "Baggage": {"a=1"}},
			ctx:    context.Background(),
			opts:   []propagation.Option{withBaggage},
			want:   http.Header{},
		},
		{
			name:   "without baggage propagation a baggage set by hand is the caller's",
			header: http.Header{"Traceparent": {staleTraceparent}, "Baggage": {"a=1"}},
			ctx:    context.Background(),
			want:   http.Header{"Baggage": {"a=1"}},
		},
		{
			name:   "SendNothing removes the fields set by hand",
			header: http.Header{"Traceparent": {staleTraceparent}, "Baggage": {"a=1"}},
			ctx:    contextWithSpan(context.Background()),
			opts:   []propagation.Option{withBaggage, propagation.WithHostPolicy(func(string) propagation.Policy { return propagation.SendNothing })},
			want:   http.Header{},
		},
		{
			name:   "nil header gets a map",
			header: nil,
			ctx:    contextWithSpan(context.Background()),
			want:   http.Header{"Traceparent": {fixedTraceparent}},
		},
		{
			name:   "fields of another propagator are left alone",
			header: http.Header{"Traceparent": {staleTraceparent}, "X-Test-Trace": {"stale"}},
			ctx:    contextWithSpan(context.Background()),
			opts:   []propagation.Option{propagation.WithPropagators(testPropagator{})},
			want: http.Header{
				"Traceparent":  {staleTraceparent},
				"X-Test-Trace": {fixedSpanContext.TraceID().String() + ":" + fixedSpanContext.SpanID().String()},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "http://127.0.0.1/")
			req.Header = tt.header
			propagation.Inject(tt.ctx, req, tt.opts...)
			assert.Equal(t, tt.want, req.Header)
		})
	}
}

func TestInjectTwiceKeepsTheLastSpan(t *testing.T) {
	tracer, _ := newTracer(t)
	p := propagation.New()
	req := newRequest(t, "http://127.0.0.1/")
	var last trace.SpanContext
	for range 3 {
		ctx, span := tracer.Start(context.Background(), "attempt")
		p.Inject(ctx, req)
		span.End()
		last = span.SpanContext()
	}
	require.Len(t, req.Header.Values("Traceparent"), 1)
	got := trace.SpanContextFromContext(p.Extract(context.Background(), req))
	assert.Equal(t, last.SpanID(), got.SpanID())
}

func TestNilArguments(t *testing.T) {
	ctx := contextWithSpan(context.Background())
	var nilCtx context.Context
	var nilProp *propagation.Propagator

	t.Run("Inject", func(t *testing.T) {
		assert.NotPanics(t, func() { propagation.Inject(ctx, nil) })
		req := &http.Request{Header: http.Header{"Traceparent": {staleTraceparent}}}
		propagation.Inject(ctx, req)
		assert.Equal(t, http.Header{"Traceparent": {staleTraceparent}}, req.Header, "nil URL: nothing done")

		req = newRequest(t, "http://127.0.0.1/").WithContext(ctx)
		propagation.Inject(nilCtx, req)
		assert.Equal(t, []string{fixedTraceparent}, req.Header.Values("Traceparent"), "nil ctx is req.Context()")

		req = newRequest(t, "http://127.0.0.1/")
		nilProp.Inject(ctx, req)
		assert.Equal(t, []string{fixedTraceparent}, req.Header.Values("Traceparent"), "nil *Propagator is the default")
	})
	t.Run("Clone", func(t *testing.T) {
		assert.Nil(t, propagation.New().Clone(ctx, nil))
		req := &http.Request{Header: http.Header{"Traceparent": {staleTraceparent}}}
		clone := propagation.New().Clone(ctx, req)
		assert.Equal(t, http.Header{"Traceparent": {staleTraceparent}}, clone.Header, "nil URL: headers unchanged")
		assert.Equal(t, ctx, clone.Context())

		req = newRequest(t, "http://127.0.0.1/").WithContext(ctx)
		clone = nilProp.Clone(nilCtx, req)
		assert.Equal(t, ctx, clone.Context(), "nil ctx is req.Context()")
		assert.Equal(t, []string{fixedTraceparent}, clone.Header.Values("Traceparent"))
		assert.Empty(t, req.Header)
	})
	t.Run("Extract", func(t *testing.T) {
		assert.Equal(t, context.Background(), propagation.Extract(nilCtx, nil))
		assert.Equal(t, ctx, propagation.Extract(ctx, nil))
		assert.Equal(t, ctx, propagation.Extract(ctx, &http.Request{}))

		req := newRequest(t, "http://127.0.0.1/")
		req.Header.Set("Traceparent", fixedTraceparent)
		got := trace.SpanContextFromContext(nilProp.Extract(nilCtx, req))
		assert.Equal(t, fixedSpanContext.SpanID(), got.SpanID())
	})
	t.Run("options", func(t *testing.T) {
		req := newRequest(t, "http://127.0.0.1/").WithContext(ctx)
		propagation.Inject(ctx, req, nil, propagation.WithPropagators(nil), propagation.WithHostPolicy(nil), propagation.WithBaggageFilter(nil))
		assert.Equal(t, []string{fixedTraceparent}, req.Header.Values("Traceparent"), "nil options mean the defaults")
	})
}

func TestClone(t *testing.T) {
	requireNoGlobalPropagator(t)
	ctx := baggage.ContextWithBaggage(contextWithSpan(context.Background()), bag(t, "a=1"))
	req := newRequest(t, "http://127.0.0.1/")
	req.Header["X-Other"] = []string{"1"}
	req.Header["traceparent"] = []string{staleTraceparent}
	want := req.Header.Clone()

	clone := propagation.New(withBaggage).Clone(ctx, req)
	assert.Equal(t, want, req.Header, "req's header is unchanged")
	assert.Equal(t, context.Background(), req.Context())
	assert.Equal(t, ctx, clone.Context())
	assert.Same(t, req.URL, clone.URL, "a shallow copy")
	assert.Equal(t, http.Header{
		"X-Other":     {"1"},
		"Traceparent": {fixedTraceparent},
		"Baggage":     {"a=1"},
	}, clone.Header)

	clone.Header.Add("X-Other", "2")
	clone.Header.Set("X-New", "3")
	assert.Equal(t, want, req.Header, "changing the clone's header leaves req's alone")
}

func TestWithPropagatorsSplitsAnyPropagator(t *testing.T) {
	ctx := baggage.ContextWithBaggage(contextWithSpan(context.Background()), bag(t, "a=1"))
	traceField := fixedSpanContext.TraceID().String() + ":" + fixedSpanContext.SpanID().String()
	tests := []struct {
		policy propagation.Policy
		want   http.Header
	}{
		{propagation.SendAll, http.Header{"X-Test-Trace": {traceField}, "X-Test-Baggage": {"a=1"}}},
		{propagation.SendTraceContext, http.Header{"X-Test-Trace": {traceField}}},
		{propagation.SendBaggage, http.Header{"X-Test-Baggage": {"a=1"}}},
		{propagation.SendNothing, http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			p := propagation.New(
				propagation.WithPropagators(otelpropagation.NewCompositeTextMapPropagator(testPropagator{})),
				propagation.WithHostPolicy(func(string) propagation.Policy { return tt.policy }),
			)
			req := newRequest(t, "http://127.0.0.1/")
			req.Header.Set("X-Test-Baggage", "stale=1")
			assert.Equal(t, tt.want, p.Clone(ctx, req).Header)
		})
	}
}

func TestWithPropagatorsDelegating(t *testing.T) {
	// A propagator whose Fields are empty when the Propagator is built,
	// like otel.GetTextMapPropagator() before the application sets one,
	// has its Fields read again at each use.
	d := &delegating{}
	p := propagation.New(propagation.WithPropagators(d))
	req := newRequest(t, "http://127.0.0.1/")
	req.Header.Set("Traceparent", staleTraceparent)
	ctx := contextWithSpan(context.Background())

	assert.Equal(t, []string{staleTraceparent}, p.Clone(ctx, req).Header.Values("Traceparent"), "a no-op owns no field")
	d.delegate = otelpropagation.TraceContext{}
	assert.Equal(t, []string{fixedTraceparent}, p.Clone(ctx, req).Header.Values("Traceparent"))
}

// delegating is a propagator that does nothing until its delegate is set.
// Not safe for concurrent use.
type delegating struct {
	delegate otelpropagation.TextMapPropagator
}

func (d *delegating) Inject(ctx context.Context, c otelpropagation.TextMapCarrier) {
	if d.delegate != nil {
		d.delegate.Inject(ctx, c)
	}
}

func (d *delegating) Extract(ctx context.Context, c otelpropagation.TextMapCarrier) context.Context {
	if d.delegate != nil {
		return d.delegate.Extract(ctx, c)
	}
	return ctx
}

func (d *delegating) Fields() []string {
	if d.delegate != nil {
		return d.delegate.Fields()
	}
	return nil
}

func TestWithBaggageFilter(t *testing.T) {
	ctx := baggage.ContextWithBaggage(context.Background(), bag(t, "a=1", "secret=2", "token=3", "b=4"))
	noSecret := func(m baggage.Member) bool { return m.Key() != "secret" }
	noToken := func(m baggage.Member) bool { return m.Key() != "token" }
	tests := []struct {
		name string
		opts []propagation.Option
		want []string
	}{
		{"none", nil, []string{"a=1", "b=4", "secret=2", "token=3"}},
		{"one", []propagation.Option{propagation.WithBaggageFilter(noSecret)}, []string{"a=1", "b=4", "token=3"}},
		{"additive", []propagation.Option{propagation.WithBaggageFilter(noSecret), propagation.WithBaggageFilter(noToken)}, []string{"a=1", "b=4"}},
		{"all filtered", []propagation.Option{propagation.WithBaggageFilter(func(baggage.Member) bool { return false })}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "http://127.0.0.1/")
			propagation.Inject(ctx, req, append([]propagation.Option{withBaggage}, tt.opts...)...)
			if tt.want == nil {
				assert.NotContains(t, req.Header, "Baggage", "never an empty baggage field")
				return
			}
			require.Len(t, req.Header.Values("Baggage"), 1)
			b, err := baggage.Parse(req.Header.Get("Baggage"))
			require.NoError(t, err)
			assert.Equal(t, tt.want, members(b))
		})
	}
}

func TestBaggageFilterNotCalledWithoutBaggagePolicy(t *testing.T) {
	requireNoGlobalPropagator(t)
	calls := 0
	filter := propagation.WithBaggageFilter(func(baggage.Member) bool { calls++; return true })
	policy := propagation.WithHostPolicy(propagation.TrustedHosts("trusted.example"))
	ctx := baggage.ContextWithBaggage(context.Background(), bag(t, "a=1"))

	p := propagation.New(withBaggage, policy, filter)
	p.Inject(ctx, newRequest(t, "http://untrusted.example/"))
	assert.Zero(t, calls, "no baggage is sent, so none is filtered")
	p.Inject(ctx, newRequest(t, "http://trusted.example/"))
	assert.Equal(t, 1, calls)

	calls = 0
	propagation.New(policy, filter).Inject(ctx, newRequest(t, "http://trusted.example/"))
	assert.Zero(t, calls, "zero setup sends no baggage, so none is filtered")
}

func TestPolicyString(t *testing.T) {
	tests := []struct {
		p    propagation.Policy
		want string
	}{
		{propagation.SendNothing, "SendNothing"},
		{propagation.SendTraceContext, "SendTraceContext"},
		{propagation.SendBaggage, "SendBaggage"},
		{propagation.SendAll, "SendAll"},
		{propagation.Policy(8), "Policy(8)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.String())
	}
}

func TestTrustedHosts(t *testing.T) {
	policy := propagation.TrustedHosts(
		"api.example.com", " Internal.Example.NET. ", "*.svc.cluster.local",
		"10.1.2.3", "[2001:db8::1]", "192.168.0.0/16", "fd00::/8",
		"withport.example.com:8443", "*", "*.", "", "bad..name", "*.bad name",
	)
	tests := []struct {
		host    string
		trusted bool
	}{
		{"api.example.com", true},
		{"API.Example.COM", true},
		{"api.example.com.", true},
		{"example.com", false},
		{"evil-api.example.com", false},
		{"api.example.com.evil.net", false},
		{"internal.example.net", true},
		{"a.svc.cluster.local", true},
		{"a.b.svc.cluster.local", true},
		{"svc.cluster.local", false},
		{"xsvc.cluster.local", false},
		{"10.1.2.3", true},
		{"10.1.2.4", false},
		{"::ffff:10.1.2.3", true},
		{"2001:db8::1", true},
		{"2001:db8:0:0:0:0:0:1", true},
		{"[2001:db8::1]", true},
		{"2001:db8::2", false},
		{"192.168.44.1", true},
		{"192.169.0.1", false},
		{"fd12::1", true},
		{"fe80::1%eth0", false},
		{"withport.example.com", false},
		{"anything.example.org", false},
		{"", false},
		{"bad..name", false},
	}
	for _, tt := range tests {
		want := propagation.SendTraceContext
		if tt.trusted {
			want = propagation.SendAll
		}
		assert.Equal(t, want, policy(tt.host), "host %q", tt.host)
	}

	hosts := []string{"a.example.com"}
	policy = propagation.TrustedHosts(hosts...)
	hosts[0] = "b.example.com"
	assert.Equal(t, propagation.SendAll, policy("a.example.com"), "the list is copied")
	assert.Equal(t, propagation.SendTraceContext, policy("b.example.com"))

	allocs := testing.AllocsPerRun(100, func() {
		_ = policy("a.example.com")
		_ = policy("10.0.0.1")
		_ = policy("::1")
		_ = policy("other.example.org")
	})
	assert.Zero(t, allocs)
}

// TestCloneAllocations pins the cost of Clone on the hot path: a sampled
// span, no baggage, the default propagators, a request with a few fields.
// The five allocations are the Request copy, the Header map (two: its header
// and its table), the traceparent string and its []string.
func TestCloneAllocations(t *testing.T) {
	requireNoGlobalPropagator(t)
	ctx := contextWithSpan(context.Background())
	req := newRequest(t, "http://api.example.com/items")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "wiretrace")

	tests := []struct {
		name string
		p    *propagation.Propagator
	}{
		{"default", propagation.New()},
		{"WithPropagators", propagation.New(propagation.WithPropagators(
			otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})))},
		{"TrustedHosts", propagation.New(propagation.WithHostPolicy(propagation.TrustedHosts("*.example.com")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1000, func() {
				if tt.p.Clone(ctx, req) == req {
					panic("not a copy")
				}
			})
			assert.Equal(t, 5, int(allocs))
		})
	}
}

// TestCloneAllocationsGlobal checks that a composite global propagator is
// not asked for its Fields, which allocate, on every request. Not parallel:
// it sets the global propagator.
func TestCloneAllocationsGlobal(t *testing.T) {
	setGlobalPropagator(t, otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{}))
	ctx := contextWithSpan(context.Background())
	req := newRequest(t, "http://api.example.com/items")
	p := propagation.New()
	allocs := testing.AllocsPerRun(1000, func() { _ = p.Clone(ctx, req) })
	assert.Equal(t, 5, int(allocs))
}

// TestCloneConcurrent clones one request from many goroutines and changes
// each clone's header, as transports down the chain may: under -race, this
// fails if Clone or the clones write to anything they share.
func TestCloneConcurrent(t *testing.T) {
	tracer, _ := newTracer(t)
	p := propagation.New(propagation.WithHostPolicy(propagation.TrustedHosts("localhost")))
	req := newRequest(t, "http://localhost/", http.Header{"X-Shared": make([]string, 1, 8)})
	req.Header.Set("Traceparent", staleTraceparent)
	ctx := baggage.ContextWithBaggage(context.Background(), bag(t, "a=1"))

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				ctx, span := tracer.Start(ctx, "GET")
				clone := p.Clone(ctx, req)
				clone.Header.Add("X-Shared", "mine")
				clone.Header.Set("X-Own", "1")
				span.End()
				if got := clone.Header.Values("Traceparent"); len(got) != 1 || !strings.Contains(got[0], span.SpanContext().SpanID().String()) {
					t.Errorf("traceparent %q, want the span's own", got)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []string{""}, req.Header["X-Shared"])
	assert.Equal(t, []string{staleTraceparent}, req.Header["Traceparent"])
}
