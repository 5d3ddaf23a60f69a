package propagation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

// newTracer returns a tracer of a new SDK provider whose spans rec records.
func newTracer(t *testing.T) (trace.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("propagation_test"), rec
}

// withBaggage is the option that turns baggage propagation on: W3C Trace
// Context and W3C Baggage. Without it, or a global propagator that sends
// baggage, none is sent.
var withBaggage = propagation.WithPropagators(otelpropagation.NewCompositeTextMapPropagator(
	otelpropagation.TraceContext{}, otelpropagation.Baggage{}))

// unsetGlobal is OpenTelemetry's default global propagator, taken before any
// test sets one.
var unsetGlobal = otel.GetTextMapPropagator()

// setGlobalPropagator sets the global propagator for the duration of the
// test. Tests that call it must not be parallel.
//
// The cleanup puts back OpenTelemetry's default, which the package takes for
// "not set" by its identity: that default now delegates to the first
// propagator ever set, but the package never calls it.
func setGlobalPropagator(tb testing.TB, p otelpropagation.TextMapPropagator) {
	tb.Helper()
	otel.SetTextMapPropagator(p)
	tb.Cleanup(func() { otel.SetTextMapPropagator(unsetGlobal) })
}

// requireNoGlobalPropagator fails the test unless the global propagator is
// OpenTelemetry's default: the application has not set one.
func requireNoGlobalPropagator(tb testing.TB) {
	tb.Helper()
	require.Same(tb, unsetGlobal, otel.GetTextMapPropagator(), "the global propagator is not set")
}

// bag returns baggage of the given "key=value" members.
func bag(t *testing.T, members ...string) baggage.Baggage {
	t.Helper()
	b, err := baggage.Parse(strings.Join(members, ","))
	require.NoError(t, err)
	return b
}

// observation is what a test server saw of one request.
type observation struct {
	Path        string
	Header      http.Header
	Traceparent []string
	Tracestate  []string
	Baggage     []string
	// Parent is the span context that Extract found.
	Parent trace.SpanContext
	// Members are the extracted baggage members as "key=value", sorted.
	Members []string
}

// observe returns what r carries, as the package's Extract sees it.
func observe(r *http.Request, opts ...propagation.Option) observation {
	ctx := propagation.Extract(r.Context(), r, opts...)
	return observation{
		Path:        r.URL.Path,
		Header:      r.Header.Clone(),
		Traceparent: r.Header.Values("Traceparent"),
		Tracestate:  r.Header.Values("Tracestate"),
		Baggage:     r.Header.Values("Baggage"),
		Parent:      trace.SpanContextFromContext(ctx),
		Members:     members(baggage.FromContext(ctx)),
	}
}

// members returns b's members as sorted "key=value" strings.
func members(b baggage.Baggage) []string {
	var out []string
	for _, m := range b.Members() {
		out = append(out, m.Key()+"="+m.Value())
	}
	slices.Sort(out)
	return out
}

// observer is an HTTP server that records what each request carries.
type observer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []observation
}

// newObserver starts an observer on 127.0.0.1. next, if not nil, writes the
// response; the default is 204 No Content.
func newObserver(t *testing.T, next http.HandlerFunc) *observer {
	t.Helper()
	o := &observer{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs := observe(r)
		o.mu.Lock()
		o.seen = append(o.seen, obs)
		o.mu.Unlock()
		if next != nil {
			next(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(o.Close)
	return o
}

// observations returns a copy of what the server saw, in order.
func (o *observer) observations() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seen)
}

// only returns the single observation of the server, failing otherwise.
func (o *observer) only(t *testing.T) observation {
	t.Helper()
	seen := o.observations()
	require.Len(t, seen, 1)
	return seen[0]
}

// newClient returns a client with a transport of its own, wrapped by wrap,
// whose idle connections are closed at the end of the test. Connections to
// "localhost" and "::1" go to 127.0.0.1, on the same port, so that tests can
// address the same loopback server by several names.
func newClient(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	t.Helper()
	var d net.Dialer
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
	}
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: wrap(base)}
}

// newRequest returns a GET request to url, with context.Background() and
// the header fields of h, if any.
func newRequest(t *testing.T, url string, h ...http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	for _, h := range h {
		for k, v := range h {
			req.Header[k] = v
		}
	}
	return req
}

// get sends req with client and reads the whole response.
func get(t *testing.T, client *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp
}

// extracted is what jsonObserver answers: what Extract found.
type extracted struct {
	Valid      bool     `json:"valid"`
	TraceID    string   `json:"trace_id"`
	SpanID     string   `json:"span_id"`
	Sampled    bool     `json:"sampled"`
	TraceState string   `json:"tracestate"`
	Members    []string `json:"members"`
}

// jsonObserver answers every request with what Extract found, as JSON.
func jsonObserver(w http.ResponseWriter, r *http.Request) {
	obs := observe(r)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(extracted{
		Valid:      obs.Parent.IsValid(),
		TraceID:    obs.Parent.TraceID().String(),
		SpanID:     obs.Parent.SpanID().String(),
		Sampled:    obs.Parent.IsSampled(),
		TraceState: obs.Parent.TraceState().String(),
		Members:    obs.Members,
	})
}

// rawRequest sends a GET with the given header lines, written as they are,
// to the server at addr, and returns the response and its decoded JSON body.
func rawRequest(t *testing.T, addr string, lines []string) (*http.Response, extracted) {
	t.Helper()
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	req := "GET /raw HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n"
	for _, l := range lines {
		req += l + "\r\n"
	}
	_, err = io.WriteString(conn, req+"\r\n")
	require.NoError(t, err)

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got extracted
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	}
	return resp, got
}

// testPropagator is a propagator of a format of its own, standing in for
// B3 or Jaeger: "X-Test-Trace: <trace-id>:<span-id>" and
// "X-Test-Baggage: <baggage-string>".
type testPropagator struct{}

func (testPropagator) Inject(ctx context.Context, c otelpropagation.TextMapCarrier) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		c.Set("x-test-trace", sc.TraceID().String()+":"+sc.SpanID().String())
	}
	if b := baggage.FromContext(ctx); b.Len() > 0 {
		c.Set("x-test-baggage", b.String())
	}
}

func (testPropagator) Extract(ctx context.Context, c otelpropagation.TextMapCarrier) context.Context {
	if tid, sid, ok := strings.Cut(c.Get("x-test-trace"), ":"); ok {
		traceID, err1 := trace.TraceIDFromHex(tid)
		spanID, err2 := trace.SpanIDFromHex(sid)
		if err1 == nil && err2 == nil {
			ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true,
			}))
		}
	}
	if b, err := baggage.Parse(c.Get("x-test-baggage")); err == nil && b.Len() > 0 {
		ctx = baggage.ContextWithBaggage(ctx, b)
	}
	return ctx
}

func (testPropagator) Fields() []string { return []string{"x-test-trace", "x-test-baggage"} }

// spanPerHop starts a client span around each round trip, as otelhooks
// does, and records the span contexts in order.
type spanPerHop struct {
	tracer trace.Tracer
	next   http.RoundTripper

	mu    sync.Mutex
	spans []trace.SpanContext
}

func (s *spanPerHop) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := s.tracer.Start(req.Context(), "hop "+req.URL.Path, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	s.mu.Lock()
	s.spans = append(s.spans, span.SpanContext())
	s.mu.Unlock()
	return s.next.RoundTrip(req.WithContext(ctx))
}

func (s *spanPerHop) hops() []trace.SpanContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.spans)
}
