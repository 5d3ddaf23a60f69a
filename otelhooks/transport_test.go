package otelhooks_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

func TestTransportNewConnectionByName(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	ctx, root := e.root(t.Context())
	target := testnet.ByName(t, srv.URL) + "/path?q=1"
	resp, body := get(t, ctx, e.client(base), target)
	root.End()
	require.Equal(t, "ok", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	spans := e.spans()
	req := one(t, spans, "GET")
	assert.Equal(t, trace.SpanKindClient, req.SpanKind())
	assert.Equal(t, root.SpanContext().SpanID(), req.Parent().SpanID())
	assert.Equal(t, codes.Unset, req.Status().Code)
	port, _ := strconv.Atoi(srv.Listener.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):])
	assert.Equal(t, map[attribute.Key]attribute.Value{
		"http.request.method":       attribute.StringValue("GET"),
		"url.full":                  attribute.StringValue(target),
		"server.address":            attribute.StringValue("localhost"),
		"server.port":               attribute.IntValue(port),
		"http.response.status_code": attribute.IntValue(200),
		"network.protocol.version":  attribute.StringValue("1.1"),
		"http.response.body.size":   attribute.IntValue(2),
		"network.peer.address":      attribute.StringValue("127.0.0.1"),
	}, attrs(req))
	assert.Equal(t, otelhooks.ScopeName, req.InstrumentationScope().Name)
	assert.Equal(t, otelhooks.Version(), req.InstrumentationScope().Version)
	assert.Contains(t, req.InstrumentationScope().SchemaURL, "https://opentelemetry.io/schemas/")

	assert.Equal(t, []string{"http.getconn", "http.receive", "http.send", "http.wait"}, childrenOf(spans, req))
	getconn := one(t, spans, "http.getconn")
	connects := named(spans, "http.connect")
	require.NotEmpty(t, connects)
	var wantChildren []string
	for range connects {
		wantChildren = append(wantChildren, "http.connect")
	}
	wantChildren = append(wantChildren, "http.dns")
	assert.Equal(t, wantChildren, childrenOf(spans, getconn))

	dns := one(t, spans, "http.dns")
	assert.Equal(t, "localhost", attrValue(t, dns, "dns.question.name").AsString())
	assert.Contains(t, attrValue(t, dns, "dns.answers").AsStringSlice(), "127.0.0.1")

	// "localhost" may resolve to ::1 too, where nothing listens: the
	// last attempt connects and wins.
	won := connects[len(connects)-1]
	assert.True(t, attrValue(t, won, "wiretrace.connect.winner").AsBool())
	assert.Equal(t, "127.0.0.1", attrValue(t, won, "network.peer.address").AsString())
	assert.Equal(t, int64(port), attrValue(t, won, "network.peer.port").AsInt64())
	assert.Equal(t, "tcp", attrValue(t, won, "network.transport").AsString())
	assert.Equal(t, "ipv4", attrValue(t, won, "network.type").AsString())

	assert.Equal(t, "127.0.0.1", attrValue(t, getconn, "network.peer.address").AsString())
	assert.Equal(t, int64(port), attrValue(t, getconn, "network.peer.port").AsInt64())
	assert.Equal(t, "127.0.0.1", attrValue(t, getconn, "network.local.address").AsString())
	assert.Positive(t, attrValue(t, getconn, "network.local.port").AsInt64())
	assert.False(t, attrValue(t, getconn, "wiretrace.conn.reused").AsBool())
	assert.False(t, attrValue(t, getconn, "wiretrace.conn.was_idle").AsBool())

	send, wait, receive := one(t, spans, "http.send"), one(t, spans, "http.wait"), one(t, spans, "http.receive")
	assert.Equal(t, []string{"http.wrote_headers"}, eventNames(send))
	assert.Equal(t, int64(2), attrValue(t, receive, "http.response.body.size").AsInt64())
	assert.Equal(t, "eof", attrValue(t, receive, "wiretrace.body.done").AsString())
	assert.Equal(t, []string{"http.put_idle_conn"}, eventNames(req))

	for _, child := range []sdktrace.ReadOnlySpan{getconn, send, wait, receive} {
		assert.Equal(t, trace.SpanKindInternal, child.SpanKind())
		assertWithin(t, req, child)
	}
	assertWithin(t, getconn, dns)
	assertWithin(t, getconn, won)
	assertSequence(t, dns, won)
	assertSequence(t, getconn, send, wait, receive)
}

