// Package testnet provides the loopback peers wiretrace's tests drive real
// traffic against: a certificate authority of their own, a DNS responder on
// 127.0.0.1, an HTTP/1.1 server that makes the client retry, handlers for
// 1xx responses, protocol switches and aborted bodies, an address that
// refuses connections, a relay that injects faults ([FaultRelay]), and a
// real nginx run as a child of the test ([NewNginx]).
//
// Everything listens on 127.0.0.1 only and is shut down by t.Cleanup.
package testnet
