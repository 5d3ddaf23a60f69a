package otelhooks_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// dialModes are the two ways a connection is paired with its setup: by
// InstrumentTransport's connection itself, or by the registry (TLS keying
// material, or address).
var dialModes = []struct {
	name       string
	instrument bool
}{
	{"instrumented", true},
	{"uninstrumented", false},
}

// connClient returns a client of NewTransport(base, WithConnectionSpans())
// recording to e, with base's connections instrumented if instrument.
func (e *env) connClient(base *http.Transport, instrument bool, opts ...otelhooks.Option) *http.Client {
	if instrument {
		otelhooks.InstrumentTransport(base)
	}
	return e.client(base, append([]otelhooks.Option{otelhooks.WithConnectionSpans()}, opts...)...)
}

// prefixed returns the ended spans whose name starts with prefix, in the
// order they started.
func prefixed(spans []sdktrace.ReadOnlySpan, prefix string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if strings.HasPrefix(s.Name(), prefix) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// children returns the spans whose parent is p, in the order they started.
func children(spans []sdktrace.ReadOnlySpan, p sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == p.SpanContext().SpanID() && s.SpanContext().TraceID() == p.SpanContext().TraceID() {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// linkTo returns the link of s to target, failing the test if there is not
// exactly one.
func linkTo(t *testing.T, s, target sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	t.Helper()
	var found []sdktrace.Link
	for _, l := range s.Links() {
		if l.SpanContext.Equal(target.SpanContext().WithRemote(l.SpanContext.IsRemote())) {
			found = append(found, l)
		}
	}
	require.Len(t, found, 1, "%s links to %s once: %v", s.Name(), target.Name(), s.Links())
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range found[0].Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// assertSetupOK asserts that setup is a root span of a trace of its own,
// ended without error or abandonment, with the given children in order.
func assertSetupOK(t *testing.T, spans []sdktrace.ReadOnlySpan, setup sdktrace.ReadOnlySpan, wantChildren ...string) {
	t.Helper()
	assert.False(t, setup.Parent().IsValid(), "a setup span is a root")
	assert.Equal(t, trace.SpanKindInternal, setup.SpanKind())
	assert.Equal(t, codes.Unset, setup.Status().Code, setup.Status().Description)
	_, abandoned := attrs(setup)["wiretrace.abandoned"]
	assert.False(t, abandoned, "setup abandoned")
	var got []string
	for _, c := range children(spans, setup) {
		got = append(got, c.Name())
		assertWithin(t, setup, c)
	}
	assert.Equal(t, wantChildren, got)
}

func TestConnSpansKeepAliveReuseAcrossTraces(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			defer srv.Close()
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			client := e.connClient(base, mode.instrument)
			target := testnet.ByName(t, srv.URL)
			port := srv.Listener.Addr().(*net.TCPAddr).Port

			var roots []trace.Span
			for range 3 {
				ctx, root := e.root(t.Context())
				get(t, ctx, client, target)
				root.End()
				roots = append(roots, root)
			}

			spans := e.spans()
			setups := prefixed(spans, "HTTP connection_setup ")
			require.Len(t, setups, 1, "one connection: %v", names(spans))
			setup := setups[0]
			hostPort := "localhost:" + strconv.Itoa(port)
			assert.Equal(t, "HTTP connection_setup "+hostPort, setup.Name())
			assertSetupOK(t, spans, setup, "DNS lookup localhost", "socket connect 127.0.0.1:"+strconv.Itoa(port))
			a := attrs(setup)
			assert.Equal(t, "localhost", a["server.address"].AsString())
			assert.Equal(t, int64(port), a["server.port"].AsInt64())
			assert.Equal(t, "http", a["url.scheme"].AsString())
			assert.Equal(t, "127.0.0.1", a["network.peer.address"].AsString())
			connect := prefixed(spans, "socket connect ")[0]
			assert.True(t, attrValue(t, connect, "wiretrace.connect.winner").AsBool())
			assert.Empty(t, named(spans, "http.getconn"), "no default-model connection spans")
			assert.Empty(t, named(spans, "http.connect"))

			gets := named(spans, "GET")
			require.Len(t, gets, 3)
			for i, g := range gets {
				assert.Equal(t, roots[i].SpanContext().TraceID(), g.SpanContext().TraceID())
				assert.NotEqual(t, setup.SpanContext().TraceID(), g.SpanContext().TraceID(), "the setup is a trace of its own")
				l := linkTo(t, g, setup)
				assert.Equal(t, int64(i+1), l["wiretrace.conn.requests"].AsInt64())
				assert.Equal(t, a["wiretrace.conn.id"], l["wiretrace.conn.id"])
				assert.GreaterOrEqual(t, l["wiretrace.conn.age_s"].AsFloat64(), 0.0)
				assert.Equal(t, "127.0.0.1", attrValue(t, g, "network.peer.address").AsString())
				assert.Contains(t, childrenOf(spans, g), "http.send")
				assert.Contains(t, childrenOf(spans, g), "http.receive")
			}
			waits := prefixed(spans, "HTTP wait_for_connection ")
			require.Len(t, waits, 1, "only the first request waited: the others found the connection idle")
			wait := waits[0]
			assert.Equal(t, "HTTP wait_for_connection "+hostPort, wait.Name())
			assert.Equal(t, gets[0].SpanContext().SpanID(), wait.Parent().SpanID())
			linkTo(t, wait, setup)
			assert.False(t, wait.EndTime().Before(setup.EndTime()), "the wait ends once the connection is set up")
			assert.False(t, wait.StartTime().After(setup.StartTime()), "the wait started the dial")
			later := linkTo(t, gets[2], setup)["wiretrace.conn.age_s"].AsFloat64()
			assert.Greater(t, later, linkTo(t, gets[1], setup)["wiretrace.conn.age_s"].AsFloat64(), "the connection ages")
		})
	}
}

func TestConnSpansHTTP2ManyStreamsOneConnection(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			const n = 30
			var hold sync.WaitGroup
			release := make(chan struct{})
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					hold.Done()
					<-release
				}
				testnet.OK(w, r)
			}), true)
			base.MaxConnsPerHost = 1
			client := e.connClient(base, mode.instrument)

			batch := func() {
				release = make(chan struct{})
				hold.Add(n)
				errs := make(chan error, n)
				for range n {
					go func() {
						ctx, root := e.root(t.Context())
						err := send(ctx, client, srv.URL+"/hold")
						root.End()
						errs <- err
					}()
				}
				hold.Wait() // all n streams are open at once
				close(release)
				for range n {
					require.NoError(t, <-errs)
				}
			}
			batch()
			first := e.spans()
			e.rec.Reset()
			batch()
			second := e.spans()

			setups := prefixed(first, "HTTP connection_setup ")
			require.Len(t, setups, 1, "MaxConnsPerHost 1: one dial")
			setup := setups[0]
			assertSetupOK(t, first, setup, "socket connect "+srv.Listener.Addr().String(), "TLS client handshake 127.0.0.1")
			tlsSpan := prefixed(first, "TLS client handshake ")[0]
			assert.Equal(t, "h2", attrValue(t, tlsSpan, "tls.next_protocol").AsString())
			assert.Empty(t, prefixed(second, "HTTP connection_setup "), "the second batch reuses the connection")

			var served []int64
			for _, spans := range [][]sdktrace.ReadOnlySpan{first, second} {
				gets := named(spans, "GET")
				require.Len(t, gets, n)
				for _, g := range gets {
					assert.Equal(t, "2", attrValue(t, g, "network.protocol.version").AsString())
					served = append(served, linkTo(t, g, setup)["wiretrace.conn.requests"].AsInt64())
				}
				for _, w := range prefixed(spans, "HTTP wait_for_connection ") {
					linkTo(t, w, setup)
				}
			}
			slices.Sort(served)
			for i, v := range served {
				assert.Equal(t, int64(i+1), v, "each stream is counted once")
			}
			if !assert.NotEmpty(t, prefixed(first, "HTTP wait_for_connection "), "the first streams waited for the dial") {
				for _, g := range named(first, "GET") {
					t.Logf("%v %v", attrs(g), eventNames(g))
				}
			}
			assert.Empty(t, prefixed(second, "HTTP wait_for_connection "), "an HTTP/2 connection in use is ready")
		})
	}
}

