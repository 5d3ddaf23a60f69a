package clienttrace_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// noopHTTPTrace returns a trace whose hooks do nothing.
func noopHTTPTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:      func(string) {},
		GotConn:      func(httptrace.GotConnInfo) {},
		ConnectDone:  func(string, string, error) {},
		WroteRequest: func(httptrace.WroteRequestInfo) {},
	}
}

// BenchmarkComposedHook calls one hook of three composed traces: composed by
// Compose, and composed by httptrace.WithClientTrace with reflection.
func BenchmarkComposedHook(b *testing.B) {
	b.Run("impl=clienttrace", func(b *testing.B) {
		composed := clienttrace.Compose(
			clienttrace.FromHTTPTrace(noopHTTPTrace()),
			clienttrace.FromHTTPTrace(noopHTTPTrace()),
			clienttrace.FromHTTPTrace(noopHTTPTrace()))
		b.ReportAllocs()
		for b.Loop() {
			composed.GetConn("example.com:443")
			composed.ConnectDone("tcp", "192.0.2.1:443", nil)
		}
	})
	b.Run("impl=httptrace", func(b *testing.B) {
		ctx := context.Background()
		for range 3 {
			ctx = httptrace.WithClientTrace(ctx, noopHTTPTrace())
		}
		composed := httptrace.ContextClientTrace(ctx)
		b.ReportAllocs()
		for b.Loop() {
			composed.GetConn("example.com:443")
			composed.ConnectDone("tcp", "192.0.2.1:443", nil)
		}
	})
}

// BenchmarkKeepAliveGET sends keep-alive GETs with one trace installed per
// request, the same hooks either way, including a dial hook so that the net
// package's trace is installed too. "shared" reuses one trace for every
// request; "fresh" allocates one per request, as code whose hooks keep
// per-request state must, and as httptrace requires whenever the context may
// already carry a trace (it composes by modifying the trace it is given).
func BenchmarkKeepAliveGET(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	sharedHTTP := noopHTTPTrace()
	sharedOurs := clienttrace.FromHTTPTrace(noopHTTPTrace())
	installs := []struct {
		name    string
		install func(context.Context) context.Context
	}{
		{"install=none", func(ctx context.Context) context.Context { return ctx }},
		{"install=httptrace-fresh", func(ctx context.Context) context.Context {
			return httptrace.WithClientTrace(ctx, noopHTTPTrace())
		}},
		{"install=httptrace-shared", func(ctx context.Context) context.Context {
			return httptrace.WithClientTrace(ctx, sharedHTTP)
		}},
		{"install=clienttrace-fresh", func(ctx context.Context) context.Context {
			return clienttrace.WithClientTrace(ctx, clienttrace.FromHTTPTrace(noopHTTPTrace()))
		}},
		{"install=clienttrace-shared", func(ctx context.Context) context.Context {
			return clienttrace.WithClientTrace(ctx, sharedOurs)
		}},
	}
	for _, in := range installs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequestWithContext(in.install(context.Background()), http.MethodGet, srv.URL, nil)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
