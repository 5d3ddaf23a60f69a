package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// slowDelay is how long the demo server's /slow takes to answer.
const slowDelay = 150 * time.Millisecond

// demoStep is one stop of the demo's tour.
type demoStep struct {
	title, explanation string
	path               string // on the demo server; "" for the refused address
	failureExpected    bool
}

// demo runs the tour: it starts an HTTPS server of its own on 127.0.0.1
// and traces a few requests to it that show what the waterfall tells. It
// reports whether a step failed that should not have.
func (r *runner) demo(ctx context.Context) (failed bool) {
	srv, err := startDemoServer(ctx)
	if err != nil {
		fmt.Fprintf(r.stderr, "wiretrace: demo server: %s\n", oneLine(err.Error()))
		return true
	}
	defer srv.close()
	refused, err := refusedPort(ctx)
	if err != nil {
		fmt.Fprintf(r.stderr, "wiretrace: demo: %s\n", oneLine(err.Error()))
		return true
	}

	// The client trusts the server's certificate, and dials IPv4 only:
	// "localhost" may resolve to ::1 too, where the server does not
	// listen.
	var closeIdle func()
	r.client, closeIdle, err = newClient(r.o, r.tr.tp, nil, func(t *http.Transport) {
		t.TLSClientConfig.RootCAs = srv.roots
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		t.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp4", addr)
		}
	})
	if err != nil {
		fmt.Fprintf(r.stderr, "wiretrace: %s\n", oneLine(err.Error()))
		return true
	}
	defer closeIdle()

	host := demoHost(ctx)
	base := "https://" + net.JoinHostPort(host, srv.port)
	steps := []demoStep{
		{title: "cold request", path: "/",
			explanation: "a new connection: DNS lookup, TCP connect and TLS handshake come first"},
		{title: "warm request", path: "/",
			explanation: "the same request again reuses the connection: no DNS, connect or TLS"},
		{title: "redirect chain", path: "/redirect/3",
			explanation: "three redirects, then the page: every hop in one trace, on one connection"},
		{title: "slow server", path: "/slow",
			explanation: fmt.Sprintf("the server thinks for %v: it shows as http.wait, the time to the first byte", slowDelay)},
		{title: "103 Early Hints", path: "/hints",
			explanation: "the server sends hints (•) before its final response"},
		{title: "refused connection", failureExpected: true,
			explanation: "nothing listens on port " + refused + ", so the connect fails; this failure is expected"},
	}

	fmt.Fprintf(r.captions, "wiretrace demo: tracing requests to a server of its own at %s (self-signed, HTTP/2 and HTTP/1.1)\n\n", base)
	for i, s := range steps {
		if ctx.Err() != nil {
			return failed
		}
		target := base + s.path
		if s.path == "" {
			target = "https://" + net.JoinHostPort(host, refused) + "/"
		}
		u, err := url.Parse(target)
		if err != nil {
			fmt.Fprintf(r.stderr, "wiretrace: demo: %v\n", err)
			return true
		}
		t := r.trace(ctx, step{
			caption: fmt.Sprintf("▶ %d/%d %s: %s", i+1, len(steps), s.title, s.explanation),
			name:    s.title,
			url:     u,
		})
		if ctx.Err() != nil {
			return failed
		}
		if t.err != nil && !s.failureExpected {
			failed = true
			fmt.Fprintf(r.stderr, "wiretrace: %s\n", t.errMsg)
		}
	}
	fmt.Fprintln(r.captions, "Trace your own: wiretrace https://example.com (wiretrace -h for more)")
	return failed
}

// demoHost is the host name the demo dials: "localhost", so that the
// waterfall shows a DNS lookup, if it resolves to 127.0.0.1 only, else
// 127.0.0.1 itself.
func demoHost(ctx context.Context) string {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", "localhost")
	if err != nil || len(addrs) == 0 {
		return "127.0.0.1"
	}
	for _, a := range addrs {
		if a.Unmap() != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
			return "127.0.0.1"
		}
	}
	return "localhost"
}

// refusedPort returns a port of 127.0.0.1 on which nothing listens: one
// that was just listened on and closed.
func refusedPort(ctx context.Context) (string, error) {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if cerr := ln.Close(); err == nil {
		err = cerr
	}
	return port, err
}

// demoServer is the demo's HTTPS server on 127.0.0.1, with a self-signed
// certificate for localhost and 127.0.0.1, speaking HTTP/2 and HTTP/1.1.
type demoServer struct {
	srv   *http.Server
	port  string
	roots *x509.CertPool // trusts the server's certificate
	done  chan struct{}  // closed when Serve returned
}

func startDemoServer(ctx context.Context) (*demoServer, error) {
	cert, err := selfSignedCert()
	if err != nil {
		return nil, err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	d := &demoServer{
		srv: &http.Server{
			Handler:           demoHandler(),
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			Protocols:         &protocols,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          log.New(io.Discard, "", 0),
		},
		roots: x509.NewCertPool(),
		done:  make(chan struct{}),
	}
	d.roots.AddCert(cert.Leaf)
	_, d.port, _ = net.SplitHostPort(ln.Addr().String())
	go func() {
		defer close(d.done)
		_ = d.srv.ServeTLS(ln, "", "") // returns http.ErrServerClosed on close
	}()
	return d, nil
}

// close stops the server at once, and waits for it.
func (d *demoServer) close() {
	_ = d.srv.Close()
	<-d.done
}

// demoHandler serves the stops of the tour:
//
//	/             a short page
//	/redirect/N   a redirect to /redirect/N-1, and /redirect/1 to /
//	/slow         a short page after slowDelay
//	/hints        "103 Early Hints" with a Link header, then the page
func demoHandler() http.Handler {
	const page = "hello from the wiretrace demo\n"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})
	mux.HandleFunc("GET /redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 1 || n > 10 {
			http.Error(w, "want /redirect/N, N from 1 to 10", http.StatusNotFound)
			return
		}
		next := "/"
		if n > 1 {
			next = "/redirect/" + strconv.Itoa(n-1)
		}
		http.Redirect(w, r, next, http.StatusFound)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(slowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})
	mux.HandleFunc("GET /hints", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, page)
	})
	return mux
}

// selfSignedCert makes an ECDSA certificate for localhost and 127.0.0.1,
// valid for a day, that is its own issuer.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "wiretrace demo", Organization: []string{"wiretrace"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
