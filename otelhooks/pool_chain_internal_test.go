package otelhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/names"
	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// chainPin makes rt hand one state, fixed, to every request that finds
// it free, whatever the race detector's sync.Pool does: rt's pool never
// holds a state (released states go to a pool nobody takes from), so each
// request asks New, which returns fixed once it is back (released) and a
// fresh state while fixed carries a request or was kept from the pool.
// The returned channel receives each released state, for awaitRelease.
func chainPin(t *testing.T, rt http.RoundTripper) (*pooledRequest, <-chan *pooledRequest) {
	t.Helper()
	tr := rt.(*transport)
	require.True(t, tr.reuse, "the transport pools its states")
	sink := new(sync.Pool)
	fixed := newPooledRequest(sink)
	var free atomic.Bool
	free.Store(true)
	tr.requests.New = func() any {
		if free.CompareAndSwap(true, false) {
			return fixed
		}
		return newPooledRequest(sink)
	}
	ch := make(chan *pooledRequest, 256)
	f := func(p *pooledRequest) {
		if p == fixed {
			free.Store(true)
		}
		select {
		case ch <- p:
		default:
		}
	}
	testHookReleased.Store(&f)
	t.Cleanup(func() { testHookReleased.Store(nil) })
	return fixed, ch
}

// chainTracing returns a provider whose spans go to a recorder and an
// EndChecker, sampling every span but those under a context with
// chainNoSample.
func chainTracing() (*sdktrace.TracerProvider, *tracetest.SpanRecorder, *spantest.EndChecker) {
	rec := tracetest.NewSpanRecorder()
	ends := spantest.NewEndChecker()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(chainSampler{}),
		sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(ends))
	return tp, rec, ends
}

type chainNoSample struct{}

type chainSampler struct{}

func (chainSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.ParentContext.Value(chainNoSample{}) != nil {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (chainSampler) Description() string { return "chain-test" }

// chainSpanID returns the id of the request span of resp (the span in
// resp.Request.Context()).
func chainSpanID(resp *http.Response) trace.SpanID {
	return trace.SpanFromContext(resp.Request.Context()).SpanContext().SpanID()
}

// chainChildren returns the names of the spans under id, sorted.
func chainChildren(spans []sdktrace.ReadOnlySpan, id trace.SpanID) []string {
	var out []string
	for _, s := range spans {
		if s.Parent().SpanID() == id {
			out = append(out, s.Name())
		}
	}
	sort.Strings(out)
	return out
}

// chainShape describes the span id and everything under it, without
// times or values: each span's name, its attribute keys and its events
// (with their attribute keys), sorted, children indented under it.
func chainShape(spans []sdktrace.ReadOnlySpan, id trace.SpanID) string {
	byParent := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var self sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.SpanContext().SpanID() == id {
			self = s
		}
		byParent[s.Parent().SpanID()] = append(byParent[s.Parent().SpanID()], s)
	}
	if self == nil {
		return "<no span>"
	}
	keys := func(kvs []attribute.KeyValue) string {
		var ks []string
		for _, kv := range kvs {
			ks = append(ks, string(kv.Key))
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	var walk func(s sdktrace.ReadOnlySpan, indent string) string
	walk = func(s sdktrace.ReadOnlySpan, indent string) string {
		var evs []string
		for _, e := range s.Events() {
			evs = append(evs, e.Name+"{"+keys(e.Attributes)+"}")
		}
		sort.Strings(evs)
		line := fmt.Sprintf("%s%s [%s] events=%v status=%v\n", indent, s.Name(), keys(s.Attributes()), evs, s.Status().Code)
		var kids []string
		for _, c := range byParent[s.SpanContext().SpanID()] {
			kids = append(kids, walk(c, indent+"  "))
		}
		sort.Strings(kids)
		return line + strings.Join(kids, "")
	}
	return walk(self, "")
}

// chainOwnPhases asserts that children (chainChildren) are the phases
// of one request on a connection it got without a dial: one http.getconn,
// one http.send, one http.receive, and at most one http.wait (none when the
// response began before net/http reported the request written, as HTTP/2
// may: docs/spans.md).
func chainOwnPhases(t *testing.T, children []string, msgAndArgs ...any) {
	t.Helper()
	want := []string{names.SpanGetConn, names.SpanReceive, names.SpanSend, names.SpanWait}
	if !slices.Contains(children, names.SpanWait) {
		want = want[:3]
	}
	assert.Equal(t, want, children, msgAndArgs...)
}

// chainNoWait drops the http.wait line of a shape.
func chainNoWait(shape string) string {
	lines := strings.SplitAfter(shape, "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  "+names.SpanWait+" ") }), "")
}

