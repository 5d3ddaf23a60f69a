package otelhooks_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// proxied returns an HTTPS server on 127.0.0.1 and a transport that reaches
// it through p, with keep-alives off so that each request makes its own
// CONNECT; instrumented, the transport is given to InstrumentTransport.
func proxied(t *testing.T, p *testnet.Proxy, instrumented bool, opts ...otelhooks.Option) (*httptest.Server, *http.Transport) {
	t.Helper()
	srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
	tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: p.Addr()})
	tr.DisableKeepAlives = true
	if instrumented {
		otelhooks.InstrumentTransport(tr, opts...)
	}
	return srv, tr
}

var proxyModes = []struct {
	name         string
	instrumented bool
}{
	{"hooks only", false},
	{"InstrumentTransport", true},
}

// TestTransportProxyConnectPhase pins http.proxy_connect: the CONNECT
// exchange is a phase of its own between http.connect and http.tls, as long
// as the proxy takes to answer (the injected delay), with the proxy's status
// code when InstrumentTransport chains OnProxyConnectResponse.
func TestTransportProxyConnectPhase(t *testing.T) {
	const delay = 30 * time.Millisecond
	const n = 15
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			p := testnet.NewProxy(t)
			p.Delay = delay
			srv, tr := proxied(t, p, mode.instrumented)
			client := e.client(tr)
			for range n {
				ctx, root := e.root(t.Context())
				_, body := get(t, ctx, client, srv.URL)
				root.End()
				assert.Equal(t, "ok", body)
			}
			require.Len(t, p.Connects(), n, "one CONNECT per request")
			assert.Equal(t, srv.Listener.Addr().String(), p.Connects()[0])

			var lengths, gaps []time.Duration
			for _, spans := range byTrace(e.spans()) {
				pc := one(t, spans, "http.proxy_connect")
				getconn := one(t, spans, "http.getconn")
				connect := one(t, spans, "http.connect")
				handshake := one(t, spans, "http.tls")
				assert.Equal(t, getconn.SpanContext().SpanID(), pc.Parent().SpanID(), "a phase of getting the connection")
				assertWithin(t, getconn, pc)
				assertSequence(t, connect, pc, handshake)
				assert.Equal(t, codes.Unset, pc.Status().Code)
				assert.True(t, attrValue(t, connect, "wiretrace.connect.winner").AsBool())
				if mode.instrumented {
					assert.Equal(t, int64(200), attrValue(t, pc, "http.response.status_code").AsInt64())
				} else {
					assert.NotContains(t, attrs(pc), attribute.Key("http.response.status_code"), "unknown without the callback")
				}
				length := pc.EndTime().Sub(pc.StartTime())
				assert.GreaterOrEqual(t, length, delay, "the exchange holds the proxy's delay")
				lengths = append(lengths, length)
				// What getconn holds is explained by its phases, but
				// for the hand-offs between net/http's goroutines.
				covered := connect.EndTime().Sub(connect.StartTime()) + length + handshake.EndTime().Sub(handshake.StartTime())
				gaps = append(gaps, getconn.EndTime().Sub(getconn.StartTime())-covered)
			}
			require.Len(t, lengths, n)
			slices.Sort(lengths)
			median := lengths[n/2]
			t.Logf("http.proxy_connect: median %v for an injected %v (min %v, max %v)", median, delay, lengths[0], lengths[n-1])
			assert.Less(t, median, delay+10*time.Millisecond)
			slices.Sort(gaps)
			t.Logf("http.getconn not covered by its phases: median %v, max %v", gaps[n/2], gaps[n-1])
			assert.Less(t, gaps[n/2], 3*time.Millisecond, "the CONNECT no longer hides in http.getconn")
		})
	}
}

// byTrace groups spans by trace: one trace per request of a test.
func byTrace(spans []sdktrace.ReadOnlySpan) map[string][]sdktrace.ReadOnlySpan {
	out := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		id := s.SpanContext().TraceID().String()
		out[id] = append(out[id], s)
	}
	return out
}

