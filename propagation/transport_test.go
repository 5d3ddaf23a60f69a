package propagation_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

// staleTraceparent belongs to a trace that no test starts.
const staleTraceparent = "00-11111111111111111111111111111111-2222222222222222-01"

// TestTransportDefaultPropagatorConnectsTraces pins the zero-setup default:
// the trace context goes out, the baggage does not.
func TestTransportDefaultPropagatorConnectsTraces(t *testing.T) {
	requireNoGlobalPropagator(t)
	tracer, rec := newTracer(t)
	serverTracer, serverRec := newTracer(t)
	srv := newObserver(t, func(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.Extract(r.Context(), r)
		_, span := serverTracer.Start(ctx, "GET /", trace.WithSpanKind(trace.SpanKindServer))
		span.End()
		w.WriteHeader(http.StatusNoContent)
	})
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		return propagation.NewTransport(base)
	})

	ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "tenant=acme"))
	ctx, span := tracer.Start(ctx, "GET", trace.WithSpanKind(trace.SpanKindClient))
	resp := get(t, client, newRequest(t, srv.URL).WithContext(ctx))
	span.End()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	obs := srv.only(t)
	require.Len(t, obs.Traceparent, 1)
	assert.Equal(t, span.SpanContext().TraceID(), obs.Parent.TraceID())
	assert.Equal(t, span.SpanContext().SpanID(), obs.Parent.SpanID())
	assert.True(t, obs.Parent.IsRemote())
	assert.True(t, obs.Parent.IsSampled())
	assert.Empty(t, obs.Baggage, "no baggage without baggage propagation configured")
	assert.Empty(t, obs.Members)

	require.Len(t, rec.Ended(), 1)
	serverSpans := serverRec.Ended()
	require.Len(t, serverSpans, 1)
	assert.Equal(t, span.SpanContext().TraceID(), serverSpans[0].SpanContext().TraceID())
	assert.Equal(t, span.SpanContext().SpanID(), serverSpans[0].Parent().SpanID(), "the client span is the server span's parent")
	assert.True(t, serverSpans[0].Parent().IsRemote())
}

// TestTransportGlobalPropagator sets the global propagator after the
// transport is built, and changes it: each request uses the one in force.
// Not parallel: it changes the global propagator.
func TestTransportGlobalPropagator(t *testing.T) {
	requireNoGlobalPropagator(t)
	tracer, _ := newTracer(t)
	srv := newObserver(t, nil)
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		return propagation.NewTransport(base)
	})
	send := func(t *testing.T) (trace.SpanContext, observation) {
		t.Helper()
		ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "tenant=acme"))
		ctx, span := tracer.Start(ctx, "GET")
		defer span.End()
		srv.mu.Lock()
		srv.seen = nil
		srv.mu.Unlock()
		get(t, client, newRequest(t, srv.URL, http.Header{"X-Test-Trace": {"stale:stale"}}).WithContext(ctx))
		return span.SpanContext(), srv.only(t)
	}

	// A composite propagator is a slice: comparing it as an interface
	// would panic.
	setGlobalPropagator(t, otelpropagation.NewCompositeTextMapPropagator(testPropagator{}, otelpropagation.Baggage{}))
	for range 2 { // the second request uses the cached fields
		sc, obs := send(t)
		assert.Empty(t, obs.Traceparent, "the global propagator replaces the W3C default")
		assert.Equal(t, []string{sc.TraceID().String() + ":" + sc.SpanID().String()}, obs.Header.Values("X-Test-Trace"),
			"the stale field is replaced")
		assert.Equal(t, sc.SpanID(), obs.Parent.SpanID(), "the server's Extract uses the global propagator too")
		assert.Equal(t, []string{"tenant=acme"}, obs.Members)
	}

	setGlobalPropagator(t, otelpropagation.TraceContext{})
	sc, obs := send(t)
	require.Len(t, obs.Traceparent, 1)
	assert.Equal(t, []string{"stale:stale"}, obs.Header.Values("X-Test-Trace"),
		"a field the propagator in force does not own is the caller's")
	assert.Empty(t, obs.Baggage, "TraceContext alone sends no baggage")
	assert.Equal(t, sc.SpanID(), obs.Parent.SpanID())
	assert.Empty(t, obs.Members)
}

