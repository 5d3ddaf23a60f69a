package clienttrace_test

// Tests of net/http ported onto clienttrace: each installs a
// clienttrace.ClientTrace (with clienttrace.WithClientTrace) where the
// upstream test installs an httptrace.ClientTrace, sends through
// clienttrace.NewTransport, and asserts what upstream asserts, plus the
// lifecycle hooks: RoundTripDone exactly once per round trip, BodyDone
// exactly once per response returned and never for a failed round trip.
// Each test names the upstream test it ports, in
// $(go env GOROOT)/src/net/http/transport_test.go or clientserver_test.go.
//
// Upstream fakes DNS with net's internal LookupIPAltResolverKey; these use
// internal/testnet's DNS responder through the base transport's dialer.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// upstreamMode is one of net/http's test modes.
type upstreamMode = testnet.Mode

const (
	modeHTTP1  = testnet.HTTP1  // http1Mode: plain HTTP/1.1
	modeHTTPS1 = testnet.HTTPS1 // https1Mode: HTTP/1.1 over TLS
	modeHTTP2  = testnet.HTTP2  // http2Mode: HTTP/2 over TLS
)

// upstreamModes are net/http's default modes (run's http1Mode and
// http2Mode) and https1Mode.
var upstreamModes = []upstreamMode{modeHTTP1, modeHTTPS1, modeHTTP2}

// logger is upstream's logf: hook calls as text, one a line, safe for
// concurrent hooks.
type logger struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logger) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, format, args...)
	l.buf.WriteByte('\n')
}

