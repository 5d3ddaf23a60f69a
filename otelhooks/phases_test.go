package otelhooks_test

// Regression tests of issue #10: each phase covers exactly the interval its
// name claims, on real loopback traffic (uploads of unknown length, 1xx
// responses, HTTP/2 and HTTP/1.1 uploads, h2c, redirects, custom TLS
// dialers), and nothing a server, dialer or conn gives makes the transport
// panic or misreport.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// gatedBody is a request body of unknown length: it yields its first chunk
// at once and its last only once gate is closed, then io.EOF, remembering
// when.
type gatedBody struct {
	gate  <-chan struct{}
	step  int
	eofAt atomic.Pointer[time.Time]
}

func (b *gatedBody) Read(p []byte) (int, error) {
	switch b.step {
	case 0:
		b.step++
		return copy(p, "first,"), nil
	case 1:
		<-b.gate
		b.step++
		return copy(p, "last"), nil
	}
	now := time.Now()
	b.eofAt.Store(&now)
	return 0, io.EOF
}

func (*gatedBody) Close() error { return nil }

// fullDuplexEcho answers at once, before reading the request body, then
// reads the body and writes it back.
func fullDuplexEcho(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/1; HTTP/2 is full duplex already
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	b, _ := io.ReadAll(r.Body)
	_, _ = w.Write(b)
}

func TestUnknownLengthUploadSendEndsWhenBodyWritten(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(fullDuplexEcho), h2)
			gate := make(chan struct{})
			body := &gatedBody{gate: gate}
			// Body neither nil nor http.NoBody, ContentLength 0: net/http's
			// "unknown length" (chunked on HTTP/1.1).
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, body)
			require.NoError(t, err)
			require.Zero(t, req.ContentLength)
			resp, err := e.client(base).Do(req)
			require.NoError(t, err)
			// The response began; the upload goes on until now.
			close(gate)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, "first,last", string(b))

			spans := e.spans()
			send := one(t, spans, "http.send")
			eofAt := body.eofAt.Load()
			require.NotNil(t, eofAt)
			assert.False(t, send.EndTime().Before(*eofAt), "http.send ended %v before the body was read to its end", eofAt.Sub(send.EndTime()))
			assert.False(t, one(t, spans, "http.receive").StartTime().After(*eofAt), "the response began while sending")
			assert.Equal(t, codes.Unset, send.Status().Code)
			assertNotAbandoned(t, spans)
		})
	}
}

// slowReader yields its data after a delay: an upload that takes d.
type slowReader struct {
	d    time.Duration
	data *strings.Reader
	once bool
}

func (r *slowReader) Read(p []byte) (int, error) {
	if !r.once {
		r.once = true
		time.Sleep(r.d)
	}
	return r.data.Read(p)
}

func TestExpectContinueReceiveStartsAtFinalResponse(t *testing.T) {
	const upload, think = 30 * time.Millisecond, 40 * time.Millisecond
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body) // sends "100 Continue"
				time.Sleep(think)
				_, _ = w.Write(b)
			}), h2)
			base.ExpectContinueTimeout = time.Minute
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL,
				&slowReader{d: upload, data: strings.NewReader("payload")})
			require.NoError(t, err)
			req.ContentLength = int64(len("payload"))
			// net/http matches the token case-insensitively.
			req.Header.Set("Expect", "100-Continue")
			_, b := doRead(t, e.client(base), req)
			assert.Equal(t, "payload", b)

			spans := e.spans()
			r, send, receive := one(t, spans, "PUT"), one(t, spans, "http.send"), one(t, spans, "http.receive")
			wait := one(t, spans, "http.wait")
			info := event(t, r, "http.informational_response")
			assert.Equal(t, int64(100), eventAttrs(info)["http.response.status_code"].AsInt64())
			assert.Contains(t, eventNames(send), "http.got_100_continue")
			// The 100 is an event; the final response begins after the
			// upload and the server's work.
			assert.True(t, info.Time.Before(send.EndTime()), "the 100 came while sending")
			assertSequence(t, send, wait, receive)
			assert.GreaterOrEqual(t, send.EndTime().Sub(send.StartTime()), upload, "http.send holds the upload")
			// The server starts its work once it has read the body, a moment
			// before net/http, having flushed it, reports WroteRequest; the
			// margin is that moment on a loaded machine.
			assert.GreaterOrEqual(t, wait.EndTime().Sub(wait.StartTime()), think-5*time.Millisecond, "http.wait holds the server's work")
			assert.Less(t, receive.EndTime().Sub(receive.StartTime()), think, "http.receive holds neither")
			assertNotAbandoned(t, spans)
		})
	}
}

