package otelhooks

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
)

// request is the state of one traced round trip: the hooks net/http calls
// and the spans they open and close. One allocation holds it all; it is
// never shared with another request.
//
// Hooks run on net/http's goroutines, concurrently, and possibly after the
// request ended; mu serializes them, and once done is set every hook
// returns at once.
type request struct {
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

	trace clienttrace.ClientTrace

	mu         sync.Mutex
	done       bool
	attempts   int // GetConn calls: 1 + retries
	getconn    phase
	getconnCtx context.Context
	dns        phase
	tls        phase
	send       phase
	wait       phase
	receive    phase
	firstByte  time.Time
	// sendsBody is whether the request has a body to write; waited100,
	// whether it waits for "100 Continue" before writing it.
	sendsBody  bool
	waited100  bool
	connects   []connectAttempt
	connectBuf [2]connectAttempt
	scratch    [10]attribute.KeyValue
	eventOpts  [2]trace.EventOption
	endOpts    [1]trace.SpanEndOption
	meter      *requestMeter // nil: not metered
	// conn is the request's connection, if InstrumentDialer made it.
	conn *instrumentedConn
	// addrs is the transport's cache of connection addresses; nil for
	// NewClientTrace, which formats them each time.
	addrs *addrCache
	// peer is network.peer.address of the connection the request got, for
	// the request span. Its port is left to http.getconn: with it, the
	// request span would pass 8 attributes, past which the SDK allocates a
	// map for each span it snapshots.
	peer attribute.KeyValue
	// req and resp are the request as given to the transport and its
	// response, for the request span's attributes; read-only.
	req  *http.Request
	resp *http.Response
	// proxy is the CONNECT exchange with a proxy (proxy.go).
	proxy proxyState
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
	r := &request{
		cfg:       cfg,
		tracer:    tracer,
		parent:    parent,
		span:      span,
		ownsSpan:  ownsSpan,
		events:    cfg.events,
		lifecycle: req != nil,
		recording: span != nil,
		req:       req,
		sendsBody: req != nil && req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0,
	}
	if t != nil {
		r.addrs = &t.addrs
	}
	// No DNS hook fires for an IP address, unless a proxy is named by
	// host: net/http then resolves the proxy's name. Only a direct
	// *http.Transport (t.direct) is sure to dial the URL's host.
	dns := req == nil || t == nil || !t.direct || !isIP(req.URL.Hostname())
	if !r.recording {
		r.trace = clienttrace.ClientTrace{
			GetConn:       r.getConn,
			GotConn:       r.gotConn,
			RoundTripDone: r.roundTripDone,
			BodyDone:      r.bodyDone,
		}
		if dns {
			r.trace.DNSStart, r.trace.DNSDone = r.dnsStart, r.dnsDone
		}
		return r
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
	if dns {
		r.trace.DNSStart, r.trace.DNSDone = r.dnsStart, r.dnsDone
	}
	// Plain HTTP straight to the server has no handshake; through a proxy
	// (an HTTPS one), or with a transport that is not an *http.Transport,
	// it may have one.
	if req == nil || req.URL.Scheme != "http" || t == nil || !t.direct {
		r.trace.TLSHandshakeStart, r.trace.TLSHandshakeDone = r.tlsHandshakeStart, r.tlsHandshakeDone
	}
	if req == nil || req.Header.Get("Expect") == "100-continue" {
		r.trace.Wait100Continue, r.trace.Got100Continue = r.wait100Continue, r.got100Continue
	}
	return r
}

// attrs returns an empty slice backed by r's scratch array. r.mu must be
// held, and the slice used before it is released.
func (r *request) attrs() []attribute.KeyValue { return r.scratch[:0] }

// lock locks r and reports whether the request is still going on. If it
// returns false, r is unlocked again.
func (r *request) lock() bool {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return false
	}
	return true
}

func (r *request) getConn(hostPort string) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.meter.getConn()
	r.attempts++
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
	}
	r.getconnCtx = r.start(r.parent, &r.getconn, &getconnPhase, time.Time{})
}

func (r *request) gotConn(info clienttrace.GotConnInfo) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.meter.gotConn()
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
	winner := r.settleConnects(info)

	attrs := r.attrs()
	switch {
	case winner != "":
		// The dial's address is the peer's, already a string.
		attrs = appendPeer(attrs, winner)
		attrs = appendAddr(attrs, info.Conn.LocalAddr(), semconv.NetworkLocalAddressKey, semconv.NetworkLocalPortKey)
	case info.Conn != nil:
		attrs = r.addrs.appendAddrs(attrs, info.Conn, info.Reused)
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
	r.end(&r.getconn, nil, time.Time{}, attrs...)
	r.start(r.parent, &r.send, &sendPhase, time.Time{})
}