func TestTransportKeepAliveReuse(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.client(base)

	get(t, t.Context(), client, srv.URL)
	e.rec.Reset()
	get(t, t.Context(), client, srv.URL)

	spans := e.spans()
	assert.Equal(t, []string{"GET", "http.getconn", "http.receive", "http.send", "http.wait"}, names(spans))
	getconn := one(t, spans, "http.getconn")
	assert.True(t, attrValue(t, getconn, "wiretrace.conn.reused").AsBool())
	assert.True(t, attrValue(t, getconn, "wiretrace.conn.was_idle").AsBool())
	assert.GreaterOrEqual(t, attrValue(t, getconn, "wiretrace.conn.idle_time_s").AsFloat64(), 0.0)
	assert.Empty(t, childrenOf(spans, getconn), "no dns, connect or tls for a reused connection")
}

func TestTransportKeepAlivesDisabled(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{DisableKeepAlives: true}
	client := e.client(base)

	for range 3 {
		get(t, t.Context(), client, srv.URL)
	}
	spans := e.spans()
	assert.Len(t, named(spans, "GET"), 3)
	assert.Len(t, named(spans, "http.connect"), 3, "a new connection each time")
	assert.Empty(t, named(spans, "http.dns"), "no DNS for an IP address")
	for _, g := range named(spans, "http.getconn") {
		assert.False(t, attrValue(t, g, "wiretrace.conn.reused").AsBool())
	}
	for _, r := range named(spans, "GET") {
		assert.Empty(t, eventNames(r), "no put_idle_conn without keep-alives")
	}
}

func TestTransportTLS(t *testing.T) {
	tests := []struct {
		name      string
		http2     bool
		wantALPN  string
		wantProto string
	}{
		{"HTTP/1.1", false, "http/1.1", "1.1"},
		{"HTTP/2", true, "h2", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), tt.http2)
			base.TLSClientConfig.NextProtos = []string{"h2", "http/1.1"}
			if !tt.http2 {
				base.TLSClientConfig.NextProtos = []string{"http/1.1"}
			}
			get(t, t.Context(), e.client(base), testnet.ByName(t, srv.URL))

			spans := e.spans()
			tlsSpan := one(t, spans, "http.tls")
			assert.Equal(t, one(t, spans, "http.getconn").SpanContext().SpanID(), tlsSpan.Parent().SpanID())
			a := attrs(tlsSpan)
			assert.Equal(t, "tls", a["tls.protocol.name"].AsString())
			assert.Equal(t, "1.3", a["tls.protocol.version"].AsString())
			assert.Regexp(t, `^TLS_`, a["tls.cipher"].AsString())
			assert.False(t, a["tls.resumed"].AsBool())
			assert.Equal(t, tt.wantALPN, a["tls.next_protocol"].AsString())
			assert.Equal(t, "localhost", a["server.address"].AsString())
			assert.Equal(t, "CN=localhost", a["tls.server.subject"].AsString())
			assert.Equal(t, "CN=wiretrace test CA,O=wiretrace tests", a["tls.server.issuer"].AsString())
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, a["tls.server.not_after"].AsString())
			assert.Equal(t, codes.Unset, tlsSpan.Status().Code)
			assert.Equal(t, tt.wantProto, attrValue(t, one(t, spans, "GET"), "network.protocol.version").AsString())
		})
	}
}

