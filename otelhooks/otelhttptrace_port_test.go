package otelhooks_test

// Tests of otelhttptrace v0.72.0's clienttracetest_test.go
// (go.opentelemetry.io/contrib/instrumentation/net/http/httptrace/otelhttptrace)
// ported onto otelhooks.NewClientTrace, each naming the test it ports.
// otelhttptrace names its spans and events its own way ("GOT 100 - Wait",
// http.remote); these assert wiretrace's names (docs/spans.md).

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// Ports TestConcurrentConnectionStart: two dial attempts, started and
// finished in every order, are two http.connect spans with their own
// addresses, both ended. Driven by calling the hooks, as upstream does:
// net/http does not dial two addresses in a chosen order on loopback.
func TestOtelhttptraceConcurrentConnectionStart(t *testing.T) {
	const v4, v6 = "127.0.0.1:3000", "[::1]:3000"
	type call struct {
		done bool
		addr string
	}
	orders := map[string][]call{
		"Open1Close1Open2Close2": {{false, v4}, {true, v4}, {false, v6}, {true, v6}},
		"Open2Close2Open1Close1": {{false, v6}, {true, v6}, {false, v4}, {true, v4}},
		"Open1Open2Close1Close2": {{false, v4}, {false, v6}, {true, v4}, {true, v6}},
		"Open1Open2Close2Close1": {{false, v4}, {false, v6}, {true, v6}, {true, v4}},
		"Open2Open1Close1Close2": {{false, v6}, {false, v4}, {true, v4}, {true, v6}},
		"Open2Open1Close2Close1": {{false, v6}, {false, v4}, {true, v6}, {true, v4}},
	}
	for name, calls := range orders {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx, root := e.root(t.Context())
			ct := otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp))
			ct.GetConn(v4)
			for _, c := range calls {
				if c.done {
					ct.ConnectDone("tcp", c.addr, nil)
				} else {
					ct.ConnectStart("tcp", c.addr)
				}
			}
			ct.GotConn(httptrace.GotConnInfo{})
			// The rest of the request, so that http.send and http.wait,
			// which only hooks end under NewClientTrace, end.
			ct.WroteRequest(httptrace.WroteRequestInfo{})
			ct.GotFirstResponseByte()
			root.End()
			connects := named(e.spans(), "http.connect")
			require.Len(t, connects, 2)
			var got []string
			for _, s := range connects {
				a := attrs(s)
				got = append(got, a["network.peer.address"].AsString()+" "+a["network.type"].AsString())
			}
			assert.ElementsMatch(t, []string{"127.0.0.1 ipv4", "::1 ipv6"}, got)
		})
	}
}

// Ports TestEndBeforeStartCreatesSpan, TestEndBeforeStartWithoutSubSpansDoesNotPanic
// and TestNoClientTraceCallGuarantee: hooks called out of order or alone
// neither panic nor leave a span open.
func TestOtelhttptraceHooksOutOfOrder(t *testing.T) {
	for _, opts := range map[string][]otelhooks.Option{"spans": nil, "WithoutSubSpans": {otelhooks.WithoutSubSpans()}} {
		e := newEnv(t)
		ctx, root := e.root(t.Context())
		ct := otelhooks.NewClientTrace(ctx, append(opts, otelhooks.WithTracerProvider(e.tp))...)
		require.NotPanics(t, func() {
			ct.DNSDone(httptrace.DNSDoneInfo{})
			ct.DNSStart(httptrace.DNSStartInfo{Host: "example.com"})
			ct.DNSDone(httptrace.DNSDoneInfo{})
			ct.Got100Continue()
			assert.NoError(t, ct.Got1xxResponse(http.StatusNoContent, nil))
			ct.Wait100Continue()
		})
		root.End()
	}
	// Without a recording span there is nothing to add to: no hooks.
	ct := otelhooks.NewClientTrace(t.Context())
	assert.Nil(t, ct.DNSDone)
}

