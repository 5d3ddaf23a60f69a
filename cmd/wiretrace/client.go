package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// newClient returns the client that requests go through: a transport like
// net/http's default one, shaped by o, traced by otelhooks to tp. adjust,
// if not nil, changes the transport further. The function returned closes
// its idle connections. With -v, or -i with -json, each hop's request and
// response heads go to onExchange. The error is the user's: a certificate
// file that does not load.
func newClient(o *options, tp trace.TracerProvider, onExchange func(exchange), adjust func(*http.Transport)) (*http.Client, func(), error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	tlsConf := o.tls
	if tlsConf == nil {
		var err error
		if tlsConf, err = tlsConfig(o); err != nil {
			return nil, nil, err
		}
	}
	base.TLSClientConfig = tlsConf.Clone()
	// Sizes are what crossed the wire: --compressed asks for gzip and
	// decodes it itself.
	base.DisableCompression = true
	var p http.Protocols
	switch {
	case o.http1:
		p.SetHTTP1(true)
	case o.http2:
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true) // h2c with prior knowledge for http://
	default:
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	}
	base.Protocols = &p
	base.DialContext = newDialer(o).DialContext
	base.Proxy = proxyFunc(o)
	base.OnProxyConnectResponse = func(ctx context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
		if p, ok := ctx.Value(proxyConnectKey{}).(*int); ok && p != nil {
			proxyConnectMu.Lock()
			*p = resp.StatusCode
			proxyConnectMu.Unlock()
		}
		return nil
	}
	if o.connectTimeout > 0 {
		// The connect timer fails the request; this and the dialer's
		// timeout end the dial, which may outlive it, a moment later, so
		// that the timer always speaks first.
		base.TLSHandshakeTimeout = o.connectTimeout + dialGrace
	}
	if adjust != nil {
		adjust(base)
	}
	if o.tcpInfo {
		// After adjust, which may set the dialer that this wraps.
		otelhooks.InstrumentTransport(base, otelhooks.WithoutMetrics())
	}
	var rt http.RoundTripper = base
	if onExchange != nil && (o.verbose || o.include) {
		rt = &exchangeRecorder{base: base, record: onExchange, proxy: base.Proxy}
	}
	client := &http.Client{
		Transport:     otelhooks.NewTransport(rt, hookOptions(o, tp)...),
		CheckRedirect: checkRedirect(o.maxRedirs),
	}
	return client, base.CloseIdleConnections, nil
}