// chainCounts is what the caller's hooks of one request saw.
type chainCounts struct {
	getConn, gotConn, firstByte, wrote, rtDone, bodyDone atomic.Int32
	wroteCh                                              chan struct{}
}

func newChainCounts() *chainCounts { return &chainCounts{wroteCh: make(chan struct{}, 8)} }

// sawWrote counts a WroteRequest and signals it on wroteCh.
func (c *chainCounts) sawWrote() {
	c.wrote.Add(1)
	select {
	case c.wroteCh <- struct{}{}:
	default:
	}
}

func (c *chainCounts) httptrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) { c.getConn.Add(1) },
		GotConn:              func(httptrace.GotConnInfo) { c.gotConn.Add(1) },
		GotFirstResponseByte: func() { c.firstByte.Add(1) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { c.sawWrote() },
	}
}

func (c *chainCounts) clienttrace() *clienttrace.ClientTrace {
	return &clienttrace.ClientTrace{
		GetConn:              func(string) { c.getConn.Add(1) },
		GotConn:              func(clienttrace.GotConnInfo) { c.gotConn.Add(1) },
		GotFirstResponseByte: func() { c.firstByte.Add(1) },
		WroteRequest:         func(clienttrace.WroteRequestInfo) { c.sawWrote() },
		RoundTripDone:        func(clienttrace.RoundTripDoneInfo) { c.rtDone.Add(1) },
		BodyDone:             func(clienttrace.BodyDoneInfo) { c.bodyDone.Add(1) },
	}
}

// awaitWrote waits for the caller's WroteRequest of c (HTTP/2 may report
// it after the body ended).
func (c *chainCounts) awaitWrote(t *testing.T) {
	t.Helper()
	select {
	case <-c.wroteCh:
	case <-time.After(10 * time.Second):
		t.Fatal("the caller's WroteRequest never came")
	}
}

// TestPooledChainOneStateCallerTraceOnSomeRequestsOnly: one state carries
// request after request, some of them with a trace of the caller's
// (httptrace, clienttrace with lifecycle hooks, or both) and some without:
// the ones with it get its hooks composed over their context, the ones
// without are sent with the state's chain. Each of the caller's hooks runs
// exactly once for the request that carried it, and never for another
// request of the state (no chain built over a caller's trace), and each
// request's spans are its own: one http.getconn, http.send and http.wait.
func TestPooledChainOneStateCallerTraceOnSomeRequestsOnly(t *testing.T) {
	for _, m := range []testnet.Mode{testnet.HTTP1, testnet.HTTPS1, testnet.HTTP2} {
		t.Run(string(m), func(t *testing.T) {
			tp, rec, ends := chainTracing()
			srv, base := testnet.NewModeServer(t, m, http.HandlerFunc(testnet.OK), nil)
			// A bare request first, so that every traced one finds the
			// connection idle (HTTP/1) or reusable (HTTP/2), and its
			// state goes back at its end.
			require.NoError(t, roundTripRead(context.Background(), base, srv.URL))
			rt := NewTransport(base, WithTracerProvider(tp), WithoutMetrics())
			fixed, releases := chainPin(t, rt)

			kinds := []string{"none", "httptrace", "clienttrace", "none", "both", "none", "httptrace", "none", "clienttrace", "none"}
			counts := make([]*chainCounts, len(kinds))
			var hooks []context.Context // the installs of the requests without a trace
			for i, kind := range kinds {
				c := newChainCounts()
				counts[i] = c
				ctx := context.Background()
				switch kind {
				case "httptrace":
					ctx = httptrace.WithClientTrace(ctx, c.httptrace())
				case "clienttrace":
					ctx = clienttrace.WithClientTrace(ctx, c.clienttrace())
				case "both":
					ctx = clienttrace.WithClientTrace(httptrace.WithClientTrace(ctx, c.httptrace()), c.clienttrace())
				}
				resp := doRead(t, ctx, rt, get(t, srv.URL))
				p, _ := sentState(resp)
				require.Same(t, fixed, p, "request %d (%s) on the pinned state", i, kind)
				if kind == "none" {
					hooks = append(hooks, resp.Request.Context().(*sentCtx).hooks)
				}
				awaitRelease(t, releases, fixed)
				switch kind {
				case "httptrace", "clienttrace":
					c.awaitWrote(t)
				case "both":
					c.awaitWrote(t)
					c.awaitWrote(t)
				}
				chainOwnPhases(t, chainChildren(rec.Ended(), chainSpanID(resp)), "request %d (%s): its own phases, once each", i, kind)
			}
			for _, h := range hooks[1:] {
				assert.Same(t, hooks[0], h, "the requests without a trace share the state's one chain")
			}
			for i, kind := range kinds {
				c := counts[i]
				want := map[string]int32{"none": 0, "httptrace": 1, "clienttrace": 1, "both": 2}[kind]
				assert.Equal(t, want, c.getConn.Load(), "request %d (%s): the caller's GetConn", i, kind)
				assert.Equal(t, want, c.gotConn.Load(), "request %d (%s): the caller's GotConn", i, kind)
				assert.Equal(t, want, c.firstByte.Load(), "request %d (%s): the caller's GotFirstResponseByte", i, kind)
				assert.Equal(t, want, c.wrote.Load(), "request %d (%s): the caller's WroteRequest", i, kind)
				lifecycle := map[string]int32{"clienttrace": 1, "both": 1}[kind]
				assert.Equal(t, lifecycle, c.rtDone.Load(), "request %d (%s): the caller's RoundTripDone", i, kind)
				assert.Equal(t, lifecycle, c.bodyDone.Load(), "request %d (%s): the caller's BodyDone", i, kind)
			}
			ends.AssertAllEnded(t)
			assert.Empty(t, ends.EndedTwice())
		})
	}
}