func TestTransportTLSUntrusted(t *testing.T) {
	e := newEnv(t)
	srv, _ := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
	base := &http.Transport{} // trusts the system roots only
	defer base.CloseIdleConnections()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := e.client(base).Do(req)
	require.Error(t, err)
	require.Nil(t, resp)

	spans := e.spans()
	tlsSpan := one(t, spans, "http.tls")
	assert.Equal(t, codes.Error, tlsSpan.Status().Code)
	assert.Contains(t, tlsSpan.Status().Description, "certificate")
	assert.Equal(t, map[attribute.Key]attribute.Value{
		"error.type": attribute.StringValue("tls_unknown_authority"),
	}, attrs(tlsSpan), "no zero-value TLS attributes on failure")

	getconn := one(t, spans, "http.getconn")
	assert.Equal(t, codes.Error, getconn.Status().Code)
	assert.Equal(t, "tls_unknown_authority", attrValue(t, getconn, "error.type").AsString())
	get := one(t, spans, "GET")
	assert.Equal(t, codes.Error, get.Status().Code)
	assert.Equal(t, "tls_unknown_authority", attrValue(t, get, "error.type").AsString())
	assert.NotContains(t, attrs(get), attribute.Key("http.response.status_code"))
	assert.Empty(t, named(spans, "http.send"))
}

