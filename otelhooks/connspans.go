package otelhooks

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/names"
)

// This file is the connection model of WithConnectionSpans: the spans of the
// .NET network traces of the semantic conventions (docs/dotnet/
// dotnet-network-traces.md there), described in docs/spans.md.
//
// Each dial is a connSetup: the root span "HTTP connection_setup host:port"
// of a trace of its own, with the DNS lookup, every socket connect attempt
// and the TLS handshake under it. It belongs to no request: the request whose
// context started the dial only carries its hooks, which keep coming after
// that request ended (a dial outlives its request since Go 1.23), and the
// connection may serve another request entirely.
//
// A request that gets a connection links to the setup span of that
// connection; one that had to wait for it gets an "HTTP wait_for_connection"
// span, linked too. Which setup made which connection is known exactly when
// the connection comes from InstrumentDialer (the dialer sees both the
// request's context and the connection); otherwise a per-transport registry
// pairs them: by the TLS keying material for TLS connections, by address for
// plain ones (see connRegistry).

// WithConnectionSpans records connections the way the OpenTelemetry semantic
// conventions model them for .NET (docs/dotnet/dotnet-network-traces.md of
// the conventions, status "development"), instead of the http.getconn,
// http.dns, http.connect and http.tls spans under each request:
//
//   - each dial is the root span "HTTP connection_setup {server.address}:{server.port}"
//     of a trace of its own, with the children "DNS lookup {dns.question.name}",
//     one "socket connect {network.peer.address}:{network.peer.port}" per
//     attempt (parallel ones included, the winner marked) and
//     "TLS client handshake {server.address}";
//   - a request that found no connection ready gets the child span
//     "HTTP wait_for_connection {server.address}:{server.port}" instead of
//     http.getconn;
//   - the request span, and the wait span, link to the setup span of the
//     connection that served the request, reused or new, with the
//     connection's age and the number of requests it has served as
//     attributes of the link.
//
// The request's other phases (http.send, http.wait, http.receive) are as
// without it. A setup span is recorded when the request that started the dial
// is traced; it ends when the connection is ready or the dial failed, even if
// that request gave up first, and the request the connection then serves
// links to it.
//
// Connections dialed through [InstrumentDialer] or [InstrumentTransport] are
// matched with their setup exactly, and http.client.connection.duration
// records their lifetime with the setup span as exemplar. Without it, TLS
// connections are matched by their keying material, which is exact, and plain
// HTTP ones by address, which may pair two connections set up at the same
// moment to the same address the wrong way round (docs/spans.md).
//
// It applies to [NewTransport]; [NewClientTrace] ignores it. Without it, the
// connection's phases are children of each request's http.getconn.
func WithConnectionSpans() Option {
	return optionFunc(func(c config) config {
		c.connSpans = true
		return c
	})
}

// Span names and attribute keys of the connection model; docs/spans.md
// lists them.
const (
	connSetupSpanPrefix = names.SpanConnSetupPrefix
	waitConnSpanPrefix  = names.SpanWaitConnPrefix
	dnsLookupPrefix     = names.SpanDNSLookupPrefix
	socketConnectPrefix = names.SpanSocketConnectPrefix
	tlsHandshakePrefix  = names.SpanTLSHandshakePrefix

	eventWaitConnStart = names.EventWaitConnStart
	eventWaitConnDone  = names.EventWaitConnDone

	connIDKey       = attribute.Key(names.AttrConnID)
	connAgeKey      = attribute.Key(names.AttrConnAge)
	connRequestsKey = attribute.Key(names.AttrConnRequests)
)

// connIDs numbers the connection setups of the process, from 1.
var connIDs atomic.Int64

// maxPending bounds the setups a registry keeps for pairing with a
// connection it has not seen yet (connections not made by InstrumentDialer).
// A setup whose connection is never used (closed idle, or never handed out)
// is dropped when 64 newer ones are waiting; its span has ended long before.
const maxPending = 64