// doRead sends req through client, reads the whole body and closes it.
func doRead(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestEarlyHintsWaitRunsToFinalResponse(t *testing.T) {
	const think = 40 * time.Millisecond
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload; as=style")
				w.WriteHeader(http.StatusEarlyHints)
				time.Sleep(think)
				w.Header().Del("Link")
				_, _ = io.WriteString(w, "hinted")
			}), h2)
			_, body := get(t, t.Context(), e.client(base), srv.URL)
			assert.Equal(t, "hinted", body)

			spans := e.spans()
			r, wait, receive := one(t, spans, "GET"), one(t, spans, "http.wait"), one(t, spans, "http.receive")
			hint := event(t, r, "http.informational_response")
			assert.Equal(t, int64(103), eventAttrs(hint)["http.response.status_code"].AsInt64())
			assert.True(t, !hint.Time.Before(wait.StartTime()) && !hint.Time.After(wait.EndTime()), "the 103 is inside http.wait")
			assert.GreaterOrEqual(t, wait.EndTime().Sub(hint.Time), think, "http.wait runs to the final response")
			assert.Less(t, receive.EndTime().Sub(receive.StartTime()), think, "the server's work is not in http.receive")
			assertSequence(t, wait, receive)
		})
	}
}

func TestHTTP2UploadSendIsNotAbandoned(t *testing.T) {
	e := newEnv(t)
	srv, base := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
	}), true)
	client := e.client(base)
	const n = 25
	payload := strings.Repeat("u", 64<<10)
	late := 0
	for range n {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(payload))
		require.NoError(t, err)
		_, b := doRead(t, client, req)
		require.Equal(t, strconv.Itoa(len(payload)), b, "the server read the whole body")
	}
	spans := e.spans()
	sends := named(spans, "http.send")
	require.Len(t, sends, n)
	for _, s := range sends {
		a := attrs(s)
		assert.NotContains(t, a, attribute.Key("wiretrace.abandoned"), "the server read the whole body")
		assert.Equal(t, codes.Unset, s.Status().Code)
		if v, ok := a["wiretrace.send.end"]; ok {
			assert.Equal(t, "request_end", v.AsString())
			late++
		}
	}
	assertNotAbandoned(t, spans)
	t.Logf("WroteRequest came after the request's end in %d of %d uploads", late, n)
}

func TestHTTP1KnownLengthUploadPhaseOrder(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.client(base)
	const n = 25
	for range n {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(strings.Repeat("k", 16<<10)))
		require.NoError(t, err)
		doRead(t, client, req)
	}
	spans := e.spans()
	assertNotAbandoned(t, spans)
	withWait := 0
	for _, r := range named(spans, "POST") {
		var send, wait, receive sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Parent().SpanID() != r.SpanContext().SpanID() {
				continue
			}
			switch s.Name() {
			case "http.send":
				send = s
			case "http.wait":
				wait = s
			case "http.receive":
				receive = s
			}
		}
		require.NotNil(t, send)
		require.NotNil(t, receive)
		// One rule whatever the race: http.send ends at WroteRequest;
		// http.wait exists exactly when that came before the response.
		assert.False(t, receive.StartTime().Before(send.StartTime()))
		assert.NotContains(t, attrs(send), attribute.Key("wiretrace.send.end"))
		if wait == nil {
			assert.False(t, send.EndTime().Before(receive.StartTime()), "no http.wait although the request was written before the response")
			continue
		}
		withWait++
		assertSequence(t, send, wait, receive)
		assert.Equal(t, wait.EndTime(), receive.StartTime())
	}
	t.Logf("%d of %d uploads had an http.wait", withWait, n)
}

