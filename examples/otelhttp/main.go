// Command otelhttp shows wiretrace's phase spans under the client span of
// otelhttp, the OpenTelemetry contrib instrumentation of net/http, in one
// trace: for code that already uses otelhttp and wants the phases too.
//
// The two transports nest: otelhttp's outside, starting the client span;
// otelhooks inside, with WithoutRequestSpan, adding the phases under it
// instead of a client span of its own:
//
//	otelhttp.NewTransport(otelhooks.NewTransport(base, otelhooks.WithoutRequestSpan()))
//
// It sends two requests to a server of its own on 127.0.0.1, the first on a
// new connection and the second on the same one, and prints each trace as a
// waterfall:
//
//	go run ./otelhttp
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
	"github.com/wiretrace/wiretrace/waterfall"
)

// newTransport returns the composition this example is about: otelhttp's
// client span per request, wiretrace's phases under it, both from tp, sent
// through base.
//
// otelhttp injects the trace context with the global propagator, a no-op
// until the application sets one; otelhooks injects it anyway (W3C Trace
// Context, or the global propagator once set), from the same span, so the
// server continues the trace either way.
func newTransport(base http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	return otelhttp.NewTransport(
		otelhooks.NewTransport(base, otelhooks.WithoutRequestSpan()),
		otelhttp.WithTracerProvider(tp),
	)
}

func main() {
	log.SetFlags(0)
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(w io.Writer) (err error) {
	exp := waterfall.NewExporter(w)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { err = errors.Join(err, tp.Shutdown(context.Background())) }()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	defer srv.Close()

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: newTransport(base, tp)}

	ctx := context.Background()
	for _, caption := range []string{"a new connection", "the same connection, reused"} {
		fmt.Fprintf(w, "== %s\n", caption)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hello", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Read to the end: both otelhttp's span and the phases end
		// then, the phases first.
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if err := exp.ForceFlush(ctx); err != nil {
			return err
		}
	}
	return nil
}
