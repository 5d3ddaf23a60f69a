package otelhooks

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
)

// Pooled request states. A request's state is one allocation, and each hook
// it installs is one more: a method value, bound to that state. A transport
// whose base is an *http.Transport keeps the states of its finished
// requests in a pool, with their hooks bound once, so that a request that
// finds one allocates neither.
//
// A state may carry another request only once no hook of the last one can
// run again, and net/http calls some hooks late: ConnectDone,
// TLSHandshakeDone and DNSDone from a dial that outlives its request, and
// WroteRequest (with the write hooks before it) after the response, when the
// server answered before the upload ended. A state goes back to the pool
// (reusable) only after a round trip of which net/http's own code says no
// more is coming:
//
//   - the base is exactly an *http.Transport, so no unknown RoundTripper
//     sees the hooks, and the request has no hooks of the caller's
//     (WithClientTrace). Without keep-alives every request dials, so the
//     transport pools only if it dials itself (reusesState). With
//     WithConnectionSpans, whose setups outlive the request by design, the
//     dial hooks report to the setups and see nothing here, so only a
//     request on an idle connection gives its state back;
//   - GetConn came once and GotConn once: no retry, no second look for a
//     connection (net/http's HTTP/2 pool calls GetConn again on the path
//     that may dial);
//   - no dial of the request can report any more. Either none was made:
//     an HTTP/1 connection that GotConn reports WasIdle was taken from the
//     idle pool before any dial was queued (Transport.getConn:
//     queueForIdleConn delivered it); an HTTP/2 connection reported Reused,
//     with one GetConn, came from the HTTP/2 pool, which does not dial
//     (noDialClientConnPool); and no DNS, connect or TLS hook fired. Or the
//     dial is over (dialOverLocked): an HTTP/1 request on a new connection
//     that net/http dialed itself with net.Dialer, to no proxy, whose every
//     DNS, connect and TLS hook that started has ended, after the dial's
//     last step (the connection for "http", the handshake for "https");
//     a request that records only metrics gets the connect and TLS hooks
//     for this alone (hooks). net.Dialer calls those hooks on the dial's goroutine, in order, and
//     nothing after them; the one exception is Happy Eyeballs, whose
//     fallback dial may start after the winner returned, so a DNS answer
//     with both IPv4 and IPv6 addresses keeps the state;
//   - the round trip succeeded and BodyDone came. net/http returns an
//     HTTP/1 connection to the idle pool (PutIdleConn) before the body's
//     Read returns io.EOF, and not at all after an early Close;
//   - WroteRequest came, if it was installed: the request is written, so
//     no write hook is still to come. It can come after BodyDone (HTTP/2
//     reports a GET written from another goroutine, which the response
//     can beat; an upload can go on after the response): the last of the
//     two hands the state back.
//
// Every other state is left to the garbage collector, as it is without a
// pool. TestPoolReusesOnlyFinishedStates pins the rules.
//
// A state's hooks also stay reachable from the context the request was sent
// with, which the caller gets back as resp.Request.Context() and may keep,
// or even send another request with. That context is a sentCtx: it answers
// with the request's hooks only until the round trip returns (and only
// while the state carries that request), and from then on as the context
// the request was given, with its span. Not only once the state is back in
// the pool: a request sent with it while the body is still open would take
// the hooks into its own (clienttrace.WithClientTrace composes the hooks it
// finds, and net/http calls them) and call them after the state went on to
// carry another request. TestPooledStateContextOutlivesTheRequest and
// TestPoolKeptContextSentBeforeTheBodyEndsReachesNoOtherRequest pin it.
// net/http looks no hook up after the round trip returned, but for a dial
// that outlives the request and tries another address then (a Happy
// Eyeballs fallback, the next address of a serial dial): that attempt is
// not recorded. Under WithConnectionSpans it would be, by the setup of the
// connection, which would then never end (its DNS step seen, not its
// connect): there the hooks stay in the context, and any lookup in it after
// the round trip returned (but the context package's own, when net/http
// cancels the request's context at the body's end: cancelCtxKey) marks the
// state leaked for that request, which keeps it from the pool for good once
// the request ended (release): whoever took the hooks then finds the state
// of a request that goes on or ended, never another request's (though the
// dials of a request sent so are recorded as setups of the first, and,
// while its body is open, in its spans, as without a pool). Such a request
// may also call the hooks after the first's end: a WroteRequest then hands
// nothing back (request.wrote). TestPoolKeptContextUnderConnectionSpans and
// TestWroteRequestAfterTheEndReleasesOnce pin it.