func TestH2CIdleConnectionIsNotAResend(t *testing.T) {
	e := newEnv(t)
	var served atomic.Int32
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			_, _ = io.WriteString(w, r.Proto)
		}),
		Protocols: new(http.Protocols),
		ErrorLog:  testnet.QuietLog(),
	}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	base := &http.Transport{Protocols: new(http.Protocols)}
	base.Protocols.SetUnencryptedHTTP2(true)
	defer base.CloseIdleConnections()
	client := e.client(base)
	target := "http://" + ln.Addr().String()
	_, proto := get(t, t.Context(), client, target)
	require.Equal(t, "HTTP/2.0", proto)
	assert.NotContains(t, attrs(one(t, e.spans(), "GET")), attribute.Key("http.request.resend_count"), "a new connection")
	e.rec.Reset()
	get(t, t.Context(), client, target) // on the idle connection

	require.Equal(t, int32(2), served.Load())
	spans := e.spans()
	r := one(t, spans, "GET")
	assert.NotContains(t, attrs(r), attribute.Key("http.request.resend_count"), "the server saw the request once")
	assert.NotContains(t, eventNames(r), "http.resend")
	getconn := one(t, spans, "http.getconn")
	assert.Equal(t, codes.Unset, getconn.Status().Code)
	assert.True(t, attrValue(t, getconn, "wiretrace.conn.reused").AsBool())
	assert.Len(t, named(spans, "http.send"), 1)
}

func TestRedirectHopsCountResends(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/a", http.RedirectHandler("/b", http.StatusFound))
	mux.Handle("/b", http.RedirectHandler("/c", http.StatusTemporaryRedirect))
	mux.HandleFunc("/c", testnet.OK)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	get(t, t.Context(), e.client(base), srv.URL+"/a")

	hops := named(e.spans(), "GET")
	require.Len(t, hops, 3)
	assert.NotContains(t, attrs(hops[0]), attribute.Key("http.request.resend_count"), "the first hop is no resend")
	for i, hop := range hops[1:] {
		assert.Equal(t, int64(i+1), attrValue(t, hop, "http.request.resend_count").AsInt64(), "hop %d", i+1)
		assert.NotContains(t, eventNames(hop), "http.resend", "a redirect is not a retry")
	}
}

func TestDialTLSContextMeasuresTheRealHandshake(t *testing.T) {
	tests := []struct {
		name string
		// handshake says whether the dialer does the handshake itself;
		// withCtx, whether it dials with the request's context, so that
		// net.Dialer reports ConnectStart/ConnectDone.
		handshake, withCtx bool
		wantTLS            bool
	}{
		{"dialer handshakes", true, true, true},
		{"dialer leaves the handshake to net/http", false, true, true},
		{"dialer hides its dial", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
			var handshake atomic.Int64
			tlsConf := base.TLSClientConfig
			base.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialCtx := ctx
				if !tt.withCtx {
					dialCtx = context.WithoutCancel(context.Background())
				}
				c, err := new(net.Dialer).DialContext(dialCtx, network, addr)
				if err != nil {
					return nil, err
				}
				conf := tlsConf.Clone()
				conf.ServerName, _, _ = net.SplitHostPort(addr)
				tc := tls.Client(c, conf)
				if !tt.handshake {
					return tc, nil
				}
				start := time.Now()
				if err := tc.HandshakeContext(ctx); err != nil {
					_ = c.Close()
					return nil, err
				}
				handshake.Store(int64(time.Since(start)))
				return tc, nil
			}
			get(t, t.Context(), e.client(base), testnet.ByName(t, srv.URL))

			spans := e.spans()
			e.assertAllEnded(t)
			tlsSpans := named(spans, "http.tls")
			if !tt.wantTLS {
				// No hook tells when the handshake began: none is shown,
				// rather than net/http's no-op re-handshake.
				assert.Empty(t, tlsSpans)
				return
			}
			require.Len(t, tlsSpans, 1)
			hs, connect := tlsSpans[0], one(t, spans, "http.connect")
			assert.Equal(t, connect.EndTime(), hs.StartTime(), "the handshake begins when the TCP connection is made")
			assert.GreaterOrEqual(t, hs.EndTime().Sub(hs.StartTime()), time.Duration(handshake.Load()), "http.tls holds the real handshake")
			assert.Equal(t, "1.3", attrValue(t, hs, "tls.protocol.version").AsString())
			assertWithin(t, one(t, spans, "http.getconn"), hs)
		})
	}
}

