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
type addrCache struct {
	last atomic.Pointer[connAddrs]
}

// lookup returns the address attributes of c.
func (a *addrCache) lookup(c net.Conn) []attribute.KeyValue {
	cacheable := false
	switch c.(type) {
	case *net.TCPConn, *tls.Conn:
		// Comparable for certain: == on other net.Conn types could
		// panic, and their addresses are rarely worth caching.
		cacheable = true
		if last := a.last.Load(); last != nil && last.conn == c {
			return last.attrs
		}
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = appendAddr(attrs, c.RemoteAddr(), semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey)
	attrs = appendAddr(attrs, c.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
	if cacheable {
		a.last.Store(&connAddrs{conn: c, attrs: attrs})
	}
	return attrs
}