// connRegistry pairs the connections of one transport with their setups.
//
// A connection made by InstrumentDialer carries its setup itself, and needs
// no entry. For other connections the registry keeps:
//
//   - pending: setups that finished and whose connection no request has got
//     yet, newest last, at most maxPending;
//   - tls, tcp: the setup of each connection a request got, keyed by a weak
//     pointer to the connection, so that the entry does not keep it alive.
//     A cleanup registered with runtime.AddCleanup deletes the entry once
//     net/http has dropped the connection and the garbage collector has
//     reclaimed it: there is no close hook for a connection we did not
//     wrap, and a bound would forget long-lived HTTP/2 connections.
//
// mu guards tls and tcp, and is held while a connection is paired;
// pendingMu guards pending. Lock order: mu, then a setup's mu, then
// pendingMu (a setup that ends adds itself to pending). Neither is held
// while a span is started or ended.
type connRegistry struct {
	mu        sync.Mutex
	tls       map[weakTLSConn]*connSetup
	tcp       map[weakTCPConn]*connSetup
	pendingMu sync.Mutex
	pending   []*connSetup
	// dialsMu guards dials: the setups that may still be going on, for
	// closeIdle; ended ones are dropped as more come. Lock order: a
	// request's mu, then dialsMu, then a setup's mu.
	dialsMu sync.Mutex
	dials   []*connSetup
}

func newConnRegistry() *connRegistry {
	return &connRegistry{
		tls: make(map[weakTLSConn]*connSetup),
		tcp: make(map[weakTCPConn]*connSetup),
	}
}

// connRequest is one request's part of the connection model, one allocation
// with the context node it needs; the request's mutex guards it.
type connRequest struct {
	reg *connRegistry
	// getConnAt is when the request asked for a connection; waiting, whether
	// it has not got one since.
	getConnAt time.Time
	waiting   bool
	// cur is the setup of the current attempt's dial, if it dialed; setups
	// all the setups this request's dials started, oldest first. A dial
	// that outlives the request keeps reporting to them.
	cur      *connSetup
	setups   []*connSetup
	setupBuf [1]*connSetup
	ended    bool            // the request ended; its setups go on
	base     *http.Transport // the transport, if it is one; read-only
	// ctx is the node of the request's context that leads InstrumentDialer
	// to r, embedded so that it costs no allocation of its own; set before
	// the request is sent, read-only after.
	ctx csCtx
}

// csCtx is a context node that answers dialKey with its request.
type csCtx struct {
	context.Context
	r *request
}

func (c *csCtx) Value(key any) any {
	if key == (dialKey{}) {
		return c.r
	}
	return c.Context.Value(key)
}

func (c *csCtx) String() string { return "otelhooks.connRequest" }

// dialKey is the context key under which a request of the model puts
// itself, for InstrumentDialer to find the setup of the dial it runs.
type dialKey struct{}

// csOn reports whether r records the connection model.
func (r *request) csOn() bool { return r.cs != nil }

// csInstall turns the connection model on for r, a recording request of a
// transport with WithConnectionSpans: r's dial hooks then call the cs ones
// below, which report to the setups instead of to r's phases, and go on
// after r ended.
func (r *request) csInstall(reg *connRegistry, base http.RoundTripper) {
	r.cs = &connRequest{reg: reg}
	r.cs.base, _ = base.(*http.Transport)
	r.cs.setups = r.cs.setupBuf[:0]
}

// csContext returns ctx with r in it for InstrumentDialer, if the model is
// on.
func (r *request) csContext(ctx context.Context) context.Context {
	if !r.csOn() {
		return ctx
	}
	r.cs.ctx = csCtx{Context: ctx, r: r}
	return &r.cs.ctx
}

// csGetConnLocked notes that the request asks for a connection, at now. A request
// that asks again before it got one (net/http retries an HTTP/2 stream on a
// connection that could not take it) goes on waiting: its wait is one, from
// the first ask. r.mu must be held.
func (r *request) csGetConnLocked(now time.Time) {
	if !r.cs.waiting {
		r.cs.getConnAt, r.cs.waiting = now, true
	}
	r.cs.cur = nil // a dial of this attempt gets a setup of its own
}

// csGotConnLocked links the request to the setup of the connection it got
// at now, and records the wait for it if there was one. r.mu must be held.
func (r *request) csGotConnLocked(info clienttrace.GotConnInfo, now time.Time) {
	s := r.cs.reg.lookup(info.Conn, r.cs.setups)
	var link trace.Link
	ready := info.WasIdle || info.Reused
	if s != nil {
		n, readyAt, h2 := s.serve()
		// Ready: the connection was set up before the request asked, and
		// was free: idle (HTTP/1), or an HTTP/2 connection already in use.
		ready = !readyAt.IsZero() && readyAt.Before(r.cs.getConnAt) && (info.WasIdle || (info.Reused && h2))
		attrs := make([]attribute.KeyValue, 0, 3)
		attrs = append(attrs, connIDKey.Int64(s.id), connRequestsKey.Int64(n))
		if !readyAt.IsZero() {
			attrs = append(attrs, connAgeKey.Float64(now.Sub(readyAt).Seconds()))
		}
		link = trace.Link{SpanContext: s.sc, Attributes: attrs}
		r.span.AddLink(link)
	}
	if r.cs.waiting && !ready {
		r.csWaitLocked(now, s, link, nil, "")
	}
	r.cs.waiting = false
	if info.Conn != nil {
		attrs := appendConnAddrs(r.attrs(), info.Conn)
		r.peer = attribute.KeyValue{}
		for _, kv := range attrs {
			if kv.Key == semconv.NetworkPeerAddressKey {
				r.peer = kv
			}
		}
	}
}