// Ports TestHTTPRequestWithClientTrace and TestHTTPRequestWithExpect100Continue:
// NewClientTrace installed with httptrace.WithClientTrace (otelhttptrace's
// pattern) on a real request: the phases are children of the caller's span,
// all ended, http.send with the 100-continue events.
func TestOtelhttptraceHTTPRequestWithClientTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	e := newEnv(t)
	ctx, root := e.root(t.Context())
	// net/http may report WroteRequest after the round trip returned;
	// upstream polls for http.send, this waits for the hook, which runs
	// after ours.
	wrote := make(chan struct{})
	var once sync.Once
	ct := clienttrace.Compose(otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp)), &clienttrace.ClientTrace{
		WroteRequest: func(clienttrace.WroteRequestInfo) { once.Do(func() { close(wrote) }) },
	})
	ctx = httptrace.WithClientTrace(ctx, clienttrace.ToHTTPTrace(ct))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader([]byte("test")))
	require.NoError(t, err)
	req.Header.Set("Expect", "100-continue")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	<-wrote
	root.End()
	srv.Client().CloseIdleConnections()

	spans := e.spans()
	rootRO := one(t, spans, "root")
	for _, name := range []string{"http.getconn", "http.send"} {
		assert.Equal(t, rootRO.SpanContext().SpanID(), one(t, spans, name).Parent().SpanID(), name)
	}
	assert.Contains(t, eventNames(one(t, spans, "http.send")), "http.wait_100_continue")
	one(t, spans, "http.connect")
}

// Ports TestWithoutSubSpans: NewClientTrace with WithoutSubSpans records
// nothing without a recording span in the context; under one, it adds the
// phases as start/done events to that span and starts no span. otelhttptrace
// records four request headers by default (Authorization as "****");
// wiretrace records none unless asked (docs/spans.md, What is scrubbed).
func TestOtelhttptraceWithoutSubSpans(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	e := newEnv(t)
	client := srv.Client()
	defer client.CloseIdleConnections()
	do := func(ctx context.Context) {
		t.Helper()
		ctx = httptrace.WithClientTrace(ctx, clienttrace.ToHTTPTrace(
			otelhooks.NewClientTrace(ctx, otelhooks.WithoutSubSpans(), otelhooks.WithTracerProvider(e.tp))))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, http.NoBody)
		require.NoError(t, err)
		req.Header.Set("User-Agent", "oteltest/1.1")
		req.Header.Set("Authorization", "Bearer token123")
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	do(t.Context())
	require.Empty(t, e.spans(), "no span in the context: nothing recorded")

	ctx, root := e.root(t.Context())
	do(ctx)
	root.End()
	spans := e.spans()
	require.Len(t, spans, 1, "the caller's span only")
	rec := spans[0]
	assert.Empty(t, rec.Attributes(), "no header is recorded by default")
	assert.NotContains(t, allStrings(spans), "token123")

	names := eventNames(rec)
	// Every phase that starts is done. NewClientTrace cannot see the body,
	// so it has no http.receive, where otelhttptrace's events have one.
	for _, name := range names {
		if phase, ok := strings.CutSuffix(name, ".start"); ok {
			assert.Contains(t, names, phase+".done", "%s never done: %v", phase, names)
		}
	}
	for _, phase := range []string{"http.getconn", "http.send", "http.wait"} {
		assert.Contains(t, names, phase+".start")
		assert.Contains(t, names, phase+".done")
	}
	assert.Contains(t, names, "http.first_response_byte")
	done := eventAttrs(event(t, rec, "http.getconn.done"))
	assert.True(t, done["wiretrace.conn.reused"].AsBool(), "the second request reuses the first's connection")
	assert.True(t, done["wiretrace.conn.was_idle"].AsBool())
	assert.Contains(t, done, attribute.Key("wiretrace.conn.idle_time_s"))
	assert.Equal(t, "127.0.0.1", done["network.peer.address"].AsString())
	assert.Contains(t, done, attribute.Key("network.local.port"))
}

// Ports TestHTTPRequestWithTraceContext: the phases go under the span of the
// context given to NewClientTrace, even when the request's own context has
// no span.
func TestOtelhttptraceHTTPRequestWithTraceContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	e := newEnv(t)
	ctx, span := e.tp.Tracer("").Start(t.Context(), "parent_span")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(),
		clienttrace.ToHTTPTrace(otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp)))))
	client := srv.Client()
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	span.End()

	spans := e.spans()
	parent := one(t, spans, "parent_span")
	getconn := one(t, spans, "http.getconn")
	assert.Equal(t, parent.SpanContext().TraceID(), getconn.SpanContext().TraceID())
	assert.Equal(t, parent.SpanContext().SpanID(), getconn.Parent().SpanID())
}
