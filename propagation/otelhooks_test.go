package propagation_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/otelhooks"
	"github.com/wiretrace/wiretrace/propagation"
)

// The tests in this file send requests through otelhooks.NewTransport, which
// uses this package, to servers that continue the trace with Extract.

// otelhooksClient returns a client tracing with otelhooks into a new
// provider, with the provider's recorder.
func otelhooksClient(t *testing.T, opts ...otelhooks.Option) (*http.Client, *sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	opts = append([]otelhooks.Option{otelhooks.WithTracerProvider(tp)}, opts...)
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper { return otelhooks.NewTransport(base, opts...) })
	return client, tp, rec
}

// requestSpans returns the otelhooks request spans recorded, in order.
func requestSpans(rec *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == http.MethodGet {
			out = append(out, s)
		}
	}
	return out
}

func TestOtelhooksServerContinuesTheTrace(t *testing.T) {
	tests := []struct {
		name   string
		global otelpropagation.TextMapPropagator
		// members is the baggage the server gets: none unless the
		// application configured baggage propagation.
		members []string
	}{
		{name: "no global propagator"},
		{name: "global propagator set", global: otelpropagation.NewCompositeTextMapPropagator(
			otelpropagation.TraceContext{}, otelpropagation.Baggage{}), members: []string{"tenant=acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.global != nil {
				setGlobalPropagator(t, tt.global)
			} else {
				requireNoGlobalPropagator(t)
			}
			srv := newObserver(t, nil)
			client, tp, rec := otelhooksClient(t)

			ctx, root := tp.Tracer("test").Start(t.Context(), "root")
			m, err := baggage.NewMember("tenant", "acme")
			require.NoError(t, err)
			b, err := baggage.New(m)
			require.NoError(t, err)
			get(t, client, newRequest(t, srv.URL).WithContext(baggage.ContextWithBaggage(ctx, b)))
			root.End()

			reqSpans := requestSpans(rec)
			require.Len(t, reqSpans, 1)
			obs := srv.only(t)
			assert.Equal(t, root.SpanContext().TraceID(), obs.Parent.TraceID(), "one trace")
			assert.Equal(t, reqSpans[0].SpanContext().SpanID(), obs.Parent.SpanID(), "the request span is the server's parent")
			assert.True(t, obs.Parent.IsRemote())
			assert.Equal(t, tt.members, obs.Members)
		})
	}
}

func TestOtelhooksGlobalPropagatorOfItsOwnFormat(t *testing.T) {
	setGlobalPropagator(t, testPropagator{})
	srv := newObserver(t, nil)
	client, tp, rec := otelhooksClient(t)

	ctx, root := tp.Tracer("test").Start(t.Context(), "root")
	get(t, client, newRequest(t, srv.URL).WithContext(ctx))
	root.End()

	obs := srv.only(t)
	assert.Empty(t, obs.Traceparent, "the application's propagator, not W3C, is used")
	reqSpans := requestSpans(rec)
	require.Len(t, reqSpans, 1)
	assert.Equal(t, []string{reqSpans[0].SpanContext().TraceID().String() + ":" + reqSpans[0].SpanContext().SpanID().String()},
		obs.Header.Values("X-Test-Trace"))
}

func TestOtelhooksRedirectHopsCarryTheirOwnSpans(t *testing.T) {
	hop3 := newObserver(t, nil)
	hop2 := newObserver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hop3.URL+"/3", http.StatusFound)
	})
	hop1 := newObserver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hop2.URL+"/2", http.StatusSeeOther)
	})
	client, tp, rec := otelhooksClient(t)

	ctx, root := tp.Tracer("test").Start(t.Context(), "root")
	stale := http.Header{"Traceparent": {staleTraceparent}, "traceparent": {staleTraceparent}}
	req := newRequest(t, hop1.URL+"/1", stale).WithContext(ctx)
	before := req.Header.Clone()
	get(t, client, req)
	root.End()

	reqSpans := requestSpans(rec)
	require.Len(t, reqSpans, 3)
	for i, srv := range []*observer{hop1, hop2, hop3} {
		obs := srv.only(t)
		require.Len(t, obs.Traceparent, 1, "hop %d carries exactly one traceparent", i+1)
		assert.Equal(t, root.SpanContext().TraceID(), obs.Parent.TraceID(), "hop %d", i+1)
		assert.Equal(t, reqSpans[i].SpanContext().SpanID(), obs.Parent.SpanID(), "hop %d sees its own span as parent", i+1)
	}
	assert.Equal(t, before, req.Header, "the caller's header map is unchanged")
}

func TestOtelhooksHostPolicy(t *testing.T) {
	internal := newObserver(t, nil)
	external := newObserver(t, nil)
	client, tp, _ := otelhooksClient(t, otelhooks.WithPropagationOptions(withBaggage,
		propagation.WithHostPolicy(propagation.TrustedHosts("localhost"))))

	ctx, root := tp.Tracer("test").Start(t.Context(), "root")
	m, err := baggage.NewMember("user", "alice")
	require.NoError(t, err)
	b, err := baggage.New(m)
	require.NoError(t, err)
	ctx = baggage.ContextWithBaggage(ctx, b)
	// The client dials both names to 127.0.0.1; the policy sees the name.
	get(t, client, newRequest(t, "http://localhost:"+port(t, internal.URL)+"/").WithContext(ctx))
	get(t, client, newRequest(t, external.URL).WithContext(ctx))
	root.End()

	in, ex := internal.only(t), external.only(t)
	assert.Equal(t, []string{"user=alice"}, in.Members, "a trusted host gets baggage")
	assert.Len(t, in.Traceparent, 1)
	assert.Empty(t, ex.Baggage, "an untrusted host gets no baggage")
	assert.Len(t, ex.Traceparent, 1, "but still the trace context")
}

func TestOtelhooksLeavesCallersRequestUnchanged(t *testing.T) {
	srv := newObserver(t, nil)
	client, tp, _ := otelhooksClient(t)
	ctx, root := tp.Tracer("test").Start(t.Context(), "root")
	defer root.End()

	req := newRequest(t, srv.URL, http.Header{"X-Keep": {"1"}}).WithContext(ctx)
	header := req.Header
	before := req.Header.Clone()
	get(t, client, req)
	assert.Equal(t, before, req.Header)
	assert.Equal(t, before, header, "the map itself was not written to")
	assert.Empty(t, req.Header.Get("Traceparent"))
	assert.Equal(t, ctx, req.Context())
}
