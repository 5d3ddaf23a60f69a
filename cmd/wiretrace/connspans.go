package main

import (
	"strings"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// With -connspans (otelhooks.WithConnectionSpans), a request's connection
// is not under it: its setup is a trace of its own that the request span
// links to, and the request has "HTTP wait_for_connection" when it waited.
// These two functions give -w and the -n summary the same facts from there.

// linked returns the spans of the traces that spans link to, as c has them
// so far, without taking them: one connection's setup serves many requests.
func (c *collector) linked(spans []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sdktrace.ReadOnlySpan
	seen := map[trace.TraceID]bool{}
	for _, s := range spans {
		for _, l := range s.Links() {
			id := l.SpanContext.TraceID()
			if !seen[id] {
				seen[id] = true
				out = append(out, c.spans[id]...)
			}
		}
	}
	return out
}

// connModelHop fills the connection facts of h, a hop with no http.getconn,
// from the connection model: the wait (its GetConn to GotConn; without one
// the connection was ready when the request was sent), and the setup span
// req links to, found in spans with its children in kids. The setup's DNS
// lookup, winning connect and TLS handshake count for the request that was
// the connection's first, as http.getconn's children do for the request that
// dialed.
func connModelHop(h *hopTiming, req sdktrace.ReadOnlySpan, kids map[trace.SpanID][]sdktrace.ReadOnlySpan, spans []sdktrace.ReadOnlySpan) {
	var wait, send sdktrace.ReadOnlySpan
	for _, s := range kids[req.SpanContext().SpanID()] {
		switch {
		case strings.HasPrefix(s.Name(), names.SpanWaitConnPrefix):
			wait = s
		case s.Name() == names.SpanSend && send == nil:
			send = s
		}
	}
	var setup sdktrace.ReadOnlySpan
	first := false
	for _, l := range req.Links() {
		for _, s := range spans {
			if s.SpanContext().SpanID() == l.SpanContext.SpanID() && strings.HasPrefix(s.Name(), names.SpanConnSetupPrefix) {
				setup = s
				n, _ := intAttr(l.Attributes, names.AttrConnRequests)
				first = n == 1
			}
		}
	}
	switch {
	case wait != nil:
		h.getconnStart = wait.StartTime()
		if wait.Status().Code != codes.Error {
			h.hasConn, h.gotConn = true, wait.EndTime()
		}
	case send != nil:
		h.getconnStart, h.hasConn, h.gotConn = send.StartTime(), true, send.StartTime()
	}
	if setup == nil {
		return
	}
	a := setup.Attributes()
	h.peerAddr = strAttr(a, "network.peer.address")
	h.localAddr = strAttr(a, "network.local.address")
	h.localPort, _ = intAttr(a, "network.local.port")
	h.newConn = first
	for _, s := range kids[setup.SpanContext().SpanID()] {
		switch {
		case strings.HasPrefix(s.Name(), names.SpanSocketConnectPrefix):
			if w, _ := boolAttr(s.Attributes(), names.AttrConnectWinner); w {
				h.peerPort, _ = intAttr(s.Attributes(), "network.peer.port")
				if first {
					h.hasConnect, h.connect, h.connectEnd = true, s.EndTime().Sub(s.StartTime()), s.EndTime()
				}
			}
		case !first:
		case strings.HasPrefix(s.Name(), names.SpanDNSLookupPrefix):
			h.hasDNS, h.dns, h.dnsEnd = true, s.EndTime().Sub(s.StartTime()), s.EndTime()
		case strings.HasPrefix(s.Name(), names.SpanTLSHandshakePrefix):
			if s.Status().Code != codes.Error && (!h.hasTLS || s.EndTime().After(h.tlsEnd)) {
				h.hasTLS, h.tls, h.tlsEnd = true, s.EndTime().Sub(s.StartTime()), s.EndTime()
			}
		}
	}
}
