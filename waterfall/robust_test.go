package waterfall_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/waterfall"
)

// TestOddInput feeds the exporters spans no SDK would make: they must not
// panic, must keep every span, and must keep to the width.
func TestOddInput(t *testing.T) {
	tests := []struct {
		name  string
		spans func() []sdktrace.ReadOnlySpan
		// want are strings the waterfall must contain.
		want []string
	}{
		{name: "no spans", spans: func() []sdktrace.ReadOnlySpan { return nil }},
		{name: "nil span", spans: func() []sdktrace.ReadOnlySpan { return []sdktrace.ReadOnlySpan{nil} }},
		{name: "zero stub", spans: func() []sdktrace.ReadOnlySpan {
			return []sdktrace.ReadOnlySpan{tracetest.SpanStub{}.Snapshot()}
		}, want: []string{"trace 00000000000000000000000000000000"}},
		{name: "zero timestamps", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(1)
			root := f.add(nil, "root", 0, 10)
			z := f.add(root, "zero", 0, 0)
			z.StartTime, z.EndTime = time.Time{}, time.Time{}
			f.add(root, "no end", 5, 0).EndTime = time.Time{}
			return f.spans()
		}, want: []string{"zero", "?", "no end"}},
		{name: "end before start", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(2)
			f.add(nil, "backwards", 10, 5)
			return f.spans()
		}, want: []string{"backwards", "no end", "·"}},
		{name: "missing parents", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(3)
			a := f.add(nil, "a", 0, 1)
			a.Parent = f.spanContext(100, false)
			b := f.add(nil, "b", 1, 2)
			b.Parent = f.spanContext(101, false)
			return f.spans()
		}, want: []string{"a", "b", "orphan"}},
		{name: "parent cycle", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(4)
			a := f.add(nil, "a", 0, 3)
			b := f.add(a, "b", 1, 2)
			a.Parent = b.SpanContext
			self := f.add(nil, "self", 0, 1)
			self.Parent = self.SpanContext
			return f.spans()
		}, want: []string{"a", "b", "self"}},
		{name: "duplicate span ids", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(5)
			a := f.add(nil, "first", 0, 3)
			b := f.add(nil, "second", 1, 2)
			b.SpanContext = a.SpanContext
			return f.spans()
		}, want: []string{"first", "second"}},
		{name: "centuries apart", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(6)
			a := f.add(nil, "ancient", 0, 1)
			a.StartTime = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
			f.add(nil, "now", 0, 1).EndTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
			return f.spans()
		}, want: []string{"ancient", ">9999h"}},
		{name: "control characters", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(7)
			f.request(nil, "GET\x1b[31m", "http://x/\x1b]0;pwned\x07\n", "x", 80, 0, 1,
				attribute.String("error.type", "\x9b2J"))
			f.add(nil, "bad utf8 \xff\xfe", 0, 1)
			return f.spans()
		}, want: []string{"GET?[31m", "bad utf8 \uFFFD"}},
		{name: "odd attribute types", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(8)
			f.add(nil, "http.getconn", 0, 1,
				attribute.String("wiretrace.conn.reused", "yes"),
				attribute.Bool("wiretrace.conn.was_idle", true),
				attribute.Float64("wiretrace.conn.idle_time_s", math.NaN()),
				attribute.String("network.peer.port", "443"),
			)
			f.add(nil, "http.dns", 0, 1, attribute.String("dns.answers", "not a slice"))
			f.add(nil, "http.receive", 0, 1, attribute.Float64("http.response.body.size", math.Inf(1)))
			return f.spans()
		}, want: []string{"http.getconn", "idle", "http.dns", "http.receive"}},
		{name: "only events", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(9)
			s := f.add(nil, "carrier", 0, 10)
			s.Events = []sdktrace.Event{
				event("http.dns.done", 2),
				event("http.connect.start", 3),
				event("http.send.start", 20),
				event("http.bogus.start", 4),
				event("custom", 5, attribute.String("error.type", "boom")),
			}
			return f.spans()
		}, want: []string{"http.dns", "http.connect", "unfinished", "http.bogus.start", "custom", "boom"}},
		{name: "deep tree", spans: func() []sdktrace.ReadOnlySpan {
			f := newFixture(10)
			var parent *tracetest.SpanStub
			for i := range 1000 {
				parent = f.add(parent, "level", float64(i), float64(2000-i))
			}
			return f.spans()
		}, want: []string{"level"}},
	}
	for _, tt := range tests {
		for _, width := range []int{-1, 0, 5, 19, 20, 39, 40, 100, 5000} {
			t.Run(tt.name, func(t *testing.T) {
				var buf bytes.Buffer
				exp := waterfall.NewExporter(&buf, waterfall.WithWidth(width), waterfall.WithColor(width%2 == 0))
				require.NotPanics(t, func() {
					require.NoError(t, exp.ExportSpans(context.Background(), tt.spans()))
					require.NoError(t, exp.Shutdown(context.Background()))
				})
				out := buf.String()
				limit := min(max(width, 20), 1000)
				assertFits(t, out, limit)
				plain := ansi.ReplaceAllString(out, "")
				assert.NotContains(t, plain, "\x1b", "no escape from span data reaches the terminal")
				assert.NotContains(t, plain, "\x9b")
				if width >= 100 {
					for _, w := range tt.want {
						assert.Contains(t, plain, w)
					}
				}
				var js bytes.Buffer
				require.NotPanics(t, func() {
					require.NoError(t, waterfall.NewJSONExporter(&js).ExportSpans(context.Background(), tt.spans()))
				})
				parseLines(t, js.String())
			})
		}
	}
}