func TestTransportConnectionRefused(t *testing.T) {
	e := newEnv(t)
	addr := testnet.RefusedAddr(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/", nil)
	require.NoError(t, err)
	resp, err := e.client(&http.Transport{}).Do(req)
	require.Error(t, err)
	require.Nil(t, resp)

	spans := e.spans()
	assert.Equal(t, []string{"GET", "http.connect", "http.getconn"}, names(spans))
	connect := one(t, spans, "http.connect")
	assert.Equal(t, codes.Error, connect.Status().Code)
	assert.Equal(t, "connection_refused", attrValue(t, connect, "error.type").AsString())
	assert.NotContains(t, attrs(connect), attribute.Key("wiretrace.connect.winner"))
	for _, name := range []string{"http.getconn", "GET"} {
		s := one(t, spans, name)
		assert.Equal(t, codes.Error, s.Status().Code, name)
		assert.Equal(t, "connection_refused", attrValue(t, s, "error.type").AsString(), name)
	}
}

func TestTransportDNSFailure(t *testing.T) {
	e := newEnv(t)
	dns := testnet.NewDNSServer(t, nil)
	base := &http.Transport{DialContext: (&net.Dialer{Resolver: dns.Resolver()}).DialContext}
	defer base.CloseIdleConnections()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://nowhere.test:8080/", nil)
	require.NoError(t, err)
	resp, err := e.client(base).Do(req)
	require.Error(t, err)
	require.Nil(t, resp)
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.Contains(t, dns.Queries(), "nowhere.test.")

	spans := e.spans()
	assert.Equal(t, []string{"GET", "http.dns", "http.getconn"}, names(spans))
	d := one(t, spans, "http.dns")
	assert.Equal(t, codes.Error, d.Status().Code)
	assert.Equal(t, "nowhere.test", attrValue(t, d, "dns.question.name").AsString())
	assert.Equal(t, "dns_not_found", attrValue(t, d, "error.type").AsString())
	assert.NotContains(t, attrs(d), attribute.Key("dns.answers"))
	assert.Equal(t, "dns_not_found", attrValue(t, one(t, spans, "GET"), "error.type").AsString())
}

func TestTransportSecondDialAttempt(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{
		// Nothing listens on 127.0.0.2: the first attempt is refused.
		"two.test": {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")},
	})
	base := &http.Transport{DialContext: (&net.Dialer{Resolver: dns.Resolver()}).DialContext}
	defer base.CloseIdleConnections()

	port := srv.Listener.Addr().(*net.TCPAddr).Port
	get(t, t.Context(), e.client(base), "http://two.test:"+strconv.Itoa(port)+"/")

	spans := e.spans()
	connects := named(spans, "http.connect")
	require.Len(t, connects, 2)
	first, second := connects[0], connects[1]
	assert.Equal(t, "127.0.0.2", attrValue(t, first, "network.peer.address").AsString())
	assert.Equal(t, codes.Error, first.Status().Code)
	assert.Equal(t, "connection_refused", attrValue(t, first, "error.type").AsString())
	assert.Equal(t, "127.0.0.1", attrValue(t, second, "network.peer.address").AsString())
	assert.Equal(t, codes.Unset, second.Status().Code)
	assert.True(t, attrValue(t, second, "wiretrace.connect.winner").AsBool())
	assertSequence(t, first, second)
	assert.Equal(t, []string{"127.0.0.2", "127.0.0.1"}, attrValue(t, one(t, spans, "http.dns"), "dns.answers").AsStringSlice())
	assert.Equal(t, codes.Unset, one(t, spans, "GET").Status().Code)
}

func TestTransportParallelDialAttempts(t *testing.T) {
	e := newEnv(t)
	ln4, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln4.Addr().(*net.TCPAddr).Port
	srv4 := &http.Server{Handler: http.HandlerFunc(testnet.OK)}
	go func() { _ = srv4.Serve(ln4) }()
	defer srv4.Close()
	// Where there is an IPv6 loopback with the same port free, both
	// attempts can connect; where there is not, the ::1 attempt fails.
	// Either way each new connection has exactly one winner.
	if ln6, err := new(net.ListenConfig).Listen(t.Context(), "tcp6", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		srv6 := &http.Server{Handler: http.HandlerFunc(testnet.OK)}
		go func() { _ = srv6.Serve(ln6) }()
		defer srv6.Close()
	} else {
		t.Logf("no IPv6 listener on port %d (%v): the ::1 attempts fail", port, err)
	}

	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{
		"dual.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	})
	// A fallback delay of a nanosecond starts the second family's dial
	// at once: both attempts run in parallel, and both may connect.
	dialer := &net.Dialer{Resolver: dns.Resolver(), FallbackDelay: 1}
	for range 10 {
		base := &http.Transport{DialContext: dialer.DialContext}
		get(t, t.Context(), e.client(base), "http://dual.test:"+strconv.Itoa(port)+"/")
		base.CloseIdleConnections()
	}

	spans := e.spans()
	for _, getconn := range named(spans, "http.getconn") {
		peer := attrValue(t, getconn, "network.peer.address").AsString()
		var winners int
		for _, s := range spans {
			if s.Name() != "http.connect" || s.Parent().SpanID() != getconn.SpanContext().SpanID() {
				continue
			}
			if v, ok := attrs(s)["wiretrace.connect.winner"]; ok && v.AsBool() {
				winners++
				assert.Equal(t, peer, attrValue(t, s, "network.peer.address").AsString(), "the winner is the used connection")
			}
		}
		assert.Equal(t, 1, winners, "exactly one winning attempt per new connection")
	}
	assert.GreaterOrEqual(t, len(named(spans, "http.connect")), 10)
}

func TestTransportHTTP2ConcurrentStreams(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 50)
	srv, base := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		testnet.OK(w, r)
	}), true)
	client := e.client(base)
	get(t, t.Context(), client, srv.URL) // warm: one connection
	e.rec.Reset()

	const n = 50
	errs := make(chan error, n)
	for range n {
		go func() { errs <- send(t.Context(), client, srv.URL+"/hold") }()
	}
	for range n {
		<-arrived // all 50 streams are open at once
	}
	close(release)
	for range n {
		require.NoError(t, <-errs)
	}

	spans := e.spans()
	assert.Len(t, named(spans, "GET"), n)
	assert.Len(t, named(spans, "http.getconn"), n)
	assert.Len(t, named(spans, "http.send"), n)
	assert.LessOrEqual(t, len(named(spans, "http.wait")), n, "no wait when the response began first")
	assert.Len(t, named(spans, "http.receive"), n)
	assert.Empty(t, named(spans, "http.connect"), "every stream shares the warm connection")
	assert.Empty(t, named(spans, "http.tls"))
	for _, g := range named(spans, "http.getconn") {
		assert.True(t, attrValue(t, g, "wiretrace.conn.reused").AsBool())
	}
	assertNotAbandoned(t, spans)
	for _, r := range named(spans, "GET") {
		assert.Equal(t, "2", attrValue(t, r, "network.protocol.version").AsString())
		children := childrenOf(spans, r)
		assert.Contains(t, children, "http.getconn", "each stream has its own phases")
		assert.Contains(t, children, "http.send")
		assert.Contains(t, children, "http.receive")
	}
}