// settleConnects ends the dials that succeeded, now that GotConn tells which
// connection the request uses: the attempt to its remote address won.
func (r *request) settleConnects(info clienttrace.GotConnInfo) (winner string) {
	waiting := false
	for i := range r.connects {
		waiting = waiting || (r.connects[i].connected && r.connects[i].open)
	}
	if !waiting {
		return ""
	}
	var remote net.Addr
	if !info.Reused && info.Conn != nil {
		remote = info.Conn.RemoteAddr()
	}
	for i := range r.connects {
		c := &r.connects[i]
		if !c.connected || !c.open {
			continue
		}
		// One winner, even with two dials to the same address.
		won := winner == "" && sameAddr(c.addr, remote)
		if won {
			winner = c.addr
		}
		r.end(&c.phase, nil, c.doneAt, append(r.attrs(), connectWinnerKey.Bool(won))...)
	}
	return winner
}

func (r *request) putIdleConn(err error) {
	if !r.lock() {
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
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.meter.dnsStarted(info.Host)
	if r.recording {
		r.start(r.phaseParent(), &r.dns, &dnsPhase, time.Time{}, append(r.attrs(), semconv.DNSQuestionName(info.Host))...)
	}
}

func (r *request) dnsDone(info clienttrace.DNSDoneInfo) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.meter.dnsDone(info.Err)
	if !r.recording {
		return
	}
	attrs := r.attrs()
	if info.Err == nil {
		answers := make([]string, len(info.Addrs))
		for i, a := range info.Addrs {
			answers[i] = a.String()
		}
		attrs = append(attrs, semconv.DNSAnswers(answers...))
	}
	attrs = append(attrs, dnsCoalescedKey.Bool(info.Coalesced))
	r.end(&r.dns, info.Err, time.Time{}, attrs...)
}

// phaseParent is the context the connection's phases start under: the
// getconn span's, or the request's if there is none.
func (r *request) phaseParent() context.Context {
	if r.getconnCtx != nil {
		return r.getconnCtx
	}
	return r.parent
}

func (r *request) connectStart(network, addr string) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.connects = append(r.connects, connectAttempt{network: network, addr: addr})
	c := &r.connects[len(r.connects)-1]
	attrs := r.attrs()
	attrs = append(attrs, semconv.NetworkTransportKey.String(networkTransport(network)))
	if t := networkType(addr); t != "" {
		attrs = append(attrs, semconv.NetworkTypeKey.String(t))
	}
	attrs = appendPeer(attrs, addr)
	r.start(r.phaseParent(), &c.phase, &connectPhase, time.Time{}, attrs...)
}

func (r *request) connectDone(network, addr string, err error) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	// Match the oldest open attempt to this address: parallel attempts,
	// even to one address, each have their own phase.
	for i := range r.connects {
		c := &r.connects[i]
		if !c.open || c.connected || c.network != network || c.addr != addr {
			continue
		}
		if err != nil || r.events {
			r.end(&c.phase, err, time.Time{})
			if err == nil {
				r.proxyDialed(i, time.Now())
			}
			return
		}
		c.connected, c.doneAt = true, time.Now()
		r.proxyDialed(i, c.doneAt)
		return
	}
}

func (r *request) tlsHandshakeStart() {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.proxyTLSStart()
	r.start(r.phaseParent(), &r.tls, &tlsPhase, time.Time{})
}

func (r *request) tlsHandshakeDone(cs tls.ConnectionState, err error) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	if err != nil {
		r.end(&r.tls, err, time.Time{})
	} else {
		r.end(&r.tls, nil, time.Time{}, tlsAttrs(r.attrs(), &cs)...)
	}
	r.proxyTLSDone(err)
}

func (r *request) wroteHeaders() {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.pointEvent(&r.send, eventWroteHeaders)
}

func (r *request) wait100Continue() {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.waited100 = true
	r.pointEvent(&r.send, eventWait100)
}

// got100Continue runs before net/http lets the body go, so the event
// lands on http.send; Got1xxResponse for the same "100 Continue" comes after.
func (r *request) got100Continue() {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.pointEvent(&r.send, eventGot100)
}

func (r *request) wroteRequest(info clienttrace.WroteRequestInfo) {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.end(&r.send, info.Err, time.Time{})
	// A response may begin before the request is written (HTTP/2, 100
	// Continue): then there is nothing left to wait for.
	if info.Err == nil && r.firstByte.IsZero() {
		r.start(r.parent, &r.wait, &waitPhase, time.Time{})
	}
}

