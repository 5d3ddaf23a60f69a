package otelhooks

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
)

// request is the state of one traced round trip: the hooks net/http calls
// and the spans they open and close. One allocation holds it all; it carries
// one request at a time: a pooled state (pool.go) carries the next only once
// no hook of the last can come.
//
// # Locking
//
// Hooks run on net/http's goroutines, concurrently, and possibly after the
// request ended. The fields above mu are set by newRequest and only read
// afterwards; mu guards every field below it. Each hook locks mu with
// lockUnlessDone, or by hand, and returns at once once done is set. Every
// other method of request (start, end, finish, pointEvent, …: the helpers
// the hooks share, in this file and in phase.go) needs r.mu held, and says
// so.
//
// Timestamps are taken before locking, so that waiting for mu does not
// stretch a phase: see stamp.
//
// Spans are ended while r.mu is held, so a synchronous span processor runs
// on net/http's goroutine under the lock. That is deliberate: the lock is
// this request's alone, so it only delays this request's other hooks (which
// would call End themselves), never another request; and ending under the
// lock keeps the order the rules need (every phase ends before the request
// span, a child before the phase it belongs to, nothing starts after the
// end) without a list of spans to end later, which would cost the hot path
// an array and a second pass.
type request struct {
	// Read-only after newRequest.

	cfg    *config
	tracer trace.Tracer
	// parent is the context the phases start under: the request span's,
	// or the caller's.
	parent context.Context
	// span is the request span, or the caller's span when this request
	// has none of its own; events go there.
	span     trace.Span
	ownsSpan bool
	events   bool
	// lifecycle is whether a transport of this package runs the request,
	// so that RoundTripDone and BodyDone are sure to come.
	lifecycle bool
	// recording is whether there are spans to record into; if not, only
	// metrics are, and only their hooks are installed.
	recording bool
	// sendsBody is whether the request has a body to write, as net/http
	// decides it (hasBody).
	sendsBody bool
	// tlsInDial is whether a custom TLS dialer does the handshake inside
	// the dial (see tlsHandshakeStart).
	tlsInDial bool
	// plainDial is whether the request's connections are dialed by
	// net/http itself, directly (transport.plainDial): reusableLocked
	// may then tell when a dial is over.
	plainDial bool
	// req is the request as given to the transport, for the request
	// span's attributes; nil for NewClientTrace. It must not be modified.
	req   *http.Request
	trace clienttrace.ClientTrace

	// mu guards every field below.
	mu   sync.Mutex
	done bool
	// attempts counts the attempts that began: 1 + the times net/http
	// sent the request again. connected is whether the current attempt
	// got a connection (GotConn): only a GetConn after that begins a new
	// attempt, see getConn. It sits beside done, in the padding before
	// attempts, so that the request fits its size class
	// (TestRequestStateFitsItsSizeClass). So does size1xx: the bytes of
	// 1xx header fields received, as HTTP/2 counts them, against max1xx.
	connected  bool
	seen       seenHooks // what reusable needs to know (pool.go)
	size1xx    int32
	attempts   int
	getconn    phase
	getconnCtx context.Context
	dns        phase
	tls        phase
	send       phase
	wait       phase
	receive    phase
	// respAt is when the first byte of a response came
	// (GotFirstResponseByte): of the final response, unless informational
	// says a 1xx came, whose first byte it then was. final is whether the
	// final response is known to have begun: http.wait ended and
	// http.receive started (see beginFinalResponse). sentAt is when
	// http.send ended without error: at WroteRequest, or at the first
	// response byte for a request without a body.
	// connectedAt is when the last dial attempt that succeeded did.
	// max1xx, in the padding after final, is how many bytes of 1xx header
	// fields the request may receive, or 0 for no limit
	// (max1xxHeaderBytes); set before the hooks are installed.
	connectedAt   time.Time
	respAt        time.Time
	informational bool
	final         bool
	// waited100 is whether the request waits for "100 Continue" before
	// writing its body. It sits with the bools above and max1xx, in one
	// word, which leaves room for cs (TestRequestStateFitsItsSizeClass).
	waited100 bool
	// dialing counts the DNS, connect and TLS hooks that started and
	// have not ended, for reusableLocked; in the padding before max1xx.
	dialing    uint8
	max1xx     int32
	sentAt     time.Time
	connects   []connectAttempt
	connectBuf [2]connectAttempt
	// scratch backs the attribute slices the hooks build (attrs); see
	// attrs for the rule that keeps them from aliasing.
	scratch   [10]attribute.KeyValue
	eventOpts [2]trace.EventOption
	startOpts [1]trace.SpanStartOption
	endOpts   [1]trace.SpanEndOption
	// tsOpt is the last timestamp option made, so that a span ended and
	// another started at the same past time (http.wait and http.receive
	// at the first response byte) share one allocation (timestamp).
	tsOpt trace.SpanEventOption
	// dnsHost is the name the open http.dns span looks up, for its
	// attributes at its end (startAttrs).
	dnsHost string
	// sentHeaders are the request headers as net/http wrote them
	// (WroteHeaderField), of the keys WithRequestHeaders asked for; nil
	// until one is written.
	sentHeaders http.Header
	meter       *requestMeter // nil: not metered
	// conn is the request's connection, if InstrumentDialer made it.
	conn *instrumentedConn
	// peer is network.peer.address of the connection the request got, for
	// the request span. Its port is left to http.getconn: with it, the
	// request span would pass 8 attributes, past which the SDK allocates a
	// map for each span it snapshots.
	peer attribute.KeyValue
	// resp is the response, once the round trip returned it; it must not
	// be modified.
	resp *http.Response
	// proxy is the CONNECT exchange with a proxy (proxy.go).
	proxy proxyState
	// cs is the request's part of WithConnectionSpans (connspans.go); nil
	// without it. A pointer, so that the request's state without it stays
	// in its size class.
	cs *connRequest
}