// pooledRequest is a request state that can carry request after request: r,
// and r's hooks, bound once.
type pooledRequest struct {
	r request
	// gen counts the requests r has carried; a sentCtx made for one
	// answers with its hooks only while gen has not moved on.
	gen atomic.Uint64
	// leakedGen is set by a lookup in the context of a request r carried
	// after its round trip returned, under WithConnectionSpans (sentCtx):
	// to that request's gen + 1, never lowered (markLeaked). The hooks of
	// that request may be out of the transport's hands, and the state
	// never goes back to the pool once it ended (release). A lookup in
	// the context of an earlier request, which takes no hook (gen has
	// moved on), marks only that request: it keeps no later one's state
	// from the pool (TestPooledChainKeptContextResentOnTheSameState).
	leakedGen atomic.Uint64
	// bound is r's hooks, as method values, each made the first time a
	// request of the state needs it (hooks). BodyDone and WroteRequest
	// are the pooled state's, which return it to pool.
	bound clienttrace.ClientTrace
	// key is which of them r's request has (hooks); chain is them
	// installed once, for chainFor (installed).
	key      hookKey
	chainFor hookKey
	chain    context.Context
	pool     *sync.Pool
}

// newPooledRequest returns a state for pool, with no hook bound yet.
func newPooledRequest(pool *sync.Pool) *pooledRequest {
	return &pooledRequest{pool: pool}
}

// hooks returns the hooks newRequest would bind for p's request, as r.init
// has set it up so far, with the optional hooks h: the same set, but for a
// request without spans whose transport dials itself, which also gets the
// dial hooks, to tell when its dial is over (TestPooledHooksMatchNewRequest);
// picked from p.bound. A hook the state has not bound yet is bound now,
// once: a state that never carries a second request costs no more hooks
// than newRequest binds.
func (p *pooledRequest) hooks(h hookSet) clienttrace.ClientTrace {
	r, b := &p.r, &p.bound
	if b.GetConn == nil {
		b.GetConn, b.GotConn, b.RoundTripDone, b.BodyDone = r.getConn, r.gotConn, r.roundTripDone, p.bodyDone
	}
	t := clienttrace.ClientTrace{GetConn: b.GetConn, GotConn: b.GotConn, RoundTripDone: b.RoundTripDone, BodyDone: b.BodyDone}
	p.key = hookKey{dns: h.dns, recording: r.recording}
	if h.dns {
		if b.DNSStart == nil {
			b.DNSStart, b.DNSDone = r.dnsStart, r.dnsDone
		}
		t.DNSStart, t.DNSDone = b.DNSStart, b.DNSDone
	}
	if !r.recording {
		if r.plainDial {
			// Metrics only: the dial hooks too, which record nothing,
			// so that reusableLocked can tell when a dial of net/http's
			// own is over (dialOverLocked) and the state go back.
			if b.ConnectStart == nil {
				b.ConnectStart, b.ConnectDone = r.connectStart, r.connectDone
			}
			t.ConnectStart, t.ConnectDone = b.ConnectStart, b.ConnectDone
			p.key.dial = true
			if h.tls {
				if b.TLSHandshakeStart == nil {
					b.TLSHandshakeStart, b.TLSHandshakeDone = r.tlsHandshakeStart, r.tlsHandshakeDone
				}
				t.TLSHandshakeStart, t.TLSHandshakeDone = b.TLSHandshakeStart, b.TLSHandshakeDone
				p.key.tls = true
			}
		}
		return t
	}
	p.key.dial = true
	if b.WroteRequest == nil {
		b.PutIdleConn, b.GotFirstResponseByte, b.Got1xxResponse = r.putIdleConn, r.gotFirstResponseByte, r.got1xxResponse
		b.WroteHeaders, b.WroteRequest = r.wroteHeaders, p.wroteRequest
	}
	if b.ConnectStart == nil {
		b.ConnectStart, b.ConnectDone = r.connectStart, r.connectDone
	}
	t.PutIdleConn, t.GotFirstResponseByte, t.Got1xxResponse = b.PutIdleConn, b.GotFirstResponseByte, b.Got1xxResponse
	t.ConnectStart, t.ConnectDone = b.ConnectStart, b.ConnectDone
	t.WroteHeaders, t.WroteRequest = b.WroteHeaders, b.WroteRequest
	p.key.tls, p.key.continue100 = h.tls, h.continue100
	p.key.headerField = h.headerField && r.ownsSpan
	if h.tls {
		if b.TLSHandshakeStart == nil {
			b.TLSHandshakeStart, b.TLSHandshakeDone = r.tlsHandshakeStart, r.tlsHandshakeDone
		}
		t.TLSHandshakeStart, t.TLSHandshakeDone = b.TLSHandshakeStart, b.TLSHandshakeDone
	}
	if h.continue100 {
		if b.Wait100Continue == nil {
			b.Wait100Continue, b.Got100Continue = r.wait100Continue, r.got100Continue
		}
		t.Wait100Continue, t.Got100Continue = b.Wait100Continue, b.Got100Continue
	}
	if h.headerField && r.ownsSpan {
		if b.WroteHeaderField == nil {
			b.WroteHeaderField = r.wroteHeaderField
		}
		t.WroteHeaderField = b.WroteHeaderField
	}
	return t
}

