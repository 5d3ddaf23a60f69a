package waterfall

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// attrs is a list of attributes looked up by key; the last one wins.
type attrs []attribute.KeyValue

func (a attrs) get(key attribute.Key) (attribute.Value, bool) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i].Key == key {
			return a[i].Value, true
		}
	}
	return attribute.Value{}, false
}

func (a attrs) str(key attribute.Key) string {
	v, ok := a.get(key)
	if !ok || v.Type() != attribute.STRING {
		return ""
	}
	return v.AsString()
}

func (a attrs) int(key attribute.Key) (int64, bool) {
	v, ok := a.get(key)
	if !ok {
		return 0, false
	}
	switch v.Type() {
	case attribute.INT64:
		return v.AsInt64(), true
	case attribute.FLOAT64:
		return int64(v.AsFloat64()), true
	}
	return 0, false
}

func (a attrs) bool(key attribute.Key) (value, ok bool) {
	v, ok := a.get(key)
	if !ok || v.Type() != attribute.BOOL {
		return false, false
	}
	return v.AsBool(), true
}

// node is one row of the waterfall: a span, a phase rebuilt from a span's
// events (pseudo), or a point event.
type node struct {
	name   string
	kind   trace.SpanKind
	id     trace.SpanID // zero for pseudo and event rows
	start  time.Time
	end    time.Time // equal to start for events
	attrs  attrs
	status sdktrace.Status

	event    bool // a point event of its parent span
	pseudo   bool // a phase rebuilt from start/done events
	unpaired bool // a pseudo phase whose done event never came
	badEnd   bool // a span with no end time, or one before its start
	orphan   bool // its local parent was never seen
	linked   bool // a connection setup its parent links to (links.go)
	late     time.Duration
	children []*node
}

// phases are the phase names of the events mode, as in "http.dns.start".
var phases = map[string]bool{
	names.SpanGetConn: true, names.SpanDNS: true, names.SpanConnect: true, names.SpanTLS: true,
	names.SpanSend: true, names.SpanWait: true, names.SpanReceive: true,
}

// connPhases nest under http.getconn.
var connPhases = map[string]bool{names.SpanDNS: true, names.SpanConnect: true, names.SpanTLS: true}

// quietEvents are point events whose information the rows already show:
// the boundaries of the phase spans.
var quietEvents = map[string]bool{
	names.EventFirstByte:    true,
	names.EventWroteHeaders: true,
}

// forest is the trees of one trace, ready to lay out.
type forest struct {
	roots      []*node
	t0, t1     time.Time // the shared time axis; zero if nothing has a time
	continued  bool      // spans of a trace printed before
	spanCount  int
	errorCount int // error spans whose parent here is not one
}

// printedTrace remembers a trace already rendered, so that its late spans
// land on the same axis and find their parents.
type printedTrace struct {
	t0   time.Time
	ends map[trace.SpanID]time.Time // span id to end time
	kids map[trace.SpanID]int       // parent span id to children written
}