// connectAttempt is one dial: ConnectStart to ConnectDone.
type connectAttempt struct {
	phase
	network, addr string
	// connected is whether the dial succeeded. Its span stays open until
	// GotConn says whether this attempt's connection is the one used.
	connected bool
	doneAt    time.Time
	// carriedProxy is whether this dial's connection carried the CONNECT
	// to a proxy: the request used it, even if it then failed.
	carriedProxy bool
}

// newRequest returns the state of a round trip whose phases start under
// parent, whose events go to span, and installs its hooks in r.trace. A nil
// span records no spans: the request is only metered, and gets only the
// hooks the metrics need.
//
// Each hook costs an allocation, so hooks that cannot fire are left out:
// with req known (a transport of this package runs it), net/http calls no DNS
// hook for an IP address, and no 100-continue hook without "Expect:
// 100-continue".
func newRequest(parent context.Context, cfg *config, tracer trace.Tracer, span trace.Span, ownsSpan bool, req *http.Request, t *transport) *request {
	r := new(request)
	r.init(parent, cfg, tracer, span, ownsSpan, req, t, nil)
	return r
}

// init sets up r as newRequest describes. pooled is nil, or the pooled state
// r is part of (pool.go), whose hooks, bound once, init then installs.
func (r *request) init(parent context.Context, cfg *config, tracer trace.Tracer, span trace.Span, ownsSpan bool, req *http.Request, t *transport, pooled *pooledRequest) {
	*r = request{
		cfg:       cfg,
		tracer:    tracer,
		parent:    parent,
		span:      span,
		ownsSpan:  ownsSpan,
		events:    cfg.events,
		lifecycle: req != nil,
		recording: span != nil,
		req:       req,
		sendsBody: hasBody(req),
	}
	if r.recording {
		r.max1xx = max1xxHeaderBytes(parent, t)
	}
	hooks := hooksFor(cfg, t, req)
	r.tlsInDial = hooks.tlsInDial
	if pooled != nil {
		r.plainDial = t.plainDial
		r.trace = pooled.hooks(hooks)
		if r.recording {
			r.connects = r.connectBuf[:0]
			if t.conns != nil {
				r.csInstall(t.conns, t.base) // as below
			}
		}
		return
	}
	if !r.recording {
		r.trace = clienttrace.ClientTrace{
			GetConn:       r.getConn,
			GotConn:       r.gotConn,
			RoundTripDone: r.roundTripDone,
			BodyDone:      r.bodyDone,
		}
		if hooks.dns {
			r.trace.DNSStart, r.trace.DNSDone = r.dnsStart, r.dnsDone
		}
		return
	}
	r.connects = r.connectBuf[:0]
	r.trace = clienttrace.ClientTrace{
		GetConn:              r.getConn,
		GotConn:              r.gotConn,
		PutIdleConn:          r.putIdleConn,
		GotFirstResponseByte: r.gotFirstResponseByte,
		Got1xxResponse:       r.got1xxResponse,
		ConnectStart:         r.connectStart,
		ConnectDone:          r.connectDone,
		WroteHeaders:         r.wroteHeaders,
		WroteRequest:         r.wroteRequest,
		RoundTripDone:        r.roundTripDone,
		BodyDone:             r.bodyDone,
	}
	// Which of the optional hooks can fire: prune.go has every rule.
	if hooks.dns {
		r.trace.DNSStart, r.trace.DNSDone = r.dnsStart, r.dnsDone
	}
	if hooks.tls {
		r.trace.TLSHandshakeStart, r.trace.TLSHandshakeDone = r.tlsHandshakeStart, r.tlsHandshakeDone
	}
	if hooks.continue100 {
		r.trace.Wait100Continue, r.trace.Got100Continue = r.wait100Continue, r.got100Continue
	}
	if hooks.headerField && r.ownsSpan {
		r.trace.WroteHeaderField = r.wroteHeaderField
	}
	if t != nil && t.conns != nil && req != nil {
		// WithConnectionSpans: the dial hooks report to connection
		// setups, which outlive r.
		r.csInstall(t.conns, t.base)
	}
}

