package otelhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/wiretrace/wiretrace/internal/names"
)

// The CONNECT exchange with an HTTP forward proxy, for an "https" URL: after
// the connection to the proxy is up, net/http sends "CONNECT host:port" and
// reads the proxy's answer before the TLS handshake with the server through
// the tunnel. net/http has no hook for it. Its start is the end of what came
// before it on the connection: the dial to the proxy (ConnectDone) or, for an
// "https://" proxy, the handshake with the proxy (TLSHandshakeDone). Its end
// is, with InstrumentTransport, the moment net/http hands the proxy's answer
// to Transport.OnProxyConnectResponse; without, the TLSHandshakeStart that
// follows it, or the round trip's failure when the proxy refused. Each phase
// is recorded once both ends are known, with the times they happened at.
// docs/spans.md describes the span, http.proxy_connect.

var proxyConnectPhase = phaseName{names.SpanProxyConnect, names.EventProxyConnectStart, names.EventProxyConnectDone}

// error.type values of a CONNECT the proxy refused.
const (
	errorTypeProxyRefused      = "proxy_connect_refused"
	errorTypeProxyAuthRequired = "proxy_auth_required"
)

// proxyState is what a request knows of the CONNECT exchange of its current
// attempt. The request's mutex guards it, except ctx, which is set before
// the request is sent and read-only after.
type proxyState struct {
	// ctx is the node of the request's context that lets the dial and
	// OnProxyConnectResponse, which see only that context, find the request.
	ctx proxyCtx

	// tunnel is whether a CONNECT is coming: GetConn named another
	// address than the URL's, for an "https" URL. gotConn is whether the
	// attempt got its connection. on is whether the request's context has
	// its node (withProxy, or a pooled state's sentCtx): set before the
	// request is sent, read-only after.
	tunnel  bool
	gotConn bool
	on      bool
	// start is when the connection to the proxy was up (the dial's
	// end); tlsStart and tlsDone are the start and the successful end of
	// the first handshake after it, which is either the server's, through
	// the tunnel (the exchange ended where it began), or an "https://"
	// proxy's (the exchange began where it ended).
	start, tlsStart, tlsDone time.Time
	dial                     int // index in r.connects of the dial that carried it; -1
	recorded                 bool
	// status is the proxy's answer, from OnProxyConnectResponse; 0 if
	// unknown. hookErr is the error the application's callback returned.
	status  int
	hookErr error
	phase   phase
}

// proxyCtxKey is the key under which a request's context answers with its
// *proxyCtx.
type proxyCtxKey struct{}

// proxyCtx is a context node that leads to a request, embedded in it so that
// it costs no allocation.
type proxyCtx struct {
	context.Context
	r *request
}

