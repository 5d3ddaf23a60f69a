package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp/filters"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// get sends a GET to url through client and reads the body to the end.
func get(client *http.Client, url string) {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// printTree prints the spans as a tree, children in the order they
// started.
func printTree(spans []sdktrace.ReadOnlySpan) {
	slices.SortFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, s := range spans {
			if s.Parent().SpanID().String() == parent {
				fmt.Printf("%*s%s\n", 2*depth, "", s.Name())
				walk(s.SpanContext().SpanID().String(), depth+1)
			}
		}
	}
	walk("0000000000000000", 0)
}

// Example_withFilter passes otelhttp's filters helpers to otelhooks as they
// are: otelhooks.WithFilter takes otelhttp.Filter's type.
func Example_withFilter() {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := &http.Client{Transport: otelhooks.NewTransport(base,
		otelhooks.WithTracerProvider(tp),
		otelhooks.WithSpanNameFormatter(func(r *http.Request) string { return r.Method + " " + r.URL.Path }),
		otelhooks.WithFilter(filters.Not(filters.Any(filters.Path("/healthz"), filters.PathPrefix("/metrics")))),
	)}
	for _, path := range []string{"/healthz", "/metrics/cpu", "/api/users"} {
		get(client, srv.URL+path)
	}

	for _, s := range rec.Ended() {
		if !s.Parent().IsValid() {
			fmt.Println(s.Name())
		}
	}
	// Output: GET /api/users
}

// Example_withoutRequestSpan puts the phases under otelhttp's client span:
// otelhttp outside starts the span, otelhooks inside adds the phases, and
// no span of its own.
func Example_withoutRequestSpan() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := &http.Client{Transport: otelhttp.NewTransport(
		otelhooks.NewTransport(base, otelhooks.WithoutRequestSpan()),
		otelhttp.WithTracerProvider(tp),
	)}
	get(client, srv.URL)

	printTree(rec.Ended())
	// Output:
	// HTTP GET
	//   http.getconn
	//     http.connect
	//   http.send
	//   http.wait
	//   http.receive
}