// csWaitLocked records the wait for a connection, from GetConn to end, as
// the span "HTTP wait_for_connection" (or its events under WithoutSubSpans),
// linked to the setup s of the connection it got, if any; failed with err
// if the request failed waiting. r.mu must be held.
func (r *request) csWaitLocked(end time.Time, s *connSetup, link trace.Link, err error, errType string) {
	var attrs []attribute.KeyValue
	if err != nil {
		attrs = []attribute.KeyValue{semconv.ErrorTypeKey.String(errType)}
	}
	if r.events {
		r.addEvent(r.span, eventWaitConnStart, r.cs.getConnAt, nil)
		if err != nil {
			attrs = append(attrs, errorMessageKey.String(r.cfg.scrub.errText(err, r.req)))
		}
		r.addEvent(r.span, eventWaitConnDone, end, attrs)
		return
	}
	name := ""
	if s != nil {
		name = s.waitName
	} else {
		name = waitConnSpanPrefix + r.csHostPort()
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(r.cs.getConnAt)}
	if s != nil {
		opts = append(opts, trace.WithLinks(link))
	}
	_, span := r.tracer.Start(r.parent, name, opts...)
	if err != nil {
		span.SetAttributes(attrs...)
		span.SetStatus(codes.Error, r.cfg.scrub.errText(err, r.req))
	}
	span.End(trace.WithTimestamp(end))
}

// csFinishLocked ends what the request has of the model when it ends: the
// wait, if it never got a connection (failed with err, or abandoned); and
// the setups its dials started that nothing is sure to end any more. r.mu
// must be held.
func (r *request) csFinishLocked(err error, errType string) {
	// A request that fails waiting, its own context still live, got its
	// dial's error: net/http hands a dial's failure to the request that
	// started it only. That dial is over, whatever the hooks showed (a
	// proxy that refused the CONNECT shows nothing).
	// The setups outlive the request: its error goes to them scrubbed,
	// with the request's own secrets, as text.
	errText := r.cfg.scrub.errText(err, r.req)
	if cur := r.cs.cur; cur != nil && err != nil && r.cs.waiting && r.parent.Err() == nil {
		cur.dialFailed(errText, errType)
	}
	if r.cs.waiting {
		r.cs.waiting = false
		if err == nil {
			err, errType = errAbandonedWait, "abandoned"
		}
		r.csWaitLocked(time.Now(), nil, trace.Link{}, err, errType)
	}
	r.cs.ended = true
	for _, s := range r.cs.setups {
		s.requestEnded(err != nil, errText, errType)
	}
}

var errAbandonedWait = errors.New("the request ended before it got a connection")

// csHostPort is "host:port" of the request's server.
func (r *request) csHostPort() string {
	return net.JoinHostPort(r.req.URL.Hostname(), strconv.Itoa(portNumber(r.req.URL.Port(), r.req.URL.Scheme)))
}

// csSetup returns the setup a dial hook of r reports to: the newest setup
// of r that accept says takes it, or, if create is not zero, a new one started
// then. It locks r.mu only to read r's setups: dial hooks go on after r
// ended.
func (r *request) csSetup(accept func(*connSetup) bool, create time.Time) *connSetup {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.cs.setups) - 1; i >= 0; i-- {
		if s := r.cs.setups[i]; accept(s) {
			return s
		}
	}
	if create.IsZero() {
		return nil
	}
	return r.csNewSetupLocked(create)
}

// csHandshakes returns how many TLS handshakes a dial for r's request
// makes, and the host of the proxy it goes through, if any: it asks the
// transport's Proxy function, as net/http does for each request. For a
// transport that is not an *http.Transport, it guesses the server's for
// https, and none for http.
func (r *request) csHandshakes() (n int, proxyHost string) {
	if r.req.URL.Scheme == "https" {
		n = 1
	}
	if r.cs.base == nil || r.cs.base.Proxy == nil {
		return n, ""
	}
	u, err := r.cs.base.Proxy(r.req)
	if err != nil || u == nil {
		return n, ""
	}
	if u.Scheme == "https" {
		n++
	}
	return n, u.Hostname()
}