// TestEverySpanIsDrawn checks that each span of every fixture gets a row,
// besides the header, the blank line after it and the event rows.
func TestEverySpanIsDrawn(t *testing.T) {
	for _, f := range []*fixture{coldHTTPS(), warmReused(), parallelDial(), failedRequest(), lateSpan(), redirectChain(), orphan(), foreign()} {
		var buf bytes.Buffer
		exp := waterfall.NewExporter(&buf, waterfall.WithWidth(200), waterfall.WithColor(false))
		require.NoError(t, exp.ExportSpans(context.Background(), f.spans()))
		require.NoError(t, exp.Shutdown(context.Background()))
		out := buf.String()
		rows := strings.Count(out, "\n") - 2*strings.Count(out, "trace ") - strings.Count(out, "• ")
		assert.Equal(t, len(f.stubs), rows, "one row per span:\n%s", out)
	}
}

func FuzzExporter(f *testing.F) {
	f.Add("GET", int64(0), int64(1000), int64(500), int64(2000), 80, "http.dns.start")
	f.Add("", int64(-5), int64(math.MaxInt64), int64(math.MinInt64), int64(0), 20, "")
	f.Add("http.connect\x1b", int64(1e18), int64(-1e18), int64(7), int64(7), 1000, "http.getconn.done")
	f.Fuzz(func(t *testing.T, name string, start, end, childStart, childEnd int64, width int, eventName string) {
		fx := newFixture(0x33)
		root := fx.add(nil, name, 0, 0)
		root.StartTime, root.EndTime = time.Unix(0, start), time.Unix(0, end)
		root.Events = []sdktrace.Event{{Name: eventName, Time: time.Unix(0, childStart)}}
		child := fx.add(root, eventName, 0, 0)
		child.StartTime, child.EndTime = time.Unix(0, childStart), time.Unix(0, childEnd)
		var buf bytes.Buffer
		exp := waterfall.NewExporter(&buf, waterfall.WithWidth(width), waterfall.WithColor(width%2 == 0))
		if err := exp.ExportSpans(context.Background(), fx.spans()); err != nil {
			t.Fatal(err)
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		assertFits(t, buf.String(), min(max(width, 20), 1000))
	})
}