// slowTLSServer is an HTTPS server whose first TLS handshake waits, after
// the ClientHello arrived, until release is closed.
func slowTLSServer(t *testing.T) (srv *httptest.Server, base *http.Transport, hello, release chan struct{}) {
	t.Helper()
	ca := testnet.NewCA(t, "wiretrace test CA")
	hello, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv = httptest.NewUnstartedServer(http.HandlerFunc(testnet.OK))
	cert := ca.Leaf(t, "localhost", "localhost", "127.0.0.1")
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			once.Do(func() {
				close(hello)
				<-release
			})
			return nil, nil
		},
	}
	srv.Config.ErrorLog = testnet.QuietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, MaxConnsPerHost: 1}
	t.Cleanup(base.CloseIdleConnections)
	return srv, base, hello, release
}

func TestConnSpansDialOutlivesCanceledRequest(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			srv, base, hello, release := slowTLSServer(t)
			client := e.connClient(base, mode.instrument)

			// A starts the only dial the transport allows, and gives up
			// while its TLS handshake is under way.
			ctxA, cancelA := context.WithCancel(t.Context())
			ctxA, rootA := e.root(ctxA)
			errA := make(chan error, 1)
			go func() { errA <- send(ctxA, client, srv.URL) }()
			<-hello
			cancelA()
			require.ErrorIs(t, <-errA, context.Canceled)
			rootA.End()

			// B queues behind that dial, which goes on and serves it.
			ctxB, rootB := e.root(t.Context())
			asked := make(chan struct{})
			ctxB = httptrace.WithClientTrace(ctxB, &httptrace.ClientTrace{GetConn: func(string) { close(asked) }})
			errB := make(chan error, 1)
			go func() { errB <- send(ctxB, client, srv.URL) }()
			<-asked
			close(release)
			require.NoError(t, <-errB)
			rootB.End()

			spans := e.spans()
			gets := named(spans, "GET")
			require.Len(t, gets, 2)
			getA, getB := gets[0], gets[1]
			require.Equal(t, rootA.SpanContext().TraceID(), getA.SpanContext().TraceID())
			assert.Equal(t, codes.Error, getA.Status().Code)
			assert.Equal(t, "canceled", attrValue(t, getA, "error.type").AsString())
			assert.Empty(t, getA.Links(), "A never got a connection")
			waitA := one(t, children(spans, getA), "HTTP wait_for_connection "+srv.Listener.Addr().String())
			assert.Equal(t, codes.Error, waitA.Status().Code)
			assert.Equal(t, "canceled", attrValue(t, waitA, "error.type").AsString())
			assert.Empty(t, waitA.Links())

			setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
			assertSetupOK(t, spans, setup, "socket connect "+srv.Listener.Addr().String(), "TLS client handshake 127.0.0.1")
			handshake := prefixed(spans, "TLS client handshake ")[0]
			assert.Equal(t, codes.Unset, handshake.Status().Code)
			assert.Equal(t, "1.3", attrValue(t, handshake, "tls.protocol.version").AsString())
			assert.True(t, handshake.EndTime().After(getA.EndTime()), "the handshake went on after A gave up")
			assert.NotEqual(t, setup.SpanContext().TraceID(), getA.SpanContext().TraceID(), "not in the trace of the request that started it")

			assert.Equal(t, codes.Unset, getB.Status().Code)
			l := linkTo(t, getB, setup)
			assert.Equal(t, int64(1), l["wiretrace.conn.requests"].AsInt64(), "B is the first request the connection served")
			// B asked before the handshake could finish, so it waited for
			// the connection (unless its goroutine stalled between asking
			// and queueing for longer than the handshake took: then it
			// found the connection idle, and did not wait).
			waits := prefixed(children(spans, getB), "HTTP wait_for_connection ")
			for _, w := range waits {
				linkTo(t, w, setup)
				assert.False(t, w.EndTime().Before(setup.EndTime()), "B waited for the setup")
			}
			if len(waits) == 0 {
				t.Log("B found the connection idle")
			}
		})
	}
}