// TestTransportProxyConnectRefused pins a CONNECT the proxy refuses: the
// round trip fails with an error.type that says so, on the request span, on
// http.proxy_connect and in the metrics, and the dial whose connection
// carried the CONNECT is not marked a loser.
func TestTransportProxyConnectRefused(t *testing.T) {
	tests := []struct {
		status       int
		instrumented bool
		want         string
	}{
		{http.StatusForbidden, false, "proxy_connect_refused"},
		{http.StatusForbidden, true, "proxy_connect_refused"},
		// Without the callback, only net/http's error is known, which
		// holds the status text and not the code.
		{http.StatusProxyAuthRequired, false, "proxy_connect_refused"},
		{http.StatusProxyAuthRequired, true, "proxy_auth_required"},
	}
	for _, tt := range tests {
		name := strconv.Itoa(tt.status) + " " + map[bool]string{false: "hooks only", true: "InstrumentTransport"}[tt.instrumented]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			m := newMeters(t)
			p := testnet.NewProxy(t)
			p.Status = tt.status
			srv, tr := proxied(t, p, tt.instrumented, otelhooks.WithMeterProvider(m.mp))
			client := e.client(tr, otelhooks.WithMeterProvider(m.mp))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.Error(t, err)
			require.Nil(t, resp)

			spans := e.spans()
			r := one(t, spans, "GET")
			assert.Equal(t, codes.Error, r.Status().Code)
			assert.Equal(t, tt.want, attrValue(t, r, "error.type").AsString())
			pc := one(t, spans, "http.proxy_connect")
			assert.Equal(t, codes.Error, pc.Status().Code)
			assert.Contains(t, pc.Status().Description, "the proxy refused the CONNECT")
			assert.Equal(t, tt.want, attrValue(t, pc, "error.type").AsString())
			if tt.instrumented {
				assert.Equal(t, int64(tt.status), attrValue(t, pc, "http.response.status_code").AsInt64())
			}
			connect := one(t, spans, "http.connect")
			assert.Equal(t, codes.Unset, connect.Status().Code)
			assert.True(t, attrValue(t, connect, "wiretrace.connect.winner").AsBool(), "its connection carried the CONNECT")
			assert.Empty(t, named(spans, "http.tls"), "no handshake after a refusal")
			assertSequence(t, connect, pc)

			for _, pt := range points(t, m.collect(t), "http.client.request.duration") {
				assert.Equal(t, tt.want, pt.attrs["error.type"])
			}
		})
	}
}

// TestTransportProxyConnectApplicationCallback pins that InstrumentTransport
// chains the application's OnProxyConnectResponse: called once per CONNECT,
// with net/http's arguments, its error returned unchanged and recorded.
func TestTransportProxyConnectApplicationCallback(t *testing.T) {
	errVeto := errors.New("the application vetoes this proxy")
	for _, veto := range []bool{false, true} {
		t.Run(map[bool]string{false: "accepts", true: "vetoes"}[veto], func(t *testing.T) {
			e := newEnv(t)
			p := testnet.NewProxy(t)
			srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
			tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: p.Addr()})
			calls := 0
			tr.OnProxyConnectResponse = func(_ context.Context, proxyURL *url.URL, connectReq *http.Request, connectRes *http.Response) error {
				calls++
				assert.Equal(t, p.Addr(), proxyURL.Host)
				assert.Equal(t, http.MethodConnect, connectReq.Method)
				assert.Equal(t, http.StatusOK, connectRes.StatusCode)
				if veto {
					return errVeto
				}
				return nil
			}
			otelhooks.InstrumentTransport(tr)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := e.client(tr).Do(req)
			assert.Equal(t, 1, calls)
			pc := one(t, e.spans(), "http.proxy_connect")
			assert.Equal(t, int64(200), attrValue(t, pc, "http.response.status_code").AsInt64())
			if !veto {
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				assert.Equal(t, codes.Unset, pc.Status().Code)
				return
			}
			require.ErrorIs(t, err, errVeto)
			assert.Equal(t, codes.Error, pc.Status().Code)
			assert.Equal(t, errVeto.Error(), pc.Status().Description)
		})
	}
}