// hasBody reports whether net/http sends req with a body: its
// Request.outgoingLength (HTTP/1) and actualContentLength (HTTP/2) are not
// 0. A Body that is neither nil nor http.NoBody has one even with
// ContentLength 0, which means "unknown" (chunked on HTTP/1.1). A nil req
// (NewClientTrace) may have one.
//
// net/http's HTTP/1 client probes the unknown-length body of a GET, HEAD,
// DELETE, OPTIONS, PROPFIND or SEARCH for a first byte and sends none if it
// is empty; that only makes WroteRequest come sooner, which ends http.send
// all the same.
func hasBody(req *http.Request) bool {
	return req == nil || (req.Body != nil && req.Body != http.NoBody)
}

// attrs returns an empty slice backed by r's scratch array, for a hook to
// build the attributes of the phase it starts or ends. r.mu must be held,
// and the slice used before it is released.
//
// The aliasing rule: one slice of scratch is live at a time, from attrs to
// the start, end or pointEvent that consumes it. Those may first close
// another phase (start abandons the phase it reopens; getConn fails the
// last attempt's), so abandon and fail build their attributes in slices of
// their own, never in scratch; so must anything else a consumer calls before
// it is done with its attrs.
func (r *request) attrs() []attribute.KeyValue { return r.scratch[:0] }

// lockUnlessDone locks r.mu if the request is still going on, and reports
// whether it did: the hook then holds r.mu and must unlock it. If the
// request is done, it returns false with r.mu not held, and the hook
// returns at once:
//
//	if !r.lockUnlessDone() {
//		return
//	}
//	defer r.mu.Unlock()
func (r *request) lockUnlessDone() bool {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return false
	}
	return true
}

// lockSlack is how long a hook may wait for r.mu before the time it was
// called at is given to the span explicitly.
const lockSlack = 5 * time.Microsecond

// stamp returns the time a hook called at now starts or ends a phase at,
// once it holds r.mu: zero, which lets the SDK take the time itself, if the
// lock came within lockSlack, else now, so that a wait for the lock (another
// hook of the request, on another goroutine, holding it) does not stretch
// the phase. An explicit time costs an allocation; an uncontended lock, the
// usual case, none.
func stamp(now time.Time) time.Time {
	if time.Since(now) < lockSlack {
		return time.Time{}
	}
	return now
}

// getConn begins an attempt: net/http looks for a connection to send the
// request on.
//
// Only a GetConn after the current attempt got a connection begins a new
// one, a resend. net/http may call GetConn twice for one attempt that never
// had a connection: its h2c client (Transport.Protocols with
// UnencryptedHTTP2) calls it in Transport.getConn and again in the HTTP/2
// connection pool, and a retry after http2ErrNoCachedConn looks for a
// connection again before any was used. The request was not sent then; the
// http.getconn already open goes on.
func (r *request) getConn(hostPort string) {
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.seen.once(seenGetConn, seenGetConnAgain)
	if r.attempts > 0 && !r.connected {
		return
	}
	r.meter.getConn(now)
	r.attempts++
	r.connected = false
	r.proxyGetConn(hostPort)
	if !r.recording {
		return
	}
	if r.attempts > 1 {
		// net/http is retrying: what the last attempt left open failed.
		for _, p := range []*phase{&r.getconn, &r.send, &r.wait} {
			r.fail(p, errorTypeRetried, statusRetriedReason)
		}
		r.pointEvent(nil, eventResend, semconv.HTTPRequestResendCount(r.attempts-1))
		// The new attempt writes the request again.
		r.sentAt, r.waited100, r.sentHeaders = time.Time{}, false, nil
	}
	if r.csOn() {
		// WithConnectionSpans: no http.getconn; the wait is recorded at
		// GotConn, if there was one.
		r.csGetConnLocked(now)
		return
	}
	r.getconnCtx = r.start(r.parent, &r.getconn, &getconnPhase, stamp(now))
}

