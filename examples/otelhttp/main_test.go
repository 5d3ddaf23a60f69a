package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/wiretrace/wiretrace/internal/spantest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is one test's tracer provider, recorder and counter, and a server on
// 127.0.0.1 that remembers the traceparent of each request.
type env struct {
	tp      *sdktrace.TracerProvider
	rec     *tracetest.SpanRecorder
	counter *spantest.EndChecker
	srv     *httptest.Server
	base    *http.Transport
	client  *http.Client

	mu           sync.Mutex
	traceparents []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		rec:     tracetest.NewSpanRecorder(),
		counter: spantest.NewEndChecker(),
	}
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.rec), sdktrace.WithSpanProcessor(e.counter))
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.traceparents = append(e.traceparents, r.Header.Get("Traceparent"))
		e.mu.Unlock()
		fmt.Fprintln(w, "hello")
	}))
	e.base = &http.Transport{}
	e.client = &http.Client{Transport: newTransport(e.base, e.tp)}
	t.Cleanup(func() {
		e.base.CloseIdleConnections()
		e.srv.Close()
		require.NoError(t, e.tp.Shutdown(context.Background()))
	})
	return e
}

// get sends a GET for path, reads the body to the end and closes it.
func (e *env) get(t *testing.T, path string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+path, nil)
	require.NoError(t, err)
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(body))
	return nil
}

func (e *env) lastTraceparent() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.traceparents[len(e.traceparents)-1]
}

// request is the spans of one request: otelhttp's client span and the
// phases under it, by name.
type request struct {
	client sdktrace.ReadOnlySpan
	phases map[string][]sdktrace.ReadOnlySpan
}

// oneRequest asserts that spans are the trace of one request: a single
// client span, otelhttp's, at the root, with every other span under it in
// the same trace, and returns them.
func oneRequest(t *testing.T, spans []sdktrace.ReadOnlySpan) request {
	t.Helper()
	var clients []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient {
			clients = append(clients, s)
		}
	}
	require.Len(t, clients, 1, "client spans: otelhttp's only, none of otelhooks")
	r := request{client: clients[0], phases: map[string][]sdktrace.ReadOnlySpan{}}
	assert.Equal(t, "HTTP GET", r.client.Name())
	assert.Equal(t, "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", r.client.InstrumentationScope().Name)
	assert.False(t, r.client.Parent().IsValid(), "otelhttp's span is the root")

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range spans {
		assert.Equal(t, r.client.SpanContext().TraceID(), s.SpanContext().TraceID(), "trace of %s", s.Name())
		if s == r.client {
			continue
		}
		assert.Equal(t, trace.SpanKindInternal, s.SpanKind(), s.Name())
		assert.Equal(t, "github.com/wiretrace/wiretrace/otelhooks", s.InstrumentationScope().Name, s.Name())
		r.phases[s.Name()] = append(r.phases[s.Name()], s)
		parent, ok := byID[s.Parent().SpanID()]
		require.True(t, ok, "the parent of %s is in the trace", s.Name())
		switch s.Name() {
		case "http.dns", "http.connect", "http.tls":
			assert.Equal(t, "http.getconn", parent.Name(), "the parent of %s", s.Name())
		default:
			assert.Equal(t, r.client.SpanContext().SpanID(), parent.SpanContext().SpanID(), "the parent of %s", s.Name())
		}
	}
	return r
}

// names returns the names of the phases, sorted, with one entry per span.
func (r request) names() []string {
	var out []string
	for _, name := range []string{"http.connect", "http.getconn", "http.receive", "http.send", "http.wait"} {
		for range r.phases[name] {
			out = append(out, name)
		}
	}
	return out
}

// assertEndedWithin asserts that no phase ended after the client span:
// the waterfall shows no child outliving its parent.
func (r request) assertEndedWithin(t *testing.T) {
	t.Helper()
	for _, spans := range r.phases {
		for _, s := range spans {
			assert.False(t, s.EndTime().After(r.client.EndTime()),
				"%s ended %s after otelhttp's span", s.Name(), s.EndTime().Sub(r.client.EndTime()))
		}
	}
}

