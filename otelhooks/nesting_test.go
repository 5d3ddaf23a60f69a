package otelhooks_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// hookCounter counts the calls of every hook of the trace it gives.
type hookCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *hookCounter) add(hook string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[hook]++
}

func (c *hookCounter) counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *hookCounter) trace() *clienttrace.ClientTrace {
	return &clienttrace.ClientTrace{
		GetConn:              func(string) { c.add("GetConn") },
		GotConn:              func(clienttrace.GotConnInfo) { c.add("GotConn") },
		PutIdleConn:          func(error) { c.add("PutIdleConn") },
		GotFirstResponseByte: func() { c.add("GotFirstResponseByte") },
		Got100Continue:       func() { c.add("Got100Continue") },
		Got1xxResponse:       func(int, textproto.MIMEHeader) error { c.add("Got1xxResponse"); return nil },
		DNSStart:             func(clienttrace.DNSStartInfo) { c.add("DNSStart") },
		DNSDone:              func(clienttrace.DNSDoneInfo) { c.add("DNSDone") },
		ConnectStart:         func(string, string) { c.add("ConnectStart") },
		ConnectDone:          func(string, string, error) { c.add("ConnectDone") },
		TLSHandshakeStart:    func() { c.add("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { c.add("TLSHandshakeDone") },
		WroteHeaderField:     func(key string, _ []string) { c.add("WroteHeaderField " + strings.ToLower(key)) },
		WroteHeaders:         func() { c.add("WroteHeaders") },
		Wait100Continue:      func() { c.add("Wait100Continue") },
		WroteRequest:         func(clienttrace.WroteRequestInfo) { c.add("WroteRequest") },
		RoundTripDone:        func(clienttrace.RoundTripDoneInfo) { c.add("RoundTripDone") },
		BodyDone:             func(clienttrace.BodyDoneInfo) { c.add("BodyDone") },
	}
}

// TestTransportNestedLifecycleTransportsFireHooksOnce pins that every hook of
// the caller's trace fires once per event whatever the nesting of lifecycle
// transports: an application's clienttrace.NewTransport around a library's
// otelhooks.NewTransport, two otelhooks transports, otelhooks around
// clienttrace; and that each otelhooks transport records its own request
// whole, once.
func TestTransportNestedLifecycleTransportsFireHooksOnce(t *testing.T) {
	srv, _ := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, bigBody) }), true)

	tests := []struct {
		name string
		// wrap builds the transport under test over tr, with otelhooks
		// transports recording to e.
		wrap func(e *env, tr *http.Transport) http.RoundTripper
		// requestSpans is how many otelhooks transports there are.
		requestSpans int
	}{
		{"clienttrace alone (the baseline)", func(_ *env, tr *http.Transport) http.RoundTripper {
			return clienttrace.NewTransport(tr)
		}, 0},
		{"clienttrace around otelhooks", func(e *env, tr *http.Transport) http.RoundTripper {
			return clienttrace.NewTransport(e.client(tr).Transport)
		}, 1},
		{"otelhooks around otelhooks", func(e *env, tr *http.Transport) http.RoundTripper {
			return e.client(e.client(tr).Transport).Transport
		}, 2},
		{"otelhooks around clienttrace", func(e *env, tr *http.Transport) http.RoundTripper {
			return e.client(clienttrace.NewTransport(tr)).Transport
		}, 1},
		{"clienttrace around otelhooks around clienttrace", func(e *env, tr *http.Transport) http.RoundTripper {
			return clienttrace.NewTransport(e.client(clienttrace.NewTransport(tr)).Transport)
		}, 1},
	}
	var baseline map[string]int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), true) // a transport trusting the CA
			tr.TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
			var c hookCounter
			ctx := clienttrace.WithClientTrace(t.Context(), c.trace())
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, testnet.ByName(t, srv.URL), nil)
			require.NoError(t, err)
			resp, err := tt.wrap(e, tr).RoundTrip(req)
			require.NoError(t, err)
			n, err := io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			require.Equal(t, int64(len(bigBody)), n)
			require.NoError(t, resp.Body.Close())

			got := c.counts()
			assert.Equal(t, 1, got["RoundTripDone"], "RoundTripDone")
			assert.Equal(t, 1, got["BodyDone"], "BodyDone")
			if baseline == nil {
				baseline = got
				return
			}
			// An otelhooks transport adds a header of its own, once
			// however many there are.
			if tt.requestSpans > 0 {
				assert.Equal(t, 1, got["WroteHeaderField traceparent"], "traceparent")
				delete(got, "WroteHeaderField traceparent")
			}
			assert.Equal(t, baseline, got, "every hook as often as without nesting")

			spans := e.spans()
			requests := named(spans, "GET")
			require.Len(t, requests, tt.requestSpans)
			for _, r := range requests {
				assert.Equal(t, int64(len(bigBody)), attrValue(t, r, "http.response.body.size").AsInt64())
				assert.Equal(t, "eof", attrValue(t, one(t, childrenSpans(spans, r), "http.receive"), "wiretrace.body.done").AsString())
				for _, phase := range []string{"http.getconn", "http.send", "http.receive"} {
					assert.Len(t, named(childrenSpans(spans, r), phase), 1, "%s of one request span", phase)
				}
			}
			assertNotAbandoned(t, spans)
		})
	}
}

// childrenSpans returns the spans whose parent is p.
func childrenSpans(spans []sdktrace.ReadOnlySpan, p sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == p.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	return out
}

// TestTransportProtocolSwitchWriteError pins that a failed write to the body
// of a 101 Switching Protocols response is recorded, as otelhttp records it:
// http.receive and the request span fail with it, and the body is done with
// "write_error".
func TestTransportProtocolSwitchWriteError(t *testing.T) {
	e := newEnv(t)
	hungUp := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer close(hungUp)
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with a reset
		}
		_ = conn.Close()
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := e.client(tr).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	rw, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "the body stays writable")
	<-hungUp
	// The reset reaches the client asynchronously: write until a write
	// fails, as one must within a few.
	var werr error
	for deadline := time.Now().Add(10 * time.Second); werr == nil && time.Now().Before(deadline); {
		_, werr = rw.Write([]byte("hello\n"))
	}
	require.Error(t, werr)
	require.NoError(t, rw.Close())

	spans := e.spans()
	receive := one(t, spans, "http.receive")
	assert.Equal(t, "write_error", attrValue(t, receive, "wiretrace.body.done").AsString())
	assert.Equal(t, codes.Error, receive.Status().Code)
	wantType := attrValue(t, receive, "error.type").AsString()
	assert.Contains(t, []string{"connection_reset", "broken_pipe"}, wantType)
	r := one(t, spans, "GET")
	assert.Equal(t, codes.Error, r.Status().Code)
	assert.Equal(t, werr.Error(), r.Status().Description)
	assert.Equal(t, wantType, attrValue(t, r, "error.type").AsString())
}

// TestTransportBaseNilBodyWithContentLength pins that a base returning a nil
// body while promising ContentLength > 0 bytes fails the round trip, on the
// span too, instead of passing for an empty body.
func TestTransportBaseNilBodyWithContentLength(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	broken := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
		resp.Body = nil
		return resp, nil
	})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := e.client(broken).Do(req)
	require.ErrorContains(t, err, "returned a *http.Response with ContentLength 2 but a nil Body")
	require.Nil(t, resp)
	r := one(t, e.spans(), "GET")
	assert.Equal(t, codes.Error, r.Status().Code)
	assert.Contains(t, r.Status().Description, "ContentLength 2 but a nil Body")
}

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