// build turns the spans of one trace into trees. prev is the rendering of
// the same trace before, or nil.
func build(spans []sdktrace.ReadOnlySpan, prev *printedTrace) *forest {
	f := &forest{continued: prev != nil, spanCount: len(spans)}
	nodes := make([]*node, 0, len(spans))
	byID := make(map[trace.SpanID]*node, len(spans))
	for _, s := range spans {
		n := spanNode(s)
		nodes = append(nodes, n)
		if _, dup := byID[n.id]; !dup {
			byID[n.id] = n
		}
	}

	parentOf := make(map[*node]*node, len(nodes))
	for i, s := range spans {
		n := nodes[i]
		p := s.Parent()
		switch {
		case !p.IsValid() || p.IsRemote():
		case byID[p.SpanID()] != nil && byID[p.SpanID()] != n:
			parent := byID[p.SpanID()]
			parentOf[n] = parent
			parent.children = append(parent.children, n)
			if !parent.badEnd && n.end.After(parent.end) {
				n.late = n.end.Sub(parent.end)
			}
		case prev != nil && hasKey(prev.ends, p.SpanID()):
			if pe := prev.ends[p.SpanID()]; !pe.IsZero() && n.end.After(pe) {
				n.late = n.end.Sub(pe)
			}
		default:
			n.orphan = true
		}
	}

	// An error counts once, at the top of its chain: a failed handshake
	// fails its http.getconn and its request too, and is one error.
	for _, n := range nodes {
		if n.status.Code == codes.Error && (parentOf[n] == nil || parentOf[n].status.Code != codes.Error) {
			f.errorCount++
		}
	}

	// Roots are the nodes without a parent here; nodes left unvisited from
	// them sit on a cycle of parents, which is broken at its earliest node.
	visited := make(map[*node]bool, len(nodes))
	var visit func(n *node)
	visit = func(n *node) {
		if visited[n] {
			return
		}
		visited[n] = true
		for _, c := range n.children {
			visit(c)
		}
	}
	for _, n := range nodes {
		if parentOf[n] == nil {
			f.roots = append(f.roots, n)
			visit(n)
		}
	}
	for {
		var first *node
		for _, n := range nodes {
			if !visited[n] && (first == nil || n.start.Before(first.start)) {
				first = n
			}
		}
		if first == nil {
			break
		}
		p := parentOf[first]
		p.children = slices.DeleteFunc(p.children, func(c *node) bool { return c == first })
		delete(parentOf, first)
		first.orphan = true
		f.roots = append(f.roots, first)
		visit(first)
	}

	for i, s := range spans {
		addEventRows(nodes[i], s.Events())
	}

	sortTree(f.roots)
	f.t0, f.t1 = bounds(f.roots)
	if prev != nil && !prev.t0.IsZero() && (f.t0.IsZero() || prev.t0.Before(f.t0)) {
		f.t0 = prev.t0
		if f.t1.IsZero() {
			f.t1 = f.t0
		}
	}
	return f
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

func spanNode(s sdktrace.ReadOnlySpan) *node {
	n := &node{
		name:   s.Name(),
		kind:   s.SpanKind(),
		id:     s.SpanContext().SpanID(),
		start:  s.StartTime(),
		end:    s.EndTime(),
		attrs:  s.Attributes(),
		status: s.Status(),
	}
	if n.start.IsZero() {
		n.end = n.start
	} else if n.end.IsZero() || n.end.Before(n.start) {
		n.badEnd = true
		n.end = n.start
	}
	return n
}

// addEventRows adds n's events as children: pairs of "http.X.start" and
// "http.X.done" become phase rows (the events mode of otelhooks), with the
// connection phases under the http.getconn they fall in; other events
// become point rows, except those the phase rows already show.
func addEventRows(n *node, events []sdktrace.Event) {
	if len(events) == 0 {
		return
	}
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b sdktrace.Event) int { return a.Time.Compare(b.Time) })

	var open []*node // started phases waiting for their done event
	var rows []*node
	for _, e := range events {
		name, start, isPhase := phaseEvent(e.Name)
		switch {
		case isPhase && start:
			p := &node{name: name, pseudo: true, unpaired: true, start: e.Time, end: e.Time, attrs: e.Attributes}
			open = append(open, p)
			rows = append(rows, p)
		case isPhase:
			p := matchStart(open, name, e.Attributes)
			if p == nil {
				p = &node{name: name, pseudo: true, start: e.Time}
				rows = append(rows, p)
			} else {
				open = slices.DeleteFunc(open, func(o *node) bool { return o == p })
			}
			p.unpaired = false
			p.end = e.Time
			p.attrs = append(slices.Clip(p.attrs), e.Attributes...)
			if msg := eventError(p.attrs); msg != "" {
				p.status = sdktrace.Status{Code: codes.Error, Description: msg}
			}
		case quietEvents[e.Name]:
		case e.Name == names.EventPutIdleConn && eventError(e.Attributes) == "":
		default:
			rows = append(rows, &node{name: e.Name, event: true, start: e.Time, end: e.Time, attrs: e.Attributes})
		}
	}
	for _, p := range open {
		if !n.end.IsZero() && n.end.After(p.start) {
			p.end = n.end
		}
	}

	// Connection phases go under the latest http.getconn started before
	// them, if they started before it ended.
	var conn *node
	for _, r := range rows {
		switch {
		case r.pseudo && r.name == names.SpanGetConn:
			conn = r
			n.children = append(n.children, r)
		case r.pseudo && connPhases[r.name] && conn != nil && !r.start.Before(conn.start) && !r.start.After(conn.end):
			conn.children = append(conn.children, r)
			if !conn.unpaired && r.end.After(conn.end) {
				r.late = r.end.Sub(conn.end)
			}
		default:
			n.children = append(n.children, r)
		}
	}
}

// eventError is the error an event reports: its wiretrace.error.message,
// else its error.type, else "".
func eventError(a attrs) string {
	if msg := a.str(names.AttrErrorMessage); msg != "" {
		return msg
	}
	return a.str(semconv.ErrorTypeKey)
}

// phaseEvent splits "http.dns.start" into "http.dns" and start = true, and
// "http.dns.done" into "http.dns" and start = false.
func phaseEvent(name string) (phase string, start, ok bool) {
	if p, found := strings.CutSuffix(name, names.StartSuffix); found && phases[p] {
		return p, true, true
	}
	if p, found := strings.CutSuffix(name, names.DoneSuffix); found && phases[p] {
		return p, false, true
	}
	return "", false, false
}

// matchStart finds the open phase a done event closes: the first one of that
// name whose peer address and port agree with the done event's where both
// have them, or else the first one of that name.
func matchStart(open []*node, name string, done attrs) *node {
	var first *node
	for _, o := range open {
		if o.name != name {
			continue
		}
		if first == nil {
			first = o
		}
		if agree(o.attrs, done, semconv.NetworkPeerAddressKey) && agree(o.attrs, done, semconv.NetworkPeerPortKey) {
			return o
		}
	}
	return first
}

// agree reports whether a and b have the same value for key, or not both
// have it.
func agree(a, b attrs, key attribute.Key) bool {
	va, okA := a.get(key)
	vb, okB := b.get(key)
	return !okA || !okB || va.String() == vb.String()
}

// sortTree orders children by start time, then name, then span id, so the
// output does not depend on arrival order.
func sortTree(nodes []*node) {
	slices.SortStableFunc(nodes, func(a, b *node) int {
		return cmp.Or(
			a.start.Compare(b.start),
			strings.Compare(a.name, b.name),
			bytes.Compare(a.id[:], b.id[:]),
		)
	})
	for _, n := range nodes {
		sortTree(n.children)
	}
}

// bounds returns the earliest start and latest end in the trees, ignoring
// zero times.
func bounds(nodes []*node) (t0, t1 time.Time) {
	for _, n := range nodes {
		if !n.start.IsZero() {
			if t0.IsZero() || n.start.Before(t0) {
				t0 = n.start
			}
			if t1.IsZero() || n.end.After(t1) {
				t1 = n.end
			}
		}
		c0, c1 := bounds(n.children)
		if !c0.IsZero() && (t0.IsZero() || c0.Before(t0)) {
			t0 = c0
		}
		if !c1.IsZero() && (t1.IsZero() || c1.After(t1)) {
			t1 = c1
		}
	}
	return t0, t1
}