func TestConnSpansHappyEyeballsOneDeadAddress(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			const n = 5
			// The losing attempt may report after its request ended: wait
			// for all 2n attempts.
			connects := endSignal{prefix: "socket connect ", ended: make(chan sdktrace.ReadOnlySpan, 2*n)}
			e := newEnv(t, sdktrace.WithSpanProcessor(connects))
			// Only IPv4 listens: the ::1 attempt fails (refused, or no
			// IPv6 at all).
			ln4, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.1:0")
			require.NoError(t, err)
			port := strconv.Itoa(ln4.Addr().(*net.TCPAddr).Port)
			srv := &http.Server{Handler: http.HandlerFunc(testnet.OK), ErrorLog: testnet.QuietLog()}
			go func() { _ = srv.Serve(ln4) }()
			defer srv.Close()
			dns := testnet.NewDNSServer(t, map[string][]netip.Addr{
				"dual.test": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
			})
			// A fallback delay of a nanosecond runs both families' attempts
			// in parallel.
			dialer := &net.Dialer{Resolver: dns.Resolver(), FallbackDelay: 1}

			for range n {
				base := &http.Transport{DialContext: dialer.DialContext}
				client := e.connClient(base, mode.instrument)
				get(t, t.Context(), client, "http://dual.test:"+port+"/")
				base.CloseIdleConnections()
			}
			for range 2 * n {
				<-connects.ended
			}

			spans := e.spans()
			setups := prefixed(spans, "HTTP connection_setup dual.test:"+port)
			require.Len(t, setups, n)
			gets := named(spans, "GET")
			for i, setup := range setups {
				assert.Equal(t, codes.Unset, setup.Status().Code)
				assert.Equal(t, "127.0.0.1", attrValue(t, setup, "network.peer.address").AsString())
				kids := children(spans, setup)
				require.Len(t, kids, 3, "the lookup and both attempts: %v", names(kids))
				assert.Equal(t, "DNS lookup dual.test", kids[0].Name())
				assert.ElementsMatch(t, []string{"::1", "127.0.0.1"}, attrValue(t, kids[0], "dns.answers").AsStringSlice())
				var dead, live sdktrace.ReadOnlySpan
				for _, k := range kids[1:] {
					switch k.Name() {
					case "socket connect [::1]:" + port:
						dead = k
					case "socket connect 127.0.0.1:" + port:
						live = k
					}
				}
				require.NotNil(t, dead, "the ::1 attempt is visible")
				require.NotNil(t, live)
				assert.Equal(t, codes.Error, dead.Status().Code)
				assert.Equal(t, "ipv6", attrValue(t, dead, "network.type").AsString())
				assert.Equal(t, codes.Unset, live.Status().Code)
				assert.True(t, attrValue(t, live, "wiretrace.connect.winner").AsBool())
				linkTo(t, gets[i], setup)
			}
		})
	}
}