// csNewSetupLocked starts the setup of a new dial of r's current attempt at
// the time at. r.mu must be held.
func (r *request) csNewSetupLocked(at time.Time) *connSetup {
	u := r.req.URL
	host, port := u.Hostname(), portNumber(u.Port(), u.Scheme)
	hostPort := net.JoinHostPort(host, strconv.Itoa(port))
	s := &connSetup{
		tracer:   r.tracer,
		scrub:    r.cfg.scrub,
		reg:      r.cs.reg,
		id:       connIDs.Add(1),
		host:     host,
		waitName: waitConnSpanPrefix + hostPort,
	}
	s.handshakes, s.proxyHost = r.csHandshakes()
	s.ctx, s.span = r.tracer.Start(context.Background(), connSetupSpanPrefix+hostPort,
		trace.WithNewRoot(),
		trace.WithTimestamp(at),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			semconv.ServerAddress(host),
			semconv.ServerPort(port),
			semconv.URLScheme(u.Scheme),
			connIDKey.Int64(s.id),
		))
	s.sc = s.span.SpanContext()
	s.reqEnded = r.cs.ended
	r.cs.setups = append(r.cs.setups, s)
	r.cs.cur = s
	r.cs.reg.addDial(s)
	return s
}

// csDialStart is called by InstrumentDialer when a dial of r begins: it
// returns the setup the dial reports to, started now.
func (r *request) csDialStart() *connSetup {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.cs.cur
	if s == nil || s.dialing() {
		s = r.csNewSetupLocked(now)
	}
	s.mu.Lock()
	s.instrumented = true
	s.mu.Unlock()
	return s
}

// The hooks that start something go to the current attempt's setup, or a
// new one; those that end something, to the setup where it is open.

func (r *request) csDNSStart(info clienttrace.DNSStartInfo) {
	now := time.Now() // before any lock, as the default model's hooks
	r.csMeter(func(m *requestMeter) { m.dnsStarted(info.Host, now) })
	s := r.csSetup(func(s *connSetup) bool { return s == r.cs.cur && s.acceptsDNS() }, now)
	s.dnsStart(info.Host, now)
}

func (r *request) csDNSDone(info clienttrace.DNSDoneInfo) {
	now := time.Now()
	r.csMeter(func(m *requestMeter) { m.dnsDone(info.Err, now) })
	if s := r.csSetup((*connSetup).dnsOpen, time.Time{}); s != nil {
		s.dnsDone(info, now)
	}
}

func (r *request) csConnectStart(network, addr string) {
	// One dial per attempt: every attempt of the current one belongs to
	// its setup, even one that Happy Eyeballs starts after the winner
	// connected.
	now := time.Now()
	s := r.csSetup(func(s *connSetup) bool { return s == r.cs.cur }, now)
	s.connectStart(network, addr, now)
}

func (r *request) csConnectDone(network, addr string, err error) {
	now := time.Now()
	s := r.csSetup(func(s *connSetup) bool { return s.connectOpen(network, addr) }, time.Time{})
	if s != nil {
		s.connectDone(network, addr, err, now)
	}
}

func (r *request) csTLSStart() {
	now := time.Now()
	s := r.csSetup(func(s *connSetup) bool { return s == r.cs.cur && s.acceptsTLS() }, now)
	s.tlsStart(now)
}

func (r *request) csTLSDone(cs tls.ConnectionState, err error) {
	now := time.Now()
	if s := r.csSetup((*connSetup).tlsOpen, time.Time{}); s != nil {
		s.tlsDone(&cs, err, now)
	}
}

// csMeter runs f on r's meter while the request goes on, as r's own DNS
// hooks do.
func (r *request) csMeter(f func(*requestMeter)) {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	if r.meter != nil {
		f(r.meter)
	}
}

