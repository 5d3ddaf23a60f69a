package bench

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// The floor of docs/performance.md is what any hook-based tracer must spend
// to emit the telemetry otelhooks emits:
//
//	floor = (noop-trace − bare)   net/http's own cost once hooks are set
//	      + (propagate − bare)    cloning the request and injecting traceparent
//	      + sdk-spans             the SDK starting and ending the same spans
//
// The first two are rows that send requests; the third sends none. A replay
// row records a few real requests of its setup through the variant it
// replays, before the timer, and then, per iteration, starts and ends the
// same spans through the SDK alone: the same names, kinds and parents, the
// same attributes (one SetAttributes call per span, the cheapest the SDK
// offers) and the same events with the same attributes (their options built
// once), under the same provider as every other row. Since the spans are
// taken from a real request of the same run, the row cannot drift from what
// otelhooks emits; TestReplayEmitsTheRecordedSpans checks that the replay
// emits what it recorded.

// requestShape is the spans of one request, as a replay row starts them.
type requestShape struct {
	// spans are in the order they started; a parent always comes before
	// its children.
	spans []spanShape
	// endOrder is the order in which they ended, by index in spans.
	endOrder []int
}

type spanShape struct {
	name string
	// parent is the index of the parent span in requestShape.spans, or -1
	// for the span the request ran under.
	parent int
	// start are the span's start options, built once: its kind, if not
	// internal.
	start       []trace.SpanStartOption
	attrs       []attribute.KeyValue
	events      []eventShape
	code        codes.Code
	description string
}

type eventShape struct {
	name  string
	attrs int
	// opts are the event's options, built once: its attributes.
	opts []trace.EventOption
}

// signature is a summary of the shape, for comparing two of them: each span's
// name, parent, attribute count and events with their attribute counts.
func (rs *requestShape) signature() string {
	var b strings.Builder
	for _, s := range rs.spans {
		fmt.Fprintf(&b, "%s<%d a%d", s.name, s.parent, len(s.attrs))
		for _, e := range s.events {
			fmt.Fprintf(&b, " %s:a%d", e.name, e.attrs)
		}
		b.WriteString("; ")
	}
	return b.String()
}

// counts returns the spans, attributes, events and event attributes of one
// request of this shape.
func (rs *requestShape) counts() (spans, attrs, events, eventAttrs int) {
	for _, s := range rs.spans {
		attrs += len(s.attrs)
		events += len(s.events)
		for _, e := range s.events {
			eventAttrs += e.attrs
		}
	}
	return len(rs.spans), attrs, events, eventAttrs
}

// replayer starts and ends the spans of a shape. It holds the scratch
// space of one replay, so that replaying allocates only what the SDK does;
// it is not safe for concurrent use.
type replayer struct {
	tracer trace.Tracer
	shape  *requestShape
	ctxs   []context.Context
	live   []trace.Span
}

func newReplayer(tp trace.TracerProvider, shape *requestShape) *replayer {
	return &replayer{
		tracer: tp.Tracer(otelhooks.ScopeName),
		shape:  shape,
		ctxs:   make([]context.Context, len(shape.spans)),
		live:   make([]trace.Span, len(shape.spans)),
	}
}

// replay starts the spans of one request under the span in ctx, sets their
// attributes, events and status, and ends them.
func (r *replayer) replay(ctx context.Context) {
	for i := range r.shape.spans {
		s := &r.shape.spans[i]
		parent := ctx
		if s.parent >= 0 {
			parent = r.ctxs[s.parent]
		}
		var span trace.Span
		r.ctxs[i], span = r.tracer.Start(parent, s.name, s.start...)
		r.live[i] = span
		if len(s.attrs) > 0 {
			span.SetAttributes(s.attrs...)
		}
		for j := range s.events {
			span.AddEvent(s.events[j].name, s.events[j].opts...)
		}
		if s.code != codes.Unset {
			span.SetStatus(s.code, s.description)
		}
	}
	for _, i := range r.shape.endOrder {
		r.live[i].End()
	}
	clear(r.ctxs)
	clear(r.live)
}

// shapeRequests is how many requests recordShape sends to find the shape,
// after shapeWarmups on a keep-alive setup's connection. Over HTTP/2 the
// shape is a race (see recordShape): with 5 requests on a fresh connection,
// 2 of 3 passes of one run replayed the shape without http.wait, which the
// timed rows' requests mostly do not have.
const (
	shapeWarmups  = 4
	shapeRequests = 15
)

// recordShape sends a few requests of setup s through variant v on base,
// recording their spans, and returns the shape most of them had: over
// HTTP/2, a request that is reported written after its response began has
// no http.wait, and the shape of the usual request is the one to replay.
func recordShape(tb testing.TB, s *setup, v *variant, target string, base *http.Transport) *requestShape {
	tb.Helper()
	defer base.CloseIdleConnections()
	rec := newShapeRecorder()
	tps := newProviders(rec)
	rt := v.transport(base, tps.forVariant(v))
	ctx, parent := tps.parent(v)
	defer parent.End()
	if s.keepAlive {
		for range shapeWarmups {
			if err := get(ctx, rt, target); err != nil {
				tb.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
			}
		}
		rec.reset()
	}
	for range shapeRequests {
		if err := get(ctx, rt, target); err != nil {
			tb.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
		}
	}
	shapes, err := rec.shapes(parent.SpanContext().SpanID())
	if err != nil {
		tb.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
	}
	return modal(shapes)
}

