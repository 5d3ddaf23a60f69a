package clienttrace

import "net/http/httptrace"

// FromHTTPTrace returns a new ClientTrace with the hooks of t, so that a trace
// written for net/http/httptrace can be composed with [Compose] or installed
// with [WithClientTrace]. The lifecycle hooks are nil. A nil t gives nil.
//
// The result holds t's functions, not t: later changes to t's fields are not
// seen, and t is never modified.
func FromHTTPTrace(t *httptrace.ClientTrace) *ClientTrace {
	if t == nil {
		return nil
	}
	return &ClientTrace{
		GetConn:              t.GetConn,
		GotConn:              t.GotConn,
		PutIdleConn:          t.PutIdleConn,
		GotFirstResponseByte: t.GotFirstResponseByte,
		Got100Continue:       t.Got100Continue,
		Got1xxResponse:       t.Got1xxResponse,
		DNSStart:             t.DNSStart,
		DNSDone:              t.DNSDone,
		ConnectStart:         t.ConnectStart,
		ConnectDone:          t.ConnectDone,
		TLSHandshakeStart:    t.TLSHandshakeStart,
		TLSHandshakeDone:     t.TLSHandshakeDone,
		WroteHeaderField:     t.WroteHeaderField,
		WroteHeaders:         t.WroteHeaders,
		Wait100Continue:      t.Wait100Continue,
		WroteRequest:         t.WroteRequest,
	}
}

// ToHTTPTrace returns a new [httptrace.ClientTrace] with the sixteen net/http
// hooks of t, for code that takes one. The lifecycle hooks, RoundTripDone and
// BodyDone, have no place there and are left out. A nil t gives nil.
//
// Installing the result with [httptrace.WithClientTrace] follows net/http's
// rules, which modify it when ctx already has a trace; t is never modified.
func ToHTTPTrace(t *ClientTrace) *httptrace.ClientTrace {
	if t == nil {
		return nil
	}
	h := new(httptrace.ClientTrace)
	copyToHTTPTrace(h, t)
	return h
}

// copyToHTTPTrace sets the hooks of h to those of t.
func copyToHTTPTrace(h *httptrace.ClientTrace, t *ClientTrace) {
	*h = httptrace.ClientTrace{
		GetConn:              t.GetConn,
		GotConn:              t.GotConn,
		PutIdleConn:          t.PutIdleConn,
		GotFirstResponseByte: t.GotFirstResponseByte,
		Got100Continue:       t.Got100Continue,
		Got1xxResponse:       t.Got1xxResponse,
		DNSStart:             t.DNSStart,
		DNSDone:              t.DNSDone,
		ConnectStart:         t.ConnectStart,
		ConnectDone:          t.ConnectDone,
		TLSHandshakeStart:    t.TLSHandshakeStart,
		TLSHandshakeDone:     t.TLSHandshakeDone,
		WroteHeaderField:     t.WroteHeaderField,
		WroteHeaders:         t.WroteHeaders,
		Wait100Continue:      t.Wait100Continue,
		WroteRequest:         t.WroteRequest,
	}
}
