//go:build !linux

package otelhooks

import "net"

// sysConn gives access to a connection's socket; outside Linux, nothing is
// read from it.
type sysConn = any

func sysConnOf(net.Conn) sysConn { return nil }

// readConnFacts returns nil: outside Linux, no connection facts are
// recorded.
func readConnFacts(sysConn) *connFacts { return nil }
