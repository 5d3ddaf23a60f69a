package waterfall_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/waterfall"
)

// newProvider returns a tracer provider that hands each span to exp as it
// ends, with fixed ids, and a function giving the time ms after epoch.
func newProvider(t *testing.T, exp sdktrace.SpanExporter) trace.Tracer {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(&fixedIDs{}))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test")
}

func ms(n float64) trace.SpanEventOption { return trace.WithTimestamp(at(n)) }

func TestExporterWaitsForLateChildren(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(100), waterfall.WithColor(false))
	tracer := newProvider(t, exp)

	ctx, req := tracer.Start(context.Background(), "GET", trace.WithSpanKind(trace.SpanKindClient), ms(0),
		trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("url.full", "http://localhost:8443/"),
			attribute.Int("http.response.status_code", 200),
		))
	connCtx, conn := tracer.Start(ctx, "http.getconn", ms(0.1))
	_, dial6 := tracer.Start(connCtx, "http.connect", ms(0.2), trace.WithAttributes(connect("ipv6", "::1", 8443, false)...))
	_, dial4 := tracer.Start(connCtx, "http.connect", ms(0.3), trace.WithAttributes(connect("ipv4", "127.0.0.1", 8443, true)...))
	dial4.End(ms(1))
	conn.End(ms(1))
	_, wait := tracer.Start(ctx, "http.wait", ms(1))
	wait.End(ms(9))
	req.End(ms(10))
	assert.Empty(t, buf.String(), "the ::1 dial is still running: the trace is not complete")

	dial6.SetAttributes(attribute.Bool("wiretrace.abandoned", true))
	dial6.End(ms(25))
	checkGolden(t, "provider_late_dial", buf.String())
}

func TestExporterContinuedTrace(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(80), waterfall.WithColor(false))
	tracer := newProvider(t, exp)

	ctx, req := tracer.Start(context.Background(), "GET", trace.WithSpanKind(trace.SpanKindClient), ms(0))
	req.End(ms(10))
	require.Contains(t, buf.String(), "GET", "a root without children is complete when it ends")

	// A child started after its parent ended is not counted by the SDK: it
	// arrives on its own, and lands on the axis of the trace printed before.
	_, late := tracer.Start(ctx, "http.connect", ms(15))
	late.End(ms(20))
	checkGolden(t, "provider_continued", buf.String())
}

func TestExporterForceFlushWritesIncompleteTraces(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(80), waterfall.WithColor(false))
	f := coldHTTPS()
	dns := f.stubs[2]
	require.Equal(t, "http.dns", dns.Name)

	require.NoError(t, exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{dns.Snapshot()}))
	assert.Empty(t, buf.String(), "the parent of http.dns has not arrived")

	require.NoError(t, exp.ForceFlush(context.Background()))
	assert.Contains(t, buf.String(), "http.dns")
	assert.Contains(t, buf.String(), "orphan")

	buf.Reset()
	require.NoError(t, exp.ForceFlush(context.Background()))
	assert.Empty(t, buf.String(), "nothing is held after a flush")
}

// TestExporterSpansInEndOrder hands the spans of a trace over one by one, as
// the SDK does, with the child counts it keeps: the trace is written once,
// when its last span arrives, and looks as if it came in one batch.
func TestExporterSpansInEndOrder(t *testing.T) {
	f := coldHTTPS()
	for _, s := range f.stubs {
		for _, c := range f.stubs {
			if c.Parent.SpanID() == s.SpanContext.SpanID() {
				s.ChildSpanCount++
			}
		}
	}
	spans := f.spans()
	// End order: children before parents, the request last.
	byEnd := append([]sdktrace.ReadOnlySpan(nil), spans[1:]...)
	byEnd = append(byEnd, spans[0])

	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(100), waterfall.WithColor(false))
	for i, s := range byEnd {
		require.NoError(t, exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{s}))
		if i < len(byEnd)-1 {
			require.Empty(t, buf.String(), "written before %s, the last span, arrived", byEnd[len(byEnd)-1].Name())
		}
	}
	checkGolden(t, "cold_https", buf.String())
}

func TestExporterShutdown(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(80), waterfall.WithColor(false))
	ctx := context.Background()
	f := coldHTTPS()
	require.NoError(t, exp.ExportSpans(ctx, f.spans()[1:2]))
	require.Empty(t, buf.String())

	require.NoError(t, exp.Shutdown(ctx))
	assert.Contains(t, buf.String(), "http.getconn", "Shutdown writes what is held")

	buf.Reset()
	err := exp.ExportSpans(ctx, f.spans())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "shut down")
	require.NoError(t, exp.ForceFlush(ctx))
	require.NoError(t, exp.Shutdown(ctx), "a second Shutdown does nothing")
	assert.Empty(t, buf.String(), "nothing is written after Shutdown")
}

