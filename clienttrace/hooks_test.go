package clienttrace_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// assertInOrder asserts that want appears in got as a subsequence.
func assertInOrder(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	assert.Equal(t, len(want), i, "want %q in order within %q", want, got)
}

// do sends req through client with the recorder's trace installed, reads
// the whole body and closes it.
func do(t *testing.T, client *http.Client, req *http.Request, rec *recorder) (*http.Response, string) {
	t.Helper()
	req = req.WithContext(clienttrace.WithClientTrace(req.Context(), rec.trace()))
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(body)
}

func newRequest(t *testing.T, method, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	require.NoError(t, err)
	return req
}

func TestHooksNewConnectionByName(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: clienttrace.NewTransport(tr)}

	var rec recorder
	target := testnet.ByName(t, srv.URL)
	resp, body := do(t, client, newRequest(t, http.MethodGet, target, nil), &rec)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok", body)

	assertInOrder(t, rec.hooks(),
		"GetConn", "DNSStart", "DNSDone", "ConnectStart", "ConnectDone", "GotConn",
		"WroteHeaderField", "WroteHeaders", "WroteRequest", "GotFirstResponseByte",
		"RoundTripDone", "BodyDone")
	assert.True(t, rec.has("PutIdleConn"), "the connection went back to the pool before Close returned")
	assert.False(t, rec.has("TLSHandshakeStart"))

	u, _ := url.Parse(target)
	assert.Equal(t, []any{u.Host}, rec.args("GetConn")[0])
	assert.Equal(t, clienttrace.DNSStartInfo{Host: "localhost"}, rec.args("DNSStart")[0][0])
	dns := rec.args("DNSDone")[0][0].(clienttrace.DNSDoneInfo)
	require.NoError(t, dns.Err)
	var ips []string
	for _, a := range dns.Addrs {
		ips = append(ips, a.IP.String())
	}
	assert.Contains(t, ips, "127.0.0.1")

	// "localhost" may also resolve to ::1, which the server does not
	// listen on: the last attempt is the one that connected.
	dones := rec.args("ConnectDone")
	last := dones[len(dones)-1]
	assert.Equal(t, []any{"tcp", srv.Listener.Addr().String(), nil}, last)
	assert.Len(t, dones, len(rec.args("ConnectStart")), "one ConnectDone per ConnectStart")

	got := rec.args("GotConn")[0][0].(clienttrace.GotConnInfo)
	assert.False(t, got.Reused)
	assert.False(t, got.WasIdle)
	require.NotNil(t, got.Conn)
	assert.Equal(t, srv.Listener.Addr().String(), got.Conn.RemoteAddr().String())
	assert.Equal(t, []any{"Host", []string{u.Host}}, rec.args("WroteHeaderField")[0])
	assert.Equal(t, []any{clienttrace.WroteRequestInfo{}}, rec.args("WroteRequest")[0])
	assert.Equal(t, []any{nil}, rec.args("PutIdleConn")[0])

	done := rec.args("BodyDone")[0][0].(clienttrace.BodyDoneInfo)
	assert.Equal(t, clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF, BytesRead: 2}, done)
}

func TestHooksKeepAliveReuse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var first, second recorder
	do(t, client, newRequest(t, http.MethodGet, srv.URL, nil), &first)
	do(t, client, newRequest(t, http.MethodGet, srv.URL, nil), &second)

	assert.True(t, first.has("ConnectStart"))
	assertInOrder(t, second.hooks(), "GetConn", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte", "PutIdleConn")
	for _, hook := range []string{"DNSStart", "ConnectStart", "ConnectDone", "TLSHandshakeStart"} {
		assert.False(t, second.has(hook), hook)
	}
	info := second.args("GotConn")[0][0].(clienttrace.GotConnInfo)
	assert.True(t, info.Reused)
	assert.True(t, info.WasIdle)
	assert.GreaterOrEqual(t, info.IdleTime, time.Duration(0))
}

func TestHooksTLS(t *testing.T) {
	tests := []struct {
		name      string
		http2     bool
		wantProto string
	}{
		{name: "HTTP/1.1", wantProto: "HTTP/1.1"},
		{name: "HTTP/2", http2: true, wantProto: "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(testnet.OK))
			srv.EnableHTTP2 = tt.http2
			srv.StartTLS()
			defer srv.Close()
			client := srv.Client()

			var rec recorder
			resp, body := do(t, client, newRequest(t, http.MethodGet, srv.URL, nil), &rec)
			assert.Equal(t, tt.wantProto, resp.Proto)
			assert.Equal(t, "ok", body)

			if tt.http2 {
				// HTTP/2 writes the request on one goroutine and reads the
				// response on another: WroteHeaders and WroteRequest may be
				// reported after the first response byte.
				assertInOrder(t, rec.hooks(), "GetConn", "ConnectStart", "ConnectDone", "TLSHandshakeStart",
					"TLSHandshakeDone", "GotConn", "WroteHeaders", "WroteRequest")
				assertInOrder(t, rec.hooks(), "GotConn", "GotFirstResponseByte")
			} else {
				assertInOrder(t, rec.hooks(), "GetConn", "ConnectStart", "ConnectDone", "TLSHandshakeStart",
					"TLSHandshakeDone", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte")
			}
			args := rec.args("TLSHandshakeDone")[0]
			require.NoError(t, errOrNil(args[1]))
			state := args[0].(tls.ConnectionState)
			assert.True(t, state.HandshakeComplete)
			assert.Equal(t, uint16(tls.VersionTLS13), state.Version)
			if tt.http2 {
				assert.Equal(t, "h2", state.NegotiatedProtocol)
				assert.False(t, rec.has("PutIdleConn"), "net/http does not call PutIdleConn for HTTP/2")
			}
		})
	}
}

