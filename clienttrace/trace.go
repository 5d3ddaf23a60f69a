package clienttrace

import (
	"crypto/tls"
	"net/http/httptrace"
	"net/textproto"
)

// The information types are those of net/http/httptrace, so that values flow
// between the two packages without conversion.
type (
	// DNSStartInfo is the argument to [ClientTrace.DNSStart].
	DNSStartInfo = httptrace.DNSStartInfo
	// DNSDoneInfo is the argument to [ClientTrace.DNSDone]. The contents of
	// its Addrs slice must not be mutated.
	DNSDoneInfo = httptrace.DNSDoneInfo
	// GotConnInfo is the argument to [ClientTrace.GotConn]. Its Conn is owned
	// by the http.Transport and must not be read, written or closed.
	GotConnInfo = httptrace.GotConnInfo
	// WroteRequestInfo is the argument to [ClientTrace.WroteRequest].
	WroteRequestInfo = httptrace.WroteRequestInfo
)

// ClientTrace is a set of hooks to run at various stages of an outgoing HTTP
// request.
//
// Any hook may be nil. Hooks may be called concurrently from different
// goroutines, and some may be called after the request has completed or
// failed: net/http documents this for its own hooks, and since Go 1.23 a dial
// started for a request may outlive it and report ConnectDone and
// TLSHandshakeDone afterwards. A hook must therefore guard any state it
// shares, and must tolerate being called late, more than once, or not at all.
//
// The first sixteen hooks are those of [httptrace.ClientTrace], with the same
// names and signatures; net/http calls them once the trace is installed with
// [WithClientTrace]. The last two, RoundTripDone and BodyDone, are lifecycle
// events net/http does not report; they are called by the [http.RoundTripper]
// returned by [NewTransport], and never without it.
//
// A ClientTrace is never modified by this package: the same value may be
// installed on any number of contexts, concurrently. Do not modify its fields
// while it is installed on a context that a request may still use.
//
// A ClientTrace covers a single round trip. An http.Client following
// redirects makes one round trip per hop, each calling the hooks again.
type ClientTrace struct {
	// GetConn is called before a connection is created or retrieved from
	// an idle pool. The hostPort is the "host:port" of the target or
	// proxy. GetConn is called even if an idle connection is available,
	// and again for each retry of the request on a new connection.
	GetConn func(hostPort string)

	// GotConn is called after a connection is obtained, new or reused.
	// There is no hook for failure to obtain a connection; the error
	// arrives with RoundTripDone (or from RoundTrip). For HTTP/2 it is
	// called for every request on a shared connection.
	GotConn func(GotConnInfo)

	// PutIdleConn is called when the connection is returned to the idle
	// pool. If err is nil, the connection was returned; otherwise err says
	// why not. That err concerns the pool, not the request: the response
	// was already delivered. PutIdleConn is not called if keep-alives are
	// disabled, and is called before the caller's Response.Body.Close
	// returns. For HTTP/2, it is not called.
	PutIdleConn func(err error)

	// GotFirstResponseByte is called when the first byte of the response
	// headers is available. With 1xx responses, it is called once, for the
	// first byte of the first of them.
	GotFirstResponseByte func()

	// Got100Continue is called if the server replies with a "100
	// Continue" response.
	Got100Continue func()

	// Got1xxResponse is called for each 1xx informational response
	// returned before the final response, including "100 Continue" even
	// when Got100Continue is also set. The header must not be mutated or
	// retained. If it returns an error, the request is aborted with that
	// error.
	Got1xxResponse func(code int, header textproto.MIMEHeader) error

	// DNSStart is called when a DNS lookup begins. It is not called when
	// the host is an IP address.
	DNSStart func(DNSStartInfo)

	// DNSDone is called when a DNS lookup ends, with the addresses found
	// or the error.
	DNSDone func(DNSDoneInfo)

	// ConnectStart is called when a dial of a new connection begins. With
	// several addresses (IPv4 and IPv6 "Happy Eyeballs", or a failed
	// first address) it is called once per attempt, and attempts may run
	// in parallel, even to the same address.
	ConnectStart func(network, addr string)

	// ConnectDone is called when a dial attempt completes; err is nil if
	// it succeeded. It is called once per ConnectStart, possibly after
	// the request itself has ended.
	ConnectDone func(network, addr string, err error)

	// TLSHandshakeStart is called when the TLS handshake begins. Through
	// an HTTP proxy to an HTTPS site, the handshake follows the proxy's
	// CONNECT.
	TLSHandshakeStart func()

	// TLSHandshakeDone is called when the TLS handshake ends, with the
	// connection state on success or a non-nil error on failure. The
	// state's slices must not be mutated.
	TLSHandshakeDone func(tls.ConnectionState, error)

	// WroteHeaderField is called after the Transport has written each
	// request header; the values may still be buffered. The slice must not
	// be mutated or retained. Setting this hook costs an allocation per
	// header: net/http builds the slice only when it is set.
	WroteHeaderField func(key string, value []string)

	// WroteHeaders is called after the Transport has written all request
	// headers.
	WroteHeaders func()

	// Wait100Continue is called if the request has "Expect: 100-continue"
	// and the Transport has written the headers and waits for "100
	// Continue" before writing the body.
	Wait100Continue func()

	// WroteRequest is called with the result of writing the request and
	// any body. It may be called more than once when the Transport retries
	// the request.
	WroteRequest func(WroteRequestInfo)

	// RoundTripDone is called once per round trip through a [NewTransport]
	// transport (once, too, through nested ones), on the goroutine that called RoundTrip, just before it
	// returns: with the response, or with the error and a nil response.
	// The request and response must not be mutated; the response body
	// must not be read.
	RoundTripDone func(RoundTripDoneInfo)

	// BodyDone is called once per response returned by a [NewTransport]
	// transport, when its body is read to io.EOF, fails, or is closed
	// before io.EOF, or, for the writable body of a 101 Switching
	// Protocols response, when a write to it fails, whichever happens
	// first, on the goroutine that did it.
	// A response without a body (nil or http.NoBody) reports BodyDone
	// right after RoundTripDone. It is not called when the round trip
	// failed, nor for a body the caller never reads or closes.
	BodyDone func(BodyDoneInfo)
}

// hasHTTPHooks reports whether t has any of the sixteen hooks of
// httptrace.ClientTrace, which net/http calls. (httptrace's own hasNetHooks
// is narrower: the four hooks the net package calls, DNS and dials.)
func (t *ClientTrace) hasHTTPHooks() bool {
	return t.GetConn != nil || t.GotConn != nil || t.PutIdleConn != nil ||
		t.GotFirstResponseByte != nil || t.Got100Continue != nil || t.Got1xxResponse != nil ||
		t.DNSStart != nil || t.DNSDone != nil || t.ConnectStart != nil || t.ConnectDone != nil ||
		t.TLSHandshakeStart != nil || t.TLSHandshakeDone != nil || t.WroteHeaderField != nil ||
		t.WroteHeaders != nil || t.Wait100Continue != nil || t.WroteRequest != nil
}

// hasLifecycleHooks reports whether t has any of the hooks [NewTransport] calls.
func (t *ClientTrace) hasLifecycleHooks() bool {
	return t.RoundTripDone != nil || t.BodyDone != nil
}
