// Command jaeger runs two small services in one process and sends their
// spans to Jaeger, or any OTLP receiver, so that one request can be seen end
// to end:
//
//	client ──▶ frontend ──(otelhooks.NewTransport)──▶ backend
//
// The frontend, service "wiretrace-frontend", answers GET / by asking the
// backend, service "wiretrace-backend", for the weather of two cities, over
// an http.Client whose transport is otelhooks.NewTransport(nil). The
// backend continues the trace with propagation.Extract. Each request to the
// frontend makes one trace:
//
//	GET /                    server  wiretrace-frontend
//	├─ GET                   client  wiretrace-frontend  (otelhooks)
//	│  ├─ http.getconn                                    (otelhooks)
//	│  │  └─ http.connect             a new connection only
//	│  ├─ http.send
//	│  ├─ http.wait
//	│  ├─ http.receive
//	│  └─ GET /weather       server  wiretrace-backend
//	└─ GET                   client  the second city, on the same connection
//	   └─ ...
//
// Usage:
//
//	go run ./jaeger                        # serve http://127.0.0.1:8080/ until ^C
//	go run ./jaeger -requests 3            # send 3 requests, flush the spans, exit
//	go run ./jaeger -otlp http://127.0.0.1:4318
//
// It listens on loopback addresses only. The README beside this file tells
// how to run Jaeger for it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
	"github.com/wiretrace/wiretrace/propagation"
)

// runKey is the resource attribute that tells the spans of one run from
// those of another in a shared Jaeger.
const runKey = attribute.Key("example.run")

// Service names, as Jaeger lists them.
const (
	frontendService = "wiretrace-frontend"
	backendService  = "wiretrace-backend"
)

// cities are the cities the frontend asks the backend about, one request
// each, in turn: the second request reuses the first one's connection.
var cities = []string{"lisbon", "oslo"}

func main() {
	log.SetFlags(0)
	log.SetPrefix("jaeger example: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	otlp := flag.String("otlp", envOr("WIRETRACE_OTLP", "grpc://127.0.0.1:4317"),
		"where to send spans: grpc://HOST:PORT or http://HOST:PORT (default from $WIRETRACE_OTLP)")
	listen := flag.String("listen", "127.0.0.1:8080", "the frontend's address; a loopback address only")
	requests := flag.Int("requests", 0,
		"send this many requests to the frontend, flush the spans and exit; 0 serves until interrupted")
	runID := flag.String("run", "", "value of the "+string(runKey)+" resource attribute of every span, to tell runs apart")
	flag.Parse()
	if flag.NArg() > 0 || *requests < 0 {
		flag.Usage()
		return errors.New("bad arguments")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Two services, two tracer providers: each has its own service.name.
	// A program with one service would build one provider and make it the
	// global one with otel.SetTracerProvider.
	frontendTP, err := newProvider(ctx, *otlp, frontendService, *runID)
	if err != nil {
		return err
	}
	backendTP, err := newProvider(ctx, *otlp, backendService, *runID)
	if err != nil {
		return err
	}
	defer func() {
		// Flush what is left; a minute would outlast any CI step's
		// patience, ten seconds is plenty on a loopback.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, tp := range []*sdktrace.TracerProvider{frontendTP, backendTP} {
			if err := tp.Shutdown(sctx); err != nil {
				log.Printf("flushing spans to %s: %v", *otlp, err)
			}
		}
	}()

	backendLn, err := listenLoopback(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	backend := &http.Server{
		Handler:           backendHandler(backendTP.Tracer("wiretrace-example/backend")),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go serve(backend, backendLn)

	// The point of the example: every call to the backend is traced,
	// phase by phase, under the frontend's span, and carries its trace
	// context. With no WithTracerProvider option, the spans go to the
	// provider of the span in the request's context: the frontend's.
	client := &http.Client{Transport: otelhooks.NewTransport(nil), Timeout: 10 * time.Second}
	frontendLn, err := listenLoopback(ctx, *listen)
	if err != nil {
		return err
	}
	frontend := &http.Server{
		Handler:           frontendHandler(frontendTP.Tracer("wiretrace-example/frontend"), client, "http://"+backendLn.Addr().String()),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go serve(frontend, frontendLn)
	frontendURL := "http://" + frontendLn.Addr().String() + "/"

	if *requests == 0 {
		log.Printf("frontend on %s, backend on %s, spans to %s; ^C stops", frontendURL, backendLn.Addr(), *otlp)
		<-ctx.Done()
		stop()
	} else if err := drive(ctx, frontendURL, *requests); err != nil {
		return err
	}

	// Servers first: Shutdown waits for the handlers, whose spans end
	// when they return, before the providers flush.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(frontend.Shutdown(sctx), backend.Shutdown(sctx))
}

// newProvider returns a tracer provider that batches spans to the OTLP
// receiver at endpoint, as the given service.
func newProvider(ctx context.Context, endpoint, service, runID string) (*sdktrace.TracerProvider, error) {
	exp, err := newExporter(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(service)}
	if runID != "" {
		attrs = append(attrs, runKey.String(runID))
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, attrs...)),
	), nil
}

// newExporter returns an OTLP exporter for "grpc://host:port" or
// "http://host:port[/path]", without TLS: the receiver is local.
func newExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("-otlp %q: want grpc://HOST:PORT or http://HOST:PORT", endpoint)
	}
	switch u.Scheme {
	case "grpc":
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(u.Host), otlptracegrpc.WithInsecure())
	case "http":
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host), otlptracehttp.WithInsecure()}
		if u.Path != "" && u.Path != "/" {
			opts = append(opts, otlptracehttp.WithURLPath(u.Path))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("-otlp %q: the scheme must be grpc or http", endpoint)
}