func (r *request) gotConn(info clienttrace.GotConnInfo) {
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.connected = true
	r.seen.sawGotConn(info)
	r.meter.gotConn(now)
	r.proxyGotConn()
	if ic := instrumentedConnOf(info.Conn); ic != nil {
		// A retry's second connection replaces the first.
		if r.conn != nil {
			r.conn.release()
		}
		r.conn = ic
		ic.acquire()
	}
	if !r.recording {
		return
	}
	if r.csOn() {
		// WithConnectionSpans: link to the connection's setup.
		r.csGotConnLocked(info, now)
		r.start(r.parent, &r.send, &sendPhase, stamp(now))
		return
	}
	winner := r.connectWinner(info)

	attrs := r.attrs()
	switch {
	case winner != "":
		// The dial's address is the peer's, already a string.
		attrs = appendPeer(attrs, winner)
		attrs = appendAddr(attrs, info.Conn.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
	case info.Conn != nil:
		attrs = appendConnAddrs(attrs, info.Conn)
	}
	if info.Conn != nil {
		// The peer goes on the request span too, as the conventions
		// recommend for client spans.
		r.peer = attribute.KeyValue{}
		for _, kv := range attrs {
			if kv.Key == semconv.NetworkPeerAddressKey {
				r.peer = kv
			}
		}
	}
	attrs = append(attrs, connReusedKey.Bool(info.Reused), connWasIdleKey.Bool(info.WasIdle))
	if info.WasIdle {
		attrs = append(attrs, connIdleTimeKey.Float64(info.IdleTime.Seconds()))
	}
	// The phases GotConn ends and starts at its own time go first, so
	// that the time is still now (stamp); the dials it settles ended
	// earlier, at times of their own.
	at := stamp(now)
	r.end(&r.getconn, nil, at, attrs...)
	r.start(r.parent, &r.send, &sendPhase, at)
	r.settleConnects(winner)
}

// connectWinner returns the address of the dial that made the connection
// GotConn reports, now that it tells which connection the request uses:
// the first succeeded attempt still open to its remote address; "" if there
// is none. r.mu must be held.
func (r *request) connectWinner(info clienttrace.GotConnInfo) string {
	if info.Reused || info.Conn == nil {
		return ""
	}
	var remote net.Addr // asked for once a dial waits
	for i := range r.connects {
		c := &r.connects[i]
		if !c.connected || !c.open {
			continue
		}
		if remote == nil {
			remote = info.Conn.RemoteAddr()
		}
		if sameAddr(c.addr, remote) {
			return c.addr
		}
	}
	return ""
}

// settleConnects ends the dials that succeeded, each at its ConnectDone,
// once GotConn told which one won: the one to winner (connectWinner), and
// only one, even with two dials to the same address. r.mu must be held.
func (r *request) settleConnects(winner string) {
	for i := range r.connects {
		c := &r.connects[i]
		if !c.connected || !c.open {
			continue
		}
		won := winner != "" && c.addr == winner
		if won {
			winner = "" // one winner
		}
		r.end(&c.phase, nil, c.doneAt, append(r.attrs(), connectWinnerKey.Bool(won))...)
	}
}

func (r *request) putIdleConn(err error) {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	if err == nil {
		r.pointEvent(nil, eventPutIdleConn)
		return
	}
	// A pool error is not a request error: the response was delivered.
	r.pointEvent(nil, eventPutIdleConn, errorMessageKey.String(r.cfg.scrub.errText(err, r.req)))
}

func (r *request) dnsStart(info clienttrace.DNSStartInfo) {
	if r.csOn() { // WithConnectionSpans: the setup's (connspans.go)
		r.csDNSStart(info)
		return
	}
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.seen |= seenDial
	r.dialing++
	r.meter.dnsStarted(info.Host, now)
	if !r.recording {
		return
	}
	if r.events {
		r.start(r.phaseParent(), &r.dns, &dnsPhase, stamp(now), append(r.attrs(), semconv.DNSQuestionName(info.Host))...)
		return
	}
	// The span gets dns.question.name when it ends (startAttrs); set
	// after start, which ends a phase still open with its own name.
	r.start(r.phaseParent(), &r.dns, &dnsPhase, stamp(now))
	r.dnsHost = info.Host
}

func (r *request) dnsDone(info clienttrace.DNSDoneInfo) {
	if r.csOn() {
		r.csDNSDone(info)
		return
	}
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.dialing--
	r.seen.sawDNSDone(info)
	r.meter.dnsDone(info.Err, now)
	if !r.recording {
		return
	}
	attrs := r.attrs()
	if info.Err == nil {
		attrs = append(attrs, dnsAnswersAttr(info.Addrs))
	}
	attrs = append(attrs, dnsCoalescedKey.Bool(info.Coalesced))
	r.end(&r.dns, info.Err, stamp(now), attrs...)
}

// phaseParent is the context the connection's phases start under: the
// getconn span's, or the request's if there is none. r.mu must be held.
func (r *request) phaseParent() context.Context {
	if r.getconnCtx != nil {
		return r.getconnCtx
	}
	return r.parent
}

func (r *request) connectStart(network, addr string) {
	if r.csOn() {
		r.csConnectStart(network, addr)
		return
	}
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.seen |= seenDial
	r.dialing++
	if !r.recording {
		return // metrics only: counted for pool.go, nothing recorded
	}
	r.connects = append(r.connects, connectAttempt{network: network, addr: addr})
	c := &r.connects[len(r.connects)-1]
	var attrs []attribute.KeyValue
	if r.events {
		attrs = appendConnectAttrs(r.attrs(), network, addr)
	} // else the span gets them when it ends (startAttrs)
	r.start(r.phaseParent(), &c.phase, &connectPhase, stamp(now), attrs...)
}

// appendConnectAttrs appends the attributes of a dial attempt of network to
// addr: its transport, its address family and its peer.
func appendConnectAttrs(attrs []attribute.KeyValue, network, addr string) []attribute.KeyValue {
	attrs = append(attrs, semconv.NetworkTransportKey.String(networkTransport(network)))
	if t := networkType(addr); t != "" {
		attrs = append(attrs, semconv.NetworkTypeKey.String(t))
	}
	return appendPeer(attrs, addr)
}

// startAttrs appends to attrs, for a phase span that ends, what its hook
// knew when it started: the name an http.dns span looks up, the address an
// http.connect span dials. They are set with the rest at the end, in one
// SetAttributes: set at the start too, the SDK would grow the span's
// attributes twice (TestPhaseStartAttributesSetAtTheEnd). Under
// WithoutSubSpans the start event carries them. r.mu must be held.
func (r *request) startAttrs(p *phase, attrs []attribute.KeyValue) []attribute.KeyValue {
	switch p.name {
	case &dnsPhase:
		if p == &r.dns {
			return append(attrs, semconv.DNSQuestionName(r.dnsHost))
		}
	case &connectPhase:
		for i := range r.connects {
			if c := &r.connects[i]; &c.phase == p {
				return appendConnectAttrs(attrs, c.network, c.addr)
			}
		}
	}
	return attrs
}

func (r *request) connectDone(network, addr string, err error) {
	if r.csOn() {
		r.csConnectDone(network, addr, err)
		return
	}
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.dialing--
	if err == nil {
		r.seen |= seenConnected
	}
	if !r.recording {
		return
	}
	// Match the oldest open attempt to this address: parallel attempts,
	// even to one address, each have their own phase.
	for i := range r.connects {
		c := &r.connects[i]
		if !c.open || c.connected || c.network != network || c.addr != addr {
			continue
		}
		if err == nil {
			r.connectedAt = now
		}
		if err != nil || r.events {
			r.end(&c.phase, err, stamp(now))
			if err == nil {
				r.proxyDialed(i, now)
			}
			return
		}
		c.connected, c.doneAt = true, now
		r.proxyDialed(i, c.doneAt)
		return
	}
}

// tlsHandshakeStart starts http.tls. After a custom TLS dial (tlsInDial),
// net/http calls it once the dial returned a *tls.Conn, to handshake "in case
// DialTLS didn't": a no-op if the dialer did, as it usually does, inside the
// dial where no hook sees it. The handshake then began when the dialer's TCP
// connection was made: http.tls starts at the last successful ConnectDone,
// which net.Dialer reports when the dialer dials with the request's context,
// and ends at TLSHandshakeDone either way. Without such a ConnectDone its
// start is unknown, and no http.tls is shown.
func (r *request) tlsHandshakeStart() {
	if r.csOn() {
		r.csTLSStart()
		return
	}
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.seen |= seenDial
	r.dialing++
	if !r.recording {
		return // metrics only: counted for pool.go, nothing recorded
	}
	r.proxyTLSStart(now)
	at := stamp(now)
	if r.proxy.tunnel {
		// The CONNECT exchange is timed at now exactly (proxy.go): the
		// handshakes around it are too, so that they meet.
		at = now
	}
	if r.tlsInDial {
		if r.connectedAt.IsZero() {
			return
		}
		at = r.connectedAt
	}
	r.start(r.phaseParent(), &r.tls, &tlsPhase, at)
}

func (r *request) tlsHandshakeDone(cs tls.ConnectionState, err error) {
	if r.csOn() {
		r.csTLSDone(cs, err)
		return
	}
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.dialing--
	if err == nil {
		r.seen |= seenHandshaken
	}
	if !r.recording {
		return
	}
	at := stamp(now)
	if r.proxy.tunnel {
		at = now // see tlsHandshakeStart
	}
	if err != nil {
		r.end(&r.tls, err, at)
	} else {
		r.end(&r.tls, nil, at, tlsAttrs(r.attrs(), &cs)...)
	}
	r.proxyTLSDone(now, err)
}

func (r *request) wroteHeaders() {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.pointEvent(&r.send, eventWroteHeaders)
}

func (r *request) wait100Continue() {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.waited100 = true
	r.pointEvent(&r.send, eventWait100)
}

// got100Continue runs before net/http lets the body go, so the event
// lands on http.send; Got1xxResponse for the same "100 Continue" comes after.
func (r *request) got100Continue() {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.pointEvent(&r.send, eventGot100)
}

// wroteHeaderField keeps the values of the headers WithRequestHeaders asked
// for, as net/http writes them: with the Host, the default User-Agent, the
// Accept-Encoding and the Content-Length it adds. HTTP/2 names them in lower
// case and sends the host as ":authority", recorded as Host. Installed only
// when request headers are recorded; net/http may pass the request's own
// value slice, which is copied.
func (r *request) wroteHeaderField(key string, values []string) {
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	if key == ":authority" {
		key = "Host"
	} else if strings.HasPrefix(key, ":") {
		return
	}
	key = textproto.CanonicalMIMEHeaderKey(key)
	if !slices.ContainsFunc(r.cfg.reqHeaders, func(k headerKey) bool { return k.canonical == key }) {
		return
	}
	if r.sentHeaders == nil {
		r.sentHeaders = make(http.Header, len(r.cfg.reqHeaders))
	}
	r.sentHeaders[key] = append(r.sentHeaders[key], values...)
}

func (r *request) wroteRequest(info clienttrace.WroteRequestInfo) { r.wrote(info) }

// wrote is wroteRequest, which reports whether it was the last hook of the
// request, its state reusable (pool.go): WroteRequest can come after the
// request ended, and the state waits for it.
func (r *request) wrote(info clienttrace.WroteRequestInfo) (reusable bool) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	again := r.seen&seenWrote != 0
	r.seen |= seenWrote
	if r.done {
		// Only the first WroteRequest after the body's end may hand the
		// state back: another (the hooks taken into a request sent with
		// a kept context, under WithConnectionSpans: pool.go) must not
		// release it again.
		return !again && r.reusableLocked()
	}
	if !r.send.open {
		// Ended at the first response byte already (a request without
		// a body); got1xxResponse starts the wait if that was a 1xx.
		return false
	}
	at := stamp(now)
	if info.Err != nil && (r.final || (!r.respAt.IsZero() && !r.informational)) {
		// The final response began and then the write failed: net/http
		// stops writing a body the server answered without reading
		// (HTTP/2 reports "http2: aborting request body write"; HTTP/1
		// fails to write on the connection it closes). The upload was
		// abandoned, not failed: the response says what happened.
		r.abandon(&r.send)
		return false
	}
	r.end(&r.send, info.Err, at)
	if info.Err != nil {
		return false
	}
	r.sentAt = now
	// http.wait runs from here to the final response's first byte. If a
	// response already began (HTTP/2 and HTTP/1 both report the request
	// written only after the body is flushed, and the response can beat
	// that report), there is nothing left to wait for, unless what began
	// was a 1xx.
	if !r.final && (r.respAt.IsZero() || r.informational) {
		r.start(r.parent, &r.wait, &waitPhase, at)
	}
	return false
}