func TestConnSpansConnectionRefused(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			addr := testnet.RefusedAddr(t)
			base := &http.Transport{}
			client := e.connClient(base, mode.instrument)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/", nil)
			require.NoError(t, err)
			_, err = client.Do(req)
			require.Error(t, err)

			spans := e.spans()
			setup := one(t, spans, "HTTP connection_setup "+addr)
			assert.Equal(t, codes.Error, setup.Status().Code)
			assert.Equal(t, "connection_refused", attrValue(t, setup, "error.type").AsString())
			connect := one(t, children(spans, setup), "socket connect "+addr)
			assert.Equal(t, "connection_refused", attrValue(t, connect, "error.type").AsString())
			g := one(t, spans, "GET")
			assert.Empty(t, g.Links(), "no connection served the request")
			wait := one(t, children(spans, g), "HTTP wait_for_connection "+addr)
			assert.Equal(t, codes.Error, wait.Status().Code)
			assert.Equal(t, "connection_refused", attrValue(t, wait, "error.type").AsString())
		})
	}
}

func TestConnSpansConnectionDurationExemplarIsTheSetup(t *testing.T) {
	e := newEnv(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithExemplarFilter(exemplar.AlwaysOnFilter))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := otelhooks.InstrumentTransport(&http.Transport{}, otelhooks.WithMeterProvider(mp))
	client := e.client(base, otelhooks.WithConnectionSpans(), otelhooks.WithMeterProvider(mp))
	get(t, t.Context(), client, srv.URL)
	base.CloseIdleConnections() // the connection's lifetime ends

	setup := one(t, e.spans(), "HTTP connection_setup "+srv.Listener.Addr().String())
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(t.Context(), &rm))
	var found bool
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.client.connection.duration" {
				continue
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			require.True(t, ok)
			require.Len(t, h.DataPoints, 1)
			dp := h.DataPoints[0]
			peer, _ := dp.Attributes.Value("network.peer.address")
			assert.Equal(t, attrValue(t, setup, "network.peer.address").AsString(), peer.AsString())
			require.Len(t, dp.Exemplars, 1)
			sc := setup.SpanContext()
			assert.Equal(t, sc.SpanID(), trace.SpanID(dp.Exemplars[0].SpanID))
			assert.Equal(t, sc.TraceID(), trace.TraceID(dp.Exemplars[0].TraceID))
			found = true
		}
	}
	assert.True(t, found, "http.client.connection.duration recorded")
}

