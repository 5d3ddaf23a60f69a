package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// TestMain fails the tests if a goroutine outlives them: a server, a
// client connection or an exporter not shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The services, wired as main wires them but with in-memory exporters: one
// request to the frontend is one trace across both services, the backend's
// server span under the frontend's client span.
func TestFrontendAndBackendShareOneTrace(t *testing.T) {
	frontendSpans, backendSpans := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
	frontendTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(frontendSpans))
	backendTP := sdktrace.NewTracerProvider(sdktrace.WithSyncer(backendSpans))
	defer func() {
		// After the spans were read: an in-memory exporter's Shutdown
		// forgets them.
		require.NoError(t, frontendTP.Shutdown(context.Background()))
		require.NoError(t, backendTP.Shutdown(context.Background()))
	}()

	backend := httptest.NewServer(backendHandler(backendTP.Tracer("test")))
	defer backend.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: otelhooks.NewTransport(base)}
	frontend := httptest.NewServer(frontendHandler(frontendTP.Tracer("test"), client, backend.URL))
	defer frontend.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, frontend.URL+"/", nil)
	require.NoError(t, err)
	resp, err := frontend.Client().Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "lisbon: 21°C\noslo: 4°C")

	// Handlers end their spans as they return, which may be just after
	// the response went out: the servers' Close waits for them.
	frontend.Close()
	backend.Close()
	fspans, bspans := frontendSpans.GetSpans(), backendSpans.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range append(fspans, bspans...) {
		byName[s.Name] = append(byName[s.Name], s)
	}
	require.Len(t, byName["GET /"], 1)
	root := byName["GET /"][0]
	assert.Equal(t, trace.SpanKindServer, root.SpanKind)
	require.Len(t, byName["GET"], 2, "one client span per city")
	require.Len(t, byName["GET /weather"], 2, "one backend span per city")
	for _, phase := range []string{"http.getconn", "http.send", "http.wait", "http.receive"} {
		assert.Len(t, byName[phase], 2, phase)
	}
	assert.Len(t, byName["http.connect"], 1, "the second city reuses the connection")

	clients := map[trace.SpanID]bool{}
	for _, c := range byName["GET"] {
		assert.Equal(t, trace.SpanKindClient, c.SpanKind)
		assert.Equal(t, root.SpanContext.SpanID(), c.Parent.SpanID())
		clients[c.SpanContext.SpanID()] = true
	}
	for _, s := range byName["GET /weather"] {
		assert.Equal(t, trace.SpanKindServer, s.SpanKind)
		assert.True(t, clients[s.Parent.SpanID()], "the backend's span is the child of a client span")
		assert.True(t, s.Parent.IsRemote())
	}
	for _, s := range append(fspans, bspans...) {
		assert.Equal(t, root.SpanContext.TraceID(), s.SpanContext.TraceID(), s.Name)
	}
}

func TestNewExporterRejectsBadEndpoints(t *testing.T) {
	for _, endpoint := range []string{"127.0.0.1:4317", "ftp://127.0.0.1:21", "grpc://", "://"} {
		_, err := newExporter(t.Context(), endpoint)
		require.Error(t, err, endpoint)
	}
	for _, endpoint := range []string{"grpc://127.0.0.1:4317", "http://127.0.0.1:4318", "http://127.0.0.1:4318/custom/v1/traces"} {
		exp, err := newExporter(t.Context(), endpoint)
		require.NoError(t, err, endpoint)
		require.NoError(t, exp.Shutdown(t.Context()))
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "localhost:0"} {
		_, err := listenLoopback(t.Context(), addr)
		require.ErrorContains(t, err, "not a loopback address", addr)
	}
	ln, err := listenLoopback(t.Context(), "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
}