// connSetup is one dial: the span "HTTP connection_setup" and its children.
// It lives as long as its connection, which carries it (InstrumentDialer),
// or its registry entry does. mu guards the fields below it.
type connSetup struct {
	tracer   trace.Tracer
	scrub    *scrubber // error texts go through it; read-only
	reg      *connRegistry
	id       int64
	host     string // server.address, the name TLS sends
	waitName string // "HTTP wait_for_connection host:port"
	// handshakes is how many TLS handshakes the dial makes: the
	// server's for https, and first an "https://" proxy's (proxyHost). The
	// setup is over when the last is done; with none, when the dial is.
	handshakes int
	proxyHost  string

	span trace.Span
	ctx  context.Context
	sc   trace.SpanContext // the link target; immutable

	mu sync.Mutex
	// instrumented: InstrumentDialer runs the dial, and reports its end.
	instrumented bool
	dialReturned bool
	dns          trace.Span
	dnsAnswers   int
	dnsFinished  bool
	connects     []setupConnect
	failed       int // connect attempts that failed
	lastErr      error
	connected    bool   // an attempt connected
	winner       string // the winning attempt's address, once known
	local        net.Addr
	tls          trace.Span
	tlsStarted   bool
	tlsOK        int    // handshakes that succeeded
	tlsKey       string // the connection's TLS keying material, for pairing
	h2           bool   // ALPN chose HTTP/2
	ended        bool
	readyAt      time.Time // when the connection was ready; zero if failed
	claimed      bool      // a request got the connection
	served       int64     // requests that got the connection
	// reqEnded: the request whose context started the dial ended;
	// from then on, a setup that nothing is sure to end is ended at once.
	reqEnded bool
}

// setupConnect is one socket connect attempt of a setup.
type setupConnect struct {
	span          trace.Span
	network, addr string
	open          bool
	connected     bool // succeeded; the span waits for the winner to be known
	doneAt        time.Time
}

// The predicates csSetup routes hooks with; each locks s.mu.

func (s *connSetup) dialing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instrumented || s.ended || s.connected || s.tlsStarted || s.dns != nil || s.dnsFinished || len(s.connects) > 0
}

func (s *connSetup) acceptsDNS() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended && s.dns == nil && !s.dnsFinished && len(s.connects) == 0
}

func (s *connSetup) dnsOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dns != nil
}

func (s *connSetup) connectOpen(network, addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.connects {
		c := &s.connects[i]
		if c.open && !c.connected && c.network == network && c.addr == addr {
			return true
		}
	}
	return false
}

func (s *connSetup) acceptsTLS() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended && s.tls == nil
}

func (s *connSetup) tlsOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tls != nil
}

func (s *connSetup) dnsStart(host string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, s.dns = s.tracer.Start(s.ctx, dnsLookupPrefix+host, trace.WithTimestamp(at), trace.WithAttributes(semconv.DNSQuestionName(host)))
}

func (s *connSetup) dnsDone(info clienttrace.DNSDoneInfo, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	span := s.dns
	s.dns, s.dnsFinished = nil, true
	if info.Err != nil {
		s.endFailed(span, info.Err, at)
		s.failLocked(info.Err, at)
		return
	}
	answers := make([]string, len(info.Addrs))
	for i, a := range info.Addrs {
		answers[i] = a.String()
	}
	s.dnsAnswers = len(answers)
	span.SetAttributes(semconv.DNSAnswers(answers...))
	span.End(trace.WithTimestamp(at))
}

func (s *connSetup) connectStart(network, addr string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, semconv.NetworkTransportKey.String(networkTransport(network)))
	if t := networkType(addr); t != "" {
		attrs = append(attrs, semconv.NetworkTypeKey.String(t))
	}
	attrs = appendPeer(attrs, addr)
	_, span := s.tracer.Start(s.ctx, socketConnectPrefix+addr, trace.WithTimestamp(at), trace.WithAttributes(attrs...))
	s.connects = append(s.connects, setupConnect{span: span, network: network, addr: addr, open: true})
}

func (s *connSetup) connectDone(network, addr string, err error, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.connects {
		c := &s.connects[i]
		if !c.open || c.connected || c.network != network || c.addr != addr {
			continue
		}
		if err != nil {
			c.open = false
			s.endFailed(c.span, err, at)
			s.failed++
			s.lastErr = err
			s.checkFailedLocked(at)
			return
		}
		c.connected, c.doneAt = true, at
		switch {
		case s.instrumented && !s.dialReturned:
			// The dialer tells the winner when the dial returns.
		case s.instrumented || s.connected:
			// A loser that connected after the winner.
			s.endConnectLocked(c, false)
		default:
			// Without the dialer, the first attempt to connect is the
			// one the dial returns.
			s.endConnectLocked(c, true)
			s.winner = addr
		}
		s.connected = true
		if s.handshakes == 0 && !s.instrumented {
			s.endLocked(at)
		}
		return
	}
}

// checkFailedLocked ends the setup as failed if no connect attempt is open
// and none can follow: every address the lookup gave was tried, or the last
// failure was a cancellation. A dial that InstrumentDialer runs reports its
// failure itself.
func (s *connSetup) checkFailedLocked(at time.Time) {
	if s.instrumented || s.connected || s.ended {
		return
	}
	for i := range s.connects {
		if s.connects[i].open {
			return
		}
	}
	expected := 1
	if s.dnsAnswers > 0 {
		expected = s.dnsAnswers
	}
	if s.failed >= expected || errorType(s.lastErr) == "canceled" {
		s.failLocked(s.lastErr, at)
		return
	}
	s.endIfStalledLocked()
}

