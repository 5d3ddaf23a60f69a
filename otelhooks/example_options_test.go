package otelhooks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// The README's usage, as written there.

var client = &http.Client{Transport: otelhooks.NewTransport(nil)}

func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close() // ends the request span and its phases
	return io.ReadAll(resp.Body)
}

// End of the README's usage.

// Example is the README's usage: a client whose transport traces every
// request, with the global tracer provider (set yours with
// otel.SetTracerProvider, or pass otelhooks.WithTracerProvider).
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()

	body, err := fetch(context.Background(), srv.URL)
	fmt.Println(string(body), err)
	// Output: hello <nil>
}

// helloServer answers "hello" to every request.
func helloServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
}

// do sends a GET to url through client under ctx and reads the body to the
// end.
func do(ctx context.Context, client *http.Client, url string, header ...string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// printAttrs prints the attributes of s whose keys start with prefix,
// sorted.
func printAttrs(s sdktrace.ReadOnlySpan, prefix string) {
	var lines []string
	for _, kv := range s.Attributes() {
		if strings.HasPrefix(string(kv.Key), prefix) {
			lines = append(lines, fmt.Sprintf("%s=%s", kv.Key, kv.Value.String()))
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}

// collect returns the metrics reader has, by name.
func collect(reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		fmt.Println(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// printOpenConnections prints the http.client.open_connections points.
func printOpenConnections(metrics map[string]metricdata.Metrics) {
	sum, _ := metrics["http.client.open_connections"].Data.(metricdata.Sum[int64])
	var lines []string
	for _, p := range sum.DataPoints {
		state, _ := p.Attributes.Value("http.connection.state")
		lines = append(lines, fmt.Sprintf("open connections, %s: %d", state.AsString(), p.Value))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

func ExampleWithMeterProvider() {
	srv := helloServer()
	defer srv.Close()

	// A ManualReader collects when asked: what tests and examples use.
	// Programs use a PeriodicReader with an exporter.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: otelhooks.NewTransport(base, otelhooks.WithMeterProvider(mp))}

	do(context.Background(), client, srv.URL)
	do(context.Background(), client, srv.URL)

	metrics := collect(reader)
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range metrics {
			if !yield(name) {
				return
			}
		}
	})
	fmt.Println(strings.Join(names, "\n"))
	duration := metrics["http.client.request.duration"].Data.(metricdata.Histogram[float64])
	p := duration.DataPoints[0]
	method, _ := p.Attributes.Value("http.request.method")
	status, _ := p.Attributes.Value("http.response.status_code")
	fmt.Printf("duration: %d requests, %s %d\n", p.Count, method.AsString(), status.AsInt64())
	// Output:
	// http.client.active_requests
	// http.client.request.body.size
	// http.client.request.duration
	// http.client.request.time_in_queue
	// http.client.response.body.size
	// duration: 2 requests, GET 200
}

func ExampleInstrumentTransport() {
	srv := helloServer()
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	// Before the transport's first request: its DialContext is replaced.
	base := otelhooks.InstrumentTransport(&http.Transport{}, otelhooks.WithMeterProvider(mp))
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: otelhooks.NewTransport(base, otelhooks.WithMeterProvider(mp))}

	do(context.Background(), client, srv.URL)
	do(context.Background(), client, srv.URL)

	// One connection, used by both requests, back in the pool.
	printOpenConnections(collect(reader))
	// Output:
	// open connections, active: 0
	// open connections, idle: 1
}

func ExampleInstrumentDialer() {
	srv := helloServer()
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	// For a transport built here, or one that is not an *http.Transport
	// but dials with a DialFunc.
	base := &http.Transport{DialContext: otelhooks.InstrumentDialer(nil, otelhooks.WithMeterProvider(mp))}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: otelhooks.NewTransport(base, otelhooks.WithMeterProvider(mp))}

	// The connection is active while the body is being read.
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	printOpenConnections(collect(reader))
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	printOpenConnections(collect(reader))
	// Output:
	// open connections, active: 1
	// open connections, idle: 0
	// open connections, active: 0
	// open connections, idle: 1
}

func ExampleWithRequestHeaders() {
	srv := helloServer()
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client := &http.Client{Transport: otelhooks.NewTransport(nil, otelhooks.WithTracerProvider(tp),
		otelhooks.WithRequestHeaders("X-Request-Id", "Authorization"),
		otelhooks.WithResponseHeaders("Content-Type"))}

	do(context.Background(), client, srv.URL, "X-Request-Id", "42", "Authorization", "Bearer secret")

	printAttrs(rec.Ended()[len(rec.Ended())-1], "http.re")
	// Output:
	// http.request.header.authorization=["REDACTED"]
	// http.request.header.x-request-id=["42"]
	// http.request.method=GET
	// http.response.body.size=5
	// http.response.header.content-type=["text/plain; charset=utf-8"]
	// http.response.status_code=200
}

func ExampleWithSpanNameFormatter() {
	srv := helloServer()
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))

	// A formatter written for otelhttp, which passes "" as the operation
	// to a transport's formatter.
	otelhttpFormatter := func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }

	client := &http.Client{Transport: otelhooks.NewTransport(nil, otelhooks.WithTracerProvider(tp),
		otelhooks.WithSpanNameFormatter(func(r *http.Request) string { return otelhttpFormatter("", r) }))}
	do(context.Background(), client, srv.URL+"/users")

	spans := rec.Ended()
	fmt.Println(spans[len(spans)-1].Name())
	// Output: GET /users
}