func (e *env) assertPropagated(t *testing.T, r request) {
	t.Helper()
	sc := r.client.SpanContext()
	assert.Equal(t, fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()), e.lastTraceparent(),
		"the server continues the trace from otelhttp's span")
}

func TestOtelhttpColdConnection(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.get(t, "/cold"))

	r := oneRequest(t, e.rec.Ended())
	assert.Equal(t, []string{"http.connect", "http.getconn", "http.receive", "http.send", "http.wait"}, r.names())
	assert.Equal(t, codes.Unset, r.phases["http.getconn"][0].Status().Code)
	assert.Equal(t, codes.Unset, r.client.Status().Code)
	r.assertEndedWithin(t)
	e.assertPropagated(t, r)
	e.counter.AssertAllEnded(t)
}

func TestOtelhttpReusedConnection(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.get(t, "/first"))
	e.counter.AssertAllEnded(t)
	e.rec.Reset()
	require.NoError(t, e.get(t, "/second"))

	r := oneRequest(t, e.rec.Ended())
	assert.Equal(t, []string{"http.getconn", "http.receive", "http.send", "http.wait"}, r.names())
	reused := false
	for _, kv := range r.phases["http.getconn"][0].Attributes() {
		if kv.Key == "wiretrace.conn.reused" {
			reused = kv.Value.AsBool()
		}
	}
	assert.True(t, reused, "wiretrace.conn.reused")
	r.assertEndedWithin(t)
	e.assertPropagated(t, r)
	e.counter.AssertAllEnded(t)
}

func TestOtelhttpFailedRequest(t *testing.T) {
	e := newEnv(t)
	e.srv.Close() // nothing listens on its port any more

	err := e.get(t, "/refused")
	require.ErrorContains(t, err, "connection refused")

	r := oneRequest(t, e.rec.Ended())
	assert.Equal(t, []string{"http.connect", "http.getconn"}, r.names(), "no send, wait or receive: the dial failed")
	assert.Equal(t, codes.Error, r.client.Status().Code)
	assert.Equal(t, codes.Error, r.phases["http.connect"][0].Status().Code)
	assert.Equal(t, codes.Error, r.phases["http.getconn"][0].Status().Code)
	r.assertEndedWithin(t)
	e.counter.AssertAllEnded(t)
}

// Closing the body without reading it to the end is how many clients stop
// early. Every span still ends, once. otelhttp (v0.72.0) ends its span
// before it closes the body it wraps, so here, unlike after a read to the
// end, http.receive ends a little after its parent.
func TestOtelhttpBodyClosedEarly(t *testing.T) {
	e := newEnv(t)
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.Copy(w, bytes.NewReader(bytes.Repeat([]byte("x"), 1<<20)))
	})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/big", nil)
	require.NoError(t, err)
	resp, err := e.client.Do(req)
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 10))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	r := oneRequest(t, e.rec.Ended())
	assert.Equal(t, []string{"http.connect", "http.getconn", "http.receive", "http.send", "http.wait"}, r.names())
	receive := r.phases["http.receive"][0]
	var done string
	for _, kv := range receive.Attributes() {
		if kv.Key == "wiretrace.body.done" {
			done = kv.Value.AsString()
		}
	}
	assert.Equal(t, "closed", done)
	e.counter.AssertAllEnded(t)
	t.Logf("http.receive ended %s after otelhttp's span", receive.EndTime().Sub(r.client.EndTime()))
}

// The program prints two waterfalls: otelhttp's span with the phases under
// it, on a new connection, then on the same one.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	text := out.String()
	assert.Equal(t, 2, strings.Count(text, "HTTP GET http://127.0.0.1:"), text)
	assert.Equal(t, 2, strings.Count(text, "http.getconn"), text)
	assert.Equal(t, 1, strings.Count(text, "http.connect"), text)
	assert.Equal(t, 2, strings.Count(text, "http.receive"), text)
}
