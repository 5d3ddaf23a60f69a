package testnet

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DNSServer answers A and AAAA queries over UDP on 127.0.0.1 from a fixed
// table, and NXDOMAIN for every name not in it.
type DNSServer struct {
	conn    net.PacketConn
	records map[string][]netip.Addr

	delay   atomic.Int64 // nanoseconds
	replies sync.WaitGroup

	mu      sync.Mutex
	queries []string
}

// SetDelay makes s answer each query d after it arrived, each on its own
// (the A and AAAA queries of one lookup wait d, not 2d): the ground truth
// of a slow resolver. It is safe to call while s serves.
func (s *DNSServer) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// NewDNSServer starts a DNS responder for records, keyed by host name
// without the trailing dot.
func NewDNSServer(tb testing.TB, records map[string][]netip.Addr) *DNSServer {
	tb.Helper()
	conn, err := new(net.ListenConfig).ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testnet: listen DNS: %v", err)
	}
	s := &DNSServer{conn: conn, records: make(map[string][]netip.Addr)}
	for name, addrs := range records {
		s.records[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = addrs
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve()
	}()
	tb.Cleanup(func() {
		_ = conn.Close()
		<-done
		s.replies.Wait()
	})
	return s
}

// Resolver returns a pure-Go resolver that sends every query to s.
func (s *DNSServer) Resolver() *net.Resolver {
	addr := s.conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// Queries returns the names asked so far, in order.
func (s *DNSServer) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func (s *DNSServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		reply := s.answer(buf[:n])
		if reply == nil {
			continue
		}
		if d := time.Duration(s.delay.Load()); d > 0 {
			s.replies.Go(func() {
				time.Sleep(d)
				_, _ = s.conn.WriteTo(reply, from)
			})
			continue
		}
		_, _ = s.conn.WriteTo(reply, from)
	}
}

const (
	typeA    = 1
	typeAAAA = 28
	classIN  = 1

	rcodeNameError = 3
)

// answer builds the reply to the query msg, or nil if msg is not one query.
func (s *DNSServer) answer(msg []byte) []byte {
	if len(msg) < 12 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return nil
	}
	name, end, ok := readName(msg, 12)
	if !ok || end+4 > len(msg) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(msg[end:])
	question := msg[12 : end+4]

	s.mu.Lock()
	s.queries = append(s.queries, name)
	s.mu.Unlock()

	addrs, known := s.records[strings.ToLower(name)]
	var answers [][]byte
	for _, a := range addrs {
		switch {
		case qtype == typeA && a.Is4():
			b := a.As4()
			answers = append(answers, b[:])
		case qtype == typeAAAA && a.Is6() && !a.Is4In6():
			b := a.As16()
			answers = append(answers, b[:])
		}
	}

	reply := make([]byte, 12, 512)
	copy(reply, msg[:2])                  // ID
	flags := uint16(1<<15 | 1<<10 | 1<<7) // QR, AA, RA
	flags |= binary.BigEndian.Uint16(msg[2:]) & (0xf<<11 | 1<<8)
	if !known {
		flags |= rcodeNameError
	}
	binary.BigEndian.PutUint16(reply[2:], flags)
	binary.BigEndian.PutUint16(reply[4:], 1)
	binary.BigEndian.PutUint16(reply[6:], uint16(len(answers)))
	reply = append(reply, question...)
	for _, rdata := range answers {
		reply = append(reply, 0xc0, 12) // pointer to the question's name
		reply = binary.BigEndian.AppendUint16(reply, qtype)
		reply = binary.BigEndian.AppendUint16(reply, classIN)
		reply = binary.BigEndian.AppendUint32(reply, 60)
		reply = binary.BigEndian.AppendUint16(reply, uint16(len(rdata)))
		reply = append(reply, rdata...)
	}
	return reply
}

// readName reads an uncompressed name at off, returning it with a trailing
// dot and the offset after it.
func readName(msg []byte, off int) (string, int, bool) {
	var b strings.Builder
	for {
		if off >= len(msg) {
			return "", 0, false
		}
		n := int(msg[off])
		off++
		if n == 0 {
			break
		}
		if n > 63 || off+n > len(msg) {
			return "", 0, false
		}
		b.Write(msg[off : off+n])
		b.WriteByte('.')
		off += n
	}
	return b.String(), off, true
}
