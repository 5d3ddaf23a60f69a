package otelhooks

import (
	"net"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// addrCache formats the network.peer and network.local attributes of the
// connections a transport's requests get. It keeps no state of its own:
// the text of each IP address comes from ipString's process-wide cache
// (formatcache.go), so that a reused connection, or a new one from a local
// address seen before, costs no allocation (a sampled keep-alive GET takes
// 104 allocations, not 106; 96, not 98, as events). It used to remember the
// one connection formatted last, which missed, and allocated, whenever two
// connections took turns: requests in parallel over one keep-alive pool
// (BenchmarkParallelGET in bench/). It is safe for concurrent use, and a
// nil *addrCache works the same.
type addrCache struct{}

// appendAddrs appends the address attributes of c to attrs. reused is
// whether net/http reused c; it no longer changes what is done, and is kept
// for the callers.
func (*addrCache) appendAddrs(attrs []attribute.KeyValue, c net.Conn, _ bool) []attribute.KeyValue {
	attrs = appendAddr(attrs, c.RemoteAddr(), semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey)
	return appendAddr(attrs, c.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
}
