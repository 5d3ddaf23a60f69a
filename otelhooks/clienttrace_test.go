package otelhooks_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

func TestNewClientTraceUnderCallersSpan(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: clienttrace.NewTransport(base)}

	ctx, mine := e.tp.Tracer("caller").Start(t.Context(), "fetch", trace.WithSpanKind(trace.SpanKindClient))
	ctx = clienttrace.WithClientTrace(ctx, otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp)))
	get(t, ctx, client, testnet.ByName(t, srv.URL))
	assert.NotContains(t, names(e.spans()), "fetch", "the caller's span is the caller's to end")
	mine.End()

	spans := e.spans()
	fetch := one(t, spans, "fetch")
	assert.Len(t, spans, 6+len(named(spans, "http.connect")))
	assert.Equal(t, []string{"http.getconn", "http.receive", "http.send", "http.wait"}, childrenOf(spans, fetch))
	assert.Empty(t, fetch.Attributes(), "the caller's span gets no attributes from us")
	assert.Equal(t, []string{"http.put_idle_conn"}, eventNames(fetch))
}

func TestNewClientTraceWithoutLifecycleTransport(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	ctx, mine := e.root(t.Context())
	ctx = clienttrace.WithClientTrace(ctx, otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp)))
	get(t, ctx, &http.Client{Transport: base}, srv.URL)
	mine.End()

	spans := e.spans()
	assert.Empty(t, named(spans, "http.receive"), "without lifecycle events nothing could end it, so it is not started")
	assert.Len(t, named(spans, "http.wait"), 1)
	e.assertAllEnded(t)
}

func TestNewClientTraceNothingToRecordUnder(t *testing.T) {
	e := newEnv(t, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	unsampled, span := e.root(context.Background())
	defer span.End()
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"nil context", nil},
		{"no span", context.Background()},
		{"noop span", trace.ContextWithSpan(context.Background(), noop.Span{})},
		{"unsampled span", unsampled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := otelhooks.NewClientTrace(tt.ctx)
			require.NotNil(t, ct, "never nil: httptrace.WithClientTrace panics on nil")
			assert.Equal(t, clienttrace.ClientTrace{}, *ct, "no hooks")
		})
	}
}

// fire calls every hook of ct with plausible arguments, as net/http would
// for a new TLS connection, a request and its response.
func fire(ct *clienttrace.ClientTrace) {
	conn := fakeConn{}
	ct.GetConn("example.com:443")
	ct.DNSStart(clienttrace.DNSStartInfo{Host: "example.com"})
	ct.DNSDone(clienttrace.DNSDoneInfo{Addrs: []net.IPAddr{{IP: net.IPv4(192, 0, 2, 1)}}})
	ct.ConnectStart("tcp", "192.0.2.1:443")
	ct.ConnectDone("tcp", "192.0.2.1:443", nil)
	ct.TLSHandshakeStart()
	ct.TLSHandshakeDone(tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}, nil)
	ct.GotConn(clienttrace.GotConnInfo{Conn: conn})
	ct.WroteHeaders()
	ct.Wait100Continue()
	ct.Got100Continue()
	ct.WroteRequest(clienttrace.WroteRequestInfo{})
	ct.GotFirstResponseByte()
	_ = ct.Got1xxResponse(http.StatusEarlyHints, nil)
	ct.PutIdleConn(nil)
	ct.PutIdleConn(errors.New("pool full"))
}

// fakeConn is a net.Conn that only has addresses, for hooks called by hand.
type fakeConn struct{ net.Conn }

func (fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 443} }
func (fakeConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 9), Port: 50000} }

