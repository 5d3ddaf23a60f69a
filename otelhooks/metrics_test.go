package otelhooks_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// meters is a meter provider for one test with a manual reader.
type meters struct {
	mp     *sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

func newMeters(t *testing.T) *meters {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &meters{mp: mp, reader: reader}
}

// collect returns the metrics recorded so far, by name.
func (m *meters) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, m.reader.Collect(t.Context(), &rm))
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelhooks.ScopeName, sm.Scope.Name)
		for _, mt := range sm.Metrics {
			out[mt.Name] = mt
		}
	}
	return out
}

// point is one data point, flattened for assertions.
type point struct {
	attrs map[attribute.Key]string
	count uint64 // histograms
	sum   float64
	value int64 // sums
}

func flatten(set attribute.Set) map[attribute.Key]string {
	m := make(map[attribute.Key]string)
	for _, kv := range set.ToSlice() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// points returns the data points of the named metric.
func points(t *testing.T, all map[string]metricdata.Metrics, name string) []point {
	t.Helper()
	mt, ok := all[name]
	require.True(t, ok, "no metric %s among %d", name, len(all))
	var out []point
	switch d := mt.Data.(type) {
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrs: flatten(p.Attributes), count: p.Count, sum: p.Sum})
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrs: flatten(p.Attributes), count: p.Count, sum: float64(p.Sum)})
		}
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, point{attrs: flatten(p.Attributes), value: p.Value})
		}
	default:
		require.Failf(t, "unexpected data", "%s: %T", name, mt.Data)
	}
	return out
}

// totalCount sums the counts of the histogram points.
func totalCount(ps []point) uint64 {
	var n uint64
	for _, p := range ps {
		n += p.count
	}
	return n
}

func TestMetricsRequests(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", testnet.OK)
	mux.HandleFunc("/missing", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := e.client(base, otelhooks.WithMeterProvider(m.mp))

	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/ok")      // new connection, DNS
	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/ok")      // reused
	get(t, t.Context(), client, testnet.ByName(t, srv.URL)+"/missing") // 404

	all := m.collect(t)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	base200 := map[attribute.Key]string{
		"http.request.method": "GET", "server.address": "localhost", "server.port": port, "url.scheme": "http",
		"http.response.status_code": "200", "network.protocol.version": "1.1",
	}
	base404 := map[attribute.Key]string{
		"http.request.method": "GET", "server.address": "localhost", "server.port": port, "url.scheme": "http",
		"http.response.status_code": "404", "network.protocol.version": "1.1", "error.type": "404",
	}
	duration := points(t, all, "http.client.request.duration")
	require.Len(t, duration, 2)
	byStatus := map[string]point{}
	for _, p := range duration {
		byStatus[p.attrs["http.response.status_code"]] = p
	}
	assert.Equal(t, base200, byStatus["200"].attrs)
	assert.Equal(t, uint64(2), byStatus["200"].count)
	assert.Equal(t, base404, byStatus["404"].attrs)
	assert.Equal(t, uint64(1), byStatus["404"].count)
	for _, p := range duration {
		assert.Positive(t, p.sum)
		for k := range p.attrs {
			assert.NotEqual(t, attribute.Key("url.full"), k, "no high-cardinality attribute")
		}
	}

	resp := points(t, all, "http.client.response.body.size")
	assert.Equal(t, uint64(3), totalCount(resp))
	assert.InDelta(t, float64(2+2+len("404 page not found\n")), resp[0].sum+sumOthers(resp, 0), 0)
	assert.Equal(t, uint64(3), totalCount(points(t, all, "http.client.request.body.size")))

	active := points(t, all, "http.client.active_requests")
	require.Len(t, active, 1)
	assert.Zero(t, active[0].value, "every request ended")
	assert.Equal(t, map[attribute.Key]string{
		"http.request.method": "GET", "server.address": "localhost", "server.port": port, "url.scheme": "http",
	}, active[0].attrs)

	queue := points(t, all, "http.client.request.time_in_queue")
	assert.Equal(t, uint64(3), totalCount(queue))

	dns := points(t, all, "dns.lookup.duration")
	require.Len(t, dns, 1)
	assert.Equal(t, map[attribute.Key]string{"dns.question.name": "localhost"}, dns[0].attrs)
	assert.Equal(t, uint64(1), dns[0].count, "one lookup: the second request reused the connection")
}

func sumOthers(ps []point, skip int) float64 {
	var s float64
	for i, p := range ps {
		if i != skip {
			s += p.sum
		}
	}
	return s
}

func TestMetricsDNSFailure(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	dns := testnet.NewDNSServer(t, nil)
	base := &http.Transport{DialContext: (&net.Dialer{Resolver: dns.Resolver()}).DialContext}
	defer base.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://nowhere.test/", nil)
	require.NoError(t, err)
	resp, err := e.client(base, otelhooks.WithMeterProvider(m.mp)).Do(req)
	require.Error(t, err)
	require.Nil(t, resp)

	all := m.collect(t)
	lookups := points(t, all, "dns.lookup.duration")
	require.Len(t, lookups, 1)
	assert.Equal(t, map[attribute.Key]string{"dns.question.name": "nowhere.test", "error.type": "dns_not_found"}, lookups[0].attrs)
	duration := points(t, all, "http.client.request.duration")
	require.Len(t, duration, 1)
	assert.Equal(t, "dns_not_found", duration[0].attrs["error.type"])
	assert.NotContains(t, duration[0].attrs, attribute.Key("http.response.status_code"))
	assert.NotContains(t, all, "http.client.response.body.size", "no response, no response size")
}

func TestMetricsTimeInQueue(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		testnet.OK(w, r)
	}))
	defer srv.Close()
	base := &http.Transport{MaxConnsPerHost: 1}
	defer base.CloseIdleConnections()
	client := e.client(base, otelhooks.WithMeterProvider(m.mp))

	// Both requests report GetConn before the first is let go, so the
	// second certainly waits in the pool for the only connection.
	queued := make(chan struct{}, 2)
	ctx := clienttrace.WithClientTrace(t.Context(), &clienttrace.ClientTrace{
		GetConn: func(string) { queued <- struct{}{} },
	})
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- send(ctx, client, srv.URL) }()
	}
	<-queued
	<-queued
	<-arrived // one request holds the connection; the other waits for it
	close(release)
	<-arrived
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)

	queue := points(t, m.collect(t), "http.client.request.time_in_queue")
	require.Len(t, queue, 1)
	assert.Equal(t, uint64(2), queue[0].count)

	// The metric measures what the http.getconn spans show: GetConn to
	// GotConn, for both requests.
	spans := e.spans()
	getconns := named(spans, "http.getconn")
	require.Len(t, getconns, 2)
	var spanSum float64
	for _, g := range getconns {
		spanSum += g.EndTime().Sub(g.StartTime()).Seconds()
	}
	assert.InDelta(t, spanSum, queue[0].sum, 0.001, "the same two waits: the metric from the hooks' instants, the spans within lockSlack of them")

	// The request that waited got the connection only once the other's
	// response had begun: its wait covers the other's.
	first, second := getconns[0], getconns[1]
	if second.EndTime().Before(first.EndTime()) {
		first, second = second, first
	}
	matched := 0
	for _, w := range named(spans, "http.wait") {
		if w.Parent().SpanID() == first.Parent().SpanID() {
			matched++
			assert.False(t, second.EndTime().Before(w.EndTime()), "the queued request waited for the other's response")
		}
	}
	assert.Equal(t, 1, matched)
}

