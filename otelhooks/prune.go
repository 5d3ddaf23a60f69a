package otelhooks

import (
	"net/http"
	"strings"
)

// Hook pruning. Every hook installed costs an allocation (a method value)
// per request (per pooled state, once, with pool.go), so newRequest leaves
// out the hooks net/http cannot call for a request. This file is the one place that decides which: each rule below
// cites the net/http behavior it relies on, and TestHookPruningMatchesNetHTTP
// checks each against a raw httptrace.ClientTrace that counts every hook
// net/http fires for the same request.
//
// A rule may only ever leave a hook out when net/http is certain not to call
// it: a pruned hook that fires is an event lost (a phase never started, or
// never ended). When in doubt, a hook stays.

// learnBase notes what hooksFor needs to know of the base transport. It runs
// once, in NewTransport.
func (t *transport) learnBase(base http.RoundTripper) {
	tr, ok := base.(*http.Transport)
	if !ok {
		return
	}
	t.keepAlives = !tr.DisableKeepAlives
	if tr.Proxy == nil {
		t.direct = true
		// A custom TLS dialer handshakes inside the dial: see hooksFor.
		t.customTLSDial = tr.DialTLSContext != nil || tr.DialTLS != nil //nolint:staticcheck // DialTLS is deprecated, not gone
		// net/http dials with a net.Dialer of its own (pool.go).
		t.plainDial = !t.customTLSDial && tr.DialContext == nil && tr.Dial == nil //nolint:staticcheck // Dial is deprecated, not gone
	}
}

// hookSet says which optional hooks a request needs. The zero value installs
// none of them.
type hookSet struct {
	dns         bool // DNSStart, DNSDone
	tls         bool // TLSHandshakeStart, TLSHandshakeDone
	tlsInDial   bool // the TLS hooks come after a custom TLS dial
	continue100 bool // Wait100Continue, Got100Continue
	headerField bool // WroteHeaderField
}

// hooksFor returns the optional hooks a request needs. req is the request as
// given to the transport t of this package, or nil when it is not known
// (NewClientTrace, whose t is nil): then every hook that may record
// something is installed.
func hooksFor(cfg *config, t *transport, req *http.Request) hookSet {
	// WroteHeaderField is how the headers as sent (Host, the default
	// User-Agent, Accept-Encoding, ...) are learnt. It is called once per
	// header line, so it is installed only when request headers are to be
	// recorded at all.
	headerField := len(cfg.reqHeaders) > 0
	if req == nil || req.URL == nil || t == nil {
		return hookSet{dns: true, tls: true, continue100: true, headerField: headerField}
	}
	h := hookSet{headerField: headerField}

	// DNS. net/http dials the connectMethod's address: the proxy's if
	// Transport.Proxy names one, else the URL's host. net.Dialer (through
	// net.Resolver) calls no DNS hook for an IP literal, so only a
	// direct request (an *http.Transport without a Proxy func: t.direct)
	// to an IP address cannot fire them. Through a proxy, or a transport
	// we do not know, the name resolved may be another one.
	h.dns = !t.direct || !isIP(req.URL.Hostname())

	// TLS. net/http calls the TLS hooks only for an "https" connectMethod
	// (transport.go, dialConn: addTLS, or the handshake after a custom
	// DialTLS), so a direct plain "http" request has none. An HTTPS proxy
	// does a handshake even for "http" URLs, and other transports may do
	// anything.
	//
	h.tls = req.URL.Scheme != "http" || !t.direct
	// With a custom TLS dialer (DialTLSContext or DialTLS) and no proxy,
	// the handshake happens inside the dial, where no hook sees it, and
	// net/http then calls the TLS hooks around tls.Conn.HandshakeContext
	// "in case DialTLS didn't" (transport.go, dialConn), which for a
	// connection already secured returns at once. The hooks stay, but
	// tlsInDial says that TLSHandshakeStart is then the dial's end, not
	// the handshake's start (see request.tlsHandshakeStart).
	h.tlsInDial = req.URL.Scheme == "https" && t.direct && t.customTLSDial

	// 100-continue. net/http waits for "100 Continue" only when the
	// request's Expect header has the token "100-continue", compared as a
	// token, case-insensitively: HTTP/1 through Request.expectsContinue
	// (hasToken on the first value), HTTP/2 through
	// httpguts.HeaderValuesContainsToken (on every value). We check every
	// value, which covers both.
	h.continue100 = expectsContinue(req.Header)
	return h
}

// expectsContinue reports whether h's Expect header has the token
// "100-continue" in any of its values, case-insensitively, as net/http's
// HTTP/2 client checks it (and its HTTP/1 client, on the first value).
func expectsContinue(h http.Header) bool {
	for _, v := range h.Values("Expect") {
		if hasToken(v, "100-continue") {
			return true
		}
	}
	return false
}

// hasToken reports whether token (lower case) appears in v, ignoring ASCII
// case, between boundaries of spaces, tabs or commas: net/http's hasToken
// (header.go), which accepts everything httpguts.HeaderValuesContainsToken
// does, and more ("100-continue foo").
func hasToken(v, token string) bool {
	for sp := 0; sp+len(token) <= len(v); sp++ {
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !isTokenBoundary(v[end]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }
