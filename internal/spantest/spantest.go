// Package spantest provides the span processors wiretrace's tests and
// benchmarks share: an [EndChecker] that proves every span that starts ends,
// exactly once, and [Discard], which drops every span.
package spantest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestingT is the part of testing.TB that EndChecker.AssertAllEnded uses.
type TestingT interface {
	Helper()
	Errorf(format string, args ...any)
}

// EndChecker is a span processor that remembers every span started and how
// many times each ended. It is safe for concurrent use.
type EndChecker struct {
	mu      sync.Mutex
	started map[trace.SpanID]string // span id to name
	ended   map[trace.SpanID]int
	// changed receives a value, if it has room, each time a span ends
	// (AwaitAllEnded).
	changed chan struct{}
}

var _ sdktrace.SpanProcessor = (*EndChecker)(nil)

// NewEndChecker returns an EndChecker that has seen no span.
func NewEndChecker() *EndChecker {
	return &EndChecker{started: map[trace.SpanID]string{}, ended: map[trace.SpanID]int{}, changed: make(chan struct{}, 1)}
}

// OnStart records that s started.
func (c *EndChecker) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started[s.SpanContext().SpanID()] = s.Name()
}

// OnEnd records that s ended.
func (c *EndChecker) OnEnd(s sdktrace.ReadOnlySpan) {
	c.mu.Lock()
	c.ended[s.SpanContext().SpanID()]++
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Shutdown does nothing.
func (*EndChecker) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*EndChecker) ForceFlush(context.Context) error { return nil }

// Open returns the names of the spans started and not ended, sorted.
func (c *EndChecker) Open() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for id, name := range c.started {
		if c.ended[id] == 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// EndedTwice returns the names of the spans this processor saw end more than
// once, sorted.
func (c *EndChecker) EndedTwice() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for id, n := range c.ended {
		if n > 1 {
			names = append(names, fmt.Sprintf("%s (%d times)", c.started[id], n))
		}
	}
	slices.Sort(names)
	return names
}

// Counts returns how many spans started, and how many of them ended.
func (c *EndChecker) Counts() (started, ended int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.started {
		if c.ended[id] > 0 {
			ended++
		}
	}
	return len(c.started), ended
}

// AssertAllEnded reports an error to t for the spans started and never
// ended, and for those ended more than once.
func (c *EndChecker) AssertAllEnded(t TestingT) {
	t.Helper()
	if open := c.Open(); len(open) > 0 {
		t.Errorf("spans started and never ended: %v", open)
	}
	if twice := c.EndedTwice(); len(twice) > 0 {
		t.Errorf("spans ended more than once: %v", twice)
	}
}

// AwaitAllEnded waits, at most for d, until every span started has ended,
// and then reports as AssertAllEnded does. It is for spans that end on a
// goroutine of their own after the requests of a test returned: the
// connection setup of a dial that outlives its request
// (otelhooks.WithConnectionSpans) ends when net/http's dial does.
func (c *EndChecker) AwaitAllEnded(t TestingT, d time.Duration) {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for len(c.Open()) > 0 {
		select {
		case <-c.changed:
		case <-timeout.C:
			c.AssertAllEnded(t)
			return
		}
	}
	c.AssertAllEnded(t)
}

// Discard is a span processor that drops every span on End: the SDK still
// starts, records and snapshots each span, as it does for an exporter, but
// nothing is kept. Benchmarks use it to measure instrumentation alone.
type Discard struct{}

var _ sdktrace.SpanProcessor = Discard{}

// OnStart does nothing.
func (Discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd does nothing.
func (Discard) OnEnd(sdktrace.ReadOnlySpan) {}

// Shutdown does nothing.
func (Discard) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (Discard) ForceFlush(context.Context) error { return nil }