func TestExporterDoneContext(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(80))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	require.ErrorIs(t, exp.ExportSpans(ctx, coldHTTPS().spans()), context.Canceled)
	require.ErrorIs(t, exp.ForceFlush(ctx), context.Canceled)
	require.NoError(t, exp.Shutdown(ctx), "Shutdown writes even with a done context")
	assert.Empty(t, buf.String(), "spans refused with a done context are not held")
}

var errBrokenPipe = errors.New("broken pipe")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errBrokenPipe }

func TestExporterWriteError(t *testing.T) {
	exp := waterfall.NewExporter(failingWriter{}, waterfall.WithWidth(80))
	err := exp.ExportSpans(context.Background(), coldHTTPS().spans())
	require.ErrorIs(t, err, errBrokenPipe)
	assert.Contains(t, err.Error(), "waterfall: write")
	require.NoError(t, exp.ForceFlush(context.Background()), "the trace was dropped, not held")
}

// writeRecorder keeps each Write apart.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestExporterConcurrentExports(t *testing.T) {
	const goroutines, traces = 8, 25
	var w writeRecorder
	exp := waterfall.NewExporter(&w, waterfall.WithWidth(100), waterfall.WithColor(false))
	want := coldHTTPS()

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range traces {
				f := coldHTTPS()
				f.tid[0], f.tid[1] = byte(g), byte(i)
				for _, s := range f.stubs {
					s.SpanContext = s.SpanContext.WithTraceID(f.tid)
					if s.Parent.IsValid() {
						s.Parent = s.Parent.WithTraceID(f.tid)
					}
				}
				spans := f.spans()
				// Children first, in two calls.
				assert.NoError(t, exp.ExportSpans(context.Background(), spans[1:]))
				assert.NoError(t, exp.ExportSpans(context.Background(), spans[:1]))
			}
		})
	}
	wg.Wait()
	require.NoError(t, exp.Shutdown(context.Background()))

	var golden bytes.Buffer
	ref := waterfall.NewExporter(&golden, waterfall.WithWidth(100), waterfall.WithColor(false))
	require.NoError(t, ref.ExportSpans(context.Background(), want.spans()))
	_, body, ok := strings.Cut(golden.String(), "\n") // all but the header
	require.True(t, ok)

	require.Len(t, w.writes, goroutines*traces, "one write per completed trace")
	for _, out := range w.writes {
		assert.Equal(t, 1, strings.Count(out, "trace "), "one whole trace per write")
		assert.True(t, strings.HasSuffix(out, body), "trace written whole:\n%s", out)
	}
}

func TestExporterBoundsWhatItHolds(t *testing.T) {
	var w writeRecorder
	exp := waterfall.NewExporter(&w, waterfall.WithWidth(60), waterfall.WithColor(false))
	// Children of a parent that never comes: held until there are too many.
	f := newFixture(0x11)
	missing := f.spanContext(1<<40, false)
	for i := range 10001 {
		s := f.add(nil, "child", float64(i), float64(i)+1)
		s.Parent = missing
	}
	spans := f.spans()
	require.NoError(t, exp.ExportSpans(context.Background(), spans[:10000]))
	require.Empty(t, w.writes)
	require.NoError(t, exp.ExportSpans(context.Background(), spans[10000:]))
	require.Len(t, w.writes, 1, "past 10000 spans the oldest trace is written")
	assert.Equal(t, 10001, strings.Count(w.writes[0], "child"))
}

func TestExporterNilWriterIsStdout(t *testing.T) {
	exp := waterfall.NewExporter(nil)
	require.NoError(t, exp.Shutdown(context.Background()))
}

func TestExporterMultipleTracesInOrder(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(80), waterfall.WithColor(false))
	later := warmReused()
	for _, s := range later.stubs {
		s.StartTime = s.StartTime.Add(time.Second)
		s.EndTime = s.EndTime.Add(time.Second)
	}
	spans := append(later.spans(), coldHTTPS().spans()...)
	require.NoError(t, exp.ExportSpans(context.Background(), spans))
	out := buf.String()
	cold, warm := strings.Index(out, "trace 4b4b"), strings.Index(out, "trace 5c5c")
	require.GreaterOrEqual(t, cold, 0)
	require.GreaterOrEqual(t, warm, 0)
	assert.Less(t, cold, warm, "traces written together are ordered by start time")
	assert.Contains(t, out, "|\n\ntrace ", "a blank line ends each trace")
}