func TestTransportRedirectEachHopCarriesItsOwnSpan(t *testing.T) {
	tracer, _ := newTracer(t)
	hop3 := newObserver(t, nil)
	hop2 := newObserver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hop3.URL+"/3", http.StatusFound)
	})
	hop1 := newObserver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hop2.URL+"/2", http.StatusTemporaryRedirect)
	})
	hops := &spanPerHop{tracer: tracer}
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		hops.next = propagation.NewTransport(base)
		return hops
	})

	ctx, root := tracer.Start(t.Context(), "root")
	defer root.End()
	// http.Client copies these onto every redirect request, the
	// non-canonical key included.
	stale := http.Header{"Traceparent": {staleTraceparent}, "traceparent": {staleTraceparent}}
	resp := get(t, client, newRequest(t, hop1.URL+"/1", stale).WithContext(ctx))
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	spans := hops.hops()
	require.Len(t, spans, 3)
	for i, srv := range []*observer{hop1, hop2, hop3} {
		obs := srv.only(t)
		require.Len(t, obs.Traceparent, 1, "hop %d has exactly one traceparent", i+1)
		assert.Equal(t, root.SpanContext().TraceID(), obs.Parent.TraceID(), "hop %d", i+1)
		assert.Equal(t, spans[i].SpanID(), obs.Parent.SpanID(), "hop %d sees its own span as parent", i+1)
	}
	assert.NotEqual(t, spans[0].SpanID(), spans[1].SpanID())
	assert.NotEqual(t, spans[1].SpanID(), spans[2].SpanID())
}

// retryOnce sends every request twice, as a retrying client does, and
// returns the second response.
type retryOnce struct{ next http.RoundTripper }

func (r retryOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return r.next.RoundTrip(req)
}

func TestTransportRetryEachAttemptCarriesItsOwnSpan(t *testing.T) {
	tracer, _ := newTracer(t)
	srv := newObserver(t, nil)
	hops := &spanPerHop{tracer: tracer}
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		hops.next = propagation.NewTransport(base)
		return retryOnce{next: hops}
	})

	ctx, root := tracer.Start(t.Context(), "root")
	defer root.End()
	get(t, client, newRequest(t, srv.URL, http.Header{"Traceparent": {staleTraceparent}}).WithContext(ctx))

	spans := hops.hops()
	seen := srv.observations()
	require.Len(t, spans, 2)
	require.Len(t, seen, 2)
	for i := range seen {
		require.Len(t, seen[i].Traceparent, 1, "attempt %d", i+1)
		assert.Equal(t, spans[i].SpanID(), seen[i].Parent.SpanID(), "attempt %d", i+1)
	}
}

// want says what a destination must receive.
// TestTransportEmptyGlobalPropagatorSendsNothing pins that an application
// that switches propagation off the usual way, with an empty composite as the
// global propagator, is honored: neither trace context nor baggage goes
// out, and stale copies set by hand stay the caller's. Not parallel: it
// changes the global propagator.
func TestTransportEmptyGlobalPropagatorSendsNothing(t *testing.T) {
	tracer, _ := newTracer(t)
	srv := newObserver(t, nil)
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		return propagation.NewTransport(base)
	})
	setGlobalPropagator(t, otelpropagation.NewCompositeTextMapPropagator())
	for i := range 2 { // the second request uses the cached fields
		ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "user.id=12345"))
		ctx, span := tracer.Start(ctx, "GET")
		get(t, client, newRequest(t, srv.URL).WithContext(ctx))
		span.End()
		obs := srv.observations()[i]
		assert.Empty(t, obs.Traceparent, "request %d: no trace context", i)
		assert.Empty(t, obs.Tracestate, "request %d", i)
		assert.Empty(t, obs.Baggage, "request %d: no baggage", i)
	}
}

