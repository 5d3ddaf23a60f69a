package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// exported is what a collector received: the span names and the
// service.name of each resource.
type exported struct {
	mu       sync.Mutex
	names    []string
	services []string
}

func (e *exported) add(req *coltracepb.ExportTraceServiceRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				e.services = append(e.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				e.names = append(e.names, s.GetName())
			}
		}
	}
}

func (e *exported) snapshot() (names, services []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.names...), append([]string(nil), e.services...)
}

// httpCollector is an OTLP/HTTP receiver: it takes POST /v1/traces in
// protobuf and remembers what it got.
type httpCollector struct {
	exported
	srv *httptest.Server

	mu           sync.Mutex
	contentTypes []string
	paths        []string
}

func newHTTPCollector(t *testing.T) *httpCollector {
	t.Helper()
	c := &httpCollector{}
	c.srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.contentTypes = append(c.contentTypes, r.Header.Get("Content-Type"))
		c.paths = append(c.paths, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		var req coltracepb.ExportTraceServiceRequest
		if len(body) == 0 || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "want a protobuf ExportTraceServiceRequest", http.StatusBadRequest)
			return
		}
		c.add(&req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	return c
}

func (c *httpCollector) addr() string { return strings.TrimPrefix(c.srv.URL, "http://") }

func TestOTLPOverHTTP(t *testing.T) {
	target := newServer(t, hello)

	tests := []struct {
		name string
		// setup returns the arguments, less the target URL, and the
		// environment that send spans to c.
		setup       func(c *httpCollector) (args, env []string)
		wantService string
	}{
		{
			name: "-otlp http:// and -service",
			setup: func(c *httpCollector) ([]string, []string) {
				return []string{"-otlp", c.srv.URL, "-service", "cli-test"}, nil
			},
			wantService: "cli-test",
		},
		{
			name: "-otlp host:port is HTTP but for port 4317",
			setup: func(c *httpCollector) ([]string, []string) {
				return []string{"-otlp", c.addr()}, nil
			},
			wantService: "wiretrace",
		},
		{
			name: "OTEL_EXPORTER_OTLP_ENDPOINT alone, and OTEL_SERVICE_NAME",
			setup: func(c *httpCollector) ([]string, []string) {
				return nil, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + c.srv.URL, "OTEL_SERVICE_NAME=env-service"}
			},
			wantService: "env-service",
		},
		{
			name: "with -json",
			setup: func(c *httpCollector) ([]string, []string) {
				return []string{"-json", "-otlp", c.srv.URL}, nil
			},
			wantService: "wiretrace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newHTTPCollector(t)
			args, env := tt.setup(c)

			res := wiretraceWith(t, runOpts{env: env}, append(args, target.URL)...)

			require.Equal(t, exitOK, res.code, res.stderr)
			assert.NotContains(t, res.stderr, "warning")
			c.mu.Lock()
			paths, types := c.paths, c.contentTypes
			c.mu.Unlock()
			require.NotEmpty(t, paths, "the collector got nothing")
			for i := range paths {
				assert.Equal(t, "POST /v1/traces", paths[i])
				assert.Equal(t, "application/x-protobuf", types[i])
			}
			names, services := c.snapshot()
			assert.Subset(t, names, []string{"wiretrace GET " + target.URL, "GET", "http.getconn", "http.connect", "http.receive"})
			require.NotEmpty(t, services)
			for _, s := range services {
				assert.Equal(t, tt.wantService, s)
			}
			if slices.Contains(args, "-json") {
				assert.Len(t, parseSpans(t, res.stdout), len(names), "the same spans on stdout")
			} else {
				assert.Contains(t, res.stdout, "http.receive")
			}
		})
	}
}

// grpcCollector is an OTLP/gRPC receiver.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	exported
}

func (c *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestOTLPOverGRPC(t *testing.T) {
	target := newServer(t, hello)
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	c := &grpcCollector{}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, c)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(ln) }()
	t.Cleanup(func() {
		gs.Stop()
		assert.NoError(t, <-served)
	})

	res := wiretrace(t, "-otlp", "grpc://"+ln.Addr().String(), "-service", "grpc-test", target.URL)

	require.Equal(t, exitOK, res.code, res.stderr)
	assert.NotContains(t, res.stderr, "warning")
	names, services := c.snapshot()
	assert.Subset(t, names, []string{"wiretrace GET " + target.URL, "GET", "http.getconn", "http.connect", "http.send", "http.wait", "http.receive"})
	require.NotEmpty(t, services)
	for _, s := range services {
		assert.Equal(t, "grpc-test", s)
	}
}

func TestUnreachableOTLPWarnsAndGoesOn(t *testing.T) {
	target := newServer(t, hello)
	addr := testnet.RefusedAddr(t)

	tests := []struct {
		name        string
		args        []string
		env         []string
		wantInError string
	}{
		{"HTTP", []string{"-otlp", "http://" + addr}, nil, "OTLP export to http://" + addr + "/v1/traces failed"},
		{"gRPC", []string{"-otlp", "grpc://" + addr}, nil, "OTLP export to grpc://" + addr + " failed"},
		{"gRPC by -otlp-protocol", []string{"-otlp", addr, "-otlp-protocol", "grpc"}, nil, "OTLP export to grpc://" + addr + " failed"},
		{"from the environment", nil, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + addr}, "OTLP export to http://" + addr + " (OTEL_EXPORTER_OTLP_ENDPOINT) failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := wiretraceWith(t, runOpts{env: tt.env}, append(tt.args, target.URL)...)
			elapsed := time.Since(start)

			assert.Equal(t, exitOK, res.code, "export failures do not fail the run")
			assert.Contains(t, res.stdout, "http.receive", "the waterfall is still printed")
			require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
			assert.True(t, strings.HasPrefix(res.stderr, "wiretrace: warning: "+tt.wantInError), res.stderr)
			assert.Contains(t, res.stderr, "connection refused")
			assert.Less(t, elapsed, flushTimeout+shutdownTimeout+5*time.Second, "the run does not hang on the collector")
		})
	}
}
