package testnet

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// OK is a handler that answers every request with 200 and the body "ok".
func OK(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// ByName rewrites the URL of a server on 127.0.0.1 to reach its host by the
// name "localhost", so that the client resolves it.
func ByName(tb testing.TB, rawURL string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("testnet: parse %q: %v", rawURL, err)
	}
	u.Host = net.JoinHostPort("localhost", u.Port())
	return u.String()
}

// QuietLog returns a logger that drops everything: the ErrorLog of a server
// whose connections the test makes fail, so that the test's output shows
// only what the test says.
func QuietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// NewTLSServer starts an HTTPS server on 127.0.0.1, with HTTP/2 if http2,
// whose certificate for "localhost" and 127.0.0.1 is signed by a CA of the
// test's own, and returns it with a transport that trusts that CA (and
// attempts HTTP/2 if http2). The server logs nothing; both are closed by
// tb.Cleanup.
func NewTLSServer(tb testing.TB, h http.Handler, http2 bool) (*httptest.Server, *http.Transport) {
	tb.Helper()
	ca := NewCA(tb, "wiretrace test CA")
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = http2
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(tb, "localhost", "localhost", "127.0.0.1")}}
	srv.Config.ErrorLog = QuietLog()
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: http2}
	tb.Cleanup(tr.CloseIdleConnections)
	return srv, tr
}