// checkRedirect follows up to limit redirects, then returns the last
// response, and records on the root span that it stopped.
func checkRedirect(limit int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > limit {
			redirectStopped(req.Context(), limit, req.URL)
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// hookOptions are the otelhooks options for o: spans go to tp, and no
// metrics are recorded, as nothing would export them.
func hookOptions(o *options, tp trace.TracerProvider) []otelhooks.Option {
	opts := []otelhooks.Option{otelhooks.WithTracerProvider(tp), otelhooks.WithoutMetrics()}
	if o != nil && o.connSpans {
		opts = append(opts, otelhooks.WithConnectionSpans())
	}
	return opts
}

// tlsConfig is the client's TLS configuration: -k, --cacert, -E and
// --key, and -http2's demand for h2.
func tlsConfig(o *options) (*tls.Config, error) {
	c := &tls.Config{InsecureSkipVerify: o.insecure} //nolint:gosec // -k asks for it
	if o.caCert != "" {
		pem, err := os.ReadFile(o.caCert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", o.caCert)
		}
		c.RootCAs = pool
	}
	if o.cert != "" {
		key := o.key
		if key == "" {
			key = o.cert // curl takes the key from the certificate's file too
		}
		cert, err := tls.LoadX509KeyPair(o.cert, key)
		if err != nil {
			return nil, fmt.Errorf("-E/--cert: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if o.http2 {
		// Without this, a server that negotiates no ALPN protocol gets
		// HTTP/1 all the same.
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if cs.NegotiatedProtocol != "h2" {
				return &noHTTP2Error{alpn: cs.NegotiatedProtocol}
			}
			return nil
		}
	}
	return c, nil
}

// noHTTP2Error is -http2's failure against a TLS server that does not
// negotiate h2.
type noHTTP2Error struct{ alpn string }

func (e *noHTTP2Error) Error() string {
	if e.alpn == "" {
		return "-http2: the server negotiated no ALPN protocol, so no HTTP/2"
	}
	return fmt.Sprintf("-http2: the server negotiated %q, not h2", e.alpn)
}

// dialGrace is how long a dial and its handshake outlast --connect-timeout,
// whose timer fails the request first.
const dialGrace = time.Second

// dialer dials as -4, -6, --resolve and --connect-to ask.
type dialer struct {
	d         net.Dialer
	network   string // "tcp", "tcp4" or "tcp6"
	resolve   []resolveRule
	connectTo []connectRule
}

func newDialer(o *options) *dialer {
	timeout := 30 * time.Second // as net/http's default
	if o.connectTimeout > 0 {
		timeout = o.connectTimeout + dialGrace
	}
	d := &dialer{
		d:         net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		network:   "tcp",
		resolve:   o.resolve,
		connectTo: o.connectTo,
	}
	switch {
	case o.ipv4:
		d.network = "tcp4"
	case o.ipv6:
		d.network = "tcp6"
	}
	return d
}

// DialContext dials addr, or where --connect-to and --resolve send it.
// Lookups of names happen inside, so that they are traced as http.dns.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network == "tcp" {
		network = d.network
	}
	addrs := d.route(addr)
	var first error
	for _, a := range addrs {
		c, err := d.d.DialContext(ctx, network, a)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// route returns the addresses to dial for addr, "host:port": the first
// --connect-to that matches changes it, then the first --resolve that
// matches gives its addresses.
func (d *dialer) route(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	lower := strings.ToLower(host)
	for _, r := range d.connectTo {
		if (r.fromHost == "" || r.fromHost == lower) && (r.fromPort == "" || r.fromPort == port) {
			if r.toHost != "" {
				host = r.toHost
			}
			if r.toPort != "" {
				port = r.toPort
			}
			lower = strings.ToLower(host)
			break
		}
	}
	for _, r := range d.resolve {
		if r.host == lower && (r.port == "*" || r.port == port) {
			out := make([]string, 0, len(r.addrs))
			for _, a := range r.addrs {
				out = append(out, net.JoinHostPort(a, port))
			}
			return out
		}
	}
	return []string{net.JoinHostPort(host, port)}
}

// proxyFunc is the transport's Proxy for -x and --noproxy: the proxy of
// -x, else the one the environment names (HTTPS_PROXY, HTTP_PROXY and
// NO_PROXY, as curl reads them), except for the hosts of --noproxy.
func proxyFunc(o *options) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		if bypassProxy(o.noProxy, req.URL.Hostname()) {
			return nil, nil
		}
		if o.proxy == nil {
			return http.ProxyFromEnvironment(req)
		}
		return o.proxy, nil
	}
}

// bypassProxy reports whether host is in the --noproxy list: "*", the host
// itself, or a domain it is in ("example.com" and ".example.com" both
// cover "www.example.com").
func bypassProxy(list []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, e := range list {
		e = strings.TrimSuffix(e, ".")
		if e == "*" || e == host {
			return true
		}
		if d := strings.TrimPrefix(e, "."); d != "" && strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// proxyConnectKey is the context key of the int that the proxy's answer to
// CONNECT goes to, for -w's http_connect.
type proxyConnectKey struct{}

// proxyConnectMu guards the ints of proxyConnectKey: the answer comes on
// the dialing goroutine, which may outlive its request.
var proxyConnectMu sync.Mutex

func withProxyConnect(ctx context.Context, p *int) context.Context {
	return context.WithValue(ctx, proxyConnectKey{}, p)
}

// withConnectTimeout gives each hop's wait for a connection, DNS, connect
// and TLS included, d at most: a timer from GetConn to GotConn cancels the
// request, and the request's context then reports a deadline exceeded, as
// a timeout should. d == 0 means no bound. The function returned stops the
// timer.
func withConnectTimeout(ctx context.Context, d time.Duration) (context.Context, func()) {
	if d <= 0 {
		return ctx, func() {}
	}
	inner, cancel := context.WithCancelCause(ctx)
	c := &connectTimeoutCtx{Context: inner}
	var mu sync.Mutex // guards timer
	var timer *time.Timer
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if timer != nil {
			timer.Stop()
			timer = nil
		}
	}
	traced := httptrace.WithClientTrace(c, &httptrace.ClientTrace{
		GetConn: func(string) {
			mu.Lock()
			defer mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(d, func() {
				c.fired.Store(true)
				cancel(timeoutError{"--connect-timeout", d})
			})
		},
		GotConn: func(httptrace.GotConnInfo) { stop() },
	})
	return traced, func() {
		stop()
		cancel(nil)
	}
}

// connectTimeoutCtx is canceled by --connect-timeout's timer, and then
// says its deadline was exceeded rather than that it was canceled.
type connectTimeoutCtx struct {
	context.Context
	fired atomic.Bool // the timer canceled it
}

// Err is context.DeadlineExceeded once the timer canceled the context.
func (c *connectTimeoutCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.fired.Load() {
		return context.DeadlineExceeded
	}
	return err
}
