package testnet

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Mode is how a test server speaks, after net/http's own client tests
// (clientserver_test.go's http1Mode, https1Mode, http2Mode).
type Mode string

// The modes of NewModeServer.
const (
	HTTP1  Mode = "h1"  // plain HTTP/1.1
	HTTPS1 Mode = "h1s" // HTTP/1.1 over TLS
	HTTP2  Mode = "h2"  // HTTP/2 over TLS
)

// ModeOf returns HTTP2 if http2, else HTTP1.
func ModeOf(http2 bool) Mode {
	if http2 {
		return HTTP2
	}
	return HTTP1
}

// Scheme returns the URL scheme of m's server: "http" or "https".
func (m Mode) Scheme() string {
	if m == HTTP1 {
		return "http"
	}
	return "https"
}

// NewModeServer starts a server on 127.0.0.1 that speaks as m says, with h,
// and returns it with a transport for it. A TLS server's certificate is for
// "localhost" and 127.0.0.1, and the transport names "localhost" as the
// server in the handshake, so that requests may name another host that
// resolver, if not nil, maps to 127.0.0.1 (the transport dials through it).
// Both are closed by tb.Cleanup.
func NewModeServer(tb testing.TB, m Mode, h http.Handler, resolver *net.Resolver) (*httptest.Server, *http.Transport) {
	tb.Helper()
	var (
		srv *httptest.Server
		tr  *http.Transport
	)
	if m == HTTP1 {
		srv = httptest.NewServer(h)
		srv.Config.ErrorLog = QuietLog()
		tb.Cleanup(srv.Close)
		tr = &http.Transport{}
		tb.Cleanup(tr.CloseIdleConnections)
	} else {
		srv, tr = NewTLSServer(tb, h, m == HTTP2)
		tr.TLSClientConfig.ServerName = "localhost"
	}
	if resolver != nil {
		tr.DialContext = (&net.Dialer{Resolver: resolver}).DialContext
	}
	return srv, tr
}
