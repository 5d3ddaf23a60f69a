package weather_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/wiretrace/wiretrace/examples/testing/weather"
)

// TestMain fails the tests if a goroutine outlives them: a server, a
// client connection or an exporter not shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTracerProvider returns a tracer provider that keeps every span in
// memory as soon as it ends (WithSyncer, not a batcher: nothing to flush),
// and the exporter to read them from. A span that never ends never shows
// up, so comparing the whole tree also proves that every span ended.
func newTracerProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// tree renders spans as a tree of names, two spaces of indent per level,
// children in the order they started: the shape of a trace in a string
// that is easy to compare, and to read when a test fails.
func tree(spans tracetest.SpanStubs) string {
	known := map[trace.SpanID]bool{}
	for _, s := range spans {
		known[s.SpanContext.SpanID()] = true
	}
	children := map[trace.SpanID][]tracetest.SpanStub{}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if parent := s.Parent.SpanID(); known[parent] {
			children[parent] = append(children[parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var walk func(spans []tracetest.SpanStub, depth int)
	walk = func(spans []tracetest.SpanStub, depth int) {
		slices.SortStableFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
		for _, s := range spans {
			fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth), s.Name)
			walk(children[s.SpanContext.SpanID()], depth+1)
		}
	}
	walk(roots, 0)
	return b.String()
}

// one returns the only span named name.
func one(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q", name)
	return found[0]
}

// attrs returns the attributes of s as a map.
func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(s.Attributes))
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// weatherServer is a fake weather API that remembers the traceparent
// header of each request.
type weatherServer struct {
	*httptest.Server
	mu           sync.Mutex
	traceparents []string
}

func newWeatherServer(t *testing.T, status int) *weatherServer {
	t.Helper()
	ws := &weatherServer{}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.mu.Lock()
		ws.traceparents = append(ws.traceparents, r.Header.Get("Traceparent"))
		ws.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "try again later", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"city":%q,"temp_c":21.5}`, r.URL.Query().Get("city"))
	}))
	t.Cleanup(ws.Close)
	return ws
}

func TestCurrentTracesTheRequest(t *testing.T) {
	t.Parallel()
	tp, exp := newTracerProvider(t)
	srv := newWeatherServer(t, http.StatusOK)
	client := weather.New(srv.URL, tp)
	defer client.CloseIdleConnections()

	// The application's own span, as a handler or a job would have.
	ctx, root := tp.Tracer("test").Start(t.Context(), "refresh")
	report, err := client.Current(ctx, "lisbon")
	root.End()
	require.NoError(t, err)
	assert.Equal(t, weather.Report{City: "lisbon", TempC: 21.5}, report)

	spans := exp.GetSpans()
	// A new connection to an IP address: a dial, no DNS lookup, no TLS.
	assert.Equal(t, `refresh
  GET
    http.getconn
      http.connect
    http.send
    http.wait
    http.receive
`, tree(spans))

	get := one(t, spans, "GET")
	assert.Equal(t, trace.SpanKindClient, get.SpanKind)
	assert.Equal(t, codes.Unset, get.Status.Code)
	got := attrs(get)
	assert.Equal(t, "GET", got["http.request.method"].AsString())
	assert.Equal(t, srv.URL+"/v1/current?city=lisbon", got["url.full"].AsString())
	assert.Equal(t, "127.0.0.1", got["server.address"].AsString())
	assert.Equal(t, int64(srv.Listener.Addr().(*net.TCPAddr).Port), got["server.port"].AsInt64())
	assert.Equal(t, int64(http.StatusOK), got["http.response.status_code"].AsInt64())
	assert.Equal(t, "1.1", got["network.protocol.version"].AsString())

	connect := one(t, spans, "http.connect")
	assert.Equal(t, "127.0.0.1", attrs(connect)["network.peer.address"].AsString())

	// One trace, and the server got the client span's context: its own
	// spans would join this trace.
	for _, s := range spans {
		assert.Equal(t, root.SpanContext().TraceID(), s.SpanContext.TraceID(), s.Name)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	assert.Equal(t, []string{fmt.Sprintf("00-%s-%s-01", get.SpanContext.TraceID(), get.SpanContext.SpanID())}, srv.traceparents)
}

func TestCurrentReusesTheConnection(t *testing.T) {
	t.Parallel()
	tp, exp := newTracerProvider(t)
	srv := newWeatherServer(t, http.StatusOK)
	client := weather.New(srv.URL, tp)
	defer client.CloseIdleConnections()

	_, err := client.Current(t.Context(), "lisbon")
	require.NoError(t, err)
	exp.Reset()
	_, err = client.Current(t.Context(), "oslo")
	require.NoError(t, err)

	// No parent span this time: the request span is the root. The
	// connection comes from the pool: no dial.
	spans := exp.GetSpans()
	assert.Equal(t, `GET
  http.getconn
  http.send
  http.wait
  http.receive
`, tree(spans))
	getconn := attrs(one(t, spans, "http.getconn"))
	assert.True(t, getconn["wiretrace.conn.reused"].AsBool())
	assert.Equal(t, "127.0.0.1", getconn["network.peer.address"].AsString())
}

func TestCurrentServerErrorFailsTheSpan(t *testing.T) {
	t.Parallel()
	tp, exp := newTracerProvider(t)
	srv := newWeatherServer(t, http.StatusServiceUnavailable)

	_, err := weather.New(srv.URL, tp).Current(t.Context(), "lisbon")
	require.EqualError(t, err, "weather: 503 Service Unavailable")

	// The client did not read the body, but closed it: every span
	// ended all the same.
	spans := exp.GetSpans()
	assert.Equal(t, `GET
  http.getconn
    http.connect
  http.send
  http.wait
  http.receive
`, tree(spans))
	get := one(t, spans, "GET")
	assert.Equal(t, codes.Error, get.Status.Code)
	assert.Equal(t, int64(http.StatusServiceUnavailable), attrs(get)["http.response.status_code"].AsInt64())
	assert.Equal(t, "503", attrs(get)["error.type"].AsString())
	// The phases themselves went well: the server answered.
	assert.Equal(t, codes.Unset, one(t, spans, "http.wait").Status.Code)
}

func TestCurrentConnectionRefusedFailsTheSpan(t *testing.T) {
	t.Parallel()
	tp, exp := newTracerProvider(t)
	srv := newWeatherServer(t, http.StatusOK)
	srv.Close() // nothing listens on its port any more

	_, err := weather.New(srv.URL, tp).Current(t.Context(), "lisbon")
	require.ErrorContains(t, err, "connection refused")

	// The dial failed: there was nothing to send, wait for or receive.
	spans := exp.GetSpans()
	assert.Equal(t, `GET
  http.getconn
    http.connect
`, tree(spans))
	get := one(t, spans, "GET")
	assert.Equal(t, codes.Error, get.Status.Code)
	assert.Equal(t, "connection_refused", attrs(get)["error.type"].AsString())
	connect := one(t, spans, "http.connect")
	assert.Equal(t, codes.Error, connect.Status.Code)
	assert.Equal(t, "connection_refused", attrs(connect)["error.type"].AsString())
}