// bodyDone and wroteRequest are r's BodyDone and WroteRequest, which hand
// the state back to its pool when theirs was the request's last hook: the
// round trip's end, or a late WroteRequest after it. The decision is taken
// in the hook's own critical section (endBody, wrote), so exactly one of
// the two takes it, and neither touches r after it.
func (p *pooledRequest) bodyDone(info clienttrace.BodyDoneInfo) {
	if p.r.endBody(info) {
		p.release()
	}
}

func (p *pooledRequest) wroteRequest(info clienttrace.WroteRequestInfo) {
	if p.r.wrote(info) {
		p.release()
	}
}

// release hands p back to its pool. Contexts made for its request stop
// answering with its hooks first; then the state is cleared, which lets go
// of the request, the response and the spans at once.
func (p *pooledRequest) release() {
	ended := p.gen.Add(1) - 1
	// After gen moved on, a lookup answers as the caller's context; one
	// that came before may have taken the hooks. sentCtx.Value marks the
	// state leaked before it reads gen, so one of the two sees the other.
	if p.leaked(ended) {
		return // left as it is, finished, to the garbage collector
	}
	p.r = request{}
	if f := testHookReleased.Load(); f != nil {
		(*f)(p)
	}
	p.pool.Put(p)
}

// markLeaked notes that the hooks of the request of generation gen may
// have been taken after its round trip returned (sentCtx.Value).
func (p *pooledRequest) markLeaked(gen uint64) {
	for {
		old := p.leakedGen.Load()
		if old > gen || p.leakedGen.CompareAndSwap(old, gen+1) {
			return
		}
	}
}

// leaked reports whether markLeaked was called for the request of
// generation gen (or a later one).
func (p *pooledRequest) leaked(gen uint64) bool { return p.leakedGen.Load() > gen }

// testHookReleased, if set, is called with each state release hands back.
var testHookReleased atomic.Pointer[func(*pooledRequest)]

// seenHooks is what a request's hooks have seen of its round trip, for
// reusableLocked: two bytes, in the request's padding. r.mu guards it.
type seenHooks uint16

const (
	seenGetConn      seenHooks = 1 << iota // GetConn came
	seenGetConnAgain                       // GetConn came more than once
	seenGotConn                            // GotConn came
	seenGotConnAgain                       // GotConn came more than once
	seenPooledConn                         // the (last) GotConn's connection was WasIdle
	seenReusedConn                         // the (last) GotConn's connection was Reused
	seenDial                               // a DNS, connect or TLS hook came
	seenWrote                              // WroteRequest came
	seenConnected                          // a ConnectDone without error came
	seenHandshaken                         // a TLSHandshakeDone without error came
	seenDualStack                          // a DNSDone answered IPv4 and IPv6 addresses
)

// once sets first, or again if first is set already.
func (s *seenHooks) once(first, again seenHooks) {
	if *s&first != 0 {
		*s |= again
	}
	*s |= first
}

// sawGotConn notes a GotConn with info.
func (s *seenHooks) sawGotConn(info clienttrace.GotConnInfo) {
	s.once(seenGotConn, seenGotConnAgain)
	*s &^= seenPooledConn | seenReusedConn
	if info.WasIdle {
		*s |= seenPooledConn
	}
	if info.Reused {
		*s |= seenReusedConn
	}
}

// sawDNSDone notes a DNSDone with info: an answer of both IPv4 and IPv6
// addresses lets net.Dialer race a fallback dial (Happy Eyeballs), which it
// may start after the connection it returned, so no DNSDone tells when such
// a dial is over.
func (s *seenHooks) sawDNSDone(info clienttrace.DNSDoneInfo) {
	v4, v6 := false, false
	for _, a := range info.Addrs {
		if a.IP.To4() != nil {
			v4 = true
		} else {
			v6 = true
		}
	}
	if v4 && v6 {
		*s |= seenDualStack
	}
}