func errOrNil(v any) error {
	err, _ := v.(error)
	return err
}

func TestHooksExpectContinue(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // reading makes the server send 100 Continue
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	tr := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer tr.CloseIdleConnections()

	req := newRequest(t, http.MethodPost, srv.URL, strings.NewReader("payload"))
	req.Header.Set("Expect", "100-continue")
	var rec recorder
	_, body := do(t, &http.Client{Transport: tr}, req, &rec)
	assert.Equal(t, "payload", body)

	// net/http calls Wait100Continue on its write goroutine after the
	// headers are flushed; the "100 Continue" may be read on the other
	// goroutine before that call, so the two orders are both possible.
	assertInOrder(t, rec.hooks(), "WroteHeaders", "Wait100Continue", "WroteRequest")
	assertInOrder(t, rec.hooks(), "WroteHeaders", "GotFirstResponseByte", "Got100Continue", "Got1xxResponse", "WroteRequest")
	assert.Equal(t, 100, rec.args("Got1xxResponse")[0][0])
}

func TestHooksEarlyHints(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2]
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(testnet.EarlyHints))
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			defer srv.Close()

			var rec recorder
			_, body := do(t, srv.Client(), newRequest(t, http.MethodGet, srv.URL, nil), &rec)
			assert.Equal(t, "hinted", body)
			require.Equal(t, 1, rec.count("Got1xxResponse"))
			args := rec.args("Got1xxResponse")[0]
			assert.Equal(t, http.StatusEarlyHints, args[0])
			assert.Equal(t, []string{"</style.css>; rel=preload; as=style"}, args[1].(http.Header)["Link"])
			assert.False(t, rec.has("Got100Continue"))
		})
	}
}

func TestHooksRetriedRequest(t *testing.T) {
	srv := testnet.NewRetryServer(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: clienttrace.NewTransport(tr)}

	var first, second recorder
	do(t, client, newRequest(t, http.MethodGet, "http://"+srv.Addr(), nil), &first)
	_, body := do(t, client, newRequest(t, http.MethodGet, "http://"+srv.Addr(), nil), &second)
	assert.Equal(t, "ok", body)
	assert.Equal(t, 2, srv.Conns())

	assert.Equal(t, 2, second.count("GetConn"), "one GetConn per attempt")
	assert.Equal(t, 2, second.count("WroteRequest"), "WroteRequest repeats on retry")
	assert.Equal(t, 1, second.count("RoundTripDone"))
	assert.Equal(t, 1, second.count("BodyDone"))
	gots := second.args("GotConn")
	require.Len(t, gots, 2)
	assert.True(t, gots[0][0].(clienttrace.GotConnInfo).Reused)
	assert.False(t, gots[1][0].(clienttrace.GotConnInfo).Reused)
}

func TestHooksConnectionRefused(t *testing.T) {
	addr := testnet.RefusedAddr(t)
	client := &http.Client{Transport: clienttrace.NewTransport(&http.Transport{})}

	var rec recorder
	req := newRequest(t, http.MethodGet, "http://"+addr+"/", nil)
	req = req.WithContext(clienttrace.WithClientTrace(req.Context(), rec.trace()))
	resp, err := client.Do(req)
	require.Error(t, err)
	require.Nil(t, resp)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)

	assertInOrder(t, rec.hooks(), "GetConn", "ConnectStart", "ConnectDone", "RoundTripDone")
	assert.False(t, rec.has("GotConn"))
	assert.False(t, rec.has("BodyDone"))
	connectErr := errOrNil(rec.args("ConnectDone")[0][2])
	require.Error(t, connectErr)
	done := rec.args("RoundTripDone")[0][0].(clienttrace.RoundTripDoneInfo)
	require.ErrorAs(t, done.Err, &opErr)
	assert.Nil(t, done.Response)
	assert.Same(t, req, done.Request)
}

func TestHooksTLSFailure(t *testing.T) {
	ca := testnet.NewCA(t, "wiretrace test CA")
	tests := []struct {
		name    string
		cert    tls.Certificate
		roots   *x509.CertPool
		wantErr any
	}{
		{
			name:    "unknown authority",
			cert:    ca.Leaf(t, "127.0.0.1", "127.0.0.1"),
			roots:   x509.NewCertPool(),
			wantErr: &x509.UnknownAuthorityError{},
		},
		{
			name:    "wrong host",
			cert:    ca.Leaf(t, "other.example", "other.example"),
			roots:   ca.Pool(),
			wantErr: &x509.HostnameError{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(testnet.OK))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{tt.cert}}
			srv.Config.ErrorLog = testnet.QuietLog()
			srv.StartTLS()
			defer srv.Close()
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tt.roots}}
			defer tr.CloseIdleConnections()

			var rec recorder
			req := newRequest(t, http.MethodGet, srv.URL, nil)
			req = req.WithContext(clienttrace.WithClientTrace(req.Context(), rec.trace()))
			resp, err := clienttrace.NewTransport(tr).RoundTrip(req)
			require.Error(t, err)
			require.Nil(t, resp)

			assertInOrder(t, rec.hooks(), "GetConn", "ConnectStart", "ConnectDone", "TLSHandshakeStart", "TLSHandshakeDone", "RoundTripDone")
			assert.False(t, rec.has("GotConn"))
			handshakeErr := errOrNil(rec.args("TLSHandshakeDone")[0][1])
			target := tt.wantErr
			require.ErrorAs(t, handshakeErr, target)
			require.ErrorAs(t, err, target)
		})
	}
}
