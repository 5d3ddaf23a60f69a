package otelhooks

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// review2RoundTripper hides the *http.Transport under it, so that the
// transport around it keeps no pool (keptContext's path).
type review2RoundTripper struct{ base http.RoundTripper }

func (rt review2RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return rt.base.RoundTrip(req)
}

// TestConnectionMetricsOfADialThatOutlivesItsRequestThroughAProxy: a
// request to an "https" URL through a proxy is canceled while its dial to
// the proxy is under way; net/http finishes the dial (its context keeps the
// request's values, not its cancellation: Transport.getConn) and pools the
// tunnel, which the next request uses. The connection's metrics name the
// server behind the proxy, as TestMetricsConnectionsThroughProxy pins for a
// dial that does not outlive its request: InstrumentDialer learns it from
// the request before it dials, since the request's context stops leading
// to the request once its round trip returned (sentCtx.returned,
// keptContext).
func TestConnectionMetricsOfADialThatOutlivesItsRequestThroughAProxy(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*http.Transport) http.RoundTripper
	}{
		{"pooled state", func(tr *http.Transport) http.RoundTripper { return tr }},
		{"no pool (keptContext)", func(tr *http.Transport) http.RoundTripper { return review2RoundTripper{tr} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))

			p := testnet.NewProxy(t)
			srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
			tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: p.Addr()})
			tr.MaxConnsPerHost = 1 // the second request waits for the first dial's tunnel

			dialing, release := make(chan struct{}), make(chan struct{})
			var dialOnce sync.Once
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialOnce.Do(func() {
					close(dialing)
					<-release
				})
				return new(net.Dialer).DialContext(ctx, network, addr)
			}
			tunneled := make(chan struct{})
			var tunnelOnce sync.Once
			tr.OnProxyConnectResponse = func(context.Context, *url.URL, *http.Request, *http.Response) error {
				tunnelOnce.Do(func() { close(tunneled) })
				return nil
			}
			InstrumentTransport(tr, WithMeterProvider(mp))
			rt := NewTransport(tc.wrap(tr), WithTracerProvider(tp), WithMeterProvider(mp))

			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() {
				resp, err := rt.RoundTrip(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				errc <- err
			}()
			<-dialing
			cancel()
			require.ErrorIs(t, <-errc, context.Canceled)
			close(release) // the dial goes on, for the pool
			<-tunneled     // serverAddr has named the connection's server

			require.NoError(t, roundTripRead(context.Background(), rt, srv.URL))
			require.Equal(t, []string{srv.Listener.Addr().String()}, p.Connects(), "one tunnel, made by the canceled request's dial")

			var rm metricdata.ResourceMetrics
			require.NoError(t, reader.Collect(context.Background(), &rm))
			origin := srv.Listener.Addr().(*net.TCPAddr)
			n := 0
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != "http.client.open_connections" {
						continue
					}
					for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
						n++
						addr, _ := dp.Attributes.Value("server.address")
						port, _ := dp.Attributes.Value("server.port")
						assert.Equal(t, "127.0.0.1", addr.String(), "server.address of the tunnel (the proxy is 127.0.0.2)")
						assert.Equal(t, strconv.Itoa(origin.Port), port.String(), "server.port of the tunnel")
					}
				}
			}
			require.NotZero(t, n, "no http.client.open_connections series")
		})
	}
}
