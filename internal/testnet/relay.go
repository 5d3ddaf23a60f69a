package testnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what a [FaultRelay] does to one connection.
type Fault int

// The faults of a FaultRelay. Each but FaultNone strikes once per
// connection, when the bytes relayed in its direction pass a point drawn
// at random.
const (
	// FaultNone relays the connection untouched (chunk delays aside).
	FaultNone Fault = iota
	// FaultResetRequest resets both sides (RST) mid-request: while
	// relaying the client's bytes.
	FaultResetRequest
	// FaultResetResponse resets both sides mid-response.
	FaultResetResponse
	// FaultTruncate closes both sides cleanly (FIN) mid-response: the
	// client sees the response end early.
	FaultTruncate
	// FaultStall stops relaying the response for a while (at most
	// [FaultRelay.MaxStall]), then goes on.
	FaultStall
	// FaultCloseAfterHeaders relays the next response's header block
	// (HTTP/1's blank line, HTTP/2's HEADERS frame), then closes both
	// sides.
	FaultCloseAfterHeaders

	numFaults
)

var faultNames = [numFaults]string{"none", "reset_request", "reset_response", "truncate", "stall", "close_after_headers"}

// String returns the fault's name, as FaultRelay.Counts keys it.
func (f Fault) String() string {
	if f < 0 || f >= numFaults {
		return "unknown"
	}
	return faultNames[f]
}

// FaultConfig is what a [FaultRelay] injects. Zero fields get the
// defaults named on them.
type FaultConfig struct {
	// Seed seeds the relay's random source.
	Seed uint64
	// FaultRate is the probability that a connection gets a fault
	// (default 0.3).
	FaultRate float64
	// Span bounds the byte count at which a fault strikes (default 64 KiB).
	Span int
	// DelayRate is the probability that a chunk is delayed (default
	// 0.05), MaxDelay the longest delay (default 2ms).
	DelayRate float64
	MaxDelay  time.Duration
	// MaxStall is the longest FaultStall (default 300ms).
	MaxStall time.Duration
	// HTTP2 says the server speaks HTTP/2 without TLS (h2c), so that
	// FaultCloseAfterHeaders looks for HEADERS frames.
	HTTP2 bool
}

// FaultRelay is a TCP relay on 127.0.0.1 between clients and one server
// that injects faults, drawn from a seeded random source (see
// [FaultConfig]): each connection gets one [Fault] (FaultNone with
// probability 1 - FaultRate), struck after a random number of bytes (up to
// Span) in its direction; and each chunk it relays is delayed, with
// probability DelayRate, by up to MaxDelay.
//
// The faults a connection gets depend on the seed and on the order
// connections arrive in, which concurrency decides: the mix is
// reproducible, the assignment to requests is not.
type FaultRelay struct {
	FaultConfig

	target string
	ln     net.Listener
	wg     sync.WaitGroup
	done   chan struct{}

	mu    sync.Mutex
	rng   *rand.Rand
	conns map[net.Conn]bool

	counts [numFaults]atomic.Int64
}

// NewFaultRelay starts a relay to target ("host:port") that injects what
// cfg says; its address is Addr(). It is closed, with every connection it
// relays, at cleanup.
func NewFaultRelay(tb testing.TB, target string, cfg FaultConfig) *FaultRelay {
	tb.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testnet: listen relay: %v", err)
	}
	default64 := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	default64(&cfg.FaultRate, 0.3)
	default64(&cfg.DelayRate, 0.05)
	if cfg.Span == 0 {
		cfg.Span = 64 << 10
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 2 * time.Millisecond
	}
	if cfg.MaxStall == 0 {
		cfg.MaxStall = 300 * time.Millisecond
	}
	r := &FaultRelay{
		FaultConfig: cfg,
		target:      target, ln: ln, done: make(chan struct{}),
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), conns: map[net.Conn]bool{},
	}
	r.wg.Go(r.accept)
	tb.Cleanup(r.Close)
	return r
}

// Addr returns the relay's "host:port".
func (r *FaultRelay) Addr() string { return r.ln.Addr().String() }

// Counts returns how many connections got each fault so far, by name.
func (r *FaultRelay) Counts() map[string]int64 {
	m := make(map[string]int64, numFaults)
	for f := range numFaults {
		m[f.String()] = r.counts[f].Load()
	}
	return m
}

// Close stops the relay and closes every connection it relays. It is safe
// to call more than once.
func (r *FaultRelay) Close() {
	r.mu.Lock()
	select {
	case <-r.done:
	default:
		close(r.done)
	}
	_ = r.ln.Close()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// track adds c to the connections closed by Close, or removes it; it
// reports false, and closes c, if the relay is closed.
func (r *FaultRelay) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !add {
		delete(r.conns, c)
		return true
	}
	select {
	case <-r.done:
		_ = c.Close()
		return false
	default:
	}
	r.conns[c] = true
	return true
}

// plan is what one connection gets.
type plan struct {
	fault Fault
	at    int64 // bytes in the fault's direction before it strikes
	stall time.Duration
	seeds [2]uint64
}