// TestPooledChainOneStateHookSetChanges: one state carries requests whose
// hook sets differ (sampled or only metered, "http" or "https", an IP or a
// name, Expect: 100-continue, a dial or an idle connection, with
// WithRequestHeaders): each request sent with the state's chain records
// what the same request records with its hooks installed for it alone (a
// caller's empty httptrace puts it on that path), and the chain is built
// again exactly when the hook set changed.
func TestPooledChainOneStateHookSetChanges(t *testing.T) {
	tp, rec, ends := chainTracing()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	tlsSrv, base := testnet.NewTLSServer(t, handler, false)
	base.ExpectContinueTimeout = 10 * time.Second
	plain := httptest.NewServer(handler)
	t.Cleanup(plain.Close)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rt := NewTransport(base, WithTracerProvider(tp), WithMeterProvider(mp), WithRequestHeaders("User-Agent", "Expect"))
	fixed, releases := chainPin(t, rt)

	byName := testnet.ByName(t, plain.URL)
	type step struct {
		name     string
		url      string
		unsample bool
		dial     bool
		expect   bool
	}
	steps := []step{
		{name: "http, IP", url: plain.URL},
		{name: "http, IP, metered only", url: plain.URL, unsample: true},
		{name: "https, IP", url: tlsSrv.URL},
		{name: "http, IP, 100-continue", url: plain.URL, expect: true},
		{name: "https, IP, dial", url: tlsSrv.URL, dial: true},
		{name: "https, IP, metered only", url: tlsSrv.URL, unsample: true},
		{name: "http, IP, dial", url: plain.URL, dial: true},
		{name: "http, IP, again", url: plain.URL},
		{name: "http, by name, dial", url: byName, dial: true},
	}
	send := func(t *testing.T, s step, reference bool) *http.Response {
		t.Helper()
		if s.dial {
			base.CloseIdleConnections()
		} else {
			require.NoError(t, roundTripRead(context.Background(), base, s.url), "an idle connection for it")
		}
		ctx := context.Background()
		if s.unsample {
			ctx = context.WithValue(ctx, chainNoSample{}, true)
		}
		if reference {
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{})
		}
		var req *http.Request
		var err error
		if s.expect {
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader("upload"))
			require.NoError(t, err)
			req.Header.Set("Expect", "100-continue")
		} else {
			req = get(t, s.url)
		}
		resp, err := rt.RoundTrip(req.WithContext(ctx))
		require.NoError(t, err)
		p, _ := sentState(resp)
		require.Same(t, fixed, p, "%s: on the pinned state", s.name)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	var lastChain context.Context
	var lastKey hookKey
	for i, s := range steps {
		ref := send(t, s, true)
		last := i == len(steps)-1
		awaitRelease(t, releases, fixed)
		resp := send(t, s, false)
		c := resp.Request.Context().(*sentCtx)
		key := fixed.chainFor // read after the round trip, before the state can carry another request
		if !last {
			awaitRelease(t, releases, fixed)
		}
		if lastChain != nil {
			assert.Equal(t, key != lastKey, c.hooks != lastChain, "%s: the chain is built again iff the hook set changed (%+v after %+v)", s.name, key, lastKey)
		}
		lastChain, lastKey = c.hooks, key
		if s.unsample {
			assert.False(t, trace.SpanFromContext(resp.Request.Context()).IsRecording(), "%s", s.name)
			continue
		}
		spans := rec.Ended()
		// (Whether http.wait is there is a race of the upload's
		// WroteRequest with the response: docs/spans.md.)
		want, got := chainNoWait(chainShape(spans, chainSpanID(ref))), chainNoWait(chainShape(spans, chainSpanID(resp)))
		assert.Equal(t, want, got, "%s: the chain records what a per-request install does", s.name)
		if s.dial {
			assert.Contains(t, got, names.SpanConnect, "%s", s.name)
		}
		if s.expect {
			assert.Contains(t, got, names.EventGot100, "%s", s.name)
		}
		assert.Contains(t, got, "http.request.header.user-agent", "%s: WroteHeaderField", s.name)
	}
	ends.AssertAllEnded(t)
}