// TestTransportBaggageOnlyWhenConfigured pins where baggage goes: nowhere
// with zero setup, to every host once the application set a global
// propagator with baggage, and within the host policy then.
func TestTransportBaggageOnlyWhenConfigured(t *testing.T) {
	tracer, _ := newTracer(t)
	trusted := newObserver(t, nil)
	external := newObserver(t, nil)
	send := func(t *testing.T, opts ...propagation.Option) (trace.SpanContext, observation, observation) {
		t.Helper()
		client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
			return propagation.NewTransport(base, opts...)
		})
		ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "tenant=acme", "user=alice"))
		ctx, span := tracer.Start(ctx, "GET")
		defer span.End()
		for _, o := range []*observer{trusted, external} {
			o.mu.Lock()
			o.seen = nil
			o.mu.Unlock()
		}
		get(t, client, newRequest(t, "http://localhost:"+port(t, trusted.URL)+"/").WithContext(ctx))
		get(t, client, newRequest(t, external.URL).WithContext(ctx))
		return span.SpanContext(), trusted.only(t), external.only(t)
	}
	policy := propagation.WithHostPolicy(propagation.TrustedHosts("localhost"))

	t.Run("zero setup", func(t *testing.T) {
		requireNoGlobalPropagator(t)
		sc, in, ex := send(t)
		assertReceived(t, propagation.SendTraceContext, in, sc, "trusted host")
		assertReceived(t, propagation.SendTraceContext, ex, sc, "external host")
	})
	t.Run("zero setup with a host policy", func(t *testing.T) {
		requireNoGlobalPropagator(t)
		sc, in, ex := send(t, policy)
		assertReceived(t, propagation.SendTraceContext, in, sc, "a policy alone does not turn baggage on")
		assertReceived(t, propagation.SendTraceContext, ex, sc, "external host")
	})
	t.Run("global with baggage", func(t *testing.T) {
		setGlobalPropagator(t, otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{}))
		sc, in, ex := send(t)
		assertReceived(t, propagation.SendAll, in, sc, "trusted host")
		assertReceived(t, propagation.SendAll, ex, sc, "external host: no policy, everything everywhere")
	})
	t.Run("global with baggage and a host policy", func(t *testing.T) {
		setGlobalPropagator(t, otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{}))
		sc, in, ex := send(t, policy)
		assertReceived(t, propagation.SendAll, in, sc, "trusted host")
		assertReceived(t, propagation.SendTraceContext, ex, sc, "external host")
	})
	t.Run("option with baggage and a host policy", func(t *testing.T) {
		requireNoGlobalPropagator(t)
		sc, in, ex := send(t, withBaggage, policy)
		assertReceived(t, propagation.SendAll, in, sc, "trusted host")
		assertReceived(t, propagation.SendTraceContext, ex, sc, "external host")
	})
}

func assertReceived(t *testing.T, want propagation.Policy, obs observation, span trace.SpanContext, msg string) {
	t.Helper()
	if want&propagation.SendTraceContext != 0 {
		assert.Len(t, obs.Traceparent, 1, msg)
		assert.Equal(t, span.SpanID(), obs.Parent.SpanID(), msg)
	} else {
		assert.Empty(t, obs.Traceparent, msg)
		assert.Empty(t, obs.Tracestate, msg)
		assert.False(t, obs.Parent.IsValid(), msg)
	}
	if want&propagation.SendBaggage != 0 {
		assert.Len(t, obs.Baggage, 1, msg)
		assert.Equal(t, []string{"tenant=acme", "user=alice"}, obs.Members, msg)
	} else {
		assert.Empty(t, obs.Baggage, msg)
		assert.Empty(t, obs.Members, msg)
	}
}