func (r *request) gotFirstResponseByte() {
	if !r.lock() {
		return
	}
	defer r.mu.Unlock()
	r.firstByte = time.Now()
	r.end(&r.wait, nil, time.Time{})
	if r.send.open && !r.sendsBody && !r.waited100 {
		// HTTP/2 may report the request written only after the response
		// began. Without a body to write, it was sent: the server answered.
		r.end(&r.send, nil, time.Time{})
	}
	if r.events {
		// With spans, the first byte is where http.wait ends and
		// http.receive starts; as events, it gets one of its own.
		r.pointEvent(nil, eventFirstByte)
	}
	if r.lifecycle {
		// The body's end is sure to be reported: receive starts now.
		r.start(r.parent, &r.receive, &receivePhase, time.Time{})
	}
}

func (r *request) got1xxResponse(code int, header textproto.MIMEHeader) error {
	if !r.lock() {
		return nil
	}
	defer r.mu.Unlock()
	attrs := append(r.attrs(), semconv.HTTPResponseStatusCode(code))
	attrs = appendHeaders(attrs, r.cfg.respHeaders, http.Header(header), r.cfg.scrub)
	r.pointEvent(nil, eventInformational, attrs...)
	return nil
}

func (r *request) roundTripDone(info clienttrace.RoundTripDoneInfo) {
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
	if !r.recording {
		return
	}
	r.resp = info.Response
	if !r.receive.open {
		// Without a transport of this package, receive could not start
		// at the first byte: nothing was sure to end it.
		r.start(r.parent, &r.receive, &receivePhase, r.firstByte)
	}
}

func (r *request) bodyDone(info clienttrace.BodyDoneInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	if r.recording {
		attrs := append(r.attrs(),
			semconv.HTTPResponseBodySize(int(info.BytesRead)),
			bodyDoneKey.String(info.Reason.String()),
		)
		var err error
		if bodyFailed(info.Reason) {
			err = info.Err
		}
		r.end(&r.receive, err, time.Time{}, attrs...)
	}
	r.finish(nil, "", &info)
}

// finish ends every phase still open and the request span, records the
// request's metrics, and makes r ignore every later hook. err is the round
// trip's error, if it failed, and errType its error.type; body is how the
// body ended, if it did. r.mu must be held.
func (r *request) finish(err error, errType string, body *clienttrace.BodyDoneInfo) {
	r.done = true
	r.proxyFinish(err, errType)
	var bodySize int64
	meterErr := errType
	if body != nil {
		bodySize = body.BytesRead
		if bodyFailed(body.Reason) {
			meterErr = errorType(body.Err)
		}
	}
	r.meter.end(meterErr, bodySize)
	var facts *connFacts
	if r.conn != nil {
		if r.recording && r.ownsSpan {
			facts = r.conn.facts()
		}
		r.conn.release()
		r.conn = nil
	}
	if !r.recording {
		return
	}

	for i := range r.connects {
		c := &r.connects[i]
		if c.connected && c.open {
			r.end(&c.phase, nil, c.doneAt, append(r.attrs(), connectWinnerKey.Bool(c.carriedProxy))...)
		}
		r.abandon(&c.phase)
	}
	r.abandon(&r.dns)
	r.abandon(&r.tls)
	for _, p := range []*phase{&r.getconn, &r.send, &r.wait} {
		if err != nil && p.open {
			r.close(p, time.Time{}, err, "", append(r.attrs(), semconv.ErrorTypeKey.String(errType)))
		}
		r.abandon(p)
	}
	r.abandon(&r.receive)
	if !r.ownsSpan {
		return
	}
	attrs := requestAttrs(r.attrs(), r.req, r.cfg.scrub)
	attrs = appendHeaders(attrs, r.cfg.reqHeaders, r.req.Header, r.cfg.scrub)
	if r.attempts > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(r.attempts-1))
	}
	if r.peer.Key.Defined() {
		attrs = append(attrs, r.peer)
	}
	if resp := r.resp; resp != nil {
		attrs = append(attrs,
			semconv.HTTPResponseStatusCode(resp.StatusCode),
			semconv.NetworkProtocolVersion(protocolVersion(resp)))
		if resp.StatusCode >= 400 && err == nil {
			attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
			r.span.SetStatus(codes.Error, "")
		}
		attrs = appendHeaders(attrs, r.cfg.respHeaders, resp.Header, r.cfg.scrub)
	}
	if err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		r.span.SetStatus(codes.Error, r.cfg.scrub.errText(err, r.req))
	} else if body != nil && bodyFailed(body.Reason) && body.Err != nil {
		// The body failed (a read, or a write to a 101 response's
		// body): so did the request, as otelhttp and the metrics have it.
		attrs = append(attrs, semconv.ErrorTypeKey.String(meterErr))
		r.span.SetStatus(codes.Error, r.cfg.scrub.errText(body.Err, r.req))
	}
	if body != nil {
		attrs = append(attrs, semconv.HTTPResponseBodySize(int(body.BytesRead)))
	}
	if facts != nil {
		attrs = appendFacts(attrs, facts)
	}
	r.span.SetAttributes(attrs...)
	r.span.End()
}