func TestConnSpansDefaultModelHasNoSetupSpans(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	get(t, t.Context(), e.client(base), srv.URL)
	spans := e.spans()
	assert.Empty(t, prefixed(spans, "HTTP "), "no connection model without the option")
	assert.Len(t, named(spans, "http.getconn"), 1)
	assert.Empty(t, one(t, spans, "GET").Links())
}

func TestConnSpansConcurrentRequestsLinkTheirOwnConnection(t *testing.T) {
	e := newEnv(t)
	// The server tells each request which client port it came from: the
	// ground truth of which connection served it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		_, _ = io.WriteString(w, port)
	}))
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 4}
	defer base.CloseIdleConnections()
	client := e.connClient(base, true)

	const n, workers = 100, 8
	var mu sync.Mutex
	portOf := make(map[trace.TraceID]int64) // request's trace → client port
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range n / workers {
				ctx, root := e.root(t.Context())
				_, body := get(t, ctx, client, srv.URL)
				root.End()
				p, err := strconv.ParseInt(body, 10, 64)
				if !assert.NoError(t, err) { //nolint:testifylint // not the test's goroutine: require would not stop it
					return
				}
				mu.Lock()
				portOf[root.SpanContext().TraceID()] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	spans := e.spans()
	setupByID := make(map[trace.SpanID]sdktrace.ReadOnlySpan)
	for _, s := range prefixed(spans, "HTTP connection_setup ") {
		setupByID[s.SpanContext().SpanID()] = s
	}
	gets := named(spans, "GET")
	require.Len(t, gets, n/workers*workers)
	for _, g := range gets {
		require.Len(t, g.Links(), 1)
		setup, ok := setupByID[g.Links()[0].SpanContext.SpanID()]
		require.True(t, ok, "the link points to a setup span")
		assert.Equal(t, portOf[g.SpanContext().TraceID()], attrValue(t, setup, "network.local.port").AsInt64(),
			"the request links to the setup of the connection that served it")
	}
	assert.Less(t, len(setupByID), len(gets), "connections were reused")
}

// endSignal is a span processor that reports each span whose name starts
// with prefix as it ends.
type endSignal struct {
	prefix string
	ended  chan sdktrace.ReadOnlySpan
}

func (e endSignal) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e endSignal) OnEnd(s sdktrace.ReadOnlySpan) {
	if strings.HasPrefix(s.Name(), e.prefix) {
		e.ended <- s
	}
}
func (endSignal) Shutdown(context.Context) error   { return nil }
func (endSignal) ForceFlush(context.Context) error { return nil }

func TestConnSpansOrphanDialCanceledByCloseIdleConnections(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			setupEnded := endSignal{prefix: "HTTP connection_setup ", ended: make(chan sdktrace.ReadOnlySpan, 1)}
			e := newEnv(t, sdktrace.WithSpanProcessor(setupEnded))
			srv, base, hello, release := slowTLSServer(t)
			defer close(release)
			client := e.connClient(base, mode.instrument)

			ctx, cancel := context.WithCancel(t.Context())
			errA := make(chan error, 1)
			go func() { errA <- send(ctx, client, srv.URL) }()
			<-hello
			cancel()
			require.ErrorIs(t, <-errA, context.Canceled)
			// Nobody waits for the dial any more: CloseIdleConnections
			// cancels it, mid-handshake.
			base.CloseIdleConnections()
			setup := <-setupEnded.ended

			assert.Equal(t, "HTTP connection_setup "+srv.Listener.Addr().String(), setup.Name())
			assert.Equal(t, codes.Error, setup.Status().Code)
			assert.Equal(t, "canceled", attrValue(t, setup, "error.type").AsString())
			spans := e.spans()
			handshake := one(t, children(spans, setup), "TLS client handshake 127.0.0.1")
			assert.Equal(t, codes.Error, handshake.Status().Code)
			e.assertAllEnded(t)
		})
	}
}