func TestTransportConcurrentRequests(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), h2)
			base.MaxIdleConnsPerHost = 8
			client := e.client(base)

			const n, workers = 200, 8
			jobs := make(chan int, n)
			for i := range n {
				jobs <- i
			}
			close(jobs)
			errs := make(chan error, n)
			for range workers {
				go func() {
					for range jobs {
						errs <- send(t.Context(), client, srv.URL)
					}
				}()
			}
			for range n {
				require.NoError(t, <-errs)
			}

			spans := e.spans()
			gets := named(spans, "GET")
			require.Len(t, gets, n)
			// At the start, HTTP/2 requests may find the new connection
			// not ready and go back for another one: net/http retries
			// them, and each retry is a getconn of its own.
			resends := 0
			for _, r := range gets {
				if v, ok := attrs(r)["http.request.resend_count"]; ok {
					resends += int(v.AsInt64())
				}
			}
			assert.Len(t, named(spans, "http.getconn"), n+resends)
			retried := 0
			for _, g := range named(spans, "http.getconn") {
				if g.Status().Code == codes.Error {
					retried++
					assert.Equal(t, "retried", attrValue(t, g, "error.type").AsString())
				}
			}
			assert.Equal(t, resends, retried)
			for _, name := range []string{"http.send", "http.receive"} {
				assert.Len(t, named(spans, name), n, name)
			}
			assertNotAbandoned(t, spans)
			// A dial may outlive the request that started it (since Go
			// 1.23) and finish its handshake after that request ended:
			// the handshake is then not that request's to record.
			tlsSpans := len(named(spans, "http.tls"))
			assert.Positive(t, tlsSpans)
			assert.LessOrEqual(t, tlsSpans, len(named(spans, "http.connect")))
			for _, r := range gets {
				assert.Equal(t, codes.Unset, r.Status().Code)
			}
			started, ended := e.checker.Counts()
			assert.Equal(t, started, ended)
		})
	}
}

func TestTransportRedirectHops(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/a", http.RedirectHandler("/b", http.StatusFound))
	mux.Handle("/b", http.RedirectHandler("/c", http.StatusMovedPermanently))
	mux.HandleFunc("/c", testnet.OK)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	ctx, root := e.root(t.Context())
	_, body := get(t, ctx, e.client(base), srv.URL+"/a")
	root.End()
	assert.Equal(t, "ok", body)

	spans := e.spans()
	hops := named(spans, "GET")
	require.Len(t, hops, 3)
	wantStatus := []int64{302, 301, 200}
	for i, hop := range hops {
		assert.Equal(t, root.SpanContext().SpanID(), hop.Parent().SpanID(), "hops are siblings under the caller's span")
		assert.Equal(t, srv.URL+"/"+string(rune('a'+i)), attrValue(t, hop, "url.full").AsString())
		assert.Equal(t, wantStatus[i], attrValue(t, hop, "http.response.status_code").AsInt64())
		assert.Equal(t, codes.Unset, hop.Status().Code, "3xx is not an error")
	}
	assertSequence(t, hops...)
}

func TestTransportServerErrorStatus(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "teapot", http.StatusTeapot)
	}))
	defer srv.Close()
	get(t, t.Context(), e.client(srv.Client().Transport), srv.URL)

	r := one(t, e.spans(), "GET")
	assert.Equal(t, codes.Error, r.Status().Code)
	assert.Empty(t, r.Status().Description)
	assert.Equal(t, "418", attrValue(t, r, "error.type").AsString())
	assert.Equal(t, int64(418), attrValue(t, r, "http.response.status_code").AsInt64())
}

func TestTransportRetry(t *testing.T) {
	e := newEnv(t)
	srv := testnet.NewRetryServer(t)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.client(base)

	get(t, t.Context(), client, "http://"+srv.Addr())
	e.rec.Reset()
	get(t, t.Context(), client, "http://"+srv.Addr())

	spans := e.spans()
	r := one(t, spans, "GET")
	assert.Equal(t, codes.Unset, r.Status().Code)
	assert.Equal(t, int64(1), attrValue(t, r, "http.request.resend_count").AsInt64())
	resend := event(t, r, "http.resend")
	assert.Equal(t, int64(1), eventAttrs(resend)["http.request.resend_count"].AsInt64())

	getconns := named(spans, "http.getconn")
	require.Len(t, getconns, 2)
	assert.True(t, attrValue(t, getconns[0], "wiretrace.conn.reused").AsBool())
	assert.False(t, attrValue(t, getconns[1], "wiretrace.conn.reused").AsBool())
	waits := named(spans, "http.wait")
	require.Len(t, waits, 2)
	assert.Equal(t, codes.Error, waits[0].Status().Code, "the attempt on the closed connection failed")
	assert.Equal(t, "retried", attrValue(t, waits[0], "error.type").AsString())
	assert.Equal(t, codes.Unset, waits[1].Status().Code)
	assert.Len(t, named(spans, "http.send"), 2)
	assert.Len(t, named(spans, "http.receive"), 1)
}

