package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// accountingRequests is how many requests TestSpanAccounting counts per row.
const accountingRequests = 3

// TestSpanAccounting sends a few requests through every setup and variant
// with a processor that counts spans and events, prints spans and events per
// request and the spans left unended, and fails if one of this project's
// variants leaves a span unended. The otelhttptrace rows are reported, not
// failed: their "http.receive" span ends only at PutIdleConn, which never
// comes without keep-alive or over HTTP/2.
func TestSpanAccounting(t *testing.T) {
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-6s %-28s %9s %10s  %s\n", "setup", "variant", "spans/req", "events/req", "unended spans (name×count)")
	for _, s := range setups {
		target, newBase := s.start(t)
		for i := range variants {
			v := &variants[i]
			rec := newRecorder()
			tps := newProviders(rec)
			if v.replays != "" {
				// No request: the spans of one, through the SDK.
				r := newReplayer(tps.forVariant(v), replayShape(t, &s, v, target, newBase()))
				ctx, parent := tps.parent(v)
				for range accountingRequests {
					r.replay(ctx)
				}
				parent.End()
				c := rec.counts()
				fmt.Fprintf(&table, "%-6s %-28s %9.1f %10.1f  %s\n", s.name, v.name,
					float64(c.started)/accountingRequests, float64(c.events)/accountingRequests, "-")
				continue
			}
			base := newBase()
			rt := v.transport(base, tps.forVariant(v))
			ctx, parent := tps.parent(v)

			if s.keepAlive {
				// Dial the connection first, as the benchmark does,
				// and count the steady state only.
				if err := get(ctx, rt, target); err != nil {
					t.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
				}
				rec.reset()
			}
			for range accountingRequests {
				reqCtx := ctx
				if v.perRequest != nil {
					reqCtx = v.perRequest(ctx)
				}
				if err := get(reqCtx, rt, target); err != nil {
					t.Fatalf("setup %s, variant %s: %v", s.name, v.name, err)
				}
			}
			base.CloseIdleConnections()
			// Every span of ours ends before Close returns; give others a
			// moment for hooks that net/http calls late.
			unended := rec.settle(200 * time.Millisecond)
			parent.End()

			c := rec.counts()
			verdict := ""
			switch {
			case len(unended) > 0 && v.ours:
				verdict = "  FAIL"
				t.Errorf("setup %s, variant %s: spans left unended: %s", s.name, v.name, formatCounts(unended))
			case len(unended) > 0:
				verdict = "  (reported, not failed)"
			}
			fmt.Fprintf(&table, "%-6s %-28s %9.1f %10.1f  %s%s\n", s.name, v.name,
				float64(c.started)/accountingRequests, float64(c.events)/accountingRequests,
				formatCounts(unended), verdict)
		}
	}
	t.Log(table.String())
}

func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[name]))
	}
	return strings.Join(parts, ", ")
}

// recorder is a span processor that counts started spans and the events of
// ended ones, and remembers which spans are still open. It leaves out the
// parent span, which the test makes.
type recorder struct {
	mu      sync.Mutex
	started int
	events  int
	open    map[trace.SpanID]string
	// ended gets a signal, without blocking, each time an open span ends,
	// for settle.
	ended chan struct{}
}

func newRecorder() *recorder {
	return &recorder{open: map[trace.SpanID]string{}, ended: make(chan struct{}, 1)}
}

func (r *recorder) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if s.Name() == parentName {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started++
	r.open[s.SpanContext().SpanID()] = s.Name()
}

func (r *recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.Name() == parentName {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.open[s.SpanContext().SpanID()]; !ok {
		return // started before the last reset
	}
	delete(r.open, s.SpanContext().SpanID())
	r.events += len(s.Events())
	select {
	case r.ended <- struct{}{}:
	default: // a signal is pending already
	}
}

func (r *recorder) Shutdown(context.Context) error   { return nil }
func (r *recorder) ForceFlush(context.Context) error { return nil }

// reset forgets everything counted so far; spans open now are not waited
// for.
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started, r.events = 0, 0
	clear(r.open)
}

type counts struct{ started, events int }

func (r *recorder) counts() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return counts{r.started, r.events}
}

// settle waits up to d for the open spans to end, and returns the ones that
// did not, counted by name. It wakes at each span's end, not on a timer.
func (r *recorder) settle(d time.Duration) map[string]int {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		n := len(r.open)
		var unended map[string]int
		if n > 0 {
			unended = map[string]int{}
			for _, name := range r.open {
				unended[name]++
			}
		}
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-r.ended:
		case <-timeout.C:
			return unended
		}
	}
}