func TestBodyReadErrorFailsRequestSpan(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(testnet.AbortMidBody))
	srv.Config.ErrorLog = testnet.QuietLog()
	srv.Start()
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.client(base, otelhooks.WithMeterProvider(m.mp))

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NoError(t, resp.Body.Close())

	r := one(t, e.spans(), "GET")
	assert.Equal(t, codes.Error, r.Status().Code, "the request failed mid-body")
	assert.Equal(t, "unexpected_eof", attrValue(t, r, "error.type").AsString())
	assert.Equal(t, codes.Error, one(t, e.spans(), "http.receive").Status().Code)
	ps := points(t, m.collect(t), "http.client.request.duration")
	require.Len(t, ps, 1)
	assert.Equal(t, "unexpected_eof", ps[0].attrs["error.type"], "spans and metrics agree")
}

func TestNewClientTraceMigrationPatternUnsampled(t *testing.T) {
	e := newEnv(t, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	ctx, root := e.root(t.Context())
	defer root.End()
	require.False(t, root.IsRecording())
	assert.NotPanics(t, func() {
		// otelhttptrace's pattern, with wiretrace's hooks.
		ctx := httptrace.WithClientTrace(ctx, clienttrace.ToHTTPTrace(otelhooks.NewClientTrace(ctx)))
		get(t, ctx, &http.Client{Transport: base}, srv.URL)
	})
}

// nilAddrConn is a wrapper conn whose addresses are typed nils, as some
// wrappers return: legal, and net/http copes with it.
type nilAddrConn struct{ net.Conn }

func (nilAddrConn) RemoteAddr() net.Addr { return (*net.TCPAddr)(nil) }
func (nilAddrConn) LocalAddr() net.Addr  { return (*net.TCPAddr)(nil) }

func TestTypedNilConnAddressesDoNotPanic(t *testing.T) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := new(net.Dialer).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return nilAddrConn{c}, nil
	}
	for _, tt := range []struct {
		name string
		dial otelhooks.DialFunc
	}{
		{"plain dialer", dial},
		{"InstrumentDialer", otelhooks.InstrumentDialer(dial)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			defer srv.Close()
			base := &http.Transport{DialContext: tt.dial}
			defer base.CloseIdleConnections()
			client := e.client(base)
			assert.NotPanics(t, func() {
				get(t, t.Context(), client, srv.URL)
				get(t, t.Context(), client, srv.URL) // reused
			})
			e.assertAllEnded(t)
			assert.Len(t, named(e.spans(), "GET"), 2)
		})
	}
}

// tlsReportingTransport is a RoundTripper that, like HTTP/3 or other
// non-net/http transports, reports the TLS handshake through the trace in
// the request's context itself, with a connection state that has a nil
// certificate in its chain.
type tlsReportingTransport struct{ base http.RoundTripper }

func (t tlsReportingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ct := httptrace.ContextClientTrace(req.Context()); ct != nil && ct.TLSHandshakeDone != nil {
		ct.TLSHandshakeStart()
		ct.TLSHandshakeDone(tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true,
			PeerCertificates: []*x509.Certificate{nil}}, nil)
	}
	return t.base.RoundTrip(req)
}