func (l *logger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Ports TestTransportEventTrace and TestTransportEventTrace_NoHooks: a POST
// with Expect: 100-continue to a name resolved by DNS, then a GET on the
// pooled connection, with every hook logged (or, for no hooks, a trace with
// every hook nil).
func TestUpstreamTransportEventTrace(t *testing.T) {
	for _, mode := range []upstreamMode{modeHTTP1, modeHTTP2} {
		for _, noHooks := range []bool{false, true} {
			name := string(mode)
			if noHooks {
				name += "/NoHooks"
			}
			t.Run(name, func(t *testing.T) { testUpstreamTransportEventTrace(t, mode, noHooks) })
		}
	}
}

func testUpstreamTransportEventTrace(t *testing.T, mode upstreamMode, noHooks bool) {
	t.Helper()
	const resBody = "some body"
	const fakeHost = "dns-is-faked.golang"
	gotWroteReqEvent := make(chan struct{}, 500)
	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{fakeHost: {netip.MustParseAddr("127.0.0.1")}})
	srv, tr := testnet.NewModeServer(t, mode, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			// Do nothing for the second request.
			return
		}
		if _, err := io.ReadAll(r.Body); err != nil {
			t.Error(err)
		}
		if !noHooks {
			<-gotWroteReqEvent
		}
		_, _ = io.WriteString(w, resBody)
	}), dns.Resolver())
	tr.ExpectContinueTimeout = time.Second
	client := &http.Client{Transport: clienttrace.NewTransport(tr)}

	var log logger
	logf := log.logf
	addrStr := srv.Listener.Addr().String()
	ip, port, err := net.SplitHostPort(addrStr)
	require.NoError(t, err)

	var lifeMu sync.Mutex // guards roundTripDone and bodyDone
	var roundTripDone, bodyDone []string
	trace := &clienttrace.ClientTrace{
		GetConn:              func(hostPort string) { logf("Getting conn for %v ...", hostPort) },
		GotConn:              func(ci clienttrace.GotConnInfo) { logf("got conn: %+v", ci) },
		GotFirstResponseByte: func() { logf("first response byte") },
		PutIdleConn:          func(err error) { logf("PutIdleConn = %v", err) },
		DNSStart:             func(e clienttrace.DNSStartInfo) { logf("DNS start: %+v", e) },
		DNSDone:              func(e clienttrace.DNSDoneInfo) { logf("DNS done: %+v", e) },
		ConnectStart:         func(network, addr string) { logf("ConnectStart: Connecting to %s %s ...", network, addr) },
		ConnectDone: func(network, addr string, err error) {
			if err != nil {
				t.Errorf("ConnectDone: %v", err)
			}
			logf("ConnectDone: connected to %s %s = %v", network, addr, err)
		},
		WroteHeaderField: func(key string, value []string) { logf("WroteHeaderField: %s: %v", key, value) },
		WroteHeaders:     func() { logf("WroteHeaders") },
		Wait100Continue:  func() { logf("Wait100Continue") },
		Got100Continue:   func() { logf("Got100Continue") },
		WroteRequest: func(e clienttrace.WroteRequestInfo) {
			logf("WroteRequest: %+v", e)
			gotWroteReqEvent <- struct{}{}
		},
		RoundTripDone: func(info clienttrace.RoundTripDoneInfo) {
			lifeMu.Lock()
			defer lifeMu.Unlock()
			roundTripDone = append(roundTripDone, fmt.Sprintf("%s %v", info.Request.Method, info.Err))
		},
		BodyDone: func(info clienttrace.BodyDoneInfo) {
			lifeMu.Lock()
			defer lifeMu.Unlock()
			bodyDone = append(bodyDone, fmt.Sprintf("%s %d %v", info.Reason, info.BytesRead, info.Err))
		},
	}
	if mode == modeHTTP2 {
		trace.TLSHandshakeStart = func() { logf("tls handshake start") }
		trace.TLSHandshakeDone = func(s tls.ConnectionState, err error) {
			logf("tls handshake done. ConnectionState = %v \n err = %v", s, err)
		}
	}
	if noHooks {
		// zero out all func pointers, trying to get some path to crash
		*trace = clienttrace.ClientTrace{}
	}
	ctx := clienttrace.WithClientTrace(context.Background(), trace)

	body := "some body"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, mode.Scheme()+"://"+fakeHost+":"+port, strings.NewReader(body))
	require.NoError(t, err)
	req.Header["X-Foo-Multiple-Vals"] = []string{"bar", "baz"}
	req.Header.Set("Expect", "100-continue")
	res, err := client.Do(req)
	require.NoError(t, err)
	logf("got roundtrip.response")
	slurp, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	logf("consumed body")
	require.Equal(t, resBody, string(slurp))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, res.Body.Close())

	if noHooks {
		// Done at this point. Just testing a full HTTP requests can
		// happen with a trace pointing to a zero ClientTrace, full of
		// nil func pointers.
		return
	}

	got := log.String()
	wantOnce := func(sub string) {
		t.Helper()
		assert.Equal(t, 1, strings.Count(got, sub), "expected substring %q exactly once in output", sub)
	}
	wantOnceOrMore := func(sub string) {
		t.Helper()
		assert.Positive(t, strings.Count(got, sub), "expected substring %q at least once in output", sub)
	}
	wantOnce("Getting conn for " + fakeHost + ":" + port)
	wantOnce("DNS start: {Host:" + fakeHost + "}")
	wantOnce("DNS done: {Addrs:[{IP:" + ip + " Zone:}] Err:<nil> Coalesced:false}")
	wantOnce("got conn: {")
	wantOnceOrMore("Connecting to tcp " + addrStr)
	wantOnceOrMore("connected to tcp " + addrStr + " = <nil>")
	wantOnce("Reused:false WasIdle:false IdleTime:0s")
	wantOnce("first response byte")
	if mode == modeHTTP2 {
		wantOnce("tls handshake start")
		wantOnce("tls handshake done")
	} else {
		wantOnce("PutIdleConn = <nil>")
		wantOnce("WroteHeaderField: User-Agent: [Go-http-client/1.1]")
		wantOnce(fmt.Sprintf("WroteHeaderField: Host: [%s:%s]", fakeHost, port))
		wantOnce(fmt.Sprintf("WroteHeaderField: Content-Length: [%d]", len(body)))
		wantOnce("WroteHeaderField: X-Foo-Multiple-Vals: [bar baz]")
		wantOnce("WroteHeaderField: Accept-Encoding: [gzip]")
	}
	wantOnce("WroteHeaders")
	wantOnce("Wait100Continue")
	wantOnce("Got100Continue")
	wantOnce("WroteRequest: {Err:<nil>}")
	assert.NotContains(t, got, " to udp ", "should not see UDP (DNS) connections")
	if t.Failed() {
		t.Logf("Output:\n%s", got)
	}

	// And do a second request:
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, mode.Scheme()+"://"+fakeHost+":"+port, nil)
	require.NoError(t, err)
	res, err = client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, res.Body.Close())

	got = log.String()
	sub := "Getting conn for " + fakeHost + ":"
	assert.Equal(t, 2, strings.Count(got, sub), "substring %q; log:\n%s", sub, got)

	// wiretrace's own: each round trip and each body reported once.
	lifeMu.Lock()
	defer lifeMu.Unlock()
	assert.Equal(t, []string{"POST <nil>", "GET <nil>"}, roundTripDone)
	// The GET's empty body: HTTP/1 gives http.NoBody, done at once; HTTP/2
	// a body of its own, done when closed unread.
	emptyDone := "eof 0 <nil>"
	if mode == modeHTTP2 {
		emptyDone = "closed 0 <nil>"
	}
	assert.Equal(t, []string{fmt.Sprintf("eof %d <nil>", len(resBody)), emptyDone}, bodyDone)
}

// Ports TestTransportEventTraceTLSVerify: a handshake that fails
// verification reports TLSHandshakeStart and TLSHandshakeDone once each, the
// latter with the verification error; the round trip fails, so BodyDone
// never fires.
func TestUpstreamTransportEventTraceTLSVerify(t *testing.T) {
	for _, mode := range []upstreamMode{modeHTTPS1, modeHTTP2} {
		t.Run(string(mode), func(t *testing.T) {
			_, tr := testnet.NewModeServer(t, mode, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("Unexpected request")
			}), nil)
			srvURL := ""
			srv, _ := testnet.NewModeServer(t, mode, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("Unexpected request")
			}), nil)
			srvURL = srv.URL
			tr.TLSClientConfig.ServerName = "dns-is-faked.golang"

			var log logger
			rec := &recorder{}
			trace := clienttrace.Compose(&clienttrace.ClientTrace{
				TLSHandshakeStart: func() { log.logf("TLSHandshakeStart") },
				TLSHandshakeDone: func(s tls.ConnectionState, err error) {
					log.logf("TLSHandshakeDone: ConnectionState = %v \n err = %v", s, err)
				},
			}, rec.trace())
			req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), trace), http.MethodGet, srvURL, nil)
			require.NoError(t, err)
			_, err = (&http.Client{Transport: clienttrace.NewTransport(tr)}).Do(req)
			require.Error(t, err, "Expected request to fail TLS verification")

			got := log.String()
			for _, sub := range []string{
				"TLSHandshakeStart",
				"TLSHandshakeDone",
				"err = tls: failed to verify certificate: x509: certificate is valid for localhost",
			} {
				assert.Equal(t, 1, strings.Count(got, sub), "expected substring %q exactly once in output:\n%s", sub, got)
			}
			assert.Equal(t, 1, rec.count("RoundTripDone"))
			assert.Zero(t, rec.count("BodyDone"), "a failed round trip reports no BodyDone")
		})
	}
}

// Ports TestTransportEventTraceRealDNS: a name that does not resolve (the
// responder answers NXDOMAIN, where upstream asks the system's DNS) reports
// DNSStart and DNSDone with an error and no dial.
func TestUpstreamTransportEventTraceRealDNS(t *testing.T) {
	dns := testnet.NewDNSServer(t, nil)
	tr := &http.Transport{DialContext: (&net.Dialer{Resolver: dns.Resolver()}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: clienttrace.NewTransport(tr)}

	var log logger
	rec := &recorder{}
	trace := clienttrace.Compose(&clienttrace.ClientTrace{
		DNSStart:     func(e clienttrace.DNSStartInfo) { log.logf("DNSStart: %+v", e) },
		DNSDone:      func(e clienttrace.DNSDoneInfo) { log.logf("DNSDone: %+v", e) },
		ConnectStart: func(network, addr string) { log.logf("ConnectStart: %s %s", network, addr) },
		ConnectDone:  func(network, addr string, err error) { log.logf("ConnectDone: %s %s %v", network, addr, err) },
	}, rec.trace())
	req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, "http://dns-should-not-resolve.golang:80", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("expected error during DNS lookup")
	}

	got := log.String()
	assert.Contains(t, got, "DNSStart: {Host:dns-should-not-resolve.golang}")
	assert.Contains(t, got, "DNSDone: {Addrs:[] Err:")
	assert.NotContains(t, got, "ConnectStart", "should not see Connect events")
	assert.NotContains(t, got, "ConnectDone", "should not see Connect events")
	assert.Equal(t, 1, rec.count("DNSStart"))
	assert.Equal(t, 1, rec.count("DNSDone"))
	assert.Equal(t, 1, rec.count("RoundTripDone"))
	assert.Zero(t, rec.count("BodyDone"))
}

const upstream100ContinueBody = "request body"

// expect100Test is upstream's transport100ContinueTest: a PUT with Expect:
// 100-continue sent through NewTransport to a raw server the test drives
// line by line, every hook recorded.
type expect100Test struct {
	t       *testing.T
	rec     *recorder
	reqdone chan struct{}
	resp    *http.Response
	respErr error
	conn    net.Conn
	reader  *bufio.Reader
}

