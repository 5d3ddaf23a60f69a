package otelhooks_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// printTree prints the recorded spans as a tree, children in the order
// they started.
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

func ExampleNewTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client := &http.Client{Transport: otelhooks.NewTransport(nil, otelhooks.WithTracerProvider(tp))}

	ctx, span := tp.Tracer("example").Start(context.Background(), "checkout")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close() // ends the request span and its phases
	span.End()

	printTree(rec.Ended())
	// Output:
	// checkout
	//   GET
	//     http.getconn
	//       http.connect
	//     http.send
	//     http.wait
	//     http.receive
}

func ExampleNewClientTrace() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	// The lifecycle transport reports the end of the body, which ends
	// http.receive and anything still open.
	client := &http.Client{Transport: clienttrace.NewTransport(http.DefaultTransport)}

	// The caller's own span: the phases become its children.
	ctx, span := tp.Tracer("example").Start(context.Background(), "fetch greeting")
	ctx = clienttrace.WithClientTrace(ctx, otelhooks.NewClientTrace(ctx, otelhooks.WithTracerProvider(tp)))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	span.End()

	printTree(rec.Ended())
	// Output:
	// fetch greeting
	//   http.getconn
	//     http.connect
	//   http.send
	//   http.wait
	//   http.receive
}

func ExampleWithoutSubSpans() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: otelhooks.NewTransport(base,
		otelhooks.WithTracerProvider(tp), otelhooks.WithoutSubSpans())}

	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	for _, s := range rec.Ended() {
		fmt.Println(s.Name())
		for _, e := range s.Events() {
			fmt.Println("  " + e.Name)
		}
	}
	// Output:
	// GET
	//   http.getconn.start
	//   http.connect.start
	//   http.connect.done
	//   http.getconn.done
	//   http.send.start
	//   http.wrote_headers
	//   http.send.done
	//   http.wait.start
	//   http.first_response_byte
	//   http.wait.done
	//   http.receive.start
	//   http.put_idle_conn
	//   http.receive.done
}
