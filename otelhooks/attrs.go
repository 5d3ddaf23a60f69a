package otelhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/wiretrace/wiretrace/internal/names"
)

// Attribute keys of this project, for facts the semantic conventions have no
// name for. docs/spans.md lists them all.
const (
	connReusedKey    = attribute.Key(names.AttrConnReused)
	connWasIdleKey   = attribute.Key(names.AttrConnWasIdle)
	connIdleTimeKey  = attribute.Key(names.AttrConnIdleTime)
	dnsCoalescedKey  = attribute.Key(names.AttrDNSCoalesced)
	connectWinnerKey = attribute.Key(names.AttrConnectWinner)
	bodyDoneKey      = attribute.Key(names.AttrBodyDone)
	abandonedKey     = attribute.Key(names.AttrAbandoned)
	// errorMessageKey is the error text on events, which have no status:
	// the pinned conventions (v1.43.0) have no key for it. Its value is
	// scrubbed as a status description is (redact.go).
	errorMessageKey = attribute.Key(names.AttrErrorMessage)
	// redactedValue replaces every secret kept out of telemetry.
	redactedValue     = names.Redacted
	requestHeaderKey  = names.AttrRequestHeaderPrefix
	responseHeaderKey = names.AttrResponseHeaderPrefix
	// sendEndKey says why http.send ended when it was not at WroteRequest:
	// sendEndFirstByte or sendEndRequestEnd.
	sendEndKey         = attribute.Key(names.AttrSendEnd)
	sendEndFirstByte   = names.SendEndFirstByte
	sendEndRequestEnd  = names.SendEndRequestEnd
	bodyDecodedSizeKey = attribute.Key(names.AttrBodyDecodedSize)
)

// knownMethods are the methods the semantic conventions name; others are
// recorded as "_OTHER".
var knownMethods = map[string]bool{
	http.MethodConnect: true, http.MethodDelete: true, http.MethodGet: true,
	http.MethodHead: true, http.MethodOptions: true, http.MethodPatch: true,
	http.MethodPost: true, http.MethodPut: true, http.MethodTrace: true,
	"QUERY": true,
}

// method returns the request's method as the conventions record it, and
// whether it is one of the known methods. The empty method is GET, as in
// net/http.
func method(r *http.Request) (string, bool) {
	if r.Method == "" {
		return http.MethodGet, true
	}
	return r.Method, knownMethods[r.Method]
}

// defaultSpanName is the span name the HTTP conventions give a client span:
// the method, or "HTTP" for a method they do not know.
func defaultSpanName(r *http.Request) string {
	if m, known := method(r); known {
		return m
	}
	return "HTTP"
}

// requestAttrs appends the attributes the request span starts with; s
// scrubs url.full.
func requestAttrs(attrs []attribute.KeyValue, r *http.Request, s *scrubber) []attribute.KeyValue {
	m, known := method(r)
	if known {
		attrs = append(attrs, semconv.HTTPRequestMethodKey.String(m))
	} else {
		attrs = append(attrs, semconv.HTTPRequestMethodOther, semconv.HTTPRequestMethodOriginal(m))
	}
	attrs = append(attrs, semconv.URLFull(s.url(r.URL)))
	host, port := r.URL.Hostname(), r.URL.Port()
	if host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
	}
	if p := portNumber(port, r.URL.Scheme); p > 0 {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// portNumber returns the port, or the scheme's default port when it is
// empty, or 0 if neither is known.
func portNumber(port, scheme string) int {
	if port == "" {
		switch scheme {
		case "http":
			return 80
		case "https":
			return 443
		}
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return 0
	}
	return p
}

// protocolVersion returns network.protocol.version for a response.
func protocolVersion(resp *http.Response) string {
	switch {
	case resp.ProtoMajor == 1 && resp.ProtoMinor == 1:
		return "1.1"
	case resp.ProtoMajor == 2:
		return "2"
	case resp.ProtoMajor == 1 && resp.ProtoMinor == 0:
		return "1.0"
	case resp.ProtoMajor == 3:
		return "3"
	}
	return strconv.Itoa(resp.ProtoMajor) + "." + strconv.Itoa(resp.ProtoMinor)
}

// appendPeer appends the network.peer attributes of a "host:port".
func appendPeer(attrs []attribute.KeyValue, addr string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return append(attrs, semconv.NetworkPeerAddress(addr))
	}
	attrs = append(attrs, semconv.NetworkPeerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.NetworkPeerPort(p))
	}
	return attrs
}

// appendAddr appends the address and port of a to attrs under the given
// keys. It knows *net.TCPAddr and *net.UDPAddr; others are parsed. A nil a,
// or a typed nil (wrapper conns return (*net.TCPAddr)(nil)), appends
// nothing.
func appendAddr(attrs []attribute.KeyValue, a net.Addr, addrKey, portKey attribute.Key) []attribute.KeyValue {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a == nil {
			return attrs
		}
		return append(attrs, addrKey.String(ipString(a.IP)), portKey.Int(a.Port))
	case *net.UDPAddr:
		if a == nil {
			return attrs
		}
		return append(attrs, addrKey.String(ipString(a.IP)), portKey.Int(a.Port))
	case nil:
		return attrs
	}
	str, ok := addrString(a)
	if !ok {
		return attrs
	}
	host, port, err := net.SplitHostPort(str)
	if err != nil {
		return append(attrs, addrKey.String(str))
	}
	attrs = append(attrs, addrKey.String(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, portKey.Int(p))
	}
	return attrs
}