func (s *connSetup) endConnectLocked(c *setupConnect, won bool) {
	c.open = false
	c.span.SetAttributes(connectWinnerKey.Bool(won))
	c.span.End(trace.WithTimestamp(c.doneAt))
}

// dialDone is called by InstrumentDialer when the dial returns: with the
// connection c, or err. A nil s does nothing.
func (s *connSetup) dialDone(c net.Conn, err error) {
	if s == nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dialReturned = true
	if c == nil && err == nil {
		err = errNilConn
	}
	var remote net.Addr
	if c != nil {
		remote = c.RemoteAddr()
		s.local = c.LocalAddr()
	}
	for i := range s.connects {
		cn := &s.connects[i]
		if !cn.open || !cn.connected {
			continue
		}
		won := s.winner == "" && sameAddr(cn.addr, remote)
		if won {
			s.winner = cn.addr
		}
		s.endConnectLocked(cn, won)
	}
	if err != nil {
		s.failLocked(err, now)
		return
	}
	if s.winner == "" && remote != nil {
		// A dialer that reports no connect attempt (not a net.Dialer).
		s.winner = remote.String()
	}
	if s.handshakes == 0 {
		s.endLocked(now)
	}
}

var errNilConn = errors.New("otelhooks: the dialer returned no connection and no error")

func (s *connSetup) tlsStart(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tlsStarted = true
	name := s.host
	if s.handshakes > 1 && s.tlsOK == 0 {
		name = s.proxyHost // the proxy's, before the server's through it
	}
	_, s.tls = s.tracer.Start(s.ctx, tlsHandshakePrefix+name, trace.WithTimestamp(at))
}

func (s *connSetup) tlsDone(cs *tls.ConnectionState, err error, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	span := s.tls
	s.tls = nil
	if err != nil {
		s.endFailed(span, err, at)
		s.failLocked(err, at)
		return
	}
	span.SetAttributes(tlsAttrs(make([]attribute.KeyValue, 0, 10), cs)...)
	span.End(trace.WithTimestamp(at))
	s.tlsOK++
	if s.tlsOK < s.handshakes {
		return // the proxy's: the server's comes next
	}
	s.h2 = cs.NegotiatedProtocol == "h2"
	if !s.instrumented {
		s.tlsKey = keyingMaterial(cs)
	}
	s.endLocked(at)
}

// keyingMaterial returns a secret of the TLS connection of cs that no other
// connection has, to pair it with its setup; "" if TLS cannot export one
// (TLS 1.2 without Extended Master Secret), or if cs has no exporter: a state
// built by hand, as a transport other than net/http's may report, on which
// ExportKeyingMaterial panics.
func keyingMaterial(cs *tls.ConnectionState) (key string) {
	if !cs.HandshakeComplete {
		return ""
	}
	defer func() {
		if recover() != nil {
			key = ""
		}
	}()
	b, err := cs.ExportKeyingMaterial("EXPORTER-wiretrace-connection", nil, 16)
	if err != nil {
		return ""
	}
	return string(b)
}

// failLocked ends the setup as failed with err at the time at.
func (s *connSetup) failLocked(err error, at time.Time) {
	if s.ended {
		return
	}
	s.ended = true
	s.span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
	s.span.SetStatus(codes.Error, s.scrub.errText(err, nil))
	s.span.End(trace.WithTimestamp(at))
}