func TestTransportHostPolicy(t *testing.T) {
	trusted := func(host string) bool { return host == "localhost" }
	tests := []struct {
		name         string
		opts         []propagation.Option
		wantTrusted  propagation.Policy
		wantExternal propagation.Policy
	}{
		{
			name:        "default policy sends everything everywhere",
			wantTrusted: propagation.SendAll, wantExternal: propagation.SendAll,
		},
		{
			name:        "TrustedHosts keeps the baggage in",
			opts:        []propagation.Option{propagation.WithHostPolicy(propagation.TrustedHosts("localhost"))},
			wantTrusted: propagation.SendAll, wantExternal: propagation.SendTraceContext,
		},
		{
			name: "nothing to the external host",
			opts: []propagation.Option{propagation.WithHostPolicy(func(host string) propagation.Policy {
				if trusted(host) {
					return propagation.SendAll
				}
				return propagation.SendNothing
			})},
			wantTrusted: propagation.SendAll, wantExternal: propagation.SendNothing,
		},
		{
			name: "baggage only to the external host",
			opts: []propagation.Option{propagation.WithHostPolicy(func(host string) propagation.Policy {
				if trusted(host) {
					return propagation.SendAll
				}
				return propagation.SendBaggage
			})},
			wantTrusted: propagation.SendAll, wantExternal: propagation.SendBaggage,
		},
		{
			name: "bits beyond SendAll are ignored",
			opts: []propagation.Option{propagation.WithHostPolicy(func(string) propagation.Policy {
				return propagation.Policy(0xf0) | propagation.SendTraceContext
			})},
			wantTrusted: propagation.SendTraceContext, wantExternal: propagation.SendTraceContext,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tracer, _ := newTracer(t)
			trustedSrv := newObserver(t, nil)
			externalSrv := newObserver(t, nil)
			client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
				return propagation.NewTransport(base, append([]propagation.Option{withBaggage}, tt.opts...)...)
			})
			ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "tenant=acme", "user=alice"))
			ctx, span := tracer.Start(ctx, "GET")
			defer span.End()
			// A baggage field set by hand is replaced, or removed where
			// the policy forbids baggage.
			manual := http.Header{"Baggage": {"manual=1"}}

			get(t, client, newRequest(t, "http://localhost:"+port(t, trustedSrv.URL), manual).WithContext(ctx))
			get(t, client, newRequest(t, externalSrv.URL, manual).WithContext(ctx))

			assertReceived(t, tt.wantTrusted, trustedSrv.only(t), span.SpanContext(), "trusted host")
			assertReceived(t, tt.wantExternal, externalSrv.only(t), span.SpanContext(), "external host")
		})
	}
}

func TestTransportHostPolicyPerRedirectHop(t *testing.T) {
	tracer, _ := newTracer(t)
	external := newObserver(t, nil)
	trusted := newObserver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, external.URL, http.StatusFound)
	})
	hops := &spanPerHop{tracer: tracer}
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		hops.next = propagation.NewTransport(base, withBaggage, propagation.WithHostPolicy(propagation.TrustedHosts("localhost")))
		return hops
	})
	ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "tenant=acme", "user=alice"))
	get(t, client, newRequest(t, "http://localhost:"+port(t, trusted.URL)).WithContext(ctx))

	spans := hops.hops()
	require.Len(t, spans, 2)
	assertReceived(t, propagation.SendAll, trusted.only(t), spans[0], "first hop, trusted")
	assertReceived(t, propagation.SendTraceContext, external.only(t), spans[1], "second hop, external")
}

func TestTransportHostPolicySeesHostname(t *testing.T) {
	srv := newObserver(t, nil)
	p := port(t, srv.URL)
	var mu sync.Mutex
	var hosts []string
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		return propagation.NewTransport(base, propagation.WithHostPolicy(func(host string) propagation.Policy {
			mu.Lock()
			defer mu.Unlock()
			hosts = append(hosts, host)
			return propagation.SendAll
		}))
	})
	urls := []string{
		"http://127.0.0.1:" + p,
		"http://LocalHost.:" + p + "/path?q=1",
		"http://[::1]:" + p,
		"http://[::FFFF:127.0.0.1]:" + p,
		"http://user:pass@localhost:" + p,
	}
	for _, u := range urls {
		get(t, client, newRequest(t, u).WithContext(t.Context()))
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"127.0.0.1", "localhost", "::1", "::ffff:127.0.0.1", "localhost"}, hosts)
}