// gotFirstResponseByte is called for the first byte of the first response,
// which may be a 1xx ("100 Continue", "103 Early Hints"): only
// Got1xxResponse, which follows, tells. With a transport of this package,
// the decision waits for the round trip's return (beginFinalResponse).
func (r *request) gotFirstResponseByte() {
	now := time.Now()
	if !r.lockUnlessDone() {
		return
	}
	defer r.mu.Unlock()
	r.respAt = now
	if r.send.open && !r.sendsBody && !r.waited100 {
		// HTTP/2 may report the request written only after the response
		// began. Without a body to write, it was sent: the server answered.
		// At now exactly, where http.receive will start: the timestamp
		// made here is the one beginFinalResponse reuses.
		r.end(&r.send, nil, now, sendEndKey.String(sendEndFirstByte))
		r.sentAt = now
	}
	if r.events {
		// With spans, the first byte of the final response is where
		// http.wait ends and http.receive starts; as events, the first
		// byte of any response gets one of its own. At respAt, so that
		// http.wait.done and http.receive.start, added later at that
		// same time when no 1xx came, share its timestamp and follow it.
		r.addEvent(r.span, eventFirstByte, now, nil)
	}
	if !r.lifecycle {
		// Nothing is sure to say when the final response begins: the
		// first byte of any response ends the wait.
		r.end(&r.wait, nil, stamp(now))
	}
}