func (c *proxyCtx) Value(key any) any {
	if key == (proxyCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func (c *proxyCtx) String() string { return "otelhooks.request" }

// proxyCtxOf returns the newest request node in ctx, or nil.
func proxyCtxOf(ctx context.Context) *proxyCtx {
	pc, _ := ctx.Value(proxyCtxKey{}).(*proxyCtx)
	return pc
}

// withProxy returns ctx with a node leading to r, when r's request may go
// through a proxy (the transport is not direct: an *http.Transport without a
// Proxy func): the dial and InstrumentTransport's OnProxyConnectResponse look
// r up in the context net/http gives them, which keeps the request's values.
// Otherwise it returns ctx, and no CONNECT is looked for.
func (r *request) withProxy(ctx context.Context, direct bool) context.Context {
	r.proxy.dial = -1
	if direct || r.req == nil || r.req.URL == nil {
		return ctx
	}
	r.proxy.ctx = proxyCtx{Context: ctx, r: r}
	r.proxy.on = true
	return &r.proxy.ctx
}

// targetAddr returns the "host:port" net/http dials for u when it goes
// direct: the host with the scheme's port if it has none, as net/http's
// canonicalAddr (for ASCII host names, which it leaves as they are).
func targetAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(portNumber("", u.Scheme))
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// proxyGetConn notes where net/http gets the connection of an attempt:
// GetConn names the proxy's address when there is one (transport.go,
// connectMethod.addr), and through a proxy an "https" URL is reached by a
// CONNECT tunnel. A host name net/http would convert to punycode first is
// not compared: no CONNECT is inferred for it, but InstrumentTransport's
// callback still records one. r.mu must be held.
func (r *request) proxyGetConn(hostPort string) {
	p := &r.proxy
	p.tunnel, p.gotConn = false, false
	p.start, p.tlsStart, p.tlsDone = time.Time{}, time.Time{}, time.Time{}
	p.dial, p.recorded, p.status, p.hookErr = -1, false, 0, nil
	if !r.proxy.on || r.req.URL.Scheme != "https" || !isASCII(r.req.URL.Host) {
		return
	}
	if strings.EqualFold(hostPort, targetAddr(r.req.URL)) {
		return
	}
	p.tunnel = true
}

// proxyDialed notes that the dial r.connects[i] connected at the time at:
// through a proxy, the first one is the connection the CONNECT goes on.
// r.mu must be held.
func (r *request) proxyDialed(i int, at time.Time) {
	p := &r.proxy
	if p.tunnel && !p.recorded && p.start.IsZero() {
		p.start, p.dial = at, i
	}
}

// proxyTLSStart notes a TLSHandshakeStart. The first after the dial ends
// the CONNECT exchange, unless it is the handshake with an "https://" proxy,
// which the hooks cannot tell apart: a second handshake shows that it was,
// and that the exchange ran from the end of the first to the start of the
// second. now is when the hook was called, taken before locking. r.mu must
// be held.
func (r *request) proxyTLSStart(now time.Time) {
	p := &r.proxy
	if !p.tunnel || p.recorded || p.start.IsZero() {
		return
	}
	switch {
	case p.tlsStart.IsZero():
		p.tlsStart = now
	case !p.tlsDone.IsZero():
		r.recordProxyConnect(p.tlsDone, now, 0, nil, "")
	}
}

// proxyTLSDone notes the end of the first handshake after the dial, which
// the CONNECT follows if it was the proxy's. now is when the hook was
// called, taken before locking. r.mu must be held.
func (r *request) proxyTLSDone(now time.Time, err error) {
	p := &r.proxy
	if p.tunnel && !p.recorded && !p.tlsStart.IsZero() && p.tlsDone.IsZero() && err == nil {
		p.tlsDone = now
	}
}

// proxyGotConn settles the exchange when the request gets its connection:
// with a single handshake since the dial, that was the server's, and the
// exchange ended where it began. r.mu must be held.
func (r *request) proxyGotConn() {
	p := &r.proxy
	p.gotConn = true
	if p.tunnel && !p.recorded && !p.start.IsZero() && !p.tlsStart.IsZero() {
		r.recordProxyConnect(p.start, p.tlsStart, 0, nil, "")
	}
}

// proxyConnectResponse records the proxy's answer to the CONNECT, reported
// by InstrumentTransport's OnProxyConnectResponse at the time at, with the
// error the application's own callback returned, if any. It runs on the
// dial's goroutine, possibly after the request ended.
func (r *request) proxyConnectResponse(at time.Time, resp *http.Response, hookErr error) {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	p := &r.proxy
	if p.gotConn || p.recorded {
		return
	}
	p.tunnel = true
	p.status, p.hookErr = resp.StatusCode, hookErr
	start := p.start
	if !p.tlsDone.IsZero() {
		// The handshake before the answer was the proxy's.
		start = p.tlsDone
	}
	if start.IsZero() {
		// No dial was seen (the connection's hooks are not installed
		// when only metrics are recorded): nothing to time it from.
		start = at
	}
	switch {
	case hookErr != nil:
		r.recordProxyConnect(start, at, resp.StatusCode, hookErr, "")
	case resp.StatusCode != http.StatusOK:
		r.recordProxyConnect(start, at, resp.StatusCode, nil, "the proxy refused the CONNECT: "+r.cfg.scrub.text(resp.Status, r.req))
	default:
		r.recordProxyConnect(start, at, resp.StatusCode, nil, "")
	}
}

// recordProxyConnect records the phase from start to end, with the proxy's
// status code if known (not 0), failed with err or with the refusal
// described. r.mu must be held.
func (r *request) recordProxyConnect(start, end time.Time, status int, err error, refusal string) {
	p := &r.proxy
	p.recorded = true
	if p.dial >= 0 && p.dial < len(r.connects) {
		// This dial's connection carried the CONNECT: the request used it,
		// whatever comes next.
		r.connects[p.dial].carriedProxy = true
	}
	if !r.recording || r.csOn() {
		// WithConnectionSpans: the exchange is part of the connection's
		// setup, between its socket connect and its TLS handshake.
		return
	}
	attrs := r.attrs()
	r.start(r.phaseParent(), &p.phase, &proxyConnectPhase, start)
	if status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	switch {
	case err != nil:
		r.end(&p.phase, err, end, attrs...)
	case refusal != "":
		attrs = append(attrs, semconv.ErrorTypeKey.String(proxyRefusalType(status)))
		r.close(&p.phase, end, nil, refusal, attrs)
	default:
		r.end(&p.phase, nil, end, attrs...)
	}
}

// proxyRefusalType is the error.type of a CONNECT answered with status: 407
// asks for credentials, any other answer but 200 refuses.
func proxyRefusalType(status int) string {
	if status == http.StatusProxyAuthRequired {
		return errorTypeProxyAuthRequired
	}
	return errorTypeProxyRefused
}

// proxyFinish records a CONNECT exchange still unsettled when the round
// trip failed with err, of error.type errType. r.mu must be held.
func (r *request) proxyFinish(err error, errType string) {
	p := &r.proxy
	if !p.tunnel || p.recorded || p.start.IsZero() || err == nil {
		return
	}
	var op *net.OpError
	switch {
	case errType == errorTypeProxyRefused || errType == errorTypeProxyAuthRequired:
		// The proxy's answer was the last thing on the connection.
		start := p.start
		if !p.tlsDone.IsZero() {
			start = p.tlsDone
		}
		r.recordProxyConnect(start, time.Now(), 0, nil, "the proxy refused the CONNECT: "+r.cfg.scrub.errText(err, r.req))
	case p.tlsStart.IsZero():
		// It failed during the exchange (reset, timeout, canceled).
		r.recordProxyConnect(p.start, time.Now(), 0, err, "")
	case !p.tlsDone.IsZero():
		// A handshake succeeded, yet no connection came: it was the
		// proxy's, and the exchange after it failed.
		r.recordProxyConnect(p.tlsDone, time.Now(), 0, err, "")
	case errors.As(err, &op) && op.Op == "proxyconnect":
		// net/http wraps the failures on the way to the proxy, its
		// handshake included (transport.go, dialConn: wrapErr): the
		// failed handshake was the proxy's, and no CONNECT was sent.
	default:
		// The handshake with the server through the tunnel failed: the
		// exchange had ended where it began.
		r.recordProxyConnect(p.start, p.tlsStart, 0, nil, "")
	}
}

// proxyFailureType returns the error.type of a round trip that failed with
// err: the proxy's refusal, if the proxy refused its CONNECT, and
// failureType's otherwise. A refusal is known from the status code
// InstrumentTransport saw, or else from net/http's error for it: a plain
// errors.New of the status text (transport.go, dialConn), returned before
// the request got a connection through a tunnel. r.mu must be held.
func (r *request) proxyFailureType(err error, req *http.Request) string {
	t := failureType(err, req)
	p := &r.proxy
	if !p.tunnel || p.gotConn {
		return t
	}
	switch {
	case p.hookErr != nil:
		return t
	case p.status != 0 && p.status != http.StatusOK:
		return proxyRefusalType(p.status)
	case p.status == 0 && t == "*errors.errorString":
		return errorTypeProxyRefused
	}
	return t
}

// instrumentProxyConnect chains tr.OnProxyConnectResponse with one that
// reports the proxy's answer to the requests of the context net/http gives
// it. The function tr had is called first, and its error returned unchanged.
func instrumentProxyConnect(tr *http.Transport) {
	own := tr.OnProxyConnectResponse
	tr.OnProxyConnectResponse = func(ctx context.Context, proxyURL *url.URL, connectReq *http.Request, connectRes *http.Response) error {
		at := time.Now()
		var err error
		if own != nil {
			err = own(ctx, proxyURL, connectReq, connectRes)
		}
		if ctx == nil || connectRes == nil {
			return err
		}
		// Nested transports of this package each have a request in the
		// context: every one records the exchange.
		for pc := proxyCtxOf(ctx); pc != nil; pc = proxyCtxOf(pc.Context) {
			pc.r.proxyConnectResponse(at, connectRes, err)
		}
		return err
	}
}

// serverAddr returns the "host:port" the connection dialed to addr with ctx
// serves, for the connection metrics' server.address and server.port: the
// server's, behind a proxy, when the connection is a CONNECT tunnel to it,
// as the conventions ask; addr otherwise. A connection to a proxy that
// forwards plain "http" requests serves every server the pool sends it to,
// so it keeps the proxy's address.
func serverAddr(ctx context.Context, addr string) string {
	pc := proxyCtxOf(ctx)
	if pc == nil {
		return addr
	}
	u := pc.r.req.URL
	if u.Scheme != "https" || !isASCII(u.Host) {
		return addr
	}
	return targetAddr(u)
}