func newExpect100Test(t *testing.T, timeout time.Duration) *expect100Test {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	test := &expect100Test{t: t, rec: &recorder{}, reqdone: make(chan struct{})}
	tr := &http.Transport{ExpectContinueTimeout: timeout}
	rt := clienttrace.NewTransport(tr)
	go func() {
		defer close(test.reqdone)
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, "http://"+ln.Addr().String(), strings.NewReader(upstream100ContinueBody))
		if err != nil {
			test.respErr = err
			return
		}
		req = req.WithContext(clienttrace.WithClientTrace(req.Context(), test.rec.trace()))
		req.Header.Set("Expect", "100-continue")
		req.ContentLength = int64(len(upstream100ContinueBody))
		test.resp, test.respErr = rt.RoundTrip(req)
		if test.respErr == nil {
			_ = test.resp.Body.Close()
		}
	}()

	c, err := ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	br := bufio.NewReader(c)
	_, err = http.ReadRequest(br)
	require.NoError(t, err)
	test.conn = c
	test.reader = br
	t.Cleanup(func() {
		<-test.reqdone
		tr.CloseIdleConnections()
		got, _ := io.ReadAll(test.reader)
		assert.Empty(t, got, "Transport sent unexpected bytes")
	})
	return test
}

func (test *expect100Test) respond(lines ...string) {
	for _, line := range lines {
		_, err := test.conn.Write([]byte(line + "\r\n"))
		require.NoError(test.t, err)
	}
	_, err := test.conn.Write([]byte("\r\n"))
	require.NoError(test.t, err)
}

func (test *expect100Test) wantBodySent() {
	got, err := io.ReadAll(io.LimitReader(test.reader, int64(len(upstream100ContinueBody))))
	require.NoError(test.t, err)
	require.Equal(test.t, upstream100ContinueBody, string(got))
}

func (test *expect100Test) wantRequestDone(want int) {
	<-test.reqdone
	require.NoError(test.t, test.respErr)
	require.Equal(test.t, want, test.resp.StatusCode)
}

// wantHooks asserts how many times each hook fired: the 100-continue hooks
// as net/http fires them, and the lifecycle hooks once.
func (test *expect100Test) wantHooks(got100, wroteRequest int) {
	test.t.Helper()
	rec := test.rec
	assert.Equal(test.t, 1, rec.count("GetConn"))
	assert.Equal(test.t, 1, rec.count("GotConn"))
	assert.Equal(test.t, 1, rec.count("WroteHeaders"))
	assert.Equal(test.t, 1, rec.count("Wait100Continue"))
	assert.Equal(test.t, got100, rec.count("Got100Continue"))
	assert.Equal(test.t, got100, rec.count("Got1xxResponse"), "Got1xxResponse sees the 100 too")
	assert.Equal(test.t, wroteRequest, rec.count("WroteRequest"))
	assert.Equal(test.t, 1, rec.count("GotFirstResponseByte"))
	assert.Equal(test.t, 1, rec.count("RoundTripDone"))
	assert.Equal(test.t, 1, rec.count("BodyDone"))
	assertHookBefore(test.t, rec, "Wait100Continue", "RoundTripDone")
	assertHookBefore(test.t, rec, "RoundTripDone", "BodyDone")
}

// assertHookBefore asserts that the first call of a came before the first
// of b.
func assertHookBefore(t *testing.T, rec *recorder, a, b string) {
	t.Helper()
	hooks := rec.hooks()
	ia, ib := -1, -1
	for i, h := range hooks {
		if h == a && ia < 0 {
			ia = i
		}
		if h == b && ib < 0 {
			ib = i
		}
	}
	assert.True(t, ia >= 0 && ib >= 0 && ia < ib, "%s before %s in %v", a, b, hooks)
}