func TestMetricsUnsampledRequestsCount(t *testing.T) {
	e := newEnv(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	m := newMeters(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	client := e.client(srv.Client().Transport, otelhooks.WithMeterProvider(m.mp))
	for range 3 {
		get(t, t.Context(), client, srv.URL)
	}
	assert.Empty(t, e.spans())
	assert.Equal(t, uint64(3), totalCount(points(t, m.collect(t), "http.client.request.duration")))
}

func TestMetricsOff(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	get(t, t.Context(), e.client(srv.Client().Transport, otelhooks.WithMeterProvider(m.mp), otelhooks.WithoutMetrics()), srv.URL)
	assert.Empty(t, m.collect(t))
}

func TestInstrumentDialerWithoutMetricsRecordsNone(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := otelhooks.InstrumentTransport(&http.Transport{}, otelhooks.WithMeterProvider(m.mp), otelhooks.WithoutMetrics())
	defer base.CloseIdleConnections()
	get(t, t.Context(), e.client(base, otelhooks.WithoutMetrics()), srv.URL)
	base.CloseIdleConnections()

	assert.Empty(t, m.collect(t), "no connection metric, open or closed")
	if tcpInfoSupported {
		r := one(t, e.spans(), "GET")
		assert.Positive(t, attrValue(t, r, "wiretrace.tcp.rtt_s").AsFloat64(), "the connection is still instrumented for the span")
	}
}

func TestMetricsConnections(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := otelhooks.InstrumentTransport(&http.Transport{}, otelhooks.WithMeterProvider(m.mp))
	client := e.client(base, otelhooks.WithMeterProvider(m.mp))

	open := func() map[string]int64 {
		out := map[string]int64{}
		all := m.collect(t)
		if _, ok := all["http.client.open_connections"]; !ok {
			return out
		}
		for _, p := range points(t, all, "http.client.open_connections") {
			out[p.attrs["http.connection.state"]] += p.value
		}
		return out
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"active": 1, "idle": 0}, open(), "in use while the body is read")
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, map[string]int64{"active": 0, "idle": 1}, open(), "idle in the pool")

	get(t, t.Context(), client, srv.URL) // reuses it
	assert.Equal(t, map[string]int64{"active": 0, "idle": 1}, open())

	base.CloseIdleConnections()
	assert.Equal(t, map[string]int64{"active": 0, "idle": 0}, open(), "back to zero once closed")

	all := m.collect(t)
	durations := points(t, all, "http.client.connection.duration")
	require.Len(t, durations, 1)
	assert.Equal(t, uint64(1), durations[0].count)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	assert.Equal(t, map[attribute.Key]string{
		"server.address": "127.0.0.1", "server.port": port, "network.peer.address": "127.0.0.1",
	}, durations[0].attrs)
}