type chainKey struct{ name string }

// TestPooledChainCallersValuesReachNetHTTP: what the caller put in its context
// is what net/http's Proxy func and a custom DialContext find in theirs,
// with the caller's deadline, whether the request is sent with the state's
// chain or composed over a trace of the caller's; values of types that
// cannot be compared (a slice, a map, a func) too. A dial that outlives
// its canceled request still finds the caller's values after the round
// trip returned, and no hook of the request but under
// WithConnectionSpans, whose hooks stay; a caller's trace is then the
// caller's own.
func TestPooledChainCallersValuesReachNetHTTP(t *testing.T) {
	for _, connSpans := range []bool{false, true} {
		for _, callerTrace := range []bool{false, true} {
			t.Run(fmt.Sprintf("connspans=%v/callertrace=%v", connSpans, callerTrace), func(t *testing.T) {
				testChainCallersValues(t, connSpans, callerTrace)
			})
		}
	}
}

func testChainCallersValues(t *testing.T, connSpans, callerTrace bool) {
	t.Helper()
	tp, _, ends := chainTracing()
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)

	type seen struct {
		str      any
		slice    any
		m        any
		fn       any
		deadline time.Time
		hasDL    bool
		ht       *httptrace.ClientTrace
	}
	look := func(ctx context.Context) seen {
		dl, ok := ctx.Deadline()
		f, _ := ctx.Value(chainKey{"fn"}).(func() int)
		var fn any
		if f != nil {
			fn = f()
		}
		return seen{
			str: ctx.Value(chainKey{"str"}), slice: ctx.Value(chainKey{"slice"}), m: ctx.Value(chainKey{"map"}),
			fn: fn, deadline: dl, hasDL: ok, ht: httptrace.ContextClientTrace(ctx),
		}
	}
	var mu sync.Mutex
	var proxied, dialed []seen
	block := make(chan struct{})
	dialing := make(chan struct{}, 1)
	late := make(chan seen, 1)
	base := &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			mu.Lock()
			proxied = append(proxied, look(req.Context()))
			mu.Unlock()
			return nil, nil
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if ctx.Value(chainKey{"block"}) != nil {
				dialing <- struct{}{}
				<-block
				late <- look(ctx)
			} else {
				mu.Lock()
				dialed = append(dialed, look(ctx))
				mu.Unlock()
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(base.CloseIdleConnections)
	opts := []Option{WithTracerProvider(tp), WithoutMetrics()}
	if connSpans {
		opts = append(opts, WithConnectionSpans())
	}
	rt := NewTransport(base, opts...)
	t.Cleanup(rt.(interface{ CloseIdleConnections() }).CloseIdleConnections)

	deadline := time.Now().Add(time.Hour)
	callers := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {}}
	caller := func(block bool) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		ctx = context.WithValue(ctx, chainKey{"str"}, "s")
		ctx = context.WithValue(ctx, chainKey{"slice"}, []string{"a"})
		ctx = context.WithValue(ctx, chainKey{"map"}, map[string]int{"a": 1})
		ctx = context.WithValue(ctx, chainKey{"fn"}, func() int { return 7 })
		if block {
			ctx = context.WithValue(ctx, chainKey{"block"}, true)
		}
		if callerTrace {
			ctx = httptrace.WithClientTrace(ctx, callers)
		}
		return ctx, cancel
	}
	check := func(what string, s seen, wantDeadline bool) {
		t.Helper()
		assert.Equal(t, "s", s.str, what)
		assert.Equal(t, []string{"a"}, s.slice, what)
		assert.Equal(t, map[string]int{"a": 1}, s.m, what)
		assert.Equal(t, 7, s.fn, what)
		if wantDeadline {
			assert.True(t, s.hasDL && s.deadline.Equal(deadline), "%s: the caller's deadline", what)
		}
	}

	// Two requests: the first dials, the second finds the connection idle
	// (its state may go back to the pool, and the third may get it).
	for i := range 3 {
		ctx, cancel := caller(false)
		resp := doRead(t, ctx, rt, get(t, srv.URL))
		kept := resp.Request.Context()
		check(fmt.Sprintf("request %d: resp.Request.Context()", i), look(kept), true)
		assert.Equal(t, ctx.Done(), kept.Done(), "request %d: the caller's Done", i)
		cancel()
		require.ErrorIs(t, kept.Err(), context.Canceled, "request %d: the caller's cancellation", i)
	}
	mu.Lock()
	// net/http asks Proxy once a request; WithConnectionSpans asks it
	// too, with the caller's request (csHandshakes), for each dial.
	hooked := 0
	for i, s := range proxied {
		check(fmt.Sprintf("Proxy call %d", i), s, true)
		if s.ht != nil && s.ht != callers {
			hooked++
		}
	}
	assert.Equal(t, 3, hooked, "net/http's Proxy call of each request, with its hooks")
	if !connSpans {
		assert.Len(t, proxied, 3)
	}
	require.Len(t, dialed, 1)
	check("DialContext", dialed[0], false)
	assert.NotNil(t, dialed[0].ht, "DialContext: the request's hooks, during its round trip")
	mu.Unlock()

	// A dial that outlives its request: canceled while it dials, the
	// round trip returns; then the dial goes on and looks.
	base.CloseIdleConnections()
	ctx, cancel := caller(true)
	errc := make(chan error, 1)
	req := get(t, srv.URL).WithContext(ctx)
	go func() {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	select {
	case <-dialing:
	case <-time.After(10 * time.Second):
		t.Fatal("no dial")
	}
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the canceled round trip did not return")
	}
	close(block)
	var s seen
	select {
	case s = <-late:
	case <-time.After(10 * time.Second):
		t.Fatal("the dial did not go on")
	}
	check("a dial after its round trip returned", s, false)
	switch {
	case connSpans:
		assert.NotNil(t, s.ht, "under WithConnectionSpans the hooks stay")
	case callerTrace:
		assert.Same(t, callers, s.ht, "after the round trip, the caller's own trace")
	default:
		assert.Nil(t, s.ht, "after the round trip, no hook of the request")
	}
	rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	ends.AwaitAllEnded(t, 10*time.Second)
}

