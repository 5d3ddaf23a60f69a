package waterfall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	// maxBufferedSpans bounds the spans held for incomplete traces; past
	// it, the oldest traces are rendered as they are.
	maxBufferedSpans = 10000
	// maxPrinted is how many rendered traces are remembered for their
	// late spans.
	maxPrinted = 256
)

var errShutdown = errors.New("waterfall: exporter is shut down")

// Exporter is an [sdktrace.SpanExporter] that writes each finished trace as
// a waterfall: one line per span, nested as a tree, with its duration, the
// facts that matter (peer address, reused connection, TLS version, status
// code, body size, errors) and a bar on a time axis shared by the whole
// trace. It knows the spans of the otelhooks package and renders any other
// span by its name, duration and status.
//
// The output is for people and may change between versions; scripts should
// use [JSONExporter], whose output is a stable contract.
//
// # When a trace is written
//
// The SDK hands spans over as they end, so the spans of one trace arrive in
// several calls to ExportSpans, children before their parents. The exporter
// holds them until the trace is complete, which it decides from the spans
// themselves:
//
//   - every span whose parent is local (in this process) has its parent in
//     hand, so the local root, a span with no parent or a remote one, has
//     ended; and
//   - every span has all its children in hand, as counted by the SDK
//     ([sdktrace.ReadOnlySpan.ChildSpanCount]), so a dial attempt that
//     outlives its request holds the trace until it ends, and its bar lands
//     where it belongs.
//
// A child started after its parent ended is not counted by the SDK; if it
// arrives after its trace was written, it is written on its own under a
// "(continued)" header, on the same time axis. Spans that never arrive, for
// instance children that were not sampled or that went to another tracer
// provider, hold their trace until
// [Exporter.ForceFlush] or [Exporter.Shutdown], which write every trace held,
// complete or not; so does holding more than 10000 spans, oldest trace
// first. Traces written together are ordered by start time.
//
// # Concurrency and errors
//
// All methods are safe to be called concurrently. Each call writes what it
// has to w in a single Write, holding a lock, so traces never interleave
// and w need not be safe for concurrent use; a slow w slows every caller.
// A write error is returned, wrapped, and the traces of that write are
// dropped. After Shutdown, ExportSpans returns an error and writes nothing.
type Exporter struct {
	w   io.Writer
	cfg config

	mu       sync.Mutex // guards the fields below
	stopped  bool
	pending  map[trace.TraceID]*pendingTrace
	seq      uint64 // arrivals, to find the oldest pending trace
	buffered int    // spans in pending
	printed  map[trace.TraceID]*printedTrace
	order    []trace.TraceID // keys of printed, oldest first
	setups   setupCache      // connection setups, for the requests that link to them
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// pendingTrace holds the spans of a trace not yet written, and keeps count
// of what the trace still waits for, so that each span costs the same to
// add however large its trace.
type pendingTrace struct {
	spans []sdktrace.ReadOnlySpan
	seq   uint64

	have    map[trace.SpanID]bool
	kids    map[trace.SpanID]int  // children in hand, by parent id
	orphans map[trace.SpanID]int  // children waiting for their local parent, by parent id
	short   map[trace.SpanID]bool // spans with fewer children in hand than the SDK counted
	need    map[trace.SpanID]int  // children the SDK counted, by span id
}

func newPendingTrace(seq uint64) *pendingTrace {
	return &pendingTrace{
		seq:     seq,
		have:    make(map[trace.SpanID]bool),
		kids:    make(map[trace.SpanID]int),
		orphans: make(map[trace.SpanID]int),
		short:   make(map[trace.SpanID]bool),
		need:    make(map[trace.SpanID]int),
	}
}

// add adds s; prev is the part of the trace already written, or nil.
func (pt *pendingTrace) add(s sdktrace.ReadOnlySpan, prev *printedTrace) {
	pt.spans = append(pt.spans, s)
	id := s.SpanContext().SpanID()
	pt.have[id] = true
	delete(pt.orphans, id)
	pt.need[id] = s.ChildSpanCount()
	pt.check(id, prev)

	if p := s.Parent(); p.IsValid() && !p.IsRemote() {
		pid := p.SpanID()
		pt.kids[pid]++
		switch {
		case pt.have[pid]:
			pt.check(pid, prev)
		case prev != nil && hasKey(prev.ends, pid):
		default:
			pt.orphans[pid]++
		}
	}
}

// check updates whether span id has all its children in hand.
func (pt *pendingTrace) check(id trace.SpanID, prev *printedTrace) {
	n := pt.kids[id]
	if prev != nil {
		n += prev.kids[id]
	}
	if n < pt.need[id] {
		pt.short[id] = true
	} else {
		delete(pt.short, id)
	}
}

// complete reports whether the trace waits for nothing: every span whose
// parent is local has its parent in hand or written before, and every span
// has all the children the SDK counted for it.
func (pt *pendingTrace) complete() bool {
	return len(pt.orphans) == 0 && len(pt.short) == 0
}

// NewExporter returns an Exporter that writes to w, or to os.Stdout if w is nil.
// Color and width are decided as [WithColor] and [WithWidth] describe.
func NewExporter(w io.Writer, opts ...Option) *Exporter {
	if w == nil {
		w = os.Stdout
	}
	return &Exporter{
		w:       w,
		cfg:     newConfig(opts),
		pending: make(map[trace.TraceID]*pendingTrace),
		printed: make(map[trace.TraceID]*printedTrace),
	}
}

// ExportSpans takes ended spans, in any order and of any number of traces,
// and writes the traces they complete. See [Exporter] for when a trace is
// complete.
//
// It returns ctx's error, holding nothing, if ctx is already done; an error
// after Shutdown; and the error of writing, if any. Nil spans are ignored.
// This method is safe to be called concurrently.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return errShutdown
	}

	var touched []trace.TraceID
	for _, s := range spans {
		if s == nil {
			continue
		}
		id := s.SpanContext().TraceID()
		pt := e.pending[id]
		if pt == nil {
			e.seq++
			pt = newPendingTrace(e.seq)
			e.pending[id] = pt
		}
		pt.add(s, e.printed[id])
		e.setups.note(s)
		e.buffered++
		if !slices.Contains(touched, id) {
			touched = append(touched, id)
		}
	}

	var ready []trace.TraceID
	held := e.buffered
	for _, id := range touched {
		if e.pending[id].complete() {
			ready = append(ready, id)
			held -= len(e.pending[id].spans)
		}
	}
	for held > maxBufferedSpans {
		id := e.oldestLocked(ready)
		ready = append(ready, id)
		held -= len(e.pending[id].spans)
	}
	return e.writeLocked(ready)
}