func TestTransportLeavesRequestUnchanged(t *testing.T) {
	tracer, _ := newTracer(t)
	srv := newObserver(t, nil)
	// The base adds to a field of the request it gets, as a careless
	// RoundTripper might: the caller's slice must not see it.
	client := newClient(t, func(base http.RoundTripper) http.RoundTripper {
		return propagation.NewTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
			req.Header.Add("X-Keep", "added by base")
			return base.RoundTrip(req)
		}), withBaggage)
	})

	ctx := baggage.ContextWithBaggage(t.Context(), bag(t, "tenant=acme"))
	ctx, span := tracer.Start(ctx, "GET")
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
	require.NoError(t, err)
	keep := make([]string, 1, 4) // room to append in place
	keep[0] = "1"
	req.Header["X-Keep"] = keep
	req.Header.Set("Traceparent", staleTraceparent)
	req.Header.Set("Baggage", "manual=1")

	wantHeader := req.Header.Clone()
	wantURL := *req.URL
	headerMap := reflect.ValueOf(req.Header).Pointer()

	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	assert.Equal(t, wantHeader, req.Header)
	assert.Equal(t, headerMap, reflect.ValueOf(req.Header).Pointer(), "same Header map")
	assert.Empty(t, keep[:2][1], "the caller's backing array is untouched")
	assert.Equal(t, &wantURL, req.URL)
	assert.Equal(t, ctx, req.Context())

	obs := srv.only(t)
	assert.Equal(t, []string{"1", "added by base"}, obs.Header.Values("X-Keep"))
	require.Len(t, obs.Traceparent, 1)
	assert.Equal(t, span.SpanContext().SpanID(), obs.Parent.SpanID())
	assert.Equal(t, []string{"tenant=acme"}, obs.Members)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestTransportBadInput(t *testing.T) {
	t.Run("nil request", func(t *testing.T) {
		resp, err := propagation.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
			panic("base called")
		})).RoundTrip(nil)
		assert.Nil(t, resp)
		require.EqualError(t, err, "propagation: nil *http.Request")
	})
	t.Run("nil response and nil error", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://127.0.0.1:1/", nil)
		require.NoError(t, err)
		resp, err := propagation.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, nil //nolint:nilnil // the misbehaving base under test
		})).RoundTrip(req)
		assert.Nil(t, resp)
		require.EqualError(t, err, "propagation: propagation_test.roundTripFunc.RoundTrip returned a nil *http.Response and a nil error")
	})
	t.Run("error passes through", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://127.0.0.1:1/", nil)
		require.NoError(t, err)
		errBase := &url.Error{Op: "Get", URL: "x", Err: io.ErrUnexpectedEOF}
		resp, err := propagation.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, errBase
		})).RoundTrip(req)
		assert.Nil(t, resp)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

func TestTransportNilBaseUsesDefaultTransport(t *testing.T) {
	requireNoGlobalPropagator(t)
	tracer, _ := newTracer(t)
	srv := newObserver(t, nil)
	rt := propagation.NewTransport(nil)
	client := &http.Client{Transport: rt}
	// The idle connection of http.DefaultTransport would leak otherwise;
	// this also checks that CloseIdleConnections reaches the base.
	defer client.CloseIdleConnections()

	ctx, span := tracer.Start(t.Context(), "GET")
	defer span.End()
	get(t, client, newRequest(t, srv.URL).WithContext(ctx))
	assert.Equal(t, span.SpanContext().SpanID(), srv.only(t).Parent.SpanID())
}

type closeIdleRecorder struct {
	roundTripFunc
	closed int
}

func (c *closeIdleRecorder) CloseIdleConnections() { c.closed++ }

func TestTransportForwardsCloseIdleConnections(t *testing.T) {
	base := &closeIdleRecorder{}
	(&http.Client{Transport: propagation.NewTransport(base)}).CloseIdleConnections()
	assert.Equal(t, 1, base.closed)

	// A base without the method is fine too.
	(&http.Client{Transport: propagation.NewTransport(roundTripFunc(nil))}).CloseIdleConnections()
}

// port returns the port of a server URL.
func port(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Port()
}

// contextWithSpan returns ctx with a fixed, sampled remote span context.
func contextWithSpan(ctx context.Context) context.Context {
	return trace.ContextWithSpanContext(ctx, fixedSpanContext)
}

var fixedSpanContext = trace.NewSpanContext(trace.SpanContextConfig{
	TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
	SpanID:     trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
	TraceFlags: trace.FlagsSampled,
})

// fixedTraceparent is the traceparent of fixedSpanContext.
var fixedTraceparent = "00-" + fixedSpanContext.TraceID().String() + "-" + fixedSpanContext.SpanID().String() + "-01"