// TestConnSpansDialCanceledBetweenLookupAndConnect pins the one place where
// a dial's end shows in no hook: net/http cancels a dial nobody waits for
// (CloseIdleConnections) after its lookup and before its first connect
// attempt, and net.Dialer returns without one. The transport's
// CloseIdleConnections ends such a setup, failed as canceled.
func TestConnSpansDialCanceledBetweenLookupAndConnect(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			setupEnded := endSignal{prefix: "HTTP connection_setup ", ended: make(chan sdktrace.ReadOnlySpan, 1)}
			e := newEnv(t, sdktrace.WithSpanProcessor(setupEnded))
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			defer srv.Close()
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			client := e.connClient(base, mode.instrument)

			ctx, cancel := context.WithCancel(t.Context())
			errA := make(chan error, 1)
			returned := make(chan struct{})
			var connects atomic.Int32
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				// The request gives up during its lookup, and returns.
				DNSStart: func(httptrace.DNSStartInfo) {
					cancel()
					<-returned
				},
				// Nobody waits for the dial any more: it is canceled
				// before it connects.
				DNSDone:      func(httptrace.DNSDoneInfo) { client.CloseIdleConnections() },
				ConnectStart: func(string, string) { connects.Add(1) },
			})
			target := testnet.ByName(t, srv.URL)
			go func() {
				errA <- send(ctx, client, target)
				close(returned)
			}()
			var setup sdktrace.ReadOnlySpan
			select {
			case setup = <-setupEnded.ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the setup of the canceled dial never ended")
			}

			require.ErrorIs(t, <-errA, context.Canceled)
			assert.Zero(t, connects.Load(), "the dial made no connect attempt")
			assert.Equal(t, codes.Error, setup.Status().Code)
			assert.Equal(t, "canceled", attrValue(t, setup, "error.type").AsString())
			one(t, children(e.spans(), setup), "DNS lookup localhost")
			e.assertAllEnded(t)
		})
	}
}

func TestConnSpansWithoutSubSpansWaitIsEvents(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.connClient(base, false, otelhooks.WithoutSubSpans())
	get(t, t.Context(), client, srv.URL)
	get(t, t.Context(), client, srv.URL)

	spans := e.spans()
	setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
	assert.Len(t, children(spans, setup), 1, "the setup's phases stay spans, in their own trace")
	assert.Empty(t, prefixed(spans, "HTTP wait_for_connection "))
	gets := named(spans, "GET")
	require.Len(t, gets, 2)
	assert.Contains(t, eventNames(gets[0]), "http.wait_for_connection.start")
	assert.Contains(t, eventNames(gets[0]), "http.wait_for_connection.done")
	assert.NotContains(t, eventNames(gets[1]), "http.wait_for_connection.start", "the second found the connection idle")
	assert.NotContains(t, eventNames(gets[0]), "http.getconn.start")
	for _, g := range gets {
		linkTo(t, g, setup)
	}
}

// connectProxy starts an HTTP proxy on 127.0.0.1 that tunnels CONNECT
// requests and forwards plain ones, and returns its URL.
func connectProxy(t *testing.T) *url.URL {
	t.Helper()
	var wg sync.WaitGroup
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: r.Host}).ServeHTTP(w, r)
			return
		}
		upstream, err := new(net.Dialer).DialContext(r.Context(), "tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		// Counted before the hijack: until then, proxy.Close waits for
		// this handler, so the cleanup's Wait cannot start before this Add.
		wg.Add(2)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			_ = upstream.Close()
			wg.Add(-2)
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		pipe := func(dst, src net.Conn) {
			defer wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
		}
		go pipe(conn, upstream)
		go pipe(upstream, conn)
	}))
	t.Cleanup(func() {
		proxy.Close()
		wg.Wait()
	})
	u, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	return u
}