// TestTransportProxyNamedByHostToIPURL pins the DNS hooks when the URL's
// host is an IP address but the proxy is named by host: net/http resolves
// the proxy's name, and http.dns and dns.lookup.duration show it.
func TestTransportProxyNamedByHostToIPURL(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	p := testnet.NewProxy(t)
	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{"proxy.test": {netip.MustParseAddr("127.0.0.2")}})
	srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
	_, port, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: net.JoinHostPort("proxy.test", port)})
	tr.DialContext = (&net.Dialer{Resolver: dns.Resolver()}).DialContext

	get(t, t.Context(), e.client(tr, otelhooks.WithMeterProvider(m.mp)), srv.URL)
	assert.Equal(t, []string{"proxy.test.", "proxy.test."}, dns.Queries()[:2], "A and AAAA for the proxy")

	spans := e.spans()
	d := one(t, spans, "http.dns")
	assert.Equal(t, "proxy.test", attrValue(t, d, "dns.question.name").AsString())
	assert.Equal(t, []string{"127.0.0.2"}, attrValue(t, d, "dns.answers").AsStringSlice())
	assert.Equal(t, one(t, spans, "http.getconn").SpanContext().SpanID(), d.Parent().SpanID())
	lookups := points(t, m.collect(t), "dns.lookup.duration")
	require.Len(t, lookups, 1)
	assert.Equal(t, uint64(1), lookups[0].count)
	assert.Equal(t, "proxy.test", lookups[0].attrs["dns.question.name"])
	one(t, spans, "http.proxy_connect")
}

// TestMetricsConnectionsThroughProxy pins the connection metrics of a CONNECT
// tunnel: server.address and server.port are the server's behind the proxy,
// as the conventions ask, and network.peer.address the proxy's.
func TestMetricsConnectionsThroughProxy(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	p := testnet.NewProxy(t)
	srv, tr := proxied(t, p, true, otelhooks.WithMeterProvider(m.mp))
	tr.DisableKeepAlives = false
	defer tr.CloseIdleConnections()
	get(t, t.Context(), e.client(tr, otelhooks.WithMeterProvider(m.mp)), srv.URL)

	origin := srv.Listener.Addr().(*net.TCPAddr)
	series := points(t, m.collect(t), "http.client.open_connections")
	require.NotEmpty(t, series)
	for _, pt := range series {
		assert.Equal(t, map[attribute.Key]string{
			"http.connection.state": pt.attrs["http.connection.state"],
			"server.address":        "127.0.0.1",
			"server.port":           strconv.Itoa(origin.Port),
			"network.peer.address":  "127.0.0.2",
		}, pt.attrs)
	}
}

// TestTransportProxyDirectRequestsUnchanged pins that a transport with a
// Proxy func that sends a request direct gets no proxy phase.
func TestTransportProxyDirectRequestsUnchanged(t *testing.T) {
	e := newEnv(t)
	srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
	tr.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil } //nolint:nilnil // direct, as ProxyFromEnvironment says it
	otelhooks.InstrumentTransport(tr)
	get(t, t.Context(), e.client(tr), srv.URL)
	spans := e.spans()
	assert.Empty(t, named(spans, "http.proxy_connect"))
	assertSequence(t, one(t, spans, "http.connect"), one(t, spans, "http.tls"))
}