// TestPooledChainCallersCancellationThroughTheSentContext: the caller's
// deadline ends a round trip; a cancellation with a cause during the body
// ends it and is what context.Cause of resp.Request.Context() reports;
// context.AfterFunc, WithCancel and Cause on resp.Request.Context() follow
// the caller's context, and, the context package's own lookups, keep no
// state from the pool, under WithConnectionSpans too.
func TestPooledChainCallersCancellationThroughTheSentContext(t *testing.T) {
	for _, m := range []testnet.Mode{testnet.HTTP1, testnet.HTTP2} {
		for _, connSpans := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/connspans=%v", m, connSpans), func(t *testing.T) {
				testChainCancellation(t, m, connSpans)
			})
		}
	}
}

func testChainCancellation(t *testing.T, m testnet.Mode, connSpans bool) {
	t.Helper()
	tp, _, ends := chainTracing()
	stop := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		case "/part":
			_, _ = io.WriteString(w, "part")
			_ = http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	srv, base := testnet.NewModeServer(t, m, handler, nil)
	t.Cleanup(func() { close(stop) }) // before the server closes (cleanups run last first)
	require.NoError(t, roundTripRead(context.Background(), base, srv.URL))
	opts := []Option{WithTracerProvider(tp), WithoutMetrics()}
	if connSpans {
		opts = append(opts, WithConnectionSpans())
	}
	rt := NewTransport(base, opts...)
	fixed, releases := chainPin(t, rt)

	// The caller's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := rt.RoundTrip(get(t, srv.URL+"/hang").WithContext(ctx))
	cancel()
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A completed request; the context package's own lookups in its
	// context before its body ends.
	cctx, ccancel := context.WithCancelCause(context.Background())
	resp, err := rt.RoundTrip(get(t, srv.URL).WithContext(cctx))
	require.NoError(t, err)
	p, _ := sentState(resp)
	require.NotNil(t, p)
	kept := resp.Request.Context()
	fired := make(chan struct{})
	stopAfter := context.AfterFunc(kept, func() { close(fired) })
	t.Cleanup(func() { stopAfter() })
	derived, dcancel := context.WithCancel(kept)
	defer dcancel()
	require.NoError(t, context.Cause(kept))
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	if p == fixed {
		// The state was free when the request came (the deadline's kept
		// it, or not): it must go back, these lookups made it no leak.
		awaitRelease(t, releases, fixed)
	}
	assert.False(t, sentLeaked(resp), "the context package's lookups do not mark the state leaked")
	cause := errors.New("the caller's cause")
	ccancel(cause)
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("AfterFunc on resp.Request.Context() did not run")
	}
	select {
	case <-derived.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a context derived from resp.Request.Context() was not canceled")
	}
	assert.Same(t, cause, context.Cause(kept))
	assert.Same(t, cause, context.Cause(derived))
	_, err = rt.RoundTrip(get(t, srv.URL).WithContext(derived))
	assert.True(t, errors.Is(err, cause) || errors.Is(err, context.Canceled), "a request sent with the derived context fails: %v", err)

	// Canceled with a cause while the body is read.
	cctx, ccancel = context.WithCancelCause(context.Background())
	resp, err = rt.RoundTrip(get(t, srv.URL+"/part").WithContext(cctx))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	cause = errors.New("stop reading")
	ccancel(cause)
	_, err = io.Copy(io.Discard, resp.Body)
	require.Error(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Same(t, cause, context.Cause(resp.Request.Context()))

	rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	ends.AwaitAllEnded(t, 10*time.Second)
	assert.Empty(t, ends.EndedTwice())
}

