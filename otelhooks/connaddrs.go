package otelhooks

import (
	"net"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// appendConnAddrs appends the network.peer and network.local attributes of
// the connection c to attrs, formatted in place: the text of each IP address
// comes from ipString's process-wide cache (formatcache.go), so that a
// reused connection, or a new one from a local address seen before, costs no
// allocation (a sampled keep-alive GET takes two allocations fewer than with
// the addresses formatted afresh). Safe for concurrent use.
//
// A transport used to remember the one connection it formatted last, which
// missed, and allocated, whenever two connections took turns: requests in
// parallel over one keep-alive pool (BenchmarkParallelGET in bench/). The
// pointer to that cache in each request was also the 8 bytes that put the
// request's state over the 1,792 B size class, and so cost every request
// 256 B.
func appendConnAddrs(attrs []attribute.KeyValue, c net.Conn) []attribute.KeyValue {
	attrs = appendAddr(attrs, c.RemoteAddr(), semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey)
	return appendAddr(attrs, c.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
}
