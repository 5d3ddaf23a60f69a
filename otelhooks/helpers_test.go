package otelhooks_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// env is a tracer provider for one test, recording every ended span, that
// fails the test at cleanup if a span was left open.
type env struct {
	tp      *sdktrace.TracerProvider
	rec     *tracetest.SpanRecorder
	checker *spantest.EndChecker
}

func newEnv(t *testing.T, opts ...sdktrace.TracerProviderOption) *env {
	t.Helper()
	e := &env{
		rec:     tracetest.NewSpanRecorder(),
		checker: spantest.NewEndChecker(),
	}
	opts = append([]sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(e.rec),
		sdktrace.WithSpanProcessor(e.checker),
	}, opts...)
	e.tp = sdktrace.NewTracerProvider(opts...)
	t.Cleanup(func() {
		e.checker.AssertAllEnded(t)
		_ = e.tp.Shutdown(context.Background())
	})
	return e
}

// assertAllEnded asserts that every span started so far has ended.
func (e *env) assertAllEnded(t *testing.T) {
	t.Helper()
	e.checker.AssertAllEnded(t)
}

// root starts a span the test's requests run under.
func (e *env) root(ctx context.Context) (context.Context, trace.Span) {
	return e.tp.Tracer("test").Start(ctx, "root")
}

// spans returns the ended spans, in the order they ended.
func (e *env) spans() []sdktrace.ReadOnlySpan { return e.rec.Ended() }

// named returns the ended spans with the given name, in the order they
// started.
func named(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// one returns the only ended span with the given name.
func one(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	found := named(spans, name)
	require.Len(t, found, 1, "spans named %q in %v", name, names(spans))
	return found[0]
}

// names returns the span names, sorted.
func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	slices.Sort(out)
	return out
}

// childrenOf returns the names of the spans whose parent is p, sorted.
func childrenOf(spans []sdktrace.ReadOnlySpan, p sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		if s.Parent().SpanID() == p.SpanContext().SpanID() {
			out = append(out, s.Name())
		}
	}
	slices.Sort(out)
	return out
}

// attrs returns the attributes of s as a map.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// eventNames returns the names of the events of s, in order.
func eventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

// event returns the first event of s with the given name.
func event(t *testing.T, s sdktrace.ReadOnlySpan, name string) sdktrace.Event {
	t.Helper()
	for _, e := range s.Events() {
		if e.Name == name {
			return e
		}
	}
	require.Failf(t, "no event", "%s has no event %q: %v", s.Name(), name, eventNames(s))
	return sdktrace.Event{}
}

func eventAttrs(e sdktrace.Event) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range e.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// assertWithin asserts that child runs within parent's time, unless it is
// marked abandoned.
func assertWithin(t *testing.T, parent, child sdktrace.ReadOnlySpan) {
	t.Helper()
	assert.False(t, child.StartTime().Before(parent.StartTime()), "%s starts before %s", child.Name(), parent.Name())
	assert.False(t, child.EndTime().After(parent.EndTime()), "%s ends after %s", child.Name(), parent.Name())
	assert.False(t, child.EndTime().Before(child.StartTime()), "%s ends before it starts", child.Name())
}

// assertSequence asserts that each span starts no earlier than the previous
// one ended.
func assertSequence(t *testing.T, spans ...sdktrace.ReadOnlySpan) {
	t.Helper()
	for i := 1; i < len(spans); i++ {
		assert.False(t, spans[i].StartTime().Before(spans[i-1].EndTime()),
			"%s starts before %s ends", spans[i].Name(), spans[i-1].Name())
	}
}

// get sends a request through client under ctx, reads the whole body and
// closes it.
func get(t *testing.T, ctx context.Context, client *http.Client, target string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// allStrings returns every attribute value of every span and event as
// text, to look for secrets.
func allStrings(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, s := range spans {
		b.WriteString(s.Name() + " " + s.Status().Description + "\n")
		for _, kv := range s.Attributes() {
			b.WriteString(string(kv.Key) + "=" + kv.Value.String() + "\n")
		}
		for _, e := range s.Events() {
			for _, kv := range e.Attributes {
				b.WriteString(e.Name + " " + string(kv.Key) + "=" + kv.Value.String() + "\n")
			}
		}
	}
	return b.String()
}

// client returns a client whose transport is NewTransport(base) recording
// to e.
func (e *env) client(base http.RoundTripper, opts ...otelhooks.Option) *http.Client {
	opts = append([]otelhooks.Option{otelhooks.WithTracerProvider(e.tp)}, opts...)
	return &http.Client{Transport: otelhooks.NewTransport(base, opts...)}
}

// attrValue returns the value of the attribute key of s, failing the test if
// s has none.
func attrValue(t *testing.T, s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	t.Helper()
	v, ok := attrs(s)[key]
	require.True(t, ok, "%s has no attribute %s: %v", s.Name(), key, s.Attributes())
	return v
}

// assertNotAbandoned asserts that no request span or phase of the request
// itself was ended for want of its end event. The connection's phases may
// be: a dial can outlive its request, when another connection came first.
func assertNotAbandoned(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range spans {
		switch s.Name() {
		case "http.getconn", "http.send", "http.wait", "http.receive":
		default:
			continue
		}
		_, abandoned := attrs(s)["wiretrace.abandoned"]
		assert.False(t, abandoned, "%s was abandoned", s.Name())
	}
}

// send sends a GET to target and closes the response body, for use on
// goroutines of the test's own: it returns the error rather than failing.
func send(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