// Ports the TestTransportExpect100Continue* tests.
func TestUpstreamTransportExpect100Continue(t *testing.T) {
	t.Run("Sent", func(t *testing.T) { // TestTransportExpect100ContinueSent
		test := newExpect100Test(t, time.Hour)
		// Server sends a 100 Continue response, and the client sends the request body.
		test.respond("HTTP/1.1 100 Continue")
		test.wantBodySent()
		test.respond("HTTP/1.1 200", "Content-Length: 0")
		test.wantRequestDone(200)
		test.wantHooks(1, 1)
	})
	t.Run("200ResponseNoConnClose", func(t *testing.T) { // TestTransportExpect100Continue200ResponseNoConnClose
		test := newExpect100Test(t, time.Hour)
		// No 100 Continue response, no Connection: close header.
		test.respond("HTTP/1.1 200", "Content-Length: 0")
		test.wantBodySent()
		test.wantRequestDone(200)
		test.wantHooks(0, 1)
	})
	t.Run("200ResponseWithConnClose", func(t *testing.T) { // TestTransportExpect100Continue200ResponseWithConnClose
		test := newExpect100Test(t, time.Hour)
		// No 100 Continue response, Connection: close header set.
		test.respond("HTTP/1.1 200", "Connection: close", "Content-Length: 0")
		test.wantRequestDone(200)
		// The body is never written; net/http reports no WroteRequest
		// or one, depending on when it sees the response.
		rec := test.rec
		assert.LessOrEqual(t, rec.count("WroteRequest"), 1)
		assert.Zero(t, rec.count("Got100Continue"))
		assert.Equal(t, 1, rec.count("RoundTripDone"))
		assert.Equal(t, 1, rec.count("BodyDone"))
	})
	t.Run("500ResponseNoConnClose", func(t *testing.T) { // TestTransportExpect100Continue500ResponseNoConnClose
		test := newExpect100Test(t, time.Hour)
		// No 100 Continue response, no Connection: close header.
		test.respond("HTTP/1.1 500", "Content-Length: 0")
		test.wantBodySent()
		test.wantRequestDone(500)
		test.wantHooks(0, 1)
	})
	t.Run("500ResponseTimeout", func(t *testing.T) { // TestTransportExpect100Continue500ResponseTimeout
		test := newExpect100Test(t, 5*time.Millisecond) // short timeout
		test.wantBodySent()                             // after timeout
		test.respond("HTTP/1.1 200", "Content-Length: 0")
		test.wantRequestDone(200)
		// net/http reports WroteRequest after the flush, from the
		// goroutine that wrote; the response may be read before that.
		test.wantHooks(0, 1)
	})
}

// Ports TestTransportReading100Continue (issue 2184), on a real loopback
// connection where upstream uses pipes: five POSTs on one keep-alive
// connection, each answered by "100 Continue" and then 200.
func TestUpstreamTransportReading100Continue(t *testing.T) {
	const numReqs = 5
	reqBody := func(n int) string { return fmt.Sprintf("request body %d", n) }
	reqID := func(n int) string { return fmt.Sprintf("REQ-ID-%d", n) }

	addr := testnet.ServeConn(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return // the client closed the connection
			}
			slurp, err := io.ReadAll(req.Body)
			if err != nil {
				t.Errorf("Server request body slurp: %v", err)
				return
			}
			if string(slurp) != reqBody(n) {
				t.Errorf("Server got %q; want %q", slurp, reqBody(n))
			}
			body := fmt.Sprintf("Response number %d", n)
			resp := strings.ReplaceAll(fmt.Sprintf("HTTP/1.1 100 Continue\nDate: Thu, 28 Feb 2013 17:55:41 GMT\n\n"+
				"HTTP/1.1 200 OK\nContent-Type: text/html\nEcho-Request-Id: %s\nContent-Length: %d\n\n%s",
				req.Header.Get("Request-Id"), len(body), body), "\n", "\r\n")
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	})
	tr := &http.Transport{}
	c := &http.Client{Transport: clienttrace.NewTransport(tr)}
	t.Cleanup(tr.CloseIdleConnections)

	for i := 1; i <= numReqs; i++ {
		rec := &recorder{}
		ctx := clienttrace.WithClientTrace(context.Background(), rec.trace())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", strings.NewReader(reqBody(i)))
		require.NoError(t, err)
		req.Header.Set("Request-Id", reqID(i))
		res, err := c.Do(req)
		require.NoError(t, err, "100, %d/%d", i, numReqs)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, reqID(i), res.Header.Get("Echo-Request-Id"))
		_, err = io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())

		// No Expect header: the unsolicited 100 is a 1xx, not a
		// Got100Continue.
		assert.Equal(t, 1, rec.count("Got1xxResponse"), "request %d", i)
		assert.Zero(t, rec.count("Got100Continue"), "request %d", i)
		assert.Equal(t, 1, rec.count("GotFirstResponseByte"), "request %d", i)
		assert.Equal(t, i > 1, rec.args("GotConn")[0][0].(clienttrace.GotConnInfo).Reused, "request %d", i)
		assert.Equal(t, 1, rec.count("RoundTripDone"), "request %d", i)
		assert.Equal(t, 1, rec.count("BodyDone"), "request %d", i)
	}
}

