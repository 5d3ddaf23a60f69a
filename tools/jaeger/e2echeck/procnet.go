package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// socket is a listening socket: a TCP socket in state LISTEN or an unbound
// UDP one.
type socket struct {
	proto string // "tcp", "tcp6", "udp", "udp6"
	addr  netip.AddrPort
	inode string
}

// listeningSockets returns the listening sockets of process pid, read from
// /proc: the socket inodes among its open files, looked up in the network
// namespace's tables. It needs no ss or netstat.
func listeningSockets(pid int) ([]socket, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("ports: bad pid %d", pid)
	}
	proc := "/proc/" + strconv.Itoa(pid)
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return nil, fmt.Errorf("ports: %w", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if err != nil {
			continue // closed since
		}
		if rest, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(rest, "]")] = true
		}
	}
	var out []socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(filepath.Join(proc, "net", proto))
		if os.IsNotExist(err) {
			continue // no IPv6
		}
		if err != nil {
			return nil, fmt.Errorf("ports: %w", err)
		}
		socks, err := parseProcNet(f, proto)
		f.Close()
		if err != nil {
			return nil, err
		}
		for _, s := range socks {
			if inodes[s.inode] {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// parseProcNet returns the listening sockets of a /proc/net/{tcp,udp}[6]
// table: TCP sockets in state 0A (LISTEN), UDP sockets in state 07 (not
// connected).
func parseProcNet(r io.Reader, proto string) ([]socket, error) {
	listen := "0A"
	if strings.HasPrefix(proto, "udp") {
		listen = "07"
	}
	var out []socket
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		if f[3] != listen {
			continue
		}
		addr, err := parseHexAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("ports: %s: %w", proto, err)
		}
		out = append(out, socket{proto: proto, addr: addr, inode: f[9]})
	}
	return out, sc.Err()
}

// parseHexAddr parses "0100007F:1F90", an address as /proc/net prints it:
// the IP in host byte order, 32 bits at a time (little-endian here), and
// the port in hex.
func parseHexAddr(s string) (netip.AddrPort, error) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port in %q", s)
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}