// TestTransportProxyConnectThroughHTTPSProxy pins http.proxy_connect through
// an "https://" proxy: the connection to the proxy has a handshake of its
// own, and the CONNECT runs between it and the handshake with the server
// through the tunnel.
func TestTransportProxyConnectThroughHTTPSProxy(t *testing.T) {
	const delay = 30 * time.Millisecond
	ca := testnet.NewCA(t, "wiretrace test CA")
	origin := httptest.NewUnstartedServer(http.HandlerFunc(testnet.OK))
	origin.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "localhost", "localhost", "127.0.0.1")}}
	origin.Config.ErrorLog = testnet.QuietLog()
	origin.StartTLS()
	defer origin.Close()
	p := testnet.NewTLSProxy(t, ca.Leaf(t, "proxy.test", "proxy.test", "127.0.0.2"))
	p.Delay = delay
	_, proxyPort, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{"proxy.test": {netip.MustParseAddr("127.0.0.2")}})

	for _, proxyHost := range []string{"proxy.test", "127.0.0.2"} {
		for _, mode := range proxyModes {
			t.Run(proxyHost+" "+mode.name, func(t *testing.T) {
				e := newEnv(t)
				tr := &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
					Proxy:           http.ProxyURL(&url.URL{Scheme: "https", Host: net.JoinHostPort(proxyHost, proxyPort)}),
					DialContext:     (&net.Dialer{Resolver: dns.Resolver()}).DialContext,
				}
				defer tr.CloseIdleConnections()
				if mode.instrumented {
					otelhooks.InstrumentTransport(tr)
				}
				_, body := get(t, t.Context(), e.client(tr), testnet.ByName(t, origin.URL))
				assert.Equal(t, "ok", body)

				spans := e.spans()
				handshakes := named(spans, "http.tls")
				require.Len(t, handshakes, 2, "with the proxy, then with the server")
				pc := one(t, spans, "http.proxy_connect")
				assertSequence(t, one(t, spans, "http.connect"), handshakes[0], pc, handshakes[1])
				assert.GreaterOrEqual(t, pc.EndTime().Sub(pc.StartTime()), delay)
				// One request: the bound leaves room for a loaded machine's
				// scheduling; the interval is pinned by the sequence above and
				// the lower bound, and its precision by the median test.
				assert.Less(t, pc.EndTime().Sub(pc.StartTime()), delay+200*time.Millisecond)
				assert.Equal(t, "localhost", attrValue(t, handshakes[1], "server.address").AsString())
				if mode.instrumented {
					assert.Equal(t, int64(200), attrValue(t, pc, "http.response.status_code").AsInt64())
				}
			})
		}
	}
}

// TestTransportProxyConnectWithoutSubSpans pins the exchange as a pair of
// events on the request span under WithoutSubSpans.
func TestTransportProxyConnectWithoutSubSpans(t *testing.T) {
	e := newEnv(t)
	p := testnet.NewProxy(t)
	srv, tr := proxied(t, p, true)
	get(t, t.Context(), e.client(tr, otelhooks.WithoutSubSpans()), srv.URL)
	r := one(t, e.spans(), "GET")
	names := eventNames(r)
	start, done := slices.Index(names, "http.proxy_connect.start"), slices.Index(names, "http.proxy_connect.done")
	require.GreaterOrEqual(t, start, 0, "%v", names)
	require.Greater(t, done, start, "%v", names)
	assert.Less(t, slices.Index(names, "http.connect.done"), start)
	assert.Less(t, done, slices.Index(names, "http.tls.start"))
	assert.Equal(t, int64(200), eventAttrs(event(t, r, "http.proxy_connect.done"))["http.response.status_code"].AsInt64())
}

// TestMetricsProxyConnectRefusedUnsampled pins the error.type of a refused
// CONNECT in the metrics of a request whose trace is not sampled, where only
// the metrics' hooks are installed.
func TestMetricsProxyConnectRefusedUnsampled(t *testing.T) {
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, sdktrace.WithSampler(sdktrace.NeverSample()))
			m := newMeters(t)
			p := testnet.NewProxy(t)
			p.Status = http.StatusProxyAuthRequired
			srv, tr := proxied(t, p, mode.instrumented, otelhooks.WithMeterProvider(m.mp))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := e.client(tr, otelhooks.WithMeterProvider(m.mp)).Do(req)
			require.Error(t, err)
			require.Nil(t, resp)
			assert.Empty(t, e.spans())
			want := "proxy_connect_refused"
			if mode.instrumented {
				want = "proxy_auth_required"
			}
			durations := points(t, m.collect(t), "http.client.request.duration")
			require.Len(t, durations, 1)
			assert.Equal(t, want, durations[0].attrs["error.type"])
		})
	}
}
