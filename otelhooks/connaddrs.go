package otelhooks

import (
	"crypto/tls"
	"net"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// connAddrs are the network.peer and network.local attributes of one
// connection, formatted once.
type connAddrs struct {
	conn  net.Conn
	attrs []attribute.KeyValue
}

// addrCache remembers the addresses of the connection a request last got,
// so that the requests that reuse it (keep-alive, HTTP/2 streams) do not
// format them again. It holds one immutable entry, replaced on a miss, and
// is safe for concurrent use.
//
// It pays for itself: it saves the two address strings of every reused
// connection: a sampled keep-alive GET takes 104 allocations instead of 106
// (96 instead of 98 as events; BenchmarkKeepAliveGET), which is what keeps the
// events-mode allocation target of docs/performance.md met for keep-alive.
type addrCache struct {
	last atomic.Pointer[connAddrs]
}

// appendAddrs appends the address attributes of c to attrs. Only a reused
// connection is looked up in, and added to, the cache: a new one is
// formatted in place, since most new connections (keep-alives off, one
// request per host) are never seen again. A nil cache formats every
// connection in place.
func (a *addrCache) appendAddrs(attrs []attribute.KeyValue, c net.Conn, reused bool) []attribute.KeyValue {
	if a == nil {
		reused = false
	}
	switch c.(type) {
	case *net.TCPConn, *tls.Conn:
		// Comparable for certain: == on other net.Conn types could
		// panic, and their addresses are rarely worth caching.
	default:
		reused = false
	}
	if !reused {
		attrs = appendAddr(attrs, c.RemoteAddr(), semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey)
		return appendAddr(attrs, c.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
	}
	if last := a.last.Load(); last != nil && last.conn == c {
		return append(attrs, last.attrs...)
	}
	formatted := make([]attribute.KeyValue, 0, 4)
	formatted = appendAddr(formatted, c.RemoteAddr(), semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey)
	formatted = appendAddr(formatted, c.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
	a.last.Store(&connAddrs{conn: c, attrs: formatted})
	return append(attrs, formatted...)
}
