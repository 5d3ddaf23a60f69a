package otelhooks_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// endChecker is a span processor that remembers every span started and
// every span ended, to prove that nothing is left open.
type endChecker struct {
	mu      sync.Mutex
	started map[trace.SpanID]string
	ended   map[trace.SpanID]bool
}

func (c *endChecker) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started[s.SpanContext().SpanID()] = s.Name()
}

func (c *endChecker) OnEnd(s sdktrace.ReadOnlySpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := s.SpanContext().SpanID()
	if c.ended[id] {
		panic("span ended twice: " + s.Name())
	}
	c.ended[id] = true
}

func (*endChecker) Shutdown(context.Context) error   { return nil }
func (*endChecker) ForceFlush(context.Context) error { return nil }

// open returns the names of the spans started and not ended, sorted.
func (c *endChecker) open() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for id, name := range c.started {
		if !c.ended[id] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (c *endChecker) counts() (started, ended int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.started), len(c.ended)
}

// env is a tracer provider for one test, recording every ended span, that
// fails the test at cleanup if a span was left open.
type env struct {
	tp      *sdktrace.TracerProvider
	rec     *tracetest.SpanRecorder
	checker *endChecker
}

func newEnv(t *testing.T, opts ...sdktrace.TracerProviderOption) *env {
	t.Helper()
	e := &env{
		rec:     tracetest.NewSpanRecorder(),
		checker: &endChecker{started: map[trace.SpanID]string{}, ended: map[trace.SpanID]bool{}},
	}
	opts = append([]sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(e.rec),
		sdktrace.WithSpanProcessor(e.checker),
	}, opts...)
	e.tp = sdktrace.NewTracerProvider(opts...)
	t.Cleanup(func() {
		assert.Empty(t, e.checker.open(), "spans started and never ended")
		_ = e.tp.Shutdown(context.Background())
	})
	return e
}

// assertAllEnded asserts that every span started so far has ended.
func (e *env) assertAllEnded(t *testing.T) {
	t.Helper()
	assert.Empty(t, e.checker.open(), "spans started and never ended")
}

// root starts a span the test's requests run under.
func (e *env) root(ctx context.Context) (context.Context, trace.Span) {
	return e.tp.Tracer("test").Start(ctx, "root")
}

// spans returns the ended spans, in the order they ended.
func (e *env) spans() []sdktrace.ReadOnlySpan { return e.rec.Ended() }

// named returns the ended spans with the given name, in the order they
// started.
func named(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// one returns the only ended span with the given name.
func one(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	found := named(spans, name)
	require.Len(t, found, 1, "spans named %q in %v", name, names(spans))
	return found[0]
}

// names returns the span names, sorted.
func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	slices.Sort(out)
	return out
}

// childrenOf returns the names of the spans whose parent is p, sorted.
func childrenOf(spans []sdktrace.ReadOnlySpan, p sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		if s.Parent().SpanID() == p.SpanContext().SpanID() {
			out = append(out, s.Name())
		}
	}
	slices.Sort(out)
	return out
}

// attrs returns the attributes of s as a map.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// eventNames returns the names of the events of s, in order.
func eventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

// event returns the first event of s with the given name.
func event(t *testing.T, s sdktrace.ReadOnlySpan, name string) sdktrace.Event {
	t.Helper()
	for _, e := range s.Events() {
		if e.Name == name {
			return e
		}
	}
	require.Failf(t, "no event", "%s has no event %q: %v", s.Name(), name, eventNames(s))
	return sdktrace.Event{}
}

func eventAttrs(e sdktrace.Event) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range e.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// assertWithin asserts that child runs within parent's time, unless it is
// marked abandoned.
func assertWithin(t *testing.T, parent, child sdktrace.ReadOnlySpan) {
	t.Helper()
	assert.False(t, child.StartTime().Before(parent.StartTime()), "%s starts before %s", child.Name(), parent.Name())
	assert.False(t, child.EndTime().After(parent.EndTime()), "%s ends after %s", child.Name(), parent.Name())
	assert.False(t, child.EndTime().Before(child.StartTime()), "%s ends before it starts", child.Name())
}

// assertSequence asserts that each span starts no earlier than the previous
// one ended.
func assertSequence(t *testing.T, spans ...sdktrace.ReadOnlySpan) {
	t.Helper()
	for i := 1; i < len(spans); i++ {
		assert.False(t, spans[i].StartTime().Before(spans[i-1].EndTime()),
			"%s starts before %s ends", spans[i].Name(), spans[i-1].Name())
	}
}

// get sends a request through client under ctx, reads the whole body and
// closes it.
func get(t *testing.T, ctx context.Context, client *http.Client, target string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// byName rewrites a test server URL to dial the host by the name "localhost".
func byName(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	u.Host = net.JoinHostPort("localhost", u.Port())
	return u.String()
}

func okHandler(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// allStrings returns every attribute value of every span and event as
// text, to look for secrets.
func allStrings(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(s.Name() + " " + s.Status().Description + "\n")
		for _, kv := range s.Attributes() {
			b.WriteString(string(kv.Key) + "=" + kv.Value.String() + "\n")
		}
		for _, e := range s.Events() {
			for _, kv := range e.Attributes {
				b.WriteString(e.Name + " " + string(kv.Key) + "=" + kv.Value.String() + "\n")
			}
		}
	}
	return b.String()
}

// tlsServer starts an HTTPS server on 127.0.0.1 whose certificate, for
// "localhost" and 127.0.0.1, is signed by a CA of the test's own, and returns
// it with a transport that trusts that CA.
func tlsServer(t *testing.T, h http.Handler, http2 bool) (*httptest.Server, *http.Transport) {
	t.Helper()
	ca := testnet.NewCA(t, "wiretrace test CA")
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = http2
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "localhost", "localhost", "127.0.0.1")}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: http2}
	t.Cleanup(tr.CloseIdleConnections)
	return srv, tr
}

// client returns a client whose transport is NewTransport(base) recording
// to e.
func (e *env) client(base http.RoundTripper, opts ...otelhooks.Option) *http.Client {
	opts = append([]otelhooks.Option{otelhooks.WithTracerProvider(e.tp)}, opts...)
	return &http.Client{Transport: otelhooks.NewTransport(base, opts...)}
}

// attrValue returns the value of the attribute key of s, failing the test if
// s has none.
func attrValue(t *testing.T, s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	t.Helper()
	v, ok := attrs(s)[key]
	require.True(t, ok, "%s has no attribute %s: %v", s.Name(), key, s.Attributes())
	return v
}

// assertNotAbandoned asserts that no request span or phase of the request
// itself was ended for want of its end event. The connection's phases may
// be: a dial can outlive its request, when another connection came first.
func assertNotAbandoned(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range spans {
		switch s.Name() {
		case "http.getconn", "http.send", "http.wait", "http.receive":
		default:
			continue
		}
		_, abandoned := attrs(s)["wiretrace.abandoned"]
		assert.False(t, abandoned, "%s was abandoned", s.Name())
	}
}

// send sends a GET to target and closes the response body, for use on
// goroutines of the test's own: it returns the error rather than failing.
func send(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