// Ports TestTransportIgnore1xxResponses (issue 17739): an unknown 1xx
// before the final response reaches Got1xxResponse and nothing else.
func TestUpstreamTransportIgnore1xxResponses(t *testing.T) {
	srv, tr := testnet.NewModeServer(t, modeHTTP1, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, _ := http.NewResponseController(w).Hijack()
		_, _ = buf.WriteString("HTTP/1.1 123 OneTwoThree\r\nFoo: bar\r\n\r\nHTTP/1.1 200 OK\r\nBar: baz\r\nContent-Length: 5\r\n\r\nHello")
		_ = buf.Flush()
		_ = conn.Close()
	}), nil)
	tr.DisableKeepAlives = true // our test server is hanging up anyway

	var got strings.Builder
	rec := &recorder{}
	trace := clienttrace.Compose(&clienttrace.ClientTrace{
		Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			fmt.Fprintf(&got, "1xx: code=%v, header=%v\n", code, header)
			return nil
		},
	}, rec.trace())
	req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	res, err := (&http.Client{Transport: clienttrace.NewTransport(tr)}).Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Write(&got))
	require.NoError(t, res.Body.Close())

	want := "1xx: code=123, header=map[Foo:[bar]]\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nBar: baz\r\n\r\nHello"
	assert.Equal(t, want, got.String())
	assert.Equal(t, 1, rec.count("GotFirstResponseByte"), "fires for the 1xx's first byte only")
	assert.Zero(t, rec.count("Got100Continue"))
	assert.Equal(t, 1, rec.count("RoundTripDone"))
	require.Len(t, rec.args("BodyDone"), 1)
	assert.Equal(t, clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF, BytesRead: 5}, rec.args("BodyDone")[0][0],
		"res.Write reads the body to EOF")
}

// Ports TestTransportLimits1xxResponses: too many 1xx responses fail the
// round trip, which reports RoundTripDone with the error and no BodyDone.
func TestUpstreamTransportLimits1xxResponses(t *testing.T) {
	for _, mode := range upstreamModes {
		t.Run(string(mode), func(t *testing.T) {
			srv, tr := testnet.NewModeServer(t, mode, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Add("X-Header", strings.Repeat("a", 100))
				for range 10 {
					w.WriteHeader(123)
				}
				w.WriteHeader(http.StatusNoContent)
			}), nil)
			tr.DisableKeepAlives = true
			tr.MaxResponseHeaderBytes = 1000
			rec := &recorder{}
			// Without Got1xxResponse: a trace that sees the 1xx
			// responses lifts net/http's limit on them (the next test).
			trace := rec.trace()
			trace.Got1xxResponse = nil
			req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			res, err := (&http.Client{Transport: clienttrace.NewTransport(tr)}).Do(req)
			if err == nil {
				_ = res.Body.Close()
				t.Fatal("RoundTrip succeeded; want error")
			}
			assert.Regexp(t, "response headers exceeded|too many 1xx|header list too large", err.Error())
			require.Len(t, rec.args("RoundTripDone"), 1)
			info := rec.args("RoundTripDone")[0][0].(clienttrace.RoundTripDoneInfo)
			require.Error(t, info.Err)
			assert.Nil(t, info.Response)
			assert.Zero(t, rec.count("BodyDone"))
		})
	}
}

// Ports TestTransportDoesNotLimitDelivered1xxResponses: 1xx responses a
// Got1xxResponse hook receives do not count against the limit. Upstream
// skips HTTP/2 ("until x/net/http2 updated"); it passes on Go 1.26's
// bundled HTTP/2, so it runs in every mode.
func TestUpstreamTransportDoesNotLimitDelivered1xxResponses(t *testing.T) {
	const num1xx = 10
	for _, mode := range upstreamModes {
		t.Run(string(mode), func(t *testing.T) {
			srv, tr := testnet.NewModeServer(t, mode, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Add("X-Header", strings.Repeat("a", 100))
				for range num1xx {
					w.WriteHeader(123)
				}
				w.WriteHeader(http.StatusNoContent)
			}), nil)
			tr.DisableKeepAlives = true
			tr.MaxResponseHeaderBytes = 1000
			rec := &recorder{}
			req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), rec.trace()), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			res, err := (&http.Client{Transport: clienttrace.NewTransport(tr)}).Do(req)
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())
			assert.Equal(t, num1xx, rec.count("Got1xxResponse"))
			assert.Equal(t, 1, rec.count("GotFirstResponseByte"))
			assert.Equal(t, 1, rec.count("RoundTripDone"))
			assert.Equal(t, 1, rec.count("BodyDone"))
		})
	}
}