func TestConnSpansThroughProxy(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https CONNECT"}[useTLS], func(t *testing.T) {
			e := newEnv(t)
			proxyURL := connectProxy(t)
			var srv *httptest.Server
			var base *http.Transport
			if useTLS {
				srv, base = testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
			} else {
				srv = httptest.NewServer(http.HandlerFunc(testnet.OK))
				t.Cleanup(srv.Close)
				base = &http.Transport{}
				t.Cleanup(base.CloseIdleConnections)
			}
			base.Proxy = http.ProxyURL(proxyURL)
			client := e.connClient(base, false)
			get(t, t.Context(), client, srv.URL)
			get(t, t.Context(), client, srv.URL)

			spans := e.spans()
			setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
			want := []string{"socket connect " + proxyURL.Host}
			if useTLS {
				want = append(want, "TLS client handshake 127.0.0.1")
			}
			assertSetupOK(t, spans, setup, want...)
			gets := named(spans, "GET")
			require.Len(t, gets, 2)
			for i, g := range gets {
				assert.Equal(t, int64(i+1), linkTo(t, g, setup)["wiretrace.conn.requests"].AsInt64())
			}
		})
	}
}

// TestDefaultModelLosesTheOrphanDial pins what WithConnectionSpans is for:
// in the default model, the same run as TestConnSpansDialOutlivesCanceledRequest
// leaves the handshake abandoned in the trace of the request that gave up,
// and the request the connection served shows a wait with no cause.
func TestDefaultModelLosesTheOrphanDial(t *testing.T) {
	e := newEnv(t)
	srv, base, hello, release := slowTLSServer(t)
	client := e.client(base)

	ctxA, cancelA := context.WithCancel(t.Context())
	errA := make(chan error, 1)
	go func() { errA <- send(ctxA, client, srv.URL) }()
	<-hello
	cancelA()
	require.ErrorIs(t, <-errA, context.Canceled)
	errB := make(chan error, 1)
	go func() { errB <- send(t.Context(), client, srv.URL) }()
	close(release)
	require.NoError(t, <-errB)

	spans := e.spans()
	gets := named(spans, "GET")
	require.Len(t, gets, 2)
	handshake := one(t, spans, "http.tls")
	assert.Equal(t, gets[0].SpanContext().TraceID(), handshake.SpanContext().TraceID(), "in the trace of the request that gave up")
	assert.True(t, attrValue(t, handshake, "wiretrace.abandoned").AsBool(), "ended with that request, before the handshake did")
	getconnB := named(children(spans, gets[1]), "http.getconn")
	require.Len(t, getconnB, 1)
	assert.Empty(t, children(spans, getconnB[0]), "B waited for a dial it shows nothing of")
	assert.Empty(t, gets[1].Links())
}

func TestConnSpansThroughTestnetProxy(t *testing.T) {
	tests := []struct {
		name       string
		tlsProxy   bool
		status     int
		wantTLS    []string
		wantFailed bool
	}{
		{name: "http proxy", wantTLS: []string{"TLS client handshake 127.0.0.1"}},
		{name: "https proxy", tlsProxy: true, wantTLS: []string{"TLS client handshake 127.0.0.2", "TLS client handshake 127.0.0.1"}},
		{name: "CONNECT refused", status: http.StatusForbidden, wantFailed: true},
	}
	for _, tt := range tests {
		for _, mode := range dialModes {
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				e := newEnv(t)
				ca := testnet.NewCA(t, "wiretrace test CA")
				srv := httptest.NewUnstartedServer(http.HandlerFunc(testnet.OK))
				srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "localhost", "localhost", "127.0.0.1")}}
				srv.Config.ErrorLog = testnet.QuietLog()
				srv.StartTLS()
				t.Cleanup(srv.Close)
				var proxy *testnet.Proxy
				scheme := "http://"
				if tt.tlsProxy {
					proxy, scheme = testnet.NewTLSProxy(t, ca.Leaf(t, "proxy", "127.0.0.2")), "https://"
				} else {
					proxy = testnet.NewProxy(t)
				}
				if tt.status != 0 {
					proxy.Status = tt.status
				}
				proxyURL, err := url.Parse(scheme + proxy.Addr())
				require.NoError(t, err)
				base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, Proxy: http.ProxyURL(proxyURL)}
				t.Cleanup(base.CloseIdleConnections)
				client := e.connClient(base, mode.instrument)

				err = send(t.Context(), client, srv.URL)
				spans := e.spans()
				setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
				assert.Empty(t, named(spans, "http.proxy_connect"), "the CONNECT is inside the setup")
				if tt.wantFailed {
					require.Error(t, err)
					assert.Equal(t, codes.Error, setup.Status().Code)
					assert.Empty(t, one(t, spans, "GET").Links())
					return
				}
				require.NoError(t, err)
				want := append([]string{"socket connect " + proxy.Addr()}, tt.wantTLS...)
				assertSetupOK(t, spans, setup, want...)
				linkTo(t, one(t, spans, "GET"), setup)
			})
		}
	}
}