// reusableLocked reports whether no hook of r's request can run any more,
// by the rules at the top of this file, so that its state may carry
// another request. r.mu must be held.
func (r *request) reusableLocked() bool {
	s := r.seen
	switch {
	case !r.done || r.resp == nil:
		return false // not finished by BodyDone after a round trip that succeeded
	case s&(seenGetConn|seenGetConnAgain|seenGotConn|seenGotConnAgain) != seenGetConn|seenGotConn:
		return false // not exactly one GetConn and one GotConn
	case r.trace.WroteRequest != nil && s&seenWrote == 0:
		return false // WroteRequest may still come
	}
	if s&seenDial != 0 {
		return r.dialOverLocked()
	}
	if r.resp.ProtoMajor == 2 {
		return s&seenReusedConn != 0
	}
	return s&seenPooledConn != 0
}

// dialOverLocked reports whether the dial that r's hooks saw is over: no
// hook of it can come any more. That is so for an HTTP/1 request on a new
// connection, dialed by net/http with net.Dialer to no proxy (plainDial),
// once every DNS, connect and TLS hook that started has ended and the dial
// reached its last step (a connection for "http", a handshake for "https"),
// with no dual-stack answer (sawDNSDone). The dial that reached it either
// made the request's connection or is handing its own to the pool. r.mu
// must be held.
func (r *request) dialOverLocked() bool {
	// A pooled state whose request dials itself has the dial hooks,
	// recording or not (hooks).
	if !r.plainDial || r.req == nil || r.req.URL == nil {
		return false
	}
	s := r.seen
	last := seenConnected
	if r.req.URL.Scheme == "https" {
		last = seenHandshaken
	}
	return r.resp.ProtoMajor == 1 && s&seenReusedConn == 0 && s&seenDualStack == 0 && s&last != 0 && r.dialing == 0
}

// sentCtx is the context a pooled request is sent with (and the caller gets
// back as resp.Request.Context()), and, with a nil p, the context of a
// request whose state is not pooled (keptContext): the caller's context
// with the request's hooks (hooks, then proxyCtx.Context), while the state
// carries the request; once the state is back in the pool, the caller's
// context alone (proxyCtx.Context), so that a context kept, or reused for
// another request, does not lead to a state another request now owns. It is
// also the request's proxy node (proxy.go), which a pooled state cannot
// embed: the node outlives it, and, under WithConnectionSpans, the node
// InstrumentDialer finds the request by (dialKey).
type sentCtx struct {
	proxyCtx
	// hooks is the request's hooks installed: a pooled state's chain,
	// which answers what it does not hold with notInChain, for the
	// caller's context to answer, or hooks installed over that context.
	hooks context.Context
	p     *pooledRequest
	gen   uint64
	// keep is whether the hooks stay after the round trip returned
	// (WithConnectionSpans: see the top of this file); beside proxied, so
	// that the node takes 64 bytes. returned is set once the round trip
	// returned (transport.RoundTrip), before the caller can get the
	// context back.
	proxied  bool
	keep     bool
	returned atomic.Bool
}

func (c *sentCtx) Value(key any) any {
	if c.returned.Load() {
		if !c.keep {
			return c.Context.Value(key)
		}
		if key != cancelCtxKey {
			c.p.markLeaked(c.gen) // before gen is read: see release
		}
	}
	if c.p != nil && c.p.gen.Load() != c.gen {
		return c.Context.Value(key)
	}
	switch key {
	case proxyCtxKey{}:
		if c.proxied {
			return &c.proxyCtx
		}
	case dialKey{}:
		if c.keep { // the request records the connection model (csCtx)
			return c.r
		}
	}
	if v := c.hooks.Value(key); v != (notInChain{}) {
		return v
	}
	return c.Context.Value(key)
}

func (c *sentCtx) String() string { return "otelhooks.request" }

// A pooled state installs its request's hooks once, not per request: in
// chain, under chainEnd, a context that holds nothing. Installing them is
// three to four allocations (clienttrace's node, httptrace's one or two, and
// the hooks it hands the dialer), and the result depends only on which hooks
// the request has (hookKey); the hooks themselves are the state's, bound
// once. A request whose hooks are the set chain was made for is sent with
// chain: sentCtx asks it first, and the caller's context for what it does
// not hold (notInChain), which answers as the hooks installed over that
// context would, since they answer only their own keys. A context that
// carries traces already (the caller's, or those of a transport around
// this one) gets the hooks installed over it, per request, to compose with
// them. No code looks into chain but through sentCtx: net/http, the context
// package and clienttrace derive contexts, and look hooks up, only from the
// request's context, and chain is never the parent of another context.