// Ports TestEarlyHintsRequest (clientserver_test.go): two 103 Early Hints
// reach Got1xxResponse with their Link headers, the second only once the
// first was delivered, and the final response keeps its Content-Length.
func TestUpstreamEarlyHintsRequest(t *testing.T) {
	for _, mode := range []upstreamMode{modeHTTP1, modeHTTP2} {
		t.Run(string(mode), func(t *testing.T) {
			first := make(chan struct{})
			srv, tr := testnet.NewModeServer(t, mode, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				h.Add("Content-Length", "123") // must be ignored
				h.Add("Link", "</style.css>; rel=preload; as=style")
				h.Add("Link", "</script.js>; rel=preload; as=script")
				w.WriteHeader(http.StatusEarlyHints)
				<-first
				h.Add("Link", "</foo.js>; rel=preload; as=script")
				w.WriteHeader(http.StatusEarlyHints)
				_, _ = w.Write([]byte("Hello"))
			}), nil)

			links := [][]string{
				{"</style.css>; rel=preload; as=style", "</script.js>; rel=preload; as=script"},
				{"</style.css>; rel=preload; as=style", "</script.js>; rel=preload; as=script", "</foo.js>; rel=preload; as=script"},
			}
			var respCounter int // hooks of one request run in order on one goroutine
			rec := &recorder{}
			trace := clienttrace.Compose(&clienttrace.ClientTrace{
				Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
					if respCounter >= len(links) {
						t.Error("Unexpected 1xx response")
						return nil
					}
					assert.Equal(t, http.StatusEarlyHints, code)
					assert.Equal(t, links[respCounter], header["Link"])
					assert.NotContains(t, header, "Content-Length")
					assert.NotContains(t, header, "Transfer-Encoding")
					if respCounter == 0 {
						close(first)
					}
					respCounter++
					return nil
				},
			}, rec.trace())
			req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			res, err := (&http.Client{Transport: clienttrace.NewTransport(tr)}).Do(req)
			require.NoError(t, err)
			assert.Equal(t, links[1], res.Header["Link"])
			assert.Equal(t, "123", res.Header.Get("Content-Length"))
			body, _ := io.ReadAll(res.Body)
			assert.Equal(t, "Hello", string(body))
			require.NoError(t, res.Body.Close())

			assert.Equal(t, 2, rec.count("Got1xxResponse"))
			assert.Equal(t, 1, rec.count("GotFirstResponseByte"))
			assert.Equal(t, 1, rec.count("RoundTripDone"))
			assert.Equal(t, 1, rec.count("BodyDone"))
			assertHookBefore(t, rec, "Got1xxResponse", "RoundTripDone")
		})
	}
}