func TestTCPFactsOnSpans(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()

	t.Run("instrumented connection", func(t *testing.T) {
		e := newEnv(t)
		base := otelhooks.InstrumentTransport(&http.Transport{})
		defer base.CloseIdleConnections()
		get(t, t.Context(), e.client(base), srv.URL)
		get(t, t.Context(), e.client(base), srv.URL)

		for _, r := range named(e.spans(), "GET") {
			if !tcpInfoSupported {
				assert.NotContains(t, attrs(r), attribute.Key("wiretrace.tcp.rtt_s"))
				continue
			}
			assert.Positive(t, attrValue(t, r, "wiretrace.tcp.rtt_s").AsFloat64(), "RTT on loopback is small but not zero")
			assert.Less(t, attrValue(t, r, "wiretrace.tcp.rtt_s").AsFloat64(), 1.0)
			assert.GreaterOrEqual(t, attrValue(t, r, "wiretrace.tcp.rtt_var_s").AsFloat64(), 0.0)
			assert.GreaterOrEqual(t, attrValue(t, r, "wiretrace.tcp.retransmits").AsInt64(), int64(0))
			assert.Positive(t, attrValue(t, r, "wiretrace.tcp.snd_cwnd").AsInt64())
			assert.Equal(t, "lo", attrValue(t, r, "network.interface.name").AsString())
		}
	})
	t.Run("HTTP/2 over TLS", func(t *testing.T) {
		e := newEnv(t)
		tlsSrv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), true)
		otelhooks.InstrumentTransport(base)
		get(t, t.Context(), e.client(base), tlsSrv.URL)
		r := one(t, e.spans(), "GET")
		assert.Equal(t, "2", attrValue(t, r, "network.protocol.version").AsString())
		if tcpInfoSupported {
			assert.Positive(t, attrValue(t, r, "wiretrace.tcp.rtt_s").AsFloat64(), "found under the TLS connection")
		}
	})
	t.Run("without the opt-in", func(t *testing.T) {
		e := newEnv(t)
		base := &http.Transport{}
		defer base.CloseIdleConnections()
		get(t, t.Context(), e.client(base), srv.URL)
		r := one(t, e.spans(), "GET")
		for k := range attrs(r) {
			assert.NotContains(t, string(k), "wiretrace.tcp.")
			assert.NotEqual(t, attribute.Key("network.interface.name"), k)
		}
	})
}

// TestMetricsOnlyRequestsOnNewConnectionsCountEachOnce: requests that record
// only metrics (unsampled), each on a new connection (keep-alives off), by
// name ("localhost", from the hosts file) and to an address, over HTTP and
// HTTPS, concurrently: their states are pooled once their dial is over (the
// dial hooks are installed for that, pool.go), and every request is counted
// once, every lookup once, and no request is left active.
func TestMetricsOnlyRequestsOnNewConnectionsCountEachOnce(t *testing.T) {
	const workers, perWorker = 8, 25
	for _, tls := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(tls), func(t *testing.T) {
			m := newMeters(t)
			unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
			var srv *httptest.Server
			if tls {
				srv = httptest.NewTLSServer(http.HandlerFunc(testnet.OK))
			} else {
				srv = httptest.NewServer(http.HandlerFunc(testnet.OK))
			}
			t.Cleanup(srv.Close)
			base := srv.Client().Transport.(*http.Transport).Clone()
			base.DisableKeepAlives = true
			if tls {
				base.TLSClientConfig.ServerName = "example.com" // httptest's certificate, by address or by name
			}
			t.Cleanup(base.CloseIdleConnections)
			client := &http.Client{Transport: otelhooks.NewTransport(base, otelhooks.WithTracerProvider(unsampled), otelhooks.WithMeterProvider(m.mp))}
			byName := testnet.ByName(t, srv.URL) // "localhost": net/http's own dial, with a lookup

			errs := make(chan error, workers)
			for w := range workers {
				go func() {
					var err error
					for i := range perWorker {
						target := srv.URL
						if (w+i)%2 == 0 {
							target = byName
						}
						if err = send(t.Context(), client, target+"/"); err != nil {
							break
						}
					}
					errs <- err
				}()
			}
			for range workers {
				require.NoError(t, <-errs)
			}

			all := m.collect(t)
			assert.Equal(t, uint64(workers*perWorker), totalCount(points(t, all, "http.client.request.duration")), "each request once")
			assert.Equal(t, uint64(workers*perWorker), totalCount(points(t, all, "http.client.request.time_in_queue")), "each wait for a connection once")
			assert.Equal(t, uint64(workers*perWorker/2), totalCount(points(t, all, "dns.lookup.duration")), "each lookup once: the requests by name")
			for _, p := range points(t, all, "http.client.active_requests") {
				assert.Zero(t, p.value, "no request left active: %v", p.attrs)
			}
		})
	}
}