// chainEnd is the context a pooled state's hooks are installed under: it
// answers every lookup with notInChain, neither ends nor is done.
type chainEnd struct{}

func (chainEnd) Deadline() (time.Time, bool) { return time.Time{}, false }
func (chainEnd) Done() <-chan struct{}       { return nil }
func (chainEnd) Err() error                  { return nil }
func (chainEnd) Value(any) any               { return notInChain{} }
func (chainEnd) String() string              { return "otelhooks.chainEnd" }

// notInChain is chainEnd's answer: no hook of the chain is under the key.
type notInChain struct{}

// hookKey is the set of hooks a pooled state's request has, as hooks picked
// them: the chain installed for one key serves every request with that key.
type hookKey struct {
	dns, dial, tls, continue100, headerField, recording bool
}

// installed returns the hooks of p's request installed for a request sent
// with ctx (see the comment above chainEnd).
func (p *pooledRequest) installed(ctx context.Context) context.Context {
	if clienttrace.ContextClientTrace(ctx) != nil || httptrace.ContextClientTrace(ctx) != nil {
		return clienttrace.WithClientTrace(ctx, &p.r.trace)
	}
	if p.chain == nil || p.chainFor != p.key {
		// Built once for the state's hooks: the same for each request
		// with this key, bound to p.r.
		p.chain, p.chainFor = clienttrace.WithClientTrace(chainEnd{}, &p.r.trace), p.key
	}
	return p.chain
}

// reusesState reports whether t keeps the states of its requests in a pool:
// see the top of this file. Without keep-alives every request dials, and
// only a dial of net/http's own can be known to be over.
func reusesState(t *transport) bool {
	_, ok := t.base.(*http.Transport)
	return ok && (t.keepAlives || t.plainDial)
}

// pooledRequestFor returns a state from t's pool, set up for req as
// newRequest sets one up.
func (t *transport) pooledRequestFor(parent context.Context, tracer trace.Tracer, span trace.Span, ownsSpan bool, req *http.Request) *pooledRequest {
	p := t.requests.Get().(*pooledRequest)
	p.r.init(parent, t.cfg, tracer, span, ownsSpan, req, t, p)
	return p
}

// context returns the context p's request is sent with: ctx, the caller's
// (with the request span), with the request's hooks, as a sentCtx.
func (p *pooledRequest) context(ctx context.Context, direct bool) *sentCtx {
	r := &p.r
	r.proxy.dial = -1
	proxied := !direct && r.req != nil && r.req.URL != nil
	r.proxy.on = proxied
	c := &sentCtx{
		proxyCtx: proxyCtx{Context: ctx, r: r},
		hooks:    p.installed(ctx),
		p:        p,
		gen:      p.gen.Load(),
		proxied:  proxied,
		keep:     r.cs != nil,
	}
	return c
}

// keptContext returns hooked, the context r's request is sent with (ctx,
// the caller's, with the request's hooks), as a sentCtx without a pooled
// state, which answers as ctx once the round trip returned, so that a
// request sent with resp.Request.Context() while the body is open takes
// none of r's hooks and is not recorded in r's spans
// (TestKeptContextSentBeforeTheBodyEndsRecordsNothingInTheFirstRequest).
// It costs the request one allocation, so a request that records only
// metrics goes without: a request sent with its context may skew them, but
// records no span.
// Under WithConnectionSpans the hooks stay, for the setups of dials that
// outlive the round trip (see the top of this file), and hooked is returned
// as it is.
func (r *request) keptContext(ctx, hooked context.Context) (context.Context, *sentCtx) {
	if r.cs != nil || !r.recording {
		return hooked, nil
	}
	c := &sentCtx{proxyCtx: proxyCtx{Context: ctx, r: r}, hooks: hooked}
	return c, c
}

// cancelCtxKey is the key the context package looks its own cancelCtx up
// with, in the parents of a context it cancels or derives from (net/http
// cancels the request's context when the body ends): such a lookup takes no
// hook, and does not make a state leaked. It is learnt from a probe, as the
// context package asks it; were that to change, the key would be nil, and
// every lookup after the round trip would keep its state from the pool.
var cancelCtxKey = func() any {
	p := &keyProbe{Context: context.Background(), done: make(chan struct{})}
	_, cancel := context.WithCancel(p)
	cancel()
	return p.key
}()

// keyProbe is a context that records the key of the first lookup in it.
type keyProbe struct {
	context.Context
	done chan struct{}
	key  any
}

func (p *keyProbe) Done() <-chan struct{} { return p.done }

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}