func TestHooksAfterTheRequestEnded(t *testing.T) {
	for _, events := range []bool{false, true} {
		t.Run(map[bool]string{false: "spans", true: "events"}[events], func(t *testing.T) {
			e := newEnv(t)
			var opts []otelhooks.Option
			if events {
				opts = append(opts, otelhooks.WithoutSubSpans())
			}
			ctx, root := e.root(t.Context())
			ct := otelhooks.NewClientTrace(ctx, append(opts, otelhooks.WithTracerProvider(e.tp))...)
			require.NotNil(t, ct)

			// A round trip that failed ends everything...
			ct.GetConn("example.com:443")
			ct.RoundTripDone(clienttrace.RoundTripDoneInfo{Err: errors.New("dial failed")})
			ended := len(e.spans())
			root.End()
			rootEvents := len(one(t, e.spans(), "root").Events())

			// ...and nothing fired afterwards records or panics.
			require.NotPanics(t, func() {
				fire(ct)
				ct.RoundTripDone(clienttrace.RoundTripDoneInfo{Response: &http.Response{StatusCode: http.StatusOK}})
				ct.BodyDone(clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF})
			})
			assert.Len(t, e.spans(), ended+1, "only root ended since")
			assert.Len(t, one(t, e.spans(), "root").Events(), rootEvents)
			started, endedAll := e.checker.Counts()
			assert.Equal(t, started, endedAll)
		})
	}
}

func TestHooksOutOfOrderAndRepeated(t *testing.T) {
	e := newEnv(t)
	ctx, root := e.root(t.Context())
	ct := otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp))

	require.NotPanics(t, func() {
		// Done before start: nothing to end.
		ct.DNSDone(clienttrace.DNSDoneInfo{})
		ct.ConnectDone("tcp", "192.0.2.1:443", nil)
		ct.TLSHandshakeDone(tls.ConnectionState{}, nil)
		ct.GotConn(clienttrace.GotConnInfo{})
		ct.WroteRequest(clienttrace.WroteRequestInfo{})
		ct.GotFirstResponseByte()
		ct.BodyDone(clienttrace.BodyDoneInfo{Reason: clienttrace.BodyClosed})
	})
	// BodyDone ended the request: what follows is ignored.
	fire(ct)
	root.End()
	e.assertAllEnded(t)

	e2 := newEnv(t)
	ctx, root = e2.root(t.Context())
	ct = otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e2.tp))
	// Starts repeated before their ends: the older one is ended, marked
	// abandoned, never left open.
	ct.GetConn("a:1")
	ct.DNSStart(clienttrace.DNSStartInfo{Host: "a"})
	ct.DNSStart(clienttrace.DNSStartInfo{Host: "a"})
	ct.TLSHandshakeStart()
	ct.TLSHandshakeStart()
	ct.ConnectStart("tcp", "192.0.2.1:1")
	ct.ConnectStart("tcp", "192.0.2.1:1") // a second attempt to the same address
	ct.ConnectDone("tcp", "192.0.2.1:1", errors.New("refused"))
	ct.RoundTripDone(clienttrace.RoundTripDoneInfo{Err: errors.New("gave up")})
	root.End()
	e2.assertAllEnded(t)

	spans := e2.spans()
	dns := named(spans, "http.dns")
	require.Len(t, dns, 2)
	assert.True(t, attrValue(t, dns[0], "wiretrace.abandoned").AsBool())
	connects := named(spans, "http.connect")
	require.Len(t, connects, 2)
	assert.Equal(t, codes.Error, connects[0].Status().Code, "the first attempt to the address gets the first ConnectDone")
	assert.True(t, attrValue(t, connects[1], "wiretrace.abandoned").AsBool())
	assert.Equal(t, codes.Error, one(t, spans, "http.getconn").Status().Code)
}

func TestHooksConcurrentCalls(t *testing.T) {
	e := newEnv(t)
	ctx, root := e.root(t.Context())
	ct := otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(e.tp))
	ct.GetConn("example.com:443")

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			addr := net.JoinHostPort("192.0.2.1", "44"+string(rune('0'+i)))
			ct.ConnectStart("tcp", addr)
			ct.ConnectDone("tcp", addr, nil)
			ct.PutIdleConn(nil)
		})
	}
	wg.Go(func() { ct.GotConn(clienttrace.GotConnInfo{Conn: fakeConn{}}) })
	wg.Wait()
	ct.RoundTripDone(clienttrace.RoundTripDoneInfo{Err: errors.New("done")})
	wg.Go(func() { fire(ct) })
	wg.Wait()
	root.End()

	e.assertAllEnded(t)
	assert.Len(t, named(e.spans(), "http.connect"), 8)
}