// frontendHandler serves GET / by asking the backend at backendURL about
// each city, through client.
func frontendHandler(tracer trace.Tracer, client *http.Client, backendURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := startServerSpan(tracer, r, "/")
		defer span.End()

		var lines []string
		for _, city := range cities {
			report, err := fetchWeather(ctx, client, backendURL, city)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
				span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusBadGateway))
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			lines = append(lines, fmt.Sprintf("%s: %d°C", report.City, report.TempC))
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusOK))
		fmt.Fprintf(w, "trace %s\n%s\n", span.SpanContext().TraceID(), strings.Join(lines, "\n"))
	})
}

type weatherReport struct {
	City  string `json:"city"`
	TempC int    `json:"temp_c"`
}

// fetchWeather asks the backend about city. Its body is read to the end
// and closed: that is when the request's spans end.
func fetchWeather(ctx context.Context, client *http.Client, backendURL, city string) (weatherReport, error) {
	var report weatherReport
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, backendURL+"/weather?city="+url.QueryEscape(city), nil)
	if err != nil {
		return report, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return report, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return report, err
	}
	if resp.StatusCode != http.StatusOK {
		return report, fmt.Errorf("backend: %s", resp.Status)
	}
	err = json.Unmarshal(body, &report)
	return report, err
}

// backendHandler serves GET /weather?city=NAME.
func backendHandler(tracer trace.Tracer) http.Handler {
	temps := map[string]int{"lisbon": 21, "oslo": 4}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, span := startServerSpan(tracer, r, "/weather")
		defer span.End()

		city := r.URL.Query().Get("city")
		temp, ok := temps[city]
		if r.URL.Path != "/weather" || !ok {
			span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusNotFound))
			http.NotFound(w, r)
			return
		}
		// Some work, so that the client's http.wait phase shows.
		time.Sleep(3 * time.Millisecond)
		span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusOK))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(weatherReport{City: city, TempC: temp})
	})
}

// startServerSpan continues the trace of the client that sent r, if it sent
// one, with a server span for route.
func startServerSpan(tracer trace.Tracer, r *http.Request, route string) (context.Context, trace.Span) {
	ctx := propagation.Extract(r.Context(), r)
	return tracer.Start(ctx, r.Method+" "+route,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.HTTPRoute(route),
			semconv.URLPath(r.URL.Path),
		))
}

// drive sends n requests to the frontend at target, one after the other, and
// prints what each answered.
func drive(ctx context.Context, target string, n int) error {
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("request %d: %s: %s", i+1, resp.Status, body)
		}
		log.Printf("request %d: %s", i+1, strings.ReplaceAll(strings.TrimSpace(string(body)), "\n", "; "))
	}
	client.CloseIdleConnections()
	return nil
}

// listenLoopback listens on addr, which must be a loopback address: this
// example is not meant to be reached from other machines.
func listenLoopback(ctx context.Context, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("listen %s: not a loopback address; use 127.0.0.1 or [::1]", addr)
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}

func serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("serve %s: %v", ln.Addr(), err)
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