// endLocked ends the setup: the connection is ready. If a request got the
// connection before its setup was seen to end (through a proxy), it ends
// then. It ends at the time at. An uninstrumented setup nobody claimed yet
// is kept for lookup.
func (s *connSetup) endLocked(at time.Time) {
	if s.ended {
		return
	}
	s.ended = true
	s.readyAt = at
	attrs := make([]attribute.KeyValue, 0, 6)
	if s.winner != "" {
		if host, _, err := net.SplitHostPort(s.winner); err == nil {
			attrs = append(attrs, semconv.NetworkPeerAddress(host))
		}
	}
	if s.local != nil {
		attrs = appendAddr(attrs, s.local, semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
	}
	s.span.SetAttributes(attrs...)
	s.span.End(trace.WithTimestamp(at))
	if !s.instrumented && !s.claimed {
		s.reg.addPending(s)
	}
}

// requestEnded is called when the request whose context started the dial
// ends: failed, with the scrubbed text and the error.type of its error, if
// failed.
func (s *connSetup) requestEnded(failed bool, errText, errType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqEnded = true
	if s.ended || !s.stalledLocked() {
		return
	}
	if failed && !s.connected {
		// Nothing more will come of this dial: the request's failure is
		// the dial's.
		s.ended = true
		s.span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		s.span.SetStatus(codes.Error, errText)
		s.span.End()
		return
	}
	s.abandonLocked()
}

// dialFailed ends the setup, if it goes on, as failed with the error of the
// round trip its dial failed: its scrubbed text and error.type.
func (s *connSetup) dialFailed(errText, errType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	s.span.SetAttributes(semconv.ErrorTypeKey.String(errType))
	s.span.SetStatus(codes.Error, errText)
	s.span.End()
}

// endIfStalledLocked ends the setup, abandoned, once its request ended and
// nothing is sure to end it any more.
func (s *connSetup) endIfStalledLocked() {
	if s.reqEnded && !s.ended && s.stalledLocked() {
		s.abandonLocked()
	}
}

func (s *connSetup) abandonLocked() {
	s.ended = true
	s.span.SetAttributes(abandonedKey.Bool(true))
	s.span.End()
}

// stalledLocked reports whether no hook is sure to come that would end the
// setup: no lookup, attempt or handshake is open, and the dial has not
// connected on its way to a TLS handshake. A dial that
// InstrumentDialer runs is never stalled before it returns.
func (s *connSetup) stalledLocked() bool {
	if s.dns != nil || s.tls != nil {
		return false
	}
	for i := range s.connects {
		if s.connects[i].open {
			return false
		}
	}
	if s.instrumented && !s.dialReturned {
		return false
	}
	if s.connected && s.tlsOK < s.handshakes {
		return false // net/http goes on to the next handshake
	}
	return true
}

// serve counts one more request served by the connection of s, and returns
// how many it has served, when the connection was ready (zero if unknown),
// and whether it speaks HTTP/2. The setup ends now if nothing ended it
// before (a connection through a proxy).
func (s *connSetup) serve() (n int64, readyAt time.Time, h2 bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claimed = true
	if !s.ended {
		s.endLocked(time.Now())
	}
	s.served++
	return s.served, s.readyAt, s.h2
}

// endFailed ends span, a child of s, as failed with err at the time at.
func (s *connSetup) endFailed(span trace.Span, err error, at time.Time) {
	span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
	span.SetStatus(codes.Error, s.scrub.errText(err, nil))
	span.End(trace.WithTimestamp(at))
}

// addDial keeps s, a setup just started, for closeIdle, and drops the
// setups that ended since the list last doubled, so that it stays as long
// as the dials going on. The caller may hold its request's mu.
func (g *connRegistry) addDial(s *connSetup) {
	g.dialsMu.Lock()
	defer g.dialsMu.Unlock()
	if len(g.dials) == cap(g.dials) && len(g.dials) > 0 {
		g.dials = slices.DeleteFunc(g.dials, (*connSetup).over)
	}
	g.dials = append(g.dials, s)
}

// closeIdle is called once net/http's Transport.CloseIdleConnections has
// canceled the dials no request waits for. Such a dial, between its lookup
// and its first connect attempt, returns without a hook (net.Dialer checks
// its context before each attempt), so its setup is ended here, failed as
// canceled. Every other step of a canceled dial reports its failure itself.
func (g *connRegistry) closeIdle() {
	g.dialsMu.Lock()
	defer g.dialsMu.Unlock()
	for _, s := range g.dials {
		s.canceledAfterLookup()
	}
	g.dials = slices.DeleteFunc(g.dials, (*connSetup).over)
}

// over reports whether s ended.
func (s *connSetup) over() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// canceledAfterLookup ends s, failed as canceled, if its request ended
// (nobody waits for its dial, which CloseIdleConnections then cancels) and
// its dial is between a lookup that succeeded and a first connect attempt,
// where a canceled dial reports nothing. A dial InstrumentDialer runs
// reports its own end.
func (s *connSetup) canceledAfterLookup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || !s.reqEnded || s.instrumented || !s.dnsFinished || s.dns != nil || len(s.connects) > 0 || s.tls != nil {
		return
	}
	s.ended = true
	s.span.SetAttributes(semconv.ErrorTypeKey.String(errorType(context.Canceled)))
	s.span.SetStatus(codes.Error, errDialCanceled.Error())
	s.span.End()
}

// errDialCanceled is the status of a setup closeIdle ended.
var errDialCanceled = errors.New("dial canceled by CloseIdleConnections after its lookup")

