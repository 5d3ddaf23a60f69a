package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
	"github.com/wiretrace/wiretrace/waterfall"
)

const (
	// defaultService is service.name without -service and OTEL_SERVICE_NAME.
	defaultService = "wiretrace"
	// flushTimeout bounds the final flush of the OTLP exporter, and
	// interruptedFlushTimeout the one after Ctrl-C.
	flushTimeout            = exportTimeout + time.Second
	interruptedFlushTimeout = time.Second
	// shutdownTimeout bounds the tracer provider's shutdown, after the
	// flush.
	shutdownTimeout = time.Second
)

// tracing is the tracer provider of one run and its exporters: the
// waterfall or the JSON lines on out, and OTLP if asked for.
type tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	wf     *waterfall.Exporter // nil with -json, or with no out
	spans  *collector          // the spans of -w and -n's summary
	warn   *warner
}

// newTracing sets up the tracer provider for o, writing spans to out, or
// nowhere if out is nil, and warnings to warn.
func newTracing(ctx context.Context, o *options, out io.Writer, warn *warner, getenv func(string) string) (*tracing, error) {
	res, err := newResource(o.service, getenv)
	if err != nil {
		return nil, err
	}
	t := &tracing{warn: warn, spans: newCollector()}
	// The collector comes first: the waterfall is written when the root
	// span ends, and -w's line after it reads the collector.
	popts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSpanProcessor(t.spans)}
	switch {
	case o.json:
		popts = append(popts, sdktrace.WithSyncer(waterfall.NewJSONExporter(out)))
	case out != nil:
		t.wf = waterfall.NewExporter(out)
		popts = append(popts, sdktrace.WithSyncer(t.wf))
	}
	if o.otlp != nil {
		exp, err := newOTLPExporter(ctx, o.otlp, getenv)
		if err != nil {
			// Tracing to the terminal goes on without it.
			warn.printf("OTLP exporter for %s: %v", o.otlp.display, err)
		} else {
			display := o.otlp.display
			var once sync.Once
			exp = reportingExporter{SpanExporter: exp, report: func(err error) {
				once.Do(func() {
					warn.printf("OTLP export to %s failed: %v", display, err)
				})
			}}
			popts = append(popts, sdktrace.WithBatcher(exp))
		}
	}
	t.tp = sdktrace.NewTracerProvider(popts...)
	t.tracer = t.tp.Tracer("github.com/wiretrace/wiretrace/cmd/wiretrace", trace.WithInstrumentationVersion(otelhooks.Version()))
	return t, nil
}

// newResource describes this process: service.name is -service, else
// OTEL_SERVICE_NAME, else "wiretrace". OTEL_RESOURCE_ATTRIBUTES adds to it.
func newResource(service string, getenv func(string) string) (*resource.Resource, error) {
	if service == "" && getenv("OTEL_SERVICE_NAME") == "" {
		service = defaultService
	}
	res := resource.Default()
	if service != "" {
		var err error
		res, err = resource.Merge(res, resource.NewSchemaless(semconv.ServiceName(service)))
		if err != nil {
			return nil, fmt.Errorf("resource: %w", err)
		}
	}
	return res, nil
}

// flushWaterfall writes every trace the waterfall still holds: the one just
// traced, if some span of it, such as a dial that outlived its request, has
// not ended yet.
func (t *tracing) flushWaterfall(ctx context.Context) {
	if t.wf == nil {
		return
	}
	if err := t.wf.ForceFlush(context.WithoutCancel(ctx)); err != nil {
		t.warn.printf("%v", err)
	}
}

// close flushes every exporter, within a bound shorter after an
// interruption, and shuts the provider down.
func (t *tracing) close(interrupted bool) {
	ctx := context.Background()
	timeout := flushTimeout
	if interrupted {
		timeout = interruptedFlushTimeout
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := t.tp.ForceFlush(fctx); err != nil {
		t.warn.handle(fmt.Errorf("flush spans: %w", err))
	}
	t.flushWaterfall(ctx)
	sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	if err := t.tp.Shutdown(sctx); err != nil {
		t.warn.handle(fmt.Errorf("shut down tracing: %w", err))
	}
}

// warner writes warnings to the user, one line each, and each distinct
// message once.
type warner struct {
	w io.Writer

	mu   sync.Mutex
	seen map[string]bool
}

func newWarner(w io.Writer) *warner {
	return &warner{w: w, seen: make(map[string]bool)}
}

func (w *warner) printf(format string, args ...any) {
	msg := oneLine(fmt.Sprintf(format, args...))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[msg] {
		return
	}
	w.seen[msg] = true
	fmt.Fprintf(w.w, "wiretrace: warning: %s\n", msg)
}

// handle is the OpenTelemetry error handler: errors of the exporters and
// processors. Those already reported are left out.
func (w *warner) handle(err error) {
	var reported reportedError
	if err == nil || errors.As(err, &reported) {
		return
	}
	w.printf("%v", err)
}

// oneLine puts a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// setErrorHandler routes OpenTelemetry's errors to w. The handler is
// global, so each run replaces it: runs in one process must not overlap.
func setErrorHandler(w *warner) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(w.handle))
}

// lockedWriter serializes writes to w: captions and the exporters write
// from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lockedFile is a lockedWriter on a file, which keeps the file's
// descriptor visible: the waterfall looks at it to decide on colors and
// width.
type lockedFile struct {
	lockedWriter
	f *os.File
}

func (l *lockedFile) Fd() uintptr { return l.f.Fd() }

// newLockedWriter returns w made safe for concurrent writes.
func newLockedWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok {
		return &lockedFile{lockedWriter: lockedWriter{w: f}, f: f}
	}
	return &lockedWriter{w: w}
}
