package otelhooks_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

func TestWithoutSubSpans(t *testing.T) {
	e := newEnv(t)
	srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
	ctx, root := e.root(t.Context())
	get(t, ctx, e.client(base, otelhooks.WithoutSubSpans()), testnet.ByName(t, srv.URL))
	root.End()

	spans := e.spans()
	assert.Equal(t, []string{"GET", "root"}, names(spans), "phases are events, not spans")
	r := one(t, spans, "GET")
	got := eventNames(r)
	assertSubsequence(t, got,
		"http.getconn.start", "http.dns.start", "http.dns.done", "http.connect.start", "http.connect.done",
		"http.tls.start", "http.tls.done", "http.getconn.done", "http.send.start", "http.wrote_headers",
		"http.send.done", "http.wait.start", "http.first_response_byte", "http.wait.done",
		"http.receive.start", "http.receive.done")

	done := func(name string) map[attribute.Key]attribute.Value {
		return eventAttrs(event(t, r, name))
	}
	assert.Equal(t, "localhost", eventAttrs(event(t, r, "http.dns.start"))["dns.question.name"].AsString())
	assert.Contains(t, done("http.dns.done")["dns.answers"].AsStringSlice(), "127.0.0.1")
	assert.Equal(t, "1.3", done("http.tls.done")["tls.protocol.version"].AsString())
	assert.Equal(t, "CN=localhost", done("http.tls.done")["tls.server.subject"].AsString())
	assert.Equal(t, "127.0.0.1", done("http.getconn.done")["network.peer.address"].AsString())
	assert.False(t, done("http.getconn.done")["wiretrace.conn.reused"].AsBool())
	assert.Equal(t, int64(2), done("http.receive.done")["http.response.body.size"].AsInt64())
	assert.Equal(t, "eof", done("http.receive.done")["wiretrace.body.done"].AsString())
	for i := 1; i < len(r.Events()); i++ {
		assert.False(t, r.Events()[i].Time.Before(r.Events()[i-1].Time), "events are in time order")
	}
}

func TestWithoutSubSpansFailure(t *testing.T) {
	e := newEnv(t)
	addr := testnet.RefusedAddr(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr, nil)
	require.NoError(t, err)
	resp, err := e.client(&http.Transport{}, otelhooks.WithoutSubSpans()).Do(req)
	require.Error(t, err)
	require.Nil(t, resp)

	r := one(t, e.spans(), "GET")
	connect := eventAttrs(event(t, r, "http.connect.done"))
	assert.Equal(t, "connection_refused", connect["error.type"].AsString())
	assert.Contains(t, connect["wiretrace.error.message"].AsString(), "refused")
	getconn := eventAttrs(event(t, r, "http.getconn.done"))
	assert.Equal(t, "connection_refused", getconn["error.type"].AsString())
	assert.Equal(t, "connection_refused", attrValue(t, r, "error.type").AsString())
}

func TestWithoutRequestSpan(t *testing.T) {
	e := newEnv(t)
	var traceparent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparent = r.Header.Get("Traceparent")
		testnet.OK(w, r)
	}))
	defer srv.Close()

	// Another instrumentation's client span, as otelhttp would start.
	outer := clientSpanTransport{tp: e.tp, next: otelhooks.NewTransport(srv.Client().Transport,
		otelhooks.WithTracerProvider(e.tp), otelhooks.WithoutRequestSpan())}
	ctx, root := e.root(t.Context())
	get(t, ctx, &http.Client{Transport: outer}, srv.URL)
	root.End()

	spans := e.spans()
	client := one(t, spans, "outer GET")
	assert.Empty(t, named(spans, "GET"), "no request span of our own")
	assert.Equal(t, []string{"http.getconn", "http.receive", "http.send", "http.wait"}, childrenOf(spans, client))
	assert.Contains(t, traceparent, client.SpanContext().SpanID().String(), "the outer span is propagated")
	assert.Empty(t, client.Attributes(), "the outer span is not ours to annotate")
}

// clientSpanTransport starts a client span around next, as otelhttp does.
type clientSpanTransport struct {
	tp   *sdktrace.TracerProvider
	next http.RoundTripper
}

func (c clientSpanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := c.tp.Tracer("outer").Start(req.Context(), "outer "+req.Method)
	defer span.End() // at the headers: the body's phase may outlast it
	return c.next.RoundTrip(req.WithContext(ctx))
}

// assertSubsequence asserts that want appears in got in order.
func assertSubsequence(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	assert.Equal(t, len(want), i, "want %q in order within %q", want, got)
}