func (r *FaultRelay) draw() plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := plan{seeds: [2]uint64{r.rng.Uint64(), r.rng.Uint64()}}
	if r.rng.Float64() < r.FaultRate {
		p.fault = Fault(1 + r.rng.IntN(int(numFaults)-1))
		p.at = r.rng.Int64N(int64(max(r.Span, 1)))
		p.stall = time.Duration(r.rng.Int64N(int64(max(r.MaxStall, 1))))
	}
	return p
}

func (r *FaultRelay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c, true) {
			continue
		}
		r.wg.Go(func() {
			defer r.track(c, false)
			r.serve(c)
		})
	}
}

func (r *FaultRelay) serve(client net.Conn) {
	defer client.Close()
	server, err := new(net.Dialer).DialContext(context.Background(), "tcp", r.target)
	if err != nil {
		return
	}
	if !r.track(server, true) {
		return
	}
	defer r.track(server, false)
	defer server.Close()
	p := r.draw()
	r.counts[p.fault].Add(1)

	var once sync.Once
	kill := func(reset bool) {
		once.Do(func() {
			for _, c := range []net.Conn{client, server} {
				if tc, ok := c.(*net.TCPConn); ok && reset {
					_ = tc.SetLinger(0) // close sends RST
				}
				_ = c.Close()
			}
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		r.pipe(server, client, p, false, rand.New(rand.NewPCG(p.seeds[0], 1)), kill)
	})
	r.pipe(client, server, p, true, rand.New(rand.NewPCG(p.seeds[1], 2)), kill)
	wg.Wait()
}

// pipe relays src to dst, the response direction if response, striking
// p's fault when it belongs to this direction.
func (r *FaultRelay) pipe(dst, src net.Conn, p plan, response bool, rng *rand.Rand, kill func(reset bool)) {
	defer func() {
		// The other side closed: pass the FIN on.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	mine := p.fault != FaultNone && (p.fault == FaultResetRequest) != response
	var sent int64
	struck := false
	var hs headerScanner
	hs.http2 = r.HTTP2
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if r.DelayRate > 0 && rng.Float64() < r.DelayRate {
				if !r.sleep(time.Duration(rng.Int64N(int64(max(r.MaxDelay, 1))))) {
					return
				}
			}
			if mine && !struck && sent+int64(n) > p.at {
				cut := p.at - sent
				if cut < 0 {
					cut = 0
				}
				switch p.fault {
				case FaultResetRequest, FaultResetResponse, FaultTruncate:
					_, _ = dst.Write(chunk[:cut])
					kill(p.fault != FaultTruncate)
					return
				case FaultStall:
					struck = true
					if _, err := dst.Write(chunk[:cut]); err != nil {
						return
					}
					if !r.sleep(p.stall) {
						return
					}
					chunk = chunk[cut:]
					sent += cut
				case FaultCloseAfterHeaders:
					// Scan from here on for the end of a header block.
					hs.scan(chunk[:cut])
					struck = true
					hs.armed = true
					if _, err := dst.Write(chunk[:cut]); err != nil {
						return
					}
					chunk = chunk[cut:]
					sent += cut
				}
			}
			if hs.armed {
				if end := hs.scan(chunk); end >= 0 {
					_, _ = dst.Write(chunk[:end])
					kill(false)
					return
				}
			} else if p.fault == FaultCloseAfterHeaders && response {
				hs.scan(chunk) // keep the HTTP/2 frame boundaries
			}
			if _, err := dst.Write(chunk); err != nil {
				return
			}
			sent += int64(len(chunk))
		}
		if err != nil {
			return
		}
	}
}

// sleep waits d, or until the relay closes; it reports whether d passed.
func (r *FaultRelay) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.done:
		return false
	}
}

// headerScanner finds where a response's header block ends in a stream:
// after "\r\n\r\n" for HTTP/1, after a HEADERS frame for HTTP/2 (the
// server's bytes are frames from the first byte on: it sends no preface).
type headerScanner struct {
	http2 bool
	armed bool
	tail  []byte // HTTP/1: the last 3 bytes seen

	// HTTP/2: the frame header being read, and the payload bytes left of
	// the current frame.
	hdr     []byte
	left    int
	headers bool // the current frame is HEADERS
}

// scan consumes b and returns, once armed, the offset in b just past the
// end of a header block, or -1.
func (s *headerScanner) scan(b []byte) int {
	if !s.http2 {
		joined := append(append([]byte(nil), s.tail...), b...)
		if s.armed {
			if i := bytes.Index(joined, []byte("\r\n\r\n")); i >= 0 {
				return i + 4 - len(s.tail)
			}
		}
		s.tail = append([]byte(nil), joined[max(0, len(joined)-3):]...)
		return -1
	}
	for i := 0; i < len(b); {
		if s.left > 0 {
			k := min(s.left, len(b)-i)
			s.left -= k
			i += k
			if s.left == 0 && s.headers && s.armed {
				return i
			}
			continue
		}
		k := min(9-len(s.hdr), len(b)-i)
		s.hdr = append(s.hdr, b[i:i+k]...)
		i += k
		if len(s.hdr) == 9 {
			s.left = int(binary.BigEndian.Uint32(append([]byte{0}, s.hdr[:3]...)))
			s.headers = s.hdr[3] == 0x1
			s.hdr = s.hdr[:0]
			if s.left == 0 && s.headers && s.armed {
				return i
			}
		}
	}
	return -1
}