// ForceFlush writes every trace held, complete or not, ordered by start
// time. Spans of those traces that arrive later are written under a
// "(continued)" header.
//
// The SDK's [sdktrace.TracerProvider.ForceFlush] does not call it: span
// processors flush their spans to the exporter, not the exporter's own
// buffer. Call it directly, after the provider's ForceFlush when spans are
// batched.
//
// It returns ctx's error, writing nothing, if ctx is already done, and the
// error of writing, if any. After Shutdown it does nothing. This method is
// safe to be called concurrently.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.writeLocked(e.allPendingLocked())
}

// Shutdown writes every trace held, as ForceFlush does, and stops the
// exporter: later calls to ExportSpans return an error. It writes even when
// ctx is done, since writing is all it waits for, and returns the error of
// writing, if any. Calling it again does nothing. This method is safe to be
// called concurrently.
func (e *Exporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	err := e.writeLocked(e.allPendingLocked())
	e.stopped = true
	e.pending, e.printed, e.order, e.setups = nil, nil, nil, setupCache{}
	return err
}

// oldestLocked returns the pending trace that arrived first, leaving out
// those in skip. e.mu must be held, and a trace must be left.
func (e *Exporter) oldestLocked(skip []trace.TraceID) trace.TraceID {
	var oldest trace.TraceID
	var seq uint64
	for id, pt := range e.pending {
		if slices.Contains(skip, id) {
			continue
		}
		if seq == 0 || pt.seq < seq {
			oldest, seq = id, pt.seq
		}
	}
	return oldest
}

// allPendingLocked returns the ids of all pending traces. e.mu must be held.
func (e *Exporter) allPendingLocked() []trace.TraceID {
	ids := make([]trace.TraceID, 0, len(e.pending))
	for id := range e.pending {
		ids = append(ids, id)
	}
	return ids
}

// writeLocked renders the pending traces ids, ordered by start time, and
// writes them in one Write. They are no longer pending, even if writing
// fails. e.mu must be held.
func (e *Exporter) writeLocked(ids []trace.TraceID) error {
	if len(ids) == 0 {
		return nil
	}
	type job struct {
		id    trace.TraceID
		spans []sdktrace.ReadOnlySpan
		start time.Time
	}
	jobs := make([]job, 0, len(ids))
	for _, id := range ids {
		pt := e.pending[id]
		delete(e.pending, id)
		e.buffered -= len(pt.spans)
		j := job{id: id, spans: pt.spans}
		for _, s := range pt.spans {
			if st := s.StartTime(); !st.IsZero() && (j.start.IsZero() || st.Before(j.start)) {
				j.start = st
			}
		}
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b job) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})

	width := e.cfg.widthFor(e.w)
	color := e.cfg.useColor(e.w)
	var b strings.Builder
	for _, j := range jobs {
		f := build(j.spans, e.printed[j.id])
		e.setups.attach(f, j.spans)
		render(&b, j.id, f, width, color)
		b.WriteString("\n")
		e.rememberLocked(j.id, f.t0, j.spans)
	}
	if _, err := io.WriteString(e.w, b.String()); err != nil {
		return fmt.Errorf("waterfall: write: %w", err)
	}
	return nil
}

// rememberLocked records the spans of a rendered trace, for its late
// spans. e.mu must be held.
func (e *Exporter) rememberLocked(id trace.TraceID, t0 time.Time, spans []sdktrace.ReadOnlySpan) {
	pt := e.printed[id]
	if pt == nil {
		if len(e.order) >= maxPrinted {
			delete(e.printed, e.order[0])
			e.order = e.order[1:]
		}
		pt = &printedTrace{
			t0:   t0,
			ends: make(map[trace.SpanID]time.Time, len(spans)),
			kids: make(map[trace.SpanID]int),
		}
		e.printed[id] = pt
		e.order = append(e.order, id)
	}
	for _, s := range spans {
		pt.ends[s.SpanContext().SpanID()] = s.EndTime()
		if p := s.Parent(); p.IsValid() && !p.IsRemote() {
			pt.kids[p.SpanID()]++
		}
	}
}