// TestPooledChainKeptContextResentOnTheSameState: a request sent with the
// context of an earlier response (resp.Request.Context()), once the
// earlier one's state went back, gets that same state, and its chain: it
// records its own phases, under the earlier request's span as its parent,
// and adds nothing to the earlier request's spans; the kept context keeps
// the caller's values. Then one sent with its context while its body is
// still open records its own phases too, on another state.
func TestPooledChainKeptContextResentOnTheSameState(t *testing.T) {
	for _, m := range []testnet.Mode{testnet.HTTP1, testnet.HTTP2} {
		for _, connSpans := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/connspans=%v", m, connSpans), func(t *testing.T) {
				tp, rec, ends := chainTracing()
				srv, base := testnet.NewModeServer(t, m, http.HandlerFunc(testnet.OK), nil)
				require.NoError(t, roundTripRead(context.Background(), base, srv.URL))
				opts := []Option{WithTracerProvider(tp), WithoutMetrics()}
				if connSpans {
					opts = append(opts, WithConnectionSpans())
				}
				rt := NewTransport(base, opts...)
				fixed, releases := chainPin(t, rt)

				ctx := context.WithValue(context.Background(), chainKey{"str"}, "a")
				respA := doRead(t, ctx, rt, get(t, srv.URL))
				pA, _ := sentState(respA)
				require.Same(t, fixed, pA)
				awaitRelease(t, releases, fixed)
				idA := chainSpanID(respA)
				phasesA := chainChildren(rec.Ended(), idA)
				require.NotEmpty(t, phasesA)
				kA := respA.Request.Context()

				respB, err := rt.RoundTrip(get(t, srv.URL).WithContext(kA))
				require.NoError(t, err)
				pB, _ := sentState(respB)
				require.Same(t, fixed, pB, "B gets A's state")
				// B's own lookups in A's context (under
				// WithConnectionSpans, where A's context keeps its hooks:
				// max1xxHeaderBytes, installed) took no hook, since A's
				// state carries B now: they mark A's request, not B's.
				assert.False(t, sentLeaked(respB), "B's state is not kept from the pool by B's own lookups")
				assert.Same(t, respA.Request.Context().(*sentCtx).hooks, respB.Request.Context().(*sentCtx).hooks, "and its chain")
				kB := respB.Request.Context()
				assert.Equal(t, "a", kB.Value(chainKey{"str"}))
				assert.Nil(t, httptrace.ContextClientTrace(kA), "A's context answers as A's caller's")

				// C, sent with B's context while B's body is open. (Under
				// WithConnectionSpans C takes B's hooks, as documented: not
				// sent there.)
				var respC *http.Response
				if !connSpans {
					respC = doRead(t, kB, rt, get(t, srv.URL))
					pC, _ := sentState(respC)
					assert.NotSame(t, fixed, pC, "C gets another state: B's is busy")
				}
				_, err = io.Copy(io.Discard, respB.Body)
				require.NoError(t, err)
				require.NoError(t, respB.Body.Close())
				if !connSpans {
					awaitRelease(t, releases, fixed)
				} // else the lookups in kB above, after B's round trip returned, keep B's state

				spans := rec.Ended()
				byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
				for _, s := range spans {
					byID[s.SpanContext().SpanID()] = s
				}
				idB := chainSpanID(respB)
				require.Contains(t, byID, idB)
				assert.Equal(t, idA, byID[idB].Parent().SpanID(), "B is under A's span")
				reqName := byID[idB].Name()
				phases := func(id trace.SpanID) (own []string, requests int) {
					for _, n := range chainChildren(spans, id) {
						if n == reqName {
							requests++
						} else {
							own = append(own, n)
						}
					}
					return own, requests
				}
				own, reqs := phases(idA)
				assert.Equal(t, phasesA, own, "A's phases: nothing of B's")
				assert.Equal(t, 1, reqs, "under A: B's request span")
				ownB, reqsB := phases(idB)
				if connSpans {
					assert.Equal(t, 1, slices.Index(ownB, names.SpanSend)-slices.Index(ownB, names.SpanReceive), "B: one http.send, after one http.receive: %v", ownB)
					assert.Equal(t, 0, reqsB)
				} else {
					chainOwnPhases(t, ownB, "B's own phases")
					assert.Equal(t, 1, reqsB, "under B: C's request span")
					idC := chainSpanID(respC)
					require.Contains(t, byID, idC)
					assert.Equal(t, idB, byID[idC].Parent().SpanID(), "C is under B's span")
					ownC, reqsC := phases(idC)
					chainOwnPhases(t, ownC, "C's own phases")
					assert.Equal(t, 0, reqsC)
				}
				ends.AssertAllEnded(t)
				assert.Empty(t, ends.EndedTwice())
			})
		}
	}
}