// modal returns the shape with the most common signature, the first one of
// it; nil if there is none.
func modal(shapes []*requestShape) *requestShape {
	seen := map[string]int{}
	var best *requestShape
	bestN := 0
	for _, rs := range shapes {
		sig := rs.signature()
		seen[sig]++
		if seen[sig] > bestN {
			best, bestN = rs, seen[sig]
		}
	}
	return best
}

// shapeRecorder is a span processor that keeps every span it sees, in the
// order they started and ended.
type shapeRecorder struct {
	mu      sync.Mutex
	started []trace.SpanID
	ended   map[trace.SpanID]sdktrace.ReadOnlySpan
	order   []trace.SpanID // in the order they ended
}

func newShapeRecorder() *shapeRecorder {
	return &shapeRecorder{ended: map[trace.SpanID]sdktrace.ReadOnlySpan{}}
}

func (r *shapeRecorder) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if s.Name() == parentName {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, s.SpanContext().SpanID())
}

func (r *shapeRecorder) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() == parentName {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended[s.SpanContext().SpanID()] = s
	r.order = append(r.order, s.SpanContext().SpanID())
}

func (*shapeRecorder) Shutdown(context.Context) error   { return nil }
func (*shapeRecorder) ForceFlush(context.Context) error { return nil }

func (r *shapeRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started, r.order = nil, nil
	clear(r.ended)
}

// shapes returns the shape of each request recorded: each span whose parent
// is root starts a request, and the spans under it are its own. It fails if
// a span started and did not end.
func (r *shapeRecorder) shapes(root trace.SpanID) ([]*requestShape, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	endRank := make(map[trace.SpanID]int, len(r.order))
	for i, id := range r.order {
		endRank[id] = i
	}
	var shapes []*requestShape
	// Where each span went: its request and its index there.
	type place struct {
		rs  *requestShape
		idx int
	}
	placed := map[trace.SpanID]place{}
	for _, id := range r.started {
		s, ok := r.ended[id]
		if !ok {
			return nil, fmt.Errorf("span %s started and never ended", id)
		}
		ss := spanShape{
			name:        s.Name(),
			parent:      -1,
			attrs:       s.Attributes(),
			code:        s.Status().Code,
			description: s.Status().Description,
		}
		if k := s.SpanKind(); k != trace.SpanKindInternal {
			ss.start = []trace.SpanStartOption{trace.WithSpanKind(k)}
		}
		for _, e := range s.Events() {
			es := eventShape{name: e.Name, attrs: len(e.Attributes)}
			if len(e.Attributes) > 0 {
				es.opts = []trace.EventOption{trace.WithAttributes(e.Attributes...)}
			}
			ss.events = append(ss.events, es)
		}
		var rs *requestShape
		if p, ok := placed[s.Parent().SpanID()]; ok {
			rs, ss.parent = p.rs, p.idx
		} else if s.Parent().SpanID() == root {
			rs = &requestShape{}
			shapes = append(shapes, rs)
		} else {
			return nil, fmt.Errorf("span %q has a parent that is neither the root nor a span of a request", s.Name())
		}
		placed[id] = place{rs, len(rs.spans)}
		rs.spans = append(rs.spans, ss)
	}
	// The end order, within each request.
	ids := map[*requestShape][]trace.SpanID{}
	for _, id := range r.started {
		p := placed[id]
		ids[p.rs] = append(ids[p.rs], id)
	}
	for _, rs := range shapes {
		order := make([]int, len(rs.spans))
		for i := range order {
			order[i] = i
		}
		spanIDs := ids[rs]
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(endRank[spanIDs[a]], endRank[spanIDs[b]]) })
		rs.endOrder = order
	}
	return shapes, nil
}

// replayShape returns the shape a replay row replays, from requests through
// the variant it names.
func replayShape(tb testing.TB, s *setup, v *variant, target string, base *http.Transport) *requestShape {
	tb.Helper()
	rs := recordShape(tb, s, variantNamed(tb, v.replays), target, base)
	if rs == nil {
		tb.Fatalf("setup %s, variant %s: no request recorded through %s", s.name, v.name, v.replays)
	}
	return rs
}

// TestReplayEmitsTheRecordedSpans records real requests through every
// variant a replay row replays, in every setup, replays the shape found,
// and checks that the replay emitted the same spans, with the same parents,
// attribute counts, events and event attribute counts: the SDK-only rows
// of the floor cost what the same telemetry costs the SDK, no less.
func TestReplayEmitsTheRecordedSpans(t *testing.T) {
	for _, s := range setups {
		target, newBase := s.start(t)
		for i := range variants {
			v := &variants[i]
			if v.replays == "" {
				continue
			}
			t.Run(s.name+"/"+v.name, func(t *testing.T) {
				want := replayShape(t, &s, v, target, newBase())

				rec := newShapeRecorder()
				tps := newProviders(rec)
				ctx, parent := tps.parent(v)
				newReplayer(tps.forVariant(v), want).replay(ctx)
				parent.End()
				got, err := rec.shapes(parent.SpanContext().SpanID())
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 {
					t.Fatalf("replay emitted %d requests, want 1", len(got))
				}
				if g, w := got[0].signature(), want.signature(); g != w {
					t.Errorf("replay emitted\n\t%s\nwant\n\t%s", g, w)
				}
				spans, attrs, events, eventAttrs := want.counts()
				t.Logf("%s replays %s: %d spans, %d attributes, %d events with %d attributes",
					v.name, v.replays, spans, attrs, events, eventAttrs)
			})
		}
	}
}