func TestTransportNilAndPassThrough(t *testing.T) {
	e := newEnv(t)
	rt := otelhooks.NewTransport(nil, otelhooks.WithTracerProvider(e.tp))

	resp, err := rt.RoundTrip(nil)
	require.EqualError(t, err, "otelhooks: nil *http.Request")
	require.Nil(t, resp)

	resp, err = rt.RoundTrip(&http.Request{Method: http.MethodGet, Header: http.Header{}}) // no URL
	require.Error(t, err, "http.DefaultTransport refuses it")
	require.Nil(t, resp)
	assert.Empty(t, e.spans())
}

func TestTransportFilter(t *testing.T) {
	e := newEnv(t)
	var sawTraceparent []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTraceparent = append(sawTraceparent, r.Header.Get("Traceparent"))
		testnet.OK(w, r)
	}))
	defer srv.Close()
	client := e.client(srv.Client().Transport,
		otelhooks.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/health" }),
		otelhooks.WithFilter(nil))
	ctx, root := e.root(t.Context())
	get(t, ctx, client, srv.URL+"/health")
	get(t, ctx, client, srv.URL+"/work")
	root.End()

	assert.Len(t, named(e.spans(), "GET"), 1)
	assert.Equal(t, srv.URL+"/work", attrValue(t, one(t, e.spans(), "GET"), "url.full").AsString())
	require.Len(t, sawTraceparent, 2)
	assert.Empty(t, sawTraceparent[0], "a filtered request is sent untouched")
	assert.NotEmpty(t, sawTraceparent[1])
}

func TestTransportSpanName(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		formatter func(*http.Request) string
		wantName  string
		wantAttrs map[attribute.Key]string
	}{
		{"known method", http.MethodPost, nil, "POST", map[attribute.Key]string{"http.request.method": "POST"}},
		{"unknown method", "PURGE", nil, "HTTP", map[attribute.Key]string{
			"http.request.method": "_OTHER", "http.request.method_original": "PURGE",
		}},
		{"formatter", http.MethodGet, func(r *http.Request) string { return "fetch " + r.URL.Path }, "fetch /x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			defer srv.Close()
			client := e.client(srv.Client().Transport, otelhooks.WithSpanNameFormatter(tt.formatter))
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/x", nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			s := one(t, e.spans(), tt.wantName)
			for k, v := range tt.wantAttrs {
				assert.Equal(t, v, attrValue(t, s, k).AsString())
			}
		})
	}
}

func TestTransportUnsampled(t *testing.T) {
	e := newEnv(t, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	var traceparent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traceparent = r.Header.Get("Traceparent")
		testnet.OK(w, r)
	}))
	defer srv.Close()

	ctx, root := e.root(t.Context())
	require.False(t, root.IsRecording())
	get(t, ctx, e.client(srv.Client().Transport), srv.URL)
	root.End()

	assert.Empty(t, e.spans())
	started, _ := e.checker.Counts()
	assert.Zero(t, started, "nothing is created for a trace that is not sampled")
	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`, traceparent, "still propagated, as not sampled")
	assert.Contains(t, traceparent, root.SpanContext().TraceID().String())
}

func TestTransportCloseIdleConnections(t *testing.T) {
	base := &closeRecorder{}
	(&http.Client{Transport: otelhooks.NewTransport(base)}).CloseIdleConnections()
	assert.Equal(t, 1, base.closed)
}

type closeRecorder struct{ closed int }

func (c *closeRecorder) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("not used")
}
func (c *closeRecorder) CloseIdleConnections() { c.closed++ }