// addrString returns a.String(), or false if that panics: a typed nil of a
// type whose String does not expect one (net's own handle nil receivers; a
// wrapper's may not). Nothing a conn gives may panic the request.
func addrString(a net.Addr) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	return a.String(), true
}

// isIP reports whether host is an IP address rather than a name.
func isIP(host string) bool {
	// Only what might be an address (a colon for IPv6, digits and dots
	// for IPv4) is parsed, so that host names cost no error value.
	if !strings.Contains(host, ":") && (host == "" || strings.Trim(host, "0123456789.") != "") {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// sameAddr reports whether the "host:port" addr, as dialed, is the address
// a, without formatting a when it is a TCP address.
func sameAddr(addr string, a net.Addr) bool {
	switch a := a.(type) {
	case nil:
		return false
	case *net.TCPAddr:
		if a == nil {
			return false
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return false
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		return ok && ap.Port() == uint16(a.Port) && ap.Addr().WithZone("").Unmap() == ip.Unmap() && ap.Addr().Zone() == a.Zone
	}
	s, ok := addrString(a)
	return ok && addr == s
}

// networkType returns "ipv4" or "ipv6" for the host of addr, or "".
func networkType(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.Contains(host, ":") {
		return "ipv6"
	}
	if host != "" && host[0] >= '0' && host[0] <= '9' {
		return "ipv4"
	}
	return ""
}

// networkTransport maps a Go network name to network.transport.
func networkTransport(network string) string {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return "tcp"
	case "udp", "udp4", "udp6":
		return "udp"
	case "unix", "unixgram", "unixpacket":
		return "unix"
	}
	return network
}

// tlsAttrs appends the attributes of a successful handshake.
func tlsAttrs(attrs []attribute.KeyValue, cs *tls.ConnectionState) []attribute.KeyValue {
	attrs = append(attrs,
		semconv.TLSProtocolNameKey.String("tls"),
		semconv.TLSProtocolVersion(tlsVersion(cs.Version)),
		semconv.TLSCipher(cipherSuiteName(cs.CipherSuite)),
		semconv.TLSResumed(cs.DidResume),
	)
	if cs.NegotiatedProtocol != "" {
		attrs = append(attrs, semconv.TLSNextProtocol(cs.NegotiatedProtocol))
	}
	if cs.ServerName != "" {
		attrs = append(attrs, semconv.ServerAddress(cs.ServerName))
	}
	// A transport other than net/http's may report a state with a nil
	// entry in the chain: then there is no leaf to describe.
	if len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0] != nil {
		attrs = appendCertAttrs(attrs, cs.PeerCertificates[0])
	}
	return attrs
}

// tlsVersion returns "1.3" for TLS 1.3 and so on.
func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "1.0"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// failureType returns the error.type of a failed round trip of req. When
// the request's context is done, that is the cause, whatever error the
// transport made of it (an http.Client timeout, for one, surfaces as
// "net/http: request canceled").
func failureType(err error, req *http.Request) string {
	if req != nil {
		ctx := req.Context()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return errorType(ctxErr)
		}
		// The deadline may have passed a moment before its context
		// says so: http.Client's own timer cancels the request then.
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			return "timeout"
		}
	}
	return errorType(err)
}

// errorType returns the low-cardinality error.type of err. docs/spans.md
// lists the values.
func errorType(err error) string {
	var (
		dnsErr    *net.DNSError
		netErr    net.Error
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
		alertErr  tls.AlertError
		recordErr tls.RecordHeaderError
		protoErr  textproto.ProtocolError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "dns_not_found"
		}
		if dnsErr.IsTimeout {
			return "dns_timeout"
		}
		return "dns_error"
	case errors.As(err, &unknownCA):
		return "tls_unknown_authority"
	case errors.As(err, &hostErr):
		return "tls_hostname_mismatch"
	case errors.As(err, &certErr):
		return "tls_certificate_invalid"
	case errors.As(err, &alertErr):
		return "tls_alert"
	case errors.As(err, &recordErr):
		return "tls_record_header"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection_reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken_pipe"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected_eof"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.As(err, &protoErr):
		return "malformed_response"
	case errors.Is(err, net.ErrClosed):
		return "connection_closed"
	}
	// net/http makes the rest with errors.New and fmt.Errorf: only their
	// text tells them apart.
	msg := err.Error()
	for _, m := range errorTexts {
		if strings.Contains(msg, m.text) {
			return m.typ
		}
	}
	return fmt.Sprintf("%T", err)
}

// errorTexts are the texts of net/http's errors that have no type of their
// own, with the error.type of each.
var errorTexts = []struct{ text, typ string }{
	// A status line that does not parse, as a response cut short in it
	// reads (net/http's badStringError).
	{"malformed HTTP ", "malformed_response"},
	// HTTP/2: the connection failed under the stream (a write failed, a
	// ping went unanswered, the server went away), and net/http closed it.
	{"http2: client connection force closed", "connection_closed"},
	{"http2: client connection lost", "connection_closed"},
	{"http2: client conn is closed", "connection_closed"},
	{"http2: server sent GOAWAY and closed the connection", "connection_closed"},
}
