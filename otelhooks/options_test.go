package otelhooks_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// startRecorder is a sampler and a span processor that remember the
// attributes each span had when it started: what a sampler can decide on,
// and what an OnStart processor sees.
type startRecorder struct {
	mu      sync.Mutex
	sampler map[string][]attribute.KeyValue // by span name
	onStart map[string][]attribute.KeyValue
	// drop makes the sampler drop spans whose url.full contains it.
	drop string
}

func newStartRecorder(drop string) *startRecorder {
	return &startRecorder{sampler: map[string][]attribute.KeyValue{}, onStart: map[string][]attribute.KeyValue{}, drop: drop}
}

func (r *startRecorder) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r.mu.Lock()
	r.sampler[p.Name] = append([]attribute.KeyValue(nil), p.Attributes...)
	r.mu.Unlock()
	decision := sdktrace.RecordAndSample
	for _, kv := range p.Attributes {
		if kv.Key == "url.full" && r.drop != "" && strings.Contains(kv.Value.AsString(), r.drop) {
			decision = sdktrace.Drop
		}
	}
	return sdktrace.SamplingResult{Decision: decision, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (*startRecorder) Description() string { return "startRecorder" }

func (r *startRecorder) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onStart[s.Name()] = s.Attributes()
}
func (*startRecorder) OnEnd(sdktrace.ReadOnlySpan)      {}
func (*startRecorder) Shutdown(context.Context) error   { return nil }
func (*startRecorder) ForceFlush(context.Context) error { return nil }

func (r *startRecorder) seen(name string) (sampler, onStart map[attribute.Key]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return flattenKVs(r.sampler[name]), flattenKVs(r.onStart[name])
}

func flattenKVs(kvs []attribute.KeyValue) map[attribute.Key]string {
	if kvs == nil {
		return nil
	}
	m := make(map[attribute.Key]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

func TestRequestSpanStartsWithSamplingAttributes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	tests := []struct {
		name, method, url string
		opts              []otelhooks.Option
		want              map[attribute.Key]string
	}{
		{
			name: "the scrubbing options apply before the sampler", method: http.MethodGet,
			url: srv.URL + "/d?q=shoes", opts: []otelhooks.Option{otelhooks.WithRedactAllQueryValues()},
			want: map[attribute.Key]string{
				"http.request.method": "GET", "url.full": srv.URL + "/d?q=REDACTED",
				"server.address": "127.0.0.1", "server.port": port,
			},
		},
		{
			name: "GET by name", method: http.MethodGet, url: testnet.ByName(t, srv.URL) + "/a?q=1",
			want: map[attribute.Key]string{
				"http.request.method": "GET", "url.full": testnet.ByName(t, srv.URL) + "/a?q=1",
				"server.address": "localhost", "server.port": port,
			},
		},
		{
			name: "method the conventions do not know", method: "PURGE", url: srv.URL + "/b",
			want: map[attribute.Key]string{
				"http.request.method": "_OTHER", "http.request.method_original": "PURGE",
				"url.full": srv.URL + "/b", "server.address": "127.0.0.1", "server.port": port,
			},
		},
		{
			name: "userinfo is redacted before the sampler sees it", method: http.MethodGet,
			url: "http://user:secret@127.0.0.1:" + port + "/c",
			want: map[attribute.Key]string{
				"http.request.method": "GET", "url.full": "http://127.0.0.1:" + port + "/c",
				"server.address": "127.0.0.1", "server.port": port,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newStartRecorder("")
			e := newEnv(t, sdktrace.WithSampler(rec), sdktrace.WithSpanProcessor(rec))
			opts := append([]otelhooks.Option{otelhooks.WithSpanNameFormatter(func(*http.Request) string { return "request" })}, tt.opts...)
			client := e.client(base, opts...)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, tt.url, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			sampler, onStart := rec.seen("request")
			assert.Equal(t, tt.want, sampler, "what the sampler saw")
			assert.Equal(t, tt.want, onStart, "what OnStart saw")

			// Set once: the ended span has each of them once, with the
			// same value.
			span := one(t, e.spans(), "request")
			seen := map[attribute.Key]int{}
			for _, kv := range span.Attributes() {
				seen[kv.Key]++
			}
			for k, v := range tt.want {
				assert.Equal(t, 1, seen[k], "%s set once", k)
				assert.Equal(t, v, attrValue(t, span, k).String())
			}
			assert.NotContains(t, allStrings(e.spans()), "secret")
		})
	}
}

func TestSamplerDropsByStartAttributes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	rec := newStartRecorder("/healthz")
	e := newEnv(t, sdktrace.WithSampler(rec))
	client := e.client(nil)

	get(t, t.Context(), client, srv.URL+"/healthz")
	get(t, t.Context(), client, srv.URL+"/api")

	require.Len(t, named(e.spans(), "GET"), 1, "the health check is dropped by the sampler")
	assert.Equal(t, srv.URL+"/api", attrValue(t, one(t, e.spans(), "GET"), "url.full").AsString())
}

func TestRequestSpanAttributeCountWithinSDKMapCliff(t *testing.T) {
	// The SDK deduplicates a span's attributes with a map when it is read;
	// up to 8 attributes the map does not reach the heap. A plain GET's
	// request span stays within that.
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	e := newEnv(t)
	get(t, t.Context(), e.client(nil), srv.URL)
	assert.LessOrEqual(t, len(one(t, e.spans(), "GET").Attributes()), 8)
}

func TestWithSpanOptions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	rec := newStartRecorder("")
	e := newEnv(t, sdktrace.WithSampler(rec))
	_, linked := e.tp.Tracer("test").Start(t.Context(), "linked")
	linked.End()

	tests := []struct {
		name     string
		opts     []trace.SpanStartOption
		wantKind trace.SpanKind
	}{
		{name: "attributes and a link", opts: []trace.SpanStartOption{
			trace.WithAttributes(attribute.String("peer.service", "weather")),
			trace.WithLinks(trace.Link{SpanContext: linked.SpanContext()}),
		}, wantKind: trace.SpanKindClient},
		{name: "kind replaced", opts: []trace.SpanStartOption{
			trace.WithAttributes(attribute.String("peer.service", "weather")),
			trace.WithSpanKind(trace.SpanKindInternal),
		}, wantKind: trace.SpanKindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.rec.Reset()
			client := e.client(nil, otelhooks.WithSpanOptions(tt.opts[:1]...), otelhooks.WithSpanOptions(tt.opts[1:]...))
			get(t, t.Context(), client, srv.URL)
			span := one(t, e.spans(), "GET")
			assert.Equal(t, tt.wantKind, span.SpanKind())
			assert.Equal(t, "weather", attrValue(t, span, "peer.service").AsString())
			assert.Equal(t, srv.URL, attrValue(t, span, "url.full").AsString(), "ours are kept")
			sampler, _ := rec.seen("GET")
			assert.Equal(t, "weather", sampler["peer.service"], "the sampler sees them")
			if len(span.Links()) > 0 {
				assert.Equal(t, linked.SpanContext().SpanID(), span.Links()[0].SpanContext.SpanID())
			}
		})
	}
}

func TestWithSpanOptionsCannotReplaceOurAttributes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	e := newEnv(t)
	client := e.client(nil, otelhooks.WithSpanOptions(trace.WithAttributes(
		attribute.String("server.address", "weather.internal"),
		attribute.String("url.full", "http://user:secret@example.com/"),
	)))
	get(t, t.Context(), client, srv.URL+"/x")
	span := one(t, e.spans(), "GET")
	assert.Equal(t, "127.0.0.1", attrValue(t, span, "server.address").AsString())
	assert.Equal(t, srv.URL+"/x", attrValue(t, span, "url.full").AsString())
}

func TestWithMetricAttributesFn(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	var calls int
	var mu sync.Mutex
	client := e.client(base, otelhooks.WithMeterProvider(m.mp), otelhooks.WithMetricAttributesFn(func(r *http.Request) []attribute.KeyValue {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.URL.Path == "/plain" {
			return nil
		}
		return []attribute.KeyValue{
			attribute.String("tenant", strings.TrimPrefix(r.URL.Path, "/")),
			attribute.String("url.scheme", "replaced"), // one of ours: ours wins
		}
	}))

	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/a")
	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/a")
	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/b")
	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/plain")

	assert.Equal(t, 4, calls, "once per request")
	all := m.collect(t)
	for _, name := range []string{"http.client.request.duration", "http.client.request.time_in_queue", "http.client.active_requests"} {
		counts := map[string]int{}
		for _, p := range points(t, all, name) {
			tenant := p.attrs["tenant"]
			assert.Equal(t, "http", p.attrs["url.scheme"], name)
			counts[tenant] += int(p.count) + int(p.value)
		}
		if name != "http.client.active_requests" {
			assert.Equal(t, map[string]int{"a": 2, "b": 1, "": 1}, counts, name)
		}
	}
	for _, p := range points(t, all, "dns.lookup.duration") {
		assert.NotContains(t, p.attrs, attribute.Key("tenant"), "not on DNS lookups")
	}
}

func TestWithClientTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	m := newMeters(t)

	tests := []struct {
		name      string
		sampled   bool
		opts      []otelhooks.Option
		wantSpans bool
	}{
		{name: "sampled", sampled: true, wantSpans: true},
		{name: "sampled, phases as events", sampled: true, opts: []otelhooks.Option{otelhooks.WithoutSubSpans()}, wantSpans: true},
		{name: "not sampled, no metrics", opts: []otelhooks.Option{otelhooks.WithTracerProvider(unsampled)}},
		{name: "not sampled, metered", opts: []otelhooks.Option{otelhooks.WithTracerProvider(unsampled), otelhooks.WithMeterProvider(m.mp)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var mu sync.Mutex
			var events []string
			var spanInCtx trace.SpanContext
			note := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
			mine := func(ctx context.Context) *clienttrace.ClientTrace {
				spanInCtx = trace.SpanContextFromContext(ctx)
				return &clienttrace.ClientTrace{
					GetConn:  func(string) { note("GetConn") },
					GotConn:  func(clienttrace.GotConnInfo) { note("GotConn") },
					BodyDone: func(clienttrace.BodyDoneInfo) { note("BodyDone") },
				}
			}
			opts := append([]otelhooks.Option{otelhooks.WithClientTrace(mine)}, tt.opts...)
			get(t, t.Context(), e.client(nil, opts...), srv.URL)

			mu.Lock()
			assert.Equal(t, []string{"GetConn", "GotConn", "BodyDone"}, events, "the caller's hooks run")
			mu.Unlock()
			if tt.wantSpans {
				span := one(t, e.spans(), "GET")
				assert.Equal(t, span.SpanContext().SpanID(), spanInCtx.SpanID(), "the function gets the request span's context")
				assert.True(t, len(named(e.spans(), "http.getconn")) == 1 || slices.Contains(eventNames(span), "http.getconn.start"),
					"and ours too")
			} else {
				assert.Empty(t, e.spans())
			}
		})
	}
}

func TestWithClientTraceFromHTTPTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	e := newEnv(t)
	var mu sync.Mutex
	var got []string
	client := e.client(nil, otelhooks.WithClientTrace(func(context.Context) *clienttrace.ClientTrace {
		return clienttrace.FromHTTPTrace(&httptrace.ClientTrace{
			GotConn:              func(httptrace.GotConnInfo) { mu.Lock(); got = append(got, "GotConn"); mu.Unlock() },
			GotFirstResponseByte: func() { mu.Lock(); got = append(got, "GotFirstResponseByte"); mu.Unlock() },
		})
	}))
	get(t, t.Context(), client, srv.URL)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"GotConn", "GotFirstResponseByte"}, got)
	assert.NotEmpty(t, named(e.spans(), "http.wait"))
}

func TestWithClientTraceNotCalledForFilteredOrNil(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	e := newEnv(t)
	var calls int
	client := e.client(nil,
		otelhooks.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/skip" }),
		otelhooks.WithClientTrace(func(context.Context) *clienttrace.ClientTrace { calls++; return nil }))
	get(t, t.Context(), client, srv.URL+"/skip")
	assert.Zero(t, calls, "a filtered request gets no hooks")
	get(t, t.Context(), client, srv.URL+"/traced")
	assert.Equal(t, 1, calls)
	assert.Len(t, named(e.spans(), "GET"), 1, "nil from the function installs nothing, and ours still run")
	assert.NotEmpty(t, named(e.spans(), "http.receive"))
}

// otelhttpFilter has the type of otelhttp.Filter.
type otelhttpFilter func(*http.Request) bool

func TestWithFilterAcceptsNamedFilterType(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	e := newEnv(t)
	var notHealth otelhttpFilter = func(r *http.Request) bool { return r.URL.Path != "/healthz" }
	client := e.client(nil, otelhooks.WithFilter(notHealth))
	get(t, t.Context(), client, srv.URL+"/healthz")
	get(t, t.Context(), client, srv.URL+"/api")
	require.Len(t, named(e.spans(), "GET"), 1)
	assert.Equal(t, srv.URL+"/api", attrValue(t, one(t, e.spans(), "GET"), "url.full").AsString())
}
