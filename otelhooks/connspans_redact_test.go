package otelhooks_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// TestConnectionSpansScrubMalformedProxyAnswer pins that under
// WithConnectionSpans the error of a dial whose proxy answered the CONNECT
// with a malformed header line goes through the scrubber on every span and
// event that records it (the setup, the wait for a connection), as it does on
// the request span: net/http quotes the line, which the proxy sent.
func TestConnectionSpansScrubMalformedProxyAnswer(t *testing.T) {
	for _, events := range []bool{false, true} {
		proxy := testnet.ServeConn(t, testnet.MalformedHeaderLine)
		e := newEnv(t)
		tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})}
		opts := []otelhooks.Option{otelhooks.WithConnectionSpans()}
		if events {
			opts = append(opts, otelhooks.WithoutSubSpans())
		}
		err := send(t.Context(), e.client(tr, opts...), "https://127.0.0.1:1/")
		require.Error(t, err)
		tr.CloseIdleConnections()

		spans := e.spans()
		r := one(t, spans, "GET")
		assert.Equal(t, codes.Error, r.Status().Code)
		assert.NotContains(t, allStrings(spans), "COOKIESECRET", "events: %v", events)
	}
}

// TestConnectionSpansTLSStateWithoutKeyingMaterial pins a base transport
// other than net/http's that reports a handshake whose state it built itself
// (no exporter of keying material behind it): the connection model pairs no
// connection by it, and does not panic.
func TestConnectionSpansTLSStateWithoutKeyingMaterial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	inner := &http.Transport{}
	defer inner.CloseIdleConnections()
	base := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if ht := httptrace.ContextClientTrace(req.Context()); ht != nil {
			ht.TLSHandshakeStart()
			ht.TLSHandshakeDone(tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13}, nil)
		}
		return inner.RoundTrip(req)
	})
	e := newEnv(t)
	require.NoError(t, send(t.Context(), e.client(base, otelhooks.WithConnectionSpans()), srv.URL))
	assert.Equal(t, codes.Unset, one(t, e.spans(), "GET").Status().Code)
}