// TestPooledChainNoBodyHandsTheStateBackInsideTheRoundTrip: a response that
// net/http gives http.NoBody (HEAD, 204, Content-Length: 0) reports
// BodyDone before the round trip returns, so the state may go back, and
// carry another request, before the caller gets the response: the
// response's context then answers as the caller's, with no hook, and the
// next request on the state records only its own phases. Then, under
// load, through the real pool, with a caller's trace on half of them and
// each one's context re-sent at once.
func TestPooledChainNoBodyHandsTheStateBackInsideTheRoundTrip(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/empty":
			w.Header().Set("Content-Length", "0")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	for _, m := range []testnet.Mode{testnet.HTTP1, testnet.HTTP2} {
		t.Run(string(m), func(t *testing.T) {
			tp, rec, ends := chainTracing()
			srv, base := testnet.NewModeServer(t, m, handler, nil)
			require.NoError(t, roundTripRead(context.Background(), base, srv.URL))
			rt := NewTransport(base, WithTracerProvider(tp), WithoutMetrics())
			fixed, releases := chainPin(t, rt)
			ctx := context.WithValue(context.Background(), chainKey{"str"}, "v")
			for _, target := range []struct{ method, path string }{{http.MethodHead, "/"}, {http.MethodGet, "/204"}, {http.MethodGet, "/empty"}, {http.MethodGet, "/"}} {
				req, err := http.NewRequestWithContext(ctx, target.method, srv.URL+target.path, nil)
				require.NoError(t, err)
				resp, err := rt.RoundTrip(req)
				require.NoError(t, err)
				p, released := sentState(resp)
				require.Same(t, fixed, p, "%s %s", target.method, target.path)
				if target.path != "/" || target.method == http.MethodHead {
					if m == testnet.HTTP1 { // (HTTP/2 has a body of its own for none)
						assert.Equal(t, http.NoBody, resp.Body, "%s %s: net/http's NoBody", target.method, target.path)
						assert.True(t, released, "%s %s: back before the round trip returned", target.method, target.path)
					}
				}
				kept := resp.Request.Context()
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())
				awaitRelease(t, releases, fixed)
				assert.Nil(t, httptrace.ContextClientTrace(kept), "%s %s: no hook in the response's context", target.method, target.path)
				assert.Equal(t, "v", kept.Value(chainKey{"str"}))
				chainOwnPhases(t, chainChildren(rec.Ended(), chainSpanID(resp)), "%s %s: its own phases", target.method, target.path)
			}
			ends.AssertAllEnded(t)
		})
		t.Run(string(m)+"/load", func(t *testing.T) {
			tp, rec, ends := chainTracing()
			srv, base := testnet.NewModeServer(t, m, handler, nil)
			base.MaxIdleConnsPerHost = 16
			rt := NewTransport(base, WithTracerProvider(tp), WithoutMetrics())
			const workers, each = 12, 25
			var mu sync.Mutex
			var ids []trace.SpanID
			var traced []*chainCounts
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					kept := context.Background()
					for i := range each {
						// A request with a trace of the caller's is sent
						// with a context of its own: a kept context keeps
						// the caller's trace in it.
						ctx := kept
						var c *chainCounts
						if (w+i)%2 == 0 {
							c = newChainCounts()
							ctx = httptrace.WithClientTrace(context.Background(), c.httptrace())
						}
						method, path := http.MethodGet, []string{"/", "/204", "/empty"}[i%3]
						if i%4 == 3 {
							method = http.MethodHead
						}
						req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
						if err != nil {
							errs <- err
							return
						}
						resp, err := rt.RoundTrip(req)
						if err != nil {
							errs <- err
							return
						}
						if c == nil {
							kept = resp.Request.Context() // re-sent with at once, the body still open
						}
						id := chainSpanID(resp)
						_, err = io.Copy(io.Discard, resp.Body)
						if err = errors.Join(err, resp.Body.Close()); err != nil {
							errs <- err
							return
						}
						mu.Lock()
						ids = append(ids, id)
						if c != nil {
							traced = append(traced, c)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for _, c := range traced {
				c.awaitWrote(t)
			}
			ends.AwaitAllEnded(t, 10*time.Second)
			spans := rec.Ended()
			for _, id := range ids {
				// Without the spans of the requests sent with its context.
				kids := slices.DeleteFunc(chainChildren(spans, id), func(n string) bool { return n == http.MethodGet || n == http.MethodHead })
				chainOwnPhases(t, kids, "each request's own phases")
			}
			for _, c := range traced {
				if m == testnet.HTTP2 {
					// net/http's HTTP/2 pool asks again on the path that may dial.
					assert.Contains(t, []int32{1, 2}, c.getConn.Load())
				} else {
					assert.Equal(t, int32(1), c.getConn.Load())
				}
				assert.Equal(t, int32(1), c.gotConn.Load())
				assert.Equal(t, int32(1), c.firstByte.Load())
				assert.Equal(t, int32(1), c.wrote.Load())
			}
			assert.Empty(t, ends.EndedTwice())
		})
	}
}

// TestPooledChainGotConnSettlesTheDialAfterItsOwnPhases: on a new connection,
// GotConn ends http.getconn and starts http.send first, then ends the
// dial's http.connect at its ConnectDone, as the winner, under
// http.getconn; as events (which end the dial at ConnectDone itself) the
// connect.done event is there, no later than http.getconn.done.
func TestPooledChainGotConnSettlesTheDialAfterItsOwnPhases(t *testing.T) {
	for _, events := range []bool{false, true} {
		t.Run(fmt.Sprintf("events=%v", events), func(t *testing.T) {
			tp, rec, ends := chainTracing()
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			t.Cleanup(srv.Close)
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			opts := []Option{WithTracerProvider(tp), WithoutMetrics()}
			if events {
				opts = append(opts, WithoutSubSpans())
			}
			rt := NewTransport(base, opts...)
			for i := range 3 {
				base.CloseIdleConnections()
				resp := doRead(t, context.Background(), rt, get(t, srv.URL))
				id := chainSpanID(resp)
				spans := rec.Ended()
				if events {
					var req sdktrace.ReadOnlySpan
					for _, s := range spans {
						if s.SpanContext().SpanID() == id {
							req = s
						}
					}
					require.NotNil(t, req)
					var done, getconnDone *sdktrace.Event
					for j, e := range req.Events() {
						switch e.Name {
						case names.EventConnectDone:
							done = &req.Events()[j]
						case names.EventGetConnDone:
							getconnDone = &req.Events()[j]
						}
					}
					require.NotNil(t, done, "request %d", i)
					require.NotNil(t, getconnDone, "request %d", i)
					assert.False(t, done.Time.After(getconnDone.Time), "request %d: the dial ended first", i)
					continue
				}
				var getconn, connect, send sdktrace.ReadOnlySpan
				for _, s := range spans {
					if s.Parent().SpanID() == id {
						switch s.Name() {
						case names.SpanGetConn:
							getconn = s
						case names.SpanSend:
							send = s
						}
					}
				}
				require.NotNil(t, getconn, "request %d", i)
				require.NotNil(t, send, "request %d", i)
				for _, s := range spans {
					if s.Name() == names.SpanConnect && s.Parent().SpanID() == getconn.SpanContext().SpanID() {
						connect = s
					}
				}
				require.NotNil(t, connect, "request %d: http.connect under http.getconn", i)
				assert.Contains(t, connect.Attributes(), attribute.Bool(names.AttrConnectWinner, true), "request %d", i)
				assert.False(t, connect.EndTime().After(getconn.EndTime()), "request %d: the dial ended within the wait", i)
				assert.False(t, getconn.EndTime().After(send.StartTime()), "request %d: http.send starts once http.getconn ended", i)
			}
			ends.AssertAllEnded(t)
		})
	}
}
