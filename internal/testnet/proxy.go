package testnet

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Proxy is an HTTP forward proxy on 127.0.0.2 that serves CONNECT only: it
// waits Delay after reading a CONNECT, then answers with Status and, for 200,
// relays bytes between the client and the requested address until either
// side closes. Every other method gets 405. Set Delay and Status before the
// first request.
type Proxy struct {
	// Delay is how long the proxy waits before answering a CONNECT: the
	// ground truth of the exchange's length, beside one loopback round
	// trip.
	Delay time.Duration
	// Status is the answer to a CONNECT: 200 (the default) opens the
	// tunnel; any other is sent with an empty body and the connection is
	// closed.
	Status int

	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	connects []string
	conns    map[net.Conn]bool
}

// NewProxy starts a Proxy; its URL is "http://" + Addr().
func NewProxy(tb testing.TB) *Proxy {
	tb.Helper()
	return startProxy(tb, nil)
}

// NewTLSProxy starts a Proxy that speaks TLS with cert, an "https://" proxy;
// its URL is "https://" + Addr().
func NewTLSProxy(tb testing.TB, cert tls.Certificate) *Proxy {
	tb.Helper()
	return startProxy(tb, &tls.Config{Certificates: []tls.Certificate{cert}})
}

func startProxy(tb testing.TB, cfg *tls.Config) *Proxy {
	tb.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp4", "127.0.0.2:0")
	if err != nil {
		tb.Fatalf("testnet: listen proxy: %v", err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	p := &Proxy{ln: ln, Status: http.StatusOK, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	tb.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Addr returns the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Connects returns the target of every CONNECT received so far, in order.
func (p *Proxy) Connects() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...)
}

// track adds c to the connections closed at cleanup, or removes it.
func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c, true)
		p.wg.Go(func() {
			defer p.track(c, false)
			defer c.Close()
			p.serve(c)
		})
	}
}

func (p *Proxy) serve(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.connects = append(p.connects, req.Host)
	p.mu.Unlock()
	if p.Delay > 0 {
		time.Sleep(p.Delay)
	}
	if p.Status != http.StatusOK {
		_, _ = fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", p.Status, http.StatusText(p.Status))
		return
	}
	target, err := new(net.Dialer).DialContext(context.Background(), "tcp", req.Host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	p.track(target, true)
	defer p.track(target, false)
	defer target.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		// Bytes the client sent after the CONNECT are in br.
		_, _ = io.Copy(target, br)
		if tc, ok := target.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	})
	_, _ = io.Copy(c, target)
	_ = c.Close()
	wg.Wait()
}