// defaultMax1xxHeaderBytes is net/http's limit on the response headers it
// reads when Transport.MaxResponseHeaderBytes is zero.
const defaultMax1xxHeaderBytes = 10 << 20

// max1xxHeaderBytes returns how many bytes of 1xx header fields a request
// under ctx may receive, or 0 for no limit.
//
// net/http bounds the 1xx responses it reads (HTTP/1: their headers count
// against MaxResponseHeaderBytes with the final response's; HTTP/2: their
// header fields against the larger of that and its header list size), so
// that a server cannot keep a client reading them forever, unless
// Got1xxResponse is set: then the caller sees them and is "responsible for
// limiting" them. got1xxResponse is set for every recorded request, so it
// limits them itself, as HTTP/2 does, to MaxResponseHeaderBytes of an
// *http.Transport base, or of the one under nested transports of this
// package (10 MiB, net/http's default, for other bases and for
// NewClientTrace), unless a hook installed before ours, the caller's or an
// outer transport's, examines them too; so does WithClientTrace's
// (transport.go).
func max1xxHeaderBytes(ctx context.Context, t *transport) int32 {
	if ht := httptrace.ContextClientTrace(ctx); ht != nil && ht.Got1xxResponse != nil {
		return 0
	}
	if t != nil {
		base := t.base
		for inner, ok := base.(*transport); ok; inner, ok = base.(*transport) {
			// A transport of ours inside sees our hook and leaves the
			// limit to us: it is that of the transport it wraps.
			base = inner.base
		}
		if tr, ok := base.(*http.Transport); ok && tr.MaxResponseHeaderBytes > 0 {
			return int32(min(tr.MaxResponseHeaderBytes, math.MaxInt32))
		}
	}
	return defaultMax1xxHeaderBytes
}

