//go:build linux

package otelhooks

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysConn gives access to a connection's socket.
type sysConn = syscall.RawConn

// sysConnOf returns the socket of c, or nil if c has none.
func sysConnOf(c net.Conn) sysConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readConnFacts reads TCP_INFO from the socket, or returns nil if the
// kernel does not give it (not TCP, or closed).
func readConnFacts(rc sysConn) *connFacts {
	var (
		info *unix.TCPInfo
		err  error
	)
	if cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil || info == nil {
		return nil
	}
	return &connFacts{
		rtt:         time.Duration(info.Rtt) * time.Microsecond,
		rttVar:      time.Duration(info.Rttvar) * time.Microsecond,
		retransmits: info.Total_retrans,
		cwnd:        info.Snd_cwnd,
	}
}
