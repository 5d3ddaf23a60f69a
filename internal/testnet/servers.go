package testnet

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// RefusedAddr returns a 127.0.0.1 "host:port" on which nothing listens, so
// that dialing it is refused.
func RefusedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testnet: listen: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// RetryServer is an HTTP/1.1 server on 127.0.0.1 that answers the first
// request on its first connection with keep-alive, then closes that
// connection when the second request arrives, without answering it. An
// idempotent request sent on the reused connection thus fails before any
// response byte, and net/http retries it on a new connection, which
// answers every request.
type RetryServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns int
}

// NewRetryServer starts a RetryServer; its URL is "http://" + Addr().
func NewRetryServer(tb testing.TB) *RetryServer {
	tb.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testnet: listen: %v", err)
	}
	s := &RetryServer{ln: ln}
	s.wg.Go(s.accept)
	tb.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

// Addr returns the server's "host:port".
func (s *RetryServer) Addr() string { return s.ln.Addr().String() }

// Conns returns the number of connections accepted so far.
func (s *RetryServer) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *RetryServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		first := s.conns == 1
		s.mu.Unlock()
		s.wg.Go(func() { serveRetry(c, first) })
	}
}

func serveRetry(c net.Conn, first bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if first && n == 1 {
			return // hang up on the reused connection
		}
		_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
		if err != nil {
			return
		}
	}
}

// EarlyHints is a handler that sends "103 Early Hints" with a Link header,
// then "200 OK" with the body "hinted".
func EarlyHints(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Link", "</style.css>; rel=preload; as=style")
	w.WriteHeader(http.StatusEarlyHints)
	w.Header().Del("Link")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "hinted")
}

// Upgrade is a handler that switches to the protocol "echo" with "101
// Switching Protocols" and then echoes, in upper case, every line the
// client writes until it closes.
func Upgrade(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	if brw.Flush() != nil {
		return
	}
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = brw.WriteString(strings.ToUpper(line))
		if brw.Flush() != nil {
			return
		}
	}
}

// AbortBodyBytes is how much of its promised body AbortMidBody writes.
const AbortBodyBytes = 10

// AbortMidBody is a handler that promises a 100-byte body, writes
// AbortBodyBytes of it and then drops the connection, so that the client's
// read fails with io.ErrUnexpectedEOF.
func AbortMidBody(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", "100")
	_, _ = w.Write([]byte(strings.Repeat("x", AbortBodyBytes)))
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	panic(http.ErrAbortHandler)
}

// ServeConn listens on 127.0.0.1 and serves the first connection it accepts
// with serve, on a goroutine of its own: a server for tests that write raw
// bytes (malformed headers, unsolicited 1xx responses). It returns the
// listener's "host:port". serve may loop until the client closes the
// connection; ServeConn closes it after serve returns. At cleanup, which
// runs after the cleanups the test registers later (its transport's
// CloseIdleConnections among them), the listener is closed and ServeConn
// waits for serve to return.
func ServeConn(tb testing.TB, serve func(c net.Conn)) string {
	tb.Helper()
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testnet: listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return // closed before a client came
		}
		defer func() { _ = c.Close() }()
		serve(c)
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// MalformedHeaderLine serves one response whose header line has no colon,
// "Set-Cookie sid=COOKIESECRET", which net/http quotes in its error.
func MalformedHeaderLine(c net.Conn) {
	_, _ = c.Read(make([]byte, 4096))
	_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nSet-Cookie sid=COOKIESECRET\r\n\r\n")
}