func TestNilPeerCertificateDoesNotPanic(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.client(tlsReportingTransport{base})
	assert.NotPanics(t, func() { get(t, t.Context(), client, srv.URL) })
	tlsSpan := one(t, e.spans(), "http.tls")
	assert.Equal(t, "1.3", attrValue(t, tlsSpan, "tls.protocol.version").AsString())
	assert.NotContains(t, attrs(tlsSpan), attribute.Key("tls.server.subject"))
	e.assertAllEnded(t)
}

func TestRequestHeadersAsSent(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), h2)
			client := e.client(base, otelhooks.WithRequestHeaders("Host", "User-Agent", "Accept-Encoding", "X-Request-Id", "Authorization", "Content-Length"))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			req.Header.Set("X-Request-Id", "req-1")
			req.Header.Set("Authorization", "Bearer secret")
			doRead(t, client, req)

			r := one(t, e.spans(), "GET")
			ua := "Go-http-client/1.1"
			if h2 {
				ua = "Go-http-client/2.0"
			}
			for key, want := range map[attribute.Key][]string{
				"http.request.header.host":            {strings.TrimPrefix(srv.URL, "https://")},
				"http.request.header.user-agent":      {ua},
				"http.request.header.accept-encoding": {"gzip"},
				"http.request.header.x-request-id":    {"req-1"},
				"http.request.header.authorization":   {"REDACTED"},
			} {
				assert.Equal(t, want, attrValue(t, r, key).AsStringSlice(), key)
			}
			assert.NotContains(t, allStrings(e.spans()), "secret")
			assert.NotContains(t, attrs(r), attribute.Key("http.request.header.content-length"), "a GET has none")
		})
	}
}

func TestCompressedResponseBodySize(t *testing.T) {
	plain := strings.Repeat("wiretrace compresses well. ", 4000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = io.WriteString(zw, plain)
	require.NoError(t, zw.Close())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		_, _ = w.Write(gz.Bytes())
	}))
	defer srv.Close()

	t.Run("decoded by net/http", func(t *testing.T) {
		e := newEnv(t)
		m := newMeters(t)
		base := &http.Transport{}
		defer base.CloseIdleConnections()
		resp, body := get(t, t.Context(), e.client(base, otelhooks.WithMeterProvider(m.mp)), srv.URL)
		require.True(t, resp.Uncompressed)
		require.Equal(t, plain, body)
		for _, s := range []sdktrace.ReadOnlySpan{one(t, e.spans(), "GET"), one(t, e.spans(), "http.receive")} {
			assert.NotContains(t, attrs(s), attribute.Key("http.response.body.size"), "%s: the decoded size is not the bytes transferred", s.Name())
			assert.Equal(t, int64(len(plain)), attrValue(t, s, "wiretrace.response.body.decoded_size").AsInt64())
		}
		ps := m.collect(t)
		_, ok := ps["http.client.response.body.size"]
		assert.False(t, ok, "no body size metric for a decoded body")
	})
	t.Run("asked for by the caller", func(t *testing.T) {
		e := newEnv(t)
		base := &http.Transport{}
		defer base.CloseIdleConnections()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, body := doRead(t, e.client(base), req)
		require.False(t, resp.Uncompressed)
		require.Len(t, body, gz.Len())
		r := one(t, e.spans(), "GET")
		assert.Equal(t, int64(gz.Len()), attrValue(t, r, "http.response.body.size").AsInt64())
		assert.NotContains(t, attrs(r), attribute.Key("wiretrace.response.body.decoded_size"))
	})
}

func TestEarlyResponseAbandonsUpload(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			// The server answers without reading the body: net/http stops
			// writing it.
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
			}), h2)
			client := e.client(base)
			const n = 5
			for range n {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(strings.Repeat("x", 4<<20)))
				require.NoError(t, err)
				resp, _ := doRead(t, client, req)
				require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
			}
			sends := named(e.spans(), "http.send")
			require.Len(t, sends, n)
			for _, s := range sends {
				assert.Equal(t, codes.Unset, s.Status().Code, "the upload was cut short by the answer, not failed: %s", s.Status().Description)
				assert.NotContains(t, attrs(s), attribute.Key("error.type"))
			}
		})
	}
}