// waitUntilGetConnBlocks returns once some goroutine waits in net/http's
// getConn for a connection: the only way to know that a request is queued
// for a busy connection, short of a hook net/http does not have.
func waitUntilGetConnBlocks(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for t.Context().Err() == nil {
		n := runtime.Stack(buf, true)
		for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "net/http.(*Transport).getConn(") {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatal("no request waits for a connection")
}

// TestConnSpansWaitForBusyConnection is the conventions' third example: the
// request waits for a connection that other requests use, and its wait span
// links to that connection's setup, long over.
func TestConnSpansWaitForBusyConnection(t *testing.T) {
	for _, mode := range dialModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t)
			arrived, release := make(chan struct{}), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					close(arrived)
					<-release
				}
				testnet.OK(w, r)
			}))
			defer srv.Close()
			base := &http.Transport{MaxConnsPerHost: 1}
			defer base.CloseIdleConnections()
			client := e.connClient(base, mode.instrument)

			// Each body is read to its end, so that the connection is
			// kept (closing it unread would close the connection).
			fetch := func(target string) error {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
				if err != nil {
					return err
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				return errors.Join(err, resp.Body.Close())
			}
			errA := make(chan error, 1)
			go func() { errA <- fetch(srv.URL + "/hold") }()
			<-arrived // A holds the only connection
			errB := make(chan error, 1)
			go func() { errB <- fetch(srv.URL + "/") }()
			waitUntilGetConnBlocks(t) // B is queued for it
			close(release)
			require.NoError(t, <-errA)
			require.NoError(t, <-errB)

			spans := e.spans()
			setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
			gets := named(spans, "GET")
			require.Len(t, gets, 2)
			getB := gets[1]
			assert.Equal(t, int64(2), linkTo(t, getB, setup)["wiretrace.conn.requests"].AsInt64())
			wait := one(t, children(spans, getB), "HTTP wait_for_connection "+srv.Listener.Addr().String())
			linkTo(t, wait, setup)
			assert.True(t, wait.StartTime().After(setup.EndTime()), "the connection was set up long before")
			// The connection goes back to the pool when net/http reads the
			// end of A's body, just before A's span ends.
			receiveA := one(t, children(spans, gets[0]), "http.receive")
			assert.False(t, wait.EndTime().Before(receiveA.StartTime()), "B got it once A's response came")
		})
	}
}

func TestConnSpansWithoutRequestSpanLinksTheSpanInTheContext(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.connClient(base, true, otelhooks.WithoutRequestSpan())
	ctx, outer := e.root(t.Context())
	get(t, ctx, client, srv.URL)
	outer.End()

	spans := e.spans()
	setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
	root := one(t, spans, "root")
	linkTo(t, root, setup)
	assert.Contains(t, childrenOf(spans, root), "HTTP wait_for_connection "+srv.Listener.Addr().String())
	assert.Empty(t, named(spans, "GET"))
}

func TestConnSpansDialTLSContext(t *testing.T) {
	e := newEnv(t)
	srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
	// The handshake happens inside the dial; net/http's own is a no-op.
	dialer := &tls.Dialer{Config: base.TLSClientConfig}
	base.DialTLSContext = dialer.DialContext
	client := e.connClient(base, false)
	get(t, t.Context(), client, srv.URL)
	get(t, t.Context(), client, srv.URL)

	spans := e.spans()
	setup := one(t, spans, "HTTP connection_setup "+srv.Listener.Addr().String())
	assert.Equal(t, codes.Unset, setup.Status().Code)
	assert.Contains(t, childrenOf(spans, setup), "socket connect "+srv.Listener.Addr().String())
	for i, g := range named(spans, "GET") {
		assert.Equal(t, int64(i+1), linkTo(t, g, setup)["wiretrace.conn.requests"].AsInt64())
	}
}
