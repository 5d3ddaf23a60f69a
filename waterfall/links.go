package waterfall

import (
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// This file draws otelhooks' connection model (WithConnectionSpans): each
// connection's setup is a trace of its own, printed as such, and the request
// spans link to it. Under a request that links to a setup the exporter has
// seen, a dimmed row "setup, linked" repeats that setup: which connection
// served the request, how old it was and how many requests it had served.

// Span name prefixes of the connection model.
const (
	connSetupPrefix    = names.SpanConnSetupPrefix
	waitConnPrefix     = names.SpanWaitConnPrefix
	dnsLookupPrefix    = names.SpanDNSLookupPrefix
	socketPrefix       = names.SpanSocketConnectPrefix
	tlsHandshakePrefix = names.SpanTLSHandshakePrefix
)

// linkedPrefix begins the name of a linked setup's row.
const linkedPrefix = "↗ setup, linked "

// maxSetups is how many connection setups an exporter remembers for the
// requests that link to them; the oldest are forgotten first.
const maxSetups = 256

// setupCache remembers the setup spans an exporter has seen, by span id.
// The exporter's mu guards it; the zero value is ready to use.
type setupCache struct {
	byID  map[spanKey]*node
	order []spanKey // keys of byID, oldest first
}

// spanKey identifies a span across traces.
type spanKey struct {
	trace trace.TraceID
	span  trace.SpanID
}

func keyOf(sc trace.SpanContext) spanKey { return spanKey{sc.TraceID(), sc.SpanID()} }

// note remembers s if it is a connection setup span.
func (c *setupCache) note(s sdktrace.ReadOnlySpan) {
	if !strings.HasPrefix(s.Name(), connSetupPrefix) || s.Parent().IsValid() {
		return
	}
	if c.byID == nil {
		c.byID = make(map[spanKey]*node)
	}
	id := keyOf(s.SpanContext())
	if _, dup := c.byID[id]; !dup {
		if len(c.order) >= maxSetups {
			delete(c.byID, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, id)
	}
	c.byID[id] = spanNode(s)
}

// attach adds, under each span of f that links to a remembered setup, a
// linked row for it. A wait_for_connection span, whose request links to the
// same setup, gets none. Linked rows do not widen the time axis: a
// connection set up long before its request is shown without a bar.
func (c *setupCache) attach(f *forest, spans []sdktrace.ReadOnlySpan) {
	if len(c.byID) == 0 {
		return
	}
	byID := make(map[trace.SpanID]*node)
	var index func(nodes []*node)
	index = func(nodes []*node) {
		for _, n := range nodes {
			if n.id.IsValid() && !n.pseudo && !n.event {
				if _, dup := byID[n.id]; !dup {
					byID[n.id] = n
				}
			}
			index(n.children)
		}
	}
	index(f.roots)
	for _, s := range spans {
		if len(s.Links()) == 0 || strings.HasPrefix(s.Name(), waitConnPrefix) {
			continue
		}
		n := byID[s.SpanContext().SpanID()]
		if n == nil {
			continue
		}
		added := false
		for _, l := range s.Links() {
			setup := c.byID[keyOf(l.SpanContext)]
			if setup == nil {
				continue
			}
			row := *setup
			row.children, row.late, row.orphan = nil, 0, false
			row.linked = true
			row.name = linkedPrefix + strings.TrimPrefix(setup.name, connSetupPrefix)
			row.attrs = append(append(attrs(nil), setup.attrs...), l.Attributes...)
			n.children = append(n.children, &row)
			added = true
		}
		if added {
			sortTree(n.children)
		}
	}
}

// isConnModel reports whether name is a span of the connection model.
func isConnModel(name string) bool {
	for _, p := range []string{connSetupPrefix, waitConnPrefix, dnsLookupPrefix, socketPrefix, tlsHandshakePrefix} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// connModelFacts adds the facts of a span of the connection model; the
// host and port are in the names already. parent is the row n hangs under,
// or nil: the kernel's view of the connection, which otelhooks puts on the
// request span, goes on the linked setup's row.
func connModelFacts(n, parent *node, add func(text, style string)) {
	a := n.attrs
	switch {
	case n.linked:
		if id, ok := a.int(names.AttrConnID); ok {
			add("conn #"+strconv.FormatInt(id, 10), styleDim)
		}
		if r, ok := a.int(names.AttrConnRequests); ok {
			add("request #"+strconv.FormatInt(r, 10), styleDim)
		}
		if v, ok := a.get(names.AttrConnAge); ok && v.Type() == attribute.FLOAT64 {
			if s := v.AsFloat64(); !math.IsNaN(s) && s >= 0 && s < 1e9 {
				add("age "+fmtDur(time.Duration(s*float64(time.Second))), styleDim)
			}
		}
		if parent != nil && isRequest(parent) {
			add(tcpFacts(parent.attrs), styleDim)
		}
	case strings.HasPrefix(n.name, connSetupPrefix):
		if id, ok := a.int(names.AttrConnID); ok {
			add("conn #"+strconv.FormatInt(id, 10), styleNone)
		}
		if p := a.str(semconv.NetworkPeerAddressKey); p != "" {
			add("→ "+p, styleNone)
		}
	case strings.HasPrefix(n.name, dnsLookupPrefix):
		if v, ok := a.get(semconv.DNSAnswersKey); ok {
			if answers := v.AsStringSlice(); len(answers) > 0 {
				text := "→ " + answers[0]
				if len(answers) > 1 {
					text += " +" + strconv.Itoa(len(answers)-1)
				}
				add(text, styleNone)
			}
		}
	case strings.HasPrefix(n.name, socketPrefix):
		if winner, ok := a.bool(names.AttrConnectWinner); ok {
			switch {
			case winner:
				add("✓ winner", styleGreen)
			case n.status.Code != codes.Error:
				add("unused", styleDim)
			}
		}
	case strings.HasPrefix(n.name, tlsHandshakePrefix):
		if v := a.str(semconv.TLSProtocolVersionKey); v != "" {
			add("TLS "+v, styleNone)
		}
		add(a.str(semconv.TLSNextProtocolKey), styleNone)
		if r, _ := a.bool(semconv.TLSResumedKey); r {
			add("resumed", styleNone)
		}
	}
}

// linkedBefore reports whether n is a linked row entirely before the axis,
// which gets no bar.
func (a axis) linkedBefore(n *node) bool {
	return n.linked && n.end.Before(a.t0)
}

// jsonLink is a link in the output of JSONExporter.
type jsonLink struct {
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	Attributes map[string]any `json:"attributes"`
}

// jsonLinks returns links for JSONExporter; nil if there are none.
func jsonLinks(links []sdktrace.Link) []jsonLink {
	if len(links) == 0 {
		return nil
	}
	out := make([]jsonLink, len(links))
	for i, l := range links {
		out[i] = jsonLink{
			TraceID:    l.SpanContext.TraceID().String(),
			SpanID:     l.SpanContext.SpanID().String(),
			Attributes: jsonAttrs(l.Attributes),
		}
	}
	return out
}