func ExampleWithSpanOptions() {
	srv := helloServer()
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client := &http.Client{Transport: otelhooks.NewTransport(nil, otelhooks.WithTracerProvider(tp),
		otelhooks.WithSpanOptions(trace.WithAttributes(attribute.String("peer.service", "weather"))))}

	do(context.Background(), client, srv.URL)

	spans := rec.Ended()
	printAttrs(spans[len(spans)-1], "peer.")
	// Output: peer.service=weather
}

func ExampleWithMetricAttributesFn() {
	srv := helloServer()
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	client := &http.Client{Transport: otelhooks.NewTransport(nil, otelhooks.WithMeterProvider(mp),
		otelhooks.WithMetricAttributesFn(func(r *http.Request) []attribute.KeyValue {
			// Low cardinality: a handful of values, never an id.
			return []attribute.KeyValue{attribute.String("app.api", strings.Split(r.URL.Path, "/")[1])}
		}))}

	do(context.Background(), client, srv.URL+"/users/1")
	do(context.Background(), client, srv.URL+"/users/2")
	do(context.Background(), client, srv.URL+"/orders/7")

	duration := collect(reader)["http.client.request.duration"].Data.(metricdata.Histogram[float64])
	var lines []string
	for _, p := range duration.DataPoints {
		api, _ := p.Attributes.Value("app.api")
		lines = append(lines, fmt.Sprintf("%s: %d", api.AsString(), p.Count))
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// orders: 1
	// users: 2
}

func ExampleWithClientTrace() {
	srv := helloServer()
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	// The application's own hooks, beside the spans, on every request,
	// sampled or not.
	client := &http.Client{Transport: otelhooks.NewTransport(base,
		otelhooks.WithClientTrace(func(context.Context) *clienttrace.ClientTrace {
			return &clienttrace.ClientTrace{
				GotConn: func(info clienttrace.GotConnInfo) { fmt.Println("reused:", info.Reused) },
				BodyDone: func(info clienttrace.BodyDoneInfo) {
					fmt.Println("body:", info.BytesRead, "bytes,", info.Reason)
				},
			}
		}))}

	do(context.Background(), client, srv.URL)
	do(context.Background(), client, srv.URL)
	// Output:
	// reused: false
	// body: 5 bytes, eof
	// reused: true
	// body: 5 bytes, eof
}