// Ports TestTransportTreat101Terminal (issue 26161): a 101 is the final
// response, no 1xx, and its body reports BodyDone once when closed.
func TestUpstreamTransportTreat101Terminal(t *testing.T) {
	srv, tr := testnet.NewModeServer(t, modeHTTP1, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, _ := http.NewResponseController(w).Hijack()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		_, _ = buf.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		_ = buf.Flush()
		_ = conn.Close()
	}), nil)
	rec := &recorder{}
	req, err := http.NewRequestWithContext(clienttrace.WithClientTrace(context.Background(), rec.trace()), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	res, err := (&http.Client{Transport: clienttrace.NewTransport(tr)}).Do(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	assert.Zero(t, rec.count("Got1xxResponse"), "a 101 is no informational response")
	require.NoError(t, res.Body.Close())
	assert.Equal(t, 1, rec.count("RoundTripDone"))
	assert.Equal(t, 1, rec.count("BodyDone"))
}

// httpTraceRecording returns a net/http/httptrace.ClientTrace with all
// sixteen hooks set, recording into rec: the reference the clienttrace
// trace is compared with.
func httpTraceRecording(rec *recorder) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) { rec.add("GetConn") },
		GotConn:              func(httptrace.GotConnInfo) { rec.add("GotConn") },
		PutIdleConn:          func(error) { rec.add("PutIdleConn") },
		GotFirstResponseByte: func() { rec.add("GotFirstResponseByte") },
		Got100Continue:       func() { rec.add("Got100Continue") },
		Got1xxResponse:       func(int, textproto.MIMEHeader) error { rec.add("Got1xxResponse"); return nil },
		DNSStart:             func(httptrace.DNSStartInfo) { rec.add("DNSStart") },
		DNSDone:              func(httptrace.DNSDoneInfo) { rec.add("DNSDone") },
		ConnectStart:         func(string, string) { rec.add("ConnectStart") },
		ConnectDone:          func(string, string, error) { rec.add("ConnectDone") },
		TLSHandshakeStart:    func() { rec.add("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { rec.add("TLSHandshakeDone") },
		WroteHeaderField:     func(string, []string) { rec.add("WroteHeaderField") },
		WroteHeaders:         func() { rec.add("WroteHeaders") },
		Wait100Continue:      func() { rec.add("Wait100Continue") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { rec.add("WroteRequest") },
	}
}

// TestUpstreamHooksMatchHTTPTrace runs the traffic of the ported tests
// twice, on a cold transport each time: once with an httptrace.ClientTrace
// on the bare transport, once with a clienttrace.ClientTrace through
// NewTransport. Each of the sixteen hooks fires as many times in both, and
// the lifecycle hooks once (BodyDone only for a response).
func TestUpstreamHooksMatchHTTPTrace(t *testing.T) {
	const fakeHost = "dns-is-faked.golang"
	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{fakeHost: {netip.MustParseAddr("127.0.0.1")}})
	tests := []struct {
		name    string           // the upstream test whose traffic it is
		modes   []upstreamMode   // nil: all of upstreamModes
		handler http.HandlerFunc // nil: testnet.OK
		// request makes the request under ctx to the server's port; nil:
		// a GET of the server's URL.
		request    func(t *testing.T, ctx context.Context, scheme, port string) *http.Request
		tweak      func(tr *http.Transport)
		serverName string // TLS server name, if not the certificate's
		wantFail   bool
	}{
		{
			name: "TestTransportEventTrace",
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				_, _ = io.WriteString(w, "some body")
			},
			request: func(t *testing.T, ctx context.Context, scheme, port string) *http.Request {
				t.Helper()
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+"://"+fakeHost+":"+port, strings.NewReader("some body"))
				require.NoError(t, err)
				req.Header.Set("Expect", "100-continue")
				req.Header["X-Foo-Multiple-Vals"] = []string{"bar", "baz"}
				return req
			},
			tweak: func(tr *http.Transport) { tr.ExpectContinueTimeout = time.Second },
		},
		{
			name: "TestEarlyHintsRequest",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Add("Link", "</style.css>; rel=preload; as=style")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusEarlyHints)
				_, _ = w.Write([]byte("Hello"))
			},
		},
		{
			name:    "TestTransportDoesNotLimitDelivered1xxResponses",
			handler: limits1xxHandler,
			tweak:   func(tr *http.Transport) { tr.MaxResponseHeaderBytes = 1000 },
		},
		{
			name: "TestTransportEventTraceRealDNS",
			request: func(t *testing.T, ctx context.Context, _, _ string) *http.Request {
				t.Helper()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dns-should-not-resolve.golang:80", nil)
				require.NoError(t, err)
				return req
			},
			modes:    []upstreamMode{modeHTTP1},
			wantFail: true,
		},
		{
			name:       "TestTransportEventTraceTLSVerify",
			modes:      []upstreamMode{modeHTTPS1, modeHTTP2},
			serverName: fakeHost,
			wantFail:   true,
		},
	}
	for _, tt := range tests {
		modes := tt.modes
		if modes == nil {
			modes = upstreamModes
		}
		handler := tt.handler
		if handler == nil {
			handler = testnet.OK
		}
		for _, mode := range modes {
			t.Run(tt.name+"/"+string(mode), func(t *testing.T) {
				// counts[0]: httptrace on the bare transport; counts[1]:
				// clienttrace through NewTransport.
				var counts [2]map[string]int
				for pass := range counts {
					srv, tr := testnet.NewModeServer(t, mode, handler, dns.Resolver())
					if tt.serverName != "" {
						tr.TLSClientConfig.ServerName = tt.serverName
					}
					if tt.tweak != nil {
						tt.tweak(tr)
					}
					rec := &recorder{}
					ctx, rt := httptrace.WithClientTrace(context.Background(), httpTraceRecording(rec)), http.RoundTripper(tr)
					if pass == 1 {
						ctx, rt = clienttrace.WithClientTrace(context.Background(), rec.trace()), clienttrace.NewTransport(tr)
					}
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
					require.NoError(t, err)
					if tt.request != nil {
						_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
						require.NoError(t, err)
						req = tt.request(t, ctx, mode.Scheme(), port)
					}
					res, err := (&http.Client{Transport: rt}).Do(req)
					if tt.wantFail {
						require.Error(t, err)
					} else {
						require.NoError(t, err)
						_, _ = io.ReadAll(res.Body)
						require.NoError(t, res.Body.Close())
					}
					tr.CloseIdleConnections()
					counts[pass] = hookCounts(rec)
				}
				ours := counts[1]
				assert.Equal(t, 1, ours["RoundTripDone"])
				if tt.wantFail {
					assert.Zero(t, ours["BodyDone"])
				} else {
					assert.Equal(t, 1, ours["BodyDone"])
				}
				delete(ours, "RoundTripDone")
				delete(ours, "BodyDone")
				assert.Equal(t, counts[0], ours, "hook counts: httptrace on the bare transport vs clienttrace through NewTransport")
			})
		}
	}
}

// limits1xxHandler is the handler of TestTransportLimits1xxResponses: ten
// 1xx responses with 100 bytes of header each, then 204.
func limits1xxHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Add("X-Header", strings.Repeat("a", 100))
	for range 10 {
		w.WriteHeader(123)
	}
	w.WriteHeader(http.StatusNoContent)
}
