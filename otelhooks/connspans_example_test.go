package otelhooks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
)

func ExampleWithConnectionSpans() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	// Instrumented connections are matched with their setups exactly.
	tr := otelhooks.InstrumentTransport(&http.Transport{})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: otelhooks.NewTransport(tr,
		otelhooks.WithTracerProvider(tp), otelhooks.WithConnectionSpans())}

	// Two requests in two traces: the second reuses the connection.
	for _, name := range []string{"checkout", "refund"} {
		ctx, span := tp.Tracer("example").Start(context.Background(), name)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		span.End()
	}

	// The trees, children in the order they started, then the links.
	spans := rec.Ended()
	slices.SortFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	name := func(s sdktrace.ReadOnlySpan) string { return strings.ReplaceAll(s.Name(), host, "HOST") }
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var walk func(parent trace.SpanID, depth int)
	walk = func(parent trace.SpanID, depth int) {
		for _, s := range spans {
			if s.Parent().SpanID() == parent {
				fmt.Printf("%*s%s\n", 2*depth, "", name(s))
				walk(s.SpanContext().SpanID(), depth+1)
			}
		}
	}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	walk(trace.SpanID{}, 0)
	for _, s := range spans {
		for _, l := range s.Links() {
			fmt.Printf("%s links to %s\n", name(s), name(byID[l.SpanContext.SpanID()]))
		}
	}
	// Output:
	// checkout
	//   GET
	//     HTTP wait_for_connection HOST
	//     http.send
	//     http.wait
	//     http.receive
	// HTTP connection_setup HOST
	//   socket connect HOST
	// refund
	//   GET
	//     http.send
	//     http.wait
	//     http.receive
	// GET links to HTTP connection_setup HOST
	// HTTP wait_for_connection HOST links to HTTP connection_setup HOST
	// GET links to HTTP connection_setup HOST
}