func (r *request) got1xxResponse(code int, header textproto.MIMEHeader) error {
	if !r.lockUnlessDone() {
		return nil
	}
	defer r.mu.Unlock()
	if r.max1xx > 0 {
		size := int64(r.size1xx)
		for k, vv := range header {
			for _, v := range vv {
				size += int64(len(k) + len(v) + 32) // hpack.HeaderField.Size
			}
		}
		if size > int64(r.max1xx) {
			return fmt.Errorf("otelhooks: 1xx informational response headers exceeded %d bytes", r.max1xx)
		}
		r.size1xx = int32(size)
	}
	if !r.informational && !r.final && !r.wait.open && !r.send.open && !r.sentAt.IsZero() {
		// The request was sent and no wait began, since a response
		// had: this 1xx. The wait for the final response began when the
		// request was sent, at its first byte or WroteRequest, which
		// may have come between that byte and now.
		r.start(r.parent, &r.wait, &waitPhase, r.sentAt)
	}
	r.informational = true
	attrs := append(r.attrs(), semconv.HTTPResponseStatusCode(code))
	attrs = appendHeaders(attrs, r.cfg.respHeaders, http.Header(header), r.cfg.scrub)
	r.pointEvent(nil, eventInformational, attrs...)
	return nil
}

func (r *request) roundTripDone(info clienttrace.RoundTripDoneInfo) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	if info.Err != nil {
		r.finish(info.Err, r.proxyFailureType(info.Err, info.Request), nil)
		return
	}
	r.meter.response(info.Response)
	r.resp = info.Response
	if !r.recording {
		return
	}
	r.beginFinalResponse(now)
}

// beginFinalResponse ends http.wait and starts http.receive at the final
// response's first byte: GotFirstResponseByte's, unless a 1xx came first.
// net/http reports no first byte of the final response after a 1xx; the
// best signal it gives is the round trip returning, at now, once it has
// read the final response's headers, which is a little later (docs/spans.md
// says how much). r.mu must be held.
func (r *request) beginFinalResponse(now time.Time) {
	if r.final {
		return
	}
	r.final = true
	at := stamp(now)
	if !r.informational && !r.respAt.IsZero() {
		at = r.respAt
	}
	r.end(&r.wait, nil, at)
	r.start(r.parent, &r.receive, &receivePhase, at)
}

func (r *request) bodyDone(info clienttrace.BodyDoneInfo) { r.endBody(info) }

// endBody is bodyDone, which reports whether it was the last hook of the
// request, its state reusable (pool.go).
func (r *request) endBody(info clienttrace.BodyDoneInfo) (reusable bool) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return false
	}
	if r.recording {
		attrs := appendBodySize(r.attrs(), r.resp, info.BytesRead)
		attrs = append(attrs, bodyDoneKey.String(info.Reason.String()))
		var err error
		if bodyFailed(info.Reason) {
			err = info.Err
		}
		r.end(&r.receive, err, stamp(now), attrs...)
	}
	r.finish(nil, "", &info)
	return r.reusableLocked()
}

// appendBodySize appends the size of the response body read: as
// http.response.body.size, the bytes transferred, unless net/http decoded
// the body (transparent gzip: resp.Uncompressed), when the bytes read are
// the decoded ones and the bytes transferred are known to no one above
// net/http (it removes Content-Length). Those get
// wiretrace.response.body.decoded_size instead.
func appendBodySize(attrs []attribute.KeyValue, resp *http.Response, n int64) []attribute.KeyValue {
	if resp != nil && resp.Uncompressed {
		return append(attrs, bodyDecodedSizeKey.Int64(n))
	}
	return append(attrs, semconv.HTTPResponseBodySize(int(n)))
}

// finish ends every phase still open and the request span, records the
// request's metrics, and makes r ignore every later hook. err is the round
// trip's error, if it failed, and errType its error.type; body is how the
// body ended, if it did. r.mu must be held.
func (r *request) finish(err error, errType string, body *clienttrace.BodyDoneInfo) {
	r.done = true
	r.proxyFinish(err, errType)
	// One error.type for the spans and the metrics: the round trip's
	// error, else the body's read error, else (in requestEndAttrs, and in
	// the meter) the status code.
	errType, bodySize, bodyErr := r.bodyOutcome(body, errType)
	r.meter.end(errType, bodySize)
	facts := r.releaseConn()
	if !r.recording {
		return
	}
	if r.csOn() {
		r.csFinishLocked(err, errType)
	}
	r.endOpenPhases(err, errType)
	if !r.ownsSpan {
		return
	}
	attrs := r.requestEndAttrs(err, bodyErr, errType, body, facts)
	r.setEndStatus(err, bodyErr, errType)
	r.span.SetAttributes(attrs...)
	r.span.End()
}

// bodyOutcome returns what the body's end adds to the request's outcome:
// the error.type (the body's read error's, if it failed with one, else
// errType unchanged); the body size for the metrics, -1 if unknown (no
// body end, or a body net/http decoded: see appendBodySize); and the
// body's read error, if any. body may be nil. r.mu must be held.
func (r *request) bodyOutcome(body *clienttrace.BodyDoneInfo, errType string) (outType string, bodySize int64, bodyErr error) {
	bodySize = -1
	if body != nil {
		bodySize = body.BytesRead
		if r.resp != nil && r.resp.Uncompressed {
			// Decoded bytes are not the body size: see appendBodySize.
			bodySize = -1
		}
		if bodyFailed(body.Reason) && body.Err != nil {
			bodyErr = body.Err
			errType = errorType(body.Err)
		}
	}
	return errType, bodySize, bodyErr
}

