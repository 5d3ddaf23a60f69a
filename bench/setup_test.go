package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// TestMain sets the global propagator every variant injects with: otelhttp
// uses the global one, and otelhooks' default follows it once it is set, so
// every variant sends the same traceparent (and no baggage) to the server.
func TestMain(m *testing.M) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	goleak.VerifyTestMain(m)
}

// parentName is the name of the span every request runs under. The span
// accounting leaves it out: the benchmark makes it, not a variant.
const parentName = "bench.parent"

// body is what the server answers with, to every request.
var body = make([]byte, 512)

func handler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(body)
}

// setup is a way of reaching the server: one server per setup, shared by
// every variant, and a fresh base transport per variant so connection pools
// never mix.
type setup struct {
	name string
	// keepAlive is whether a connection is reused: the benchmark warms it
	// up before the timer starts.
	keepAlive bool
	// start starts the server and returns the URL to request and a
	// function that makes the base transport of one variant.
	start func(tb testing.TB) (target string, newBase func() *http.Transport)
}

// setups are K, N, T and H2 of the benchmark suite (docs/performance.md).
var setups = []setup{
	{name: "K", keepAlive: true, start: startK},
	{name: "N", start: startN},
	{name: "T", start: startT},
	{name: "H2", keepAlive: true, start: startH2},
}

// K: HTTP/1.1 to 127.0.0.1, keep-alive: one connection, reused.
func startK(tb testing.TB) (string, func() *http.Transport) {
	tb.Helper()
	srv := startServer(tb, false, false)
	return srv.URL, func() *http.Transport {
		return &http.Transport{MaxIdleConnsPerHost: 1}
	}
}

// N: HTTP/1.1 to localhost:PORT, keep-alives disabled: every request
// resolves the name and dials a new connection.
func startN(tb testing.TB) (string, func() *http.Transport) {
	tb.Helper()
	srv := startServer(tb, false, false)
	u, err := url.Parse(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = net.JoinHostPort("localhost", port)
	return u.String(), func() *http.Transport {
		return &http.Transport{DisableKeepAlives: true}
	}
}

// T: HTTP/1.1 over TLS, keep-alives disabled and no session cache: a full
// handshake per request.
func startT(tb testing.TB) (string, func() *http.Transport) {
	tb.Helper()
	srv := startServer(tb, true, false)
	cfg := tlsConfig(tb, srv)
	return srv.URL, func() *http.Transport {
		return &http.Transport{DisableKeepAlives: true, TLSClientConfig: cfg.Clone()}
	}
}

// H2: HTTP/2 over TLS: one connection, every request a stream on it.
func startH2(tb testing.TB) (string, func() *http.Transport) {
	tb.Helper()
	srv := startServer(tb, true, true)
	cfg := tlsConfig(tb, srv)
	return srv.URL, func() *http.Transport {
		t := &http.Transport{TLSClientConfig: cfg.Clone()}
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		return t
	}
}

func startServer(tb testing.TB, withTLS, http2 bool) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(handler))
	// A client that closes mid-handshake is no news here.
	srv.Config.ErrorLog = testnet.QuietLog()
	switch {
	case withTLS:
		srv.EnableHTTP2 = http2
		srv.StartTLS()
	default:
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	return srv
}

// tlsConfig returns a client configuration that trusts srv's certificate.
func tlsConfig(tb testing.TB, srv *httptest.Server) *tls.Config {
	tb.Helper()
	t, ok := srv.Client().Transport.(*http.Transport)
	if !ok || t.TLSClientConfig == nil {
		tb.Fatal("httptest: no TLS client configuration")
	}
	return &tls.Config{RootCAs: t.TLSClientConfig.RootCAs, MinVersion: tls.VersionTLS12}
}

// get sends one GET to target through rt with ctx, reads the body to the end and
// closes it, as a well-behaved client does.
func get(ctx context.Context, rt http.RoundTripper, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// providers are the two tracer providers of a run, both AlwaysSample (or
// ParentBased(NeverSample)) over the same span processor.
type providers struct {
	sampled, unsampled *sdktrace.TracerProvider
}

func newProviders(sp sdktrace.SpanProcessor) providers {
	return providers{
		sampled: sdktrace.NewTracerProvider(
			sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(sp)),
		unsampled: sdktrace.NewTracerProvider(
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())), sdktrace.WithSpanProcessor(sp)),
	}
}

// parent starts the span a variant's requests run under.
func (p providers) parent(v *variant) (context.Context, trace.Span) {
	return p.forVariant(v).Tracer("bench").Start(context.Background(), parentName)
}

// forVariant returns the provider the variant's instrumentation and parent
// use.
func (p providers) forVariant(v *variant) trace.TracerProvider {
	if v.unsampled {
		return p.unsampled
	}
	return p.sampled
}