// addPending keeps s, whose connection no request has got yet, for lookup.
func (g *connRegistry) addPending(s *connSetup) {
	g.pendingMu.Lock()
	defer g.pendingMu.Unlock()
	if len(g.pending) == maxPending {
		copy(g.pending, g.pending[1:])
		g.pending = g.pending[:maxPending-1]
	}
	g.pending = append(g.pending, s)
}

// lookup returns the setup of the connection c a request got, or nil if it
// is not known: the connection's own, if InstrumentDialer made it; else the
// one paired with it before; else, paired now, a finished setup not yet
// paired whose connection has c's TLS keying material, or, for plain
// connections, c's remote address, looking in the request's own setups
// (newest first) before the others (oldest first).
//
// Pairing happens under g.mu, so that the requests that get one new HTTP/2
// connection at once all find the one setup it is paired with.
func (g *connRegistry) lookup(c net.Conn, own []*connSetup) *connSetup {
	if c == nil {
		return nil
	}
	if ic := setupConnOf(c); ic != nil {
		return ic.setup
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.findLocked(c); s != nil {
		return s
	}
	var key string
	if tc, ok := c.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		key = keyingMaterial(&cs)
	}
	remote := c.RemoteAddr()
	var found *connSetup
	for i := len(own) - 1; i >= 0 && found == nil; i-- {
		if own[i].pairs(key, remote) {
			found = own[i]
		}
	}
	if found == nil {
		// A copy: a setup's mu comes before pendingMu.
		g.pendingMu.Lock()
		pending := slices.Clone(g.pending)
		g.pendingMu.Unlock()
		for i := 0; i < len(pending) && found == nil; i++ {
			if pending[i].pairs(key, remote) {
				found = pending[i]
			}
		}
	}
	if found == nil {
		return nil
	}
	g.pendingMu.Lock()
	defer g.pendingMu.Unlock()
	for i, s := range g.pending {
		if s == found {
			g.pending = append(g.pending[:i], g.pending[i+1:]...)
			break
		}
	}
	g.pairLocked(c, found)
	return found
}

// setupConnOf returns the instrumented connection under c, through every
// TLS layer (an "https://" proxy's, then the server's through it), or nil.
func setupConnOf(c net.Conn) *instrumentedConn {
	for {
		tc, ok := c.(*tls.Conn)
		if !ok {
			break
		}
		c = tc.NetConn()
	}
	ic, _ := c.(*instrumentedConn)
	return ic
}

// weakTLSConn and weakTCPConn key the registry's connections without keeping
// them alive.
type (
	weakTLSConn = weak.Pointer[tls.Conn]
	weakTCPConn = weak.Pointer[net.TCPConn]
)

// findLocked returns the setup paired with c before, or nil. g.mu must be
// held.
func (g *connRegistry) findLocked(c net.Conn) *connSetup {
	switch c := c.(type) {
	case *tls.Conn:
		return g.tls[weak.Make(c)]
	case *net.TCPConn:
		return g.tcp[weak.Make(c)]
	}
	return nil
}

// pairLocked remembers that s is the setup of c, until c is garbage. Other
// connection types are not remembered: their == may panic, and a request
// that reuses one finds no setup. g.mu must be held.
func (g *connRegistry) pairLocked(c net.Conn, s *connSetup) {
	switch c := c.(type) {
	case *tls.Conn:
		k := weak.Make(c)
		g.tls[k] = s
		runtime.AddCleanup(c, g.forgetTLS, k)
	case *net.TCPConn:
		k := weak.Make(c)
		g.tcp[k] = s
		runtime.AddCleanup(c, g.forgetTCP, k)
	}
}

func (g *connRegistry) forgetTLS(k weakTLSConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.tls, k)
}

func (g *connRegistry) forgetTCP(k weakTCPConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.tcp, k)
}

// size returns how many setups g holds: pending, and paired with a live
// connection.
func (g *connRegistry) size() (pending, paired int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pendingMu.Lock()
	defer g.pendingMu.Unlock()
	return len(g.pending), len(g.tls) + len(g.tcp)
}

// pairs reports whether s may be the setup of a connection with the TLS
// keying material key ("" if none) to remote, and marks it claimed if so.
func (s *connSetup) pairs(key string, remote net.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.instrumented || s.claimed || !s.connected || !sameAddr(s.winner, remote) {
		return false
	}
	if key != "" || s.tlsKey != "" {
		if key != s.tlsKey {
			return false
		}
	}
	s.claimed = true
	return true
}
