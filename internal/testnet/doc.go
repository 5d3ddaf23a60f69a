// Package testnet provides the loopback peers wiretrace's tests drive real
// traffic against: a certificate authority of their own and an HTTPS server
// signed by it ([NewTLSServer]), a DNS responder on 127.0.0.1, an HTTP/1.1
// server that makes the client retry, handlers for plain answers, 1xx
// responses, protocol switches and aborted bodies, an address that refuses
// connections, a relay that injects faults ([FaultRelay]), a real nginx
// run as a child of the test ([NewNginx]) and a real tinyproxy
// ([StartTinyproxy]); and the small helpers every
// package's tests used to repeat ([ByName], [QuietLog]). Span helpers that
// need the OpenTelemetry SDK are in internal/spantest.
//
// Every module of the repository may import it: their import paths share its
// parent, github.com/wiretrace/wiretrace.
//
// Everything listens on 127.0.0.1 only (tinyproxy on 127.0.0.2, apart from
// the servers it proxies to) and is shut down by t.Cleanup.
package testnet