// releaseConn releases r's hold on its connection, if it has one, and
// returns the connection's facts for the request span when r records and
// owns that span (nil otherwise). r.mu must be held.
func (r *request) releaseConn() *connFacts {
	var facts *connFacts
	if r.conn != nil {
		if r.recording && r.ownsSpan {
			facts = r.conn.facts()
		}
		r.conn.release()
		r.conn = nil
	}
	return facts
}

// endOpenPhases ends or abandons every phase span still open, in the order
// connects, DNS, TLS, send, getconn/send/wait with err if the round trip
// failed, receive. err and errType are the round trip's. Only for a
// recording r. r.mu must be held.
func (r *request) endOpenPhases(err error, errType string) {
	for i := range r.connects {
		c := &r.connects[i]
		if c.connected && c.open {
			r.end(&c.phase, nil, c.doneAt, append(r.attrs(), connectWinnerKey.Bool(c.carriedProxy))...)
		}
		r.abandon(&c.phase)
	}
	r.abandon(&r.dns)
	r.abandon(&r.tls)
	if err == nil && r.send.open {
		// The response is done and net/http has not said the request
		// was written: its HTTP/2 client reports WroteRequest from the
		// goroutine that wrote the body, which may run after the one
		// that read the whole response. Not abandoned: http.send ends
		// with the request, and says so.
		r.end(&r.send, nil, time.Time{}, sendEndKey.String(sendEndRequestEnd))
	}
	for _, p := range []*phase{&r.getconn, &r.send, &r.wait} {
		if err != nil && p.open {
			r.close(p, time.Time{}, err, "", append(r.attrs(), semconv.ErrorTypeKey.String(errType)))
		}
		r.abandon(p)
	}
	r.abandon(&r.receive)
}

// requestEndAttrs returns the attributes the request span gets at its end,
// in this order: request headers, resend count, peer, response status,
// protocol, a 4xx/5xx status's error.type, response headers, the failure's
// error.type, body size, connection facts. err, bodyErr and errType are
// the round trip's error, the body's and the outcome's error.type (see
// bodyOutcome); body and facts may be nil. It sets no status: see
// setEndStatus. r.mu must be held.
func (r *request) requestEndAttrs(err, bodyErr error, errType string, body *clienttrace.BodyDoneInfo, facts *connFacts) []attribute.KeyValue {
	// The request's own attributes (method, URL, server) were given to
	// Start, for samplers: transport.go.
	sent := r.req.Header
	if r.sentHeaders != nil {
		sent = r.sentHeaders
	}
	attrs := appendHeaders(r.attrs(), r.cfg.reqHeaders, sent, r.cfg.scrub)
	if n := r.attempts - 1 + redirects(r.req); n > 0 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(n))
	}
	if r.peer.Key.Defined() {
		attrs = append(attrs, r.peer)
	}
	if resp := r.resp; resp != nil {
		attrs = append(attrs,
			semconv.HTTPResponseStatusCode(resp.StatusCode),
			semconv.NetworkProtocolVersion(protocolVersion(resp)))
		if resp.StatusCode >= 400 && errType == "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		}
		attrs = appendHeaders(attrs, r.cfg.respHeaders, resp.Header, r.cfg.scrub)
	}
	if err != nil || bodyErr != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	if body != nil {
		attrs = appendBodySize(attrs, r.resp, body.BytesRead)
	}
	if facts != nil {
		attrs = appendFacts(attrs, facts)
	}
	return attrs
}

// setEndStatus sets the request span's status at its end: Error with no
// description for a 4xx/5xx response when nothing failed (errType is ""),
// then Error with the scrubbed text of the round trip's error, else of the
// body's (a read, or a write to a 101 response's body: the request failed
// too, as otelhttp and the metrics have it). Otherwise it leaves the
// status unset. r.mu must be held.
func (r *request) setEndStatus(err, bodyErr error, errType string) {
	if resp := r.resp; resp != nil && resp.StatusCode >= 400 && errType == "" {
		r.span.SetStatus(codes.Error, "")
	}
	switch {
	case err != nil:
		r.span.SetStatus(codes.Error, r.cfg.scrub.errText(err, r.req))
	case bodyErr != nil:
		r.span.SetStatus(codes.Error, r.cfg.scrub.errText(bodyErr, r.req))
	}
}

// maxRedirects bounds the walk of a redirect chain, which http.Client stops
// at 10 hops by default; a chain built by hand could be a cycle.
const maxRedirects = 100

// redirects returns how many redirect hops came before req: http.Client
// sets Request.Response on each hop to the response that redirected it, and
// that response's Request to the hop before. The conventions count these in
// http.request.resend_count, with net/http's retries.
func redirects(req *http.Request) int {
	n := 0
	for resp := req.Response; resp != nil && n < maxRedirects; n++ {
		if resp.Request == nil {
			return n + 1
		}
		resp = resp.Request.Response
	}
	return n
}
