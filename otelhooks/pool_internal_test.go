package otelhooks

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// sentState returns the pooled state resp's request was sent with, and
// whether that state went back to its pool after the request; nil if the
// request had no pooled state.
func sentState(resp *http.Response) (p *pooledRequest, released bool) {
	c, ok := resp.Request.Context().(*sentCtx)
	if !ok || c.p == nil {
		return nil, false
	}
	return c.p, c.p.gen.Load() != c.gen
}

// sentLeaked reports whether the state resp's request was sent with is
// marked leaked for that request (pool.go).
func sentLeaked(resp *http.Response) bool {
	c := resp.Request.Context().(*sentCtx)
	return c.p.leaked(c.gen)
}

// doRead sends a GET (or what newReq makes) through rt, reads the body to
// the end and closes it.
func doRead(t *testing.T, ctx context.Context, rt http.RoundTripper, req *http.Request) *http.Response {
	t.Helper()
	resp, err := rt.RoundTrip(req.WithContext(ctx))
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp
}

// roundTripRead sends a GET to target through rt with ctx, reads the body to
// the end and closes it.
func roundTripRead(ctx context.Context, rt http.RoundTripper, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return errors.Join(err, resp.Body.Close())
}

func get(t *testing.T, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	require.NoError(t, err)
	return req
}

// watchReleases returns a channel that receives each state handed back to
// a pool until the test ends.
func watchReleases(t *testing.T) <-chan *pooledRequest {
	t.Helper()
	ch := make(chan *pooledRequest, 64)
	f := func(p *pooledRequest) {
		select {
		case ch <- p:
		default:
		}
	}
	testHookReleased.Store(&f)
	t.Cleanup(func() { testHookReleased.Store(nil) })
	return ch
}

// awaitRelease waits until p is handed back to its pool.
func awaitRelease(t *testing.T, releases <-chan *pooledRequest, p *pooledRequest) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case q := <-releases:
			if q == p {
				return
			}
		case <-timeout:
			t.Fatal("the state was not handed back to the pool")
		}
	}
}

// TestPoolReusesOnlyFinishedStates pins pool.go's rules: a request's state
// goes back to the pool only when no hook of the request can come any more.
func TestPoolReusesOnlyFinishedStates(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spantest.Discard{}))
	ctx := context.Background()

	t.Run("HTTP/1 keep-alive: the request that dialed, its dial over, and the next one on the idle connection give their state back", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
		t.Cleanup(srv.Close)
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		rt := NewTransport(base, WithTracerProvider(tp))

		p1, released := sentState(doRead(t, ctx, rt, get(t, srv.URL)))
		require.NotNil(t, p1)
		assert.True(t, released, "net/http's own dial to an address, over")
		p2, released := sentState(doRead(t, ctx, rt, get(t, srv.URL)))
		require.NotNil(t, p2)
		assert.True(t, released, "an idle connection: nothing more can come")
		if !raceEnabled { // the race detector's sync.Pool drops items at random
			assert.Same(t, p1, p2, "the state given back carries the next request")
		}
	})

	t.Run("HTTP/2: a stream on a reused connection gives its state back", func(t *testing.T) {
		srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), true)
		rt := NewTransport(base, WithTracerProvider(tp))
		resp := doRead(t, ctx, rt, get(t, srv.URL))
		require.Equal(t, 2, resp.ProtoMajor)
		_, released := sentState(resp)
		assert.False(t, released)
		// The stream's WroteRequest may come after its body was read: the
		// state is handed back then.
		releases := watchReleases(t)
		for range 3 {
			resp = doRead(t, ctx, rt, get(t, srv.URL))
			require.Equal(t, 2, resp.ProtoMajor)
			p, released := sentState(resp)
			require.NotNil(t, p)
			if !released {
				awaitRelease(t, releases, p)
			}
		}
	})

	t.Run("WithConnectionSpans: the request that dialed keeps its state, the next one on the idle connection gives it back", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
		t.Cleanup(srv.Close)
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		rt := NewTransport(base, WithTracerProvider(tp), WithConnectionSpans())
		p, released := sentState(doRead(t, ctx, rt, get(t, srv.URL)))
		require.NotNil(t, p)
		assert.False(t, released, "the dial reports to its setup, which outlives the request")
		p, released = sentState(doRead(t, ctx, rt, get(t, srv.URL)))
		require.NotNil(t, p)
		assert.True(t, released)
	})

	t.Run("unsampled and metered: the metrics' state is given back too", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
		t.Cleanup(srv.Close)
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
		rt := NewTransport(base, WithTracerProvider(unsampled), WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))))
		doRead(t, ctx, rt, get(t, srv.URL))
		p, released := sentState(doRead(t, ctx, rt, get(t, srv.URL)))
		require.NotNil(t, p)
		assert.True(t, released)
	})

	t.Run("an upload answered before it was written keeps its state until WroteRequest came", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.Header().Set("Connection", "close")
			}
			_, _ = io.WriteString(w, "early")
		}))
		t.Cleanup(srv.Close)
		base := &http.Transport{}
		t.Cleanup(base.CloseIdleConnections)
		rt := NewTransport(base, WithTracerProvider(tp))
		doRead(t, ctx, rt, get(t, srv.URL)) // the idle connection

		pr, pw := io.Pipe()
		t.Cleanup(func() { _ = pw.Close() })
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, pr)
		require.NoError(t, err)
		releases := watchReleases(t)
		resp := doRead(t, ctx, rt, req)
		p, released := sentState(resp)
		require.NotNil(t, p)
		assert.False(t, released, "the body is still being written")
		// The write ends (here failing: the server closed the
		// connection), and its WroteRequest hands the state back.
		require.NoError(t, pw.Close())
		awaitRelease(t, releases, p)
	})

	closing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Connection", "close") })
	unsampledTP := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	meteredMP := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	for _, tc := range []struct {
		name     string
		serve    func(t *testing.T) (string, *http.Transport)
		released bool
	}{
		{"net/http's own dial to an address, over: given back", func(t *testing.T) (string, *http.Transport) {
			t.Helper()
			srv := httptest.NewServer(closing)
			t.Cleanup(srv.Close)
			return srv.URL, &http.Transport{}
		}, true},
		{"the same over TLS, the handshake its last step: given back", func(t *testing.T) (string, *http.Transport) {
			t.Helper()
			srv, tr := testnet.NewTLSServer(t, closing, false)
			return srv.URL, tr
		}, true},
		{"a dial through a proxy: kept", func(t *testing.T) (string, *http.Transport) {
			t.Helper()
			srv := httptest.NewServer(closing)
			t.Cleanup(srv.Close)
			proxy := testnet.NewProxy(t)
			return srv.URL, &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxy.Addr()})}
		}, false},
		{"a dial of the caller's dialer: kept", func(t *testing.T) (string, *http.Transport) {
			t.Helper()
			srv := httptest.NewServer(closing)
			t.Cleanup(srv.Close)
			return srv.URL, &http.Transport{DialContext: (&net.Dialer{}).DialContext}
		}, false},
	} {
		for _, mode := range []struct {
			name string
			opts []Option
		}{
			{"sampled", []Option{WithTracerProvider(tp)}},
			// Only metered: the dial hooks are installed for net/http's
			// own dials, to tell when they are over (pool.go, hooks).
			{"metrics only", []Option{WithTracerProvider(unsampledTP), WithMeterProvider(meteredMP)}},
		} {
			t.Run("a connection the server closes, every request dials: "+mode.name+": "+tc.name, func(t *testing.T) {
				target, base := tc.serve(t)
				t.Cleanup(base.CloseIdleConnections)
				rt := NewTransport(base, mode.opts...)
				releases := watchReleases(t)
				for range 3 {
					p, released := sentState(doRead(t, ctx, rt, get(t, target)))
					require.NotNil(t, p)
					switch {
					case !tc.released:
						assert.False(t, released)
					case !released:
						// net/http does not wait for the write of a request
						// whose connection closes: WroteRequest may come
						// after the body's end, and hands the state back.
						awaitRelease(t, releases, p)
					}
				}
			})
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name string
		rt   func(*http.Transport) http.RoundTripper
	}{
		{"the caller's hooks (WithClientTrace)", func(b *http.Transport) http.RoundTripper {
			return NewTransport(b, WithTracerProvider(tp), WithClientTrace(func(context.Context) *clienttrace.ClientTrace {
				return &clienttrace.ClientTrace{GotConn: func(clienttrace.GotConnInfo) {}}
			}))
		}},
		{"a base that is not an *http.Transport", func(b *http.Transport) http.RoundTripper {
			return NewTransport(struct{ http.RoundTripper }{b}, WithTracerProvider(tp))
		}},
		{"DisableKeepAlives, with a dialer of the caller's", func(b *http.Transport) http.RoundTripper {
			b.DisableKeepAlives = true
			b.DialContext = (&net.Dialer{}).DialContext
			return NewTransport(b, WithTracerProvider(tp))
		}},
	} {
		t.Run("no pool: "+tc.name, func(t *testing.T) {
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			rt := tc.rt(base)
			for range 2 {
				p, _ := sentState(doRead(t, ctx, rt, get(t, srv.URL)))
				assert.Nil(t, p)
			}
		})
	}
}

// TestPooledStateContextOutlivesTheRequest pins sentCtx: the context a
// request was sent with, kept after its state went back to the pool, is
// the caller's context with the request span, without the request's hooks,
// and sending other requests with it, while the state carries another
// request, records each request's own spans.
func TestPooledStateContextOutlivesTheRequest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	ends := spantest.NewEndChecker()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(ends))
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	rt := NewTransport(base, WithTracerProvider(tp))
	ctx := context.Background()
	doRead(t, ctx, rt, get(t, srv.URL)) // the idle connection

	resp := doRead(t, ctx, rt, get(t, srv.URL))
	_, released := sentState(resp)
	require.True(t, released)
	kept := resp.Request.Context()
	assert.Nil(t, httptrace.ContextClientTrace(kept), "the request's net/http hooks")
	assert.Nil(t, clienttrace.ContextClientTrace(kept), "the request's hooks")
	assert.Nil(t, proxyCtxOf(kept))
	span := trace.SpanFromContext(kept)
	require.True(t, span.SpanContext().IsValid(), "the request span stays in the context")
	assert.Equal(t, "GET", span.(sdktrace.ReadOnlySpan).Name())

	// The kept context, sent again through the same transport and through
	// the bare one, beside fresh requests that reuse the state.
	before := len(rec.Ended())
	var wg sync.WaitGroup
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ctx
			if i%2 == 0 {
				c = kept
			}
			r := rt
			if i%4 == 0 {
				r = base
			}
			errs <- roundTripRead(c, r, srv.URL)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	ends.AssertAllEnded(t)

	spans := rec.Ended()[before:]
	parents := map[trace.SpanID]trace.SpanID{}
	phases := map[trace.SpanID][]string{} // request span: its phases
	for _, s := range spans {
		parents[s.SpanContext().SpanID()] = s.Parent().SpanID()
		if s.Name() == "GET" {
			phases[s.SpanContext().SpanID()] = nil
		}
	}
	// The bare transport's requests record nothing: no hook of ours was
	// left in the kept context.
	require.Len(t, phases, n-n/4)
	for _, s := range spans {
		if s.Name() == "GET" {
			continue
		}
		// Every phase is under a request of this round.
		up := s.Parent().SpanID()
		for range 4 {
			if _, ok := phases[up]; ok {
				break
			}
			up = parents[up]
		}
		_, ok := phases[up]
		require.True(t, ok, "%s is under a request of this round", s.Name())
		if up == s.Parent().SpanID() {
			phases[up] = append(phases[up], s.Name())
		}
	}
	for id, names := range phases {
		assert.ElementsMatch(t, []string{"http.getconn", "http.send", "http.wait", "http.receive"}, names, "request %v", id)
	}
}

// TestPooledHooksMatchNewRequest pins pooledRequest.hooks: a pooled state
// installs the same hooks newRequest binds, for each kind of request, both
// when it binds them for the first time and when it has them all bound.
func TestPooledHooksMatchNewRequest(t *testing.T) {
	sampled := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spantest.Discard{}))
	full := newPooledRequest(nil)
	for _, tc := range []struct {
		name   string
		url    string
		expect string
		proxy  bool
		opts   []Option
		noSpan bool // unsampled: only the metrics' hooks
	}{
		{name: "http to an address", url: "http://127.0.0.1:1/"},
		{name: "http to a name", url: "http://localhost:1/"},
		{name: "https", url: "https://localhost:1/"},
		{name: "100-continue", url: "http://127.0.0.1:1/", expect: "100-continue"},
		{name: "through a proxy", url: "http://127.0.0.1:1/", proxy: true},
		{name: "request headers", url: "https://localhost:1/", opts: []Option{WithRequestHeaders("User-Agent")}},
		{name: "unsampled", url: "http://localhost:1/", noSpan: true},
		{name: "unsampled https", url: "https://localhost:1/", noSpan: true},
		{name: "unsampled through a proxy", url: "http://localhost:1/", proxy: true, noSpan: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := &http.Transport{}
			if tc.proxy {
				base.Proxy = http.ProxyFromEnvironment
			}
			tr := NewTransport(base, append([]Option{WithTracerProvider(sampled)}, tc.opts...)...).(*transport)
			req := get(t, tc.url)
			if tc.expect != "" {
				req.Header.Set("Expect", tc.expect)
			}
			var span trace.Span
			if !tc.noSpan {
				_, span = sampled.Tracer("test").Start(context.Background(), "GET")
				t.Cleanup(func() { span.End() })
			}
			wantTrace := newRequest(context.Background(), tr.cfg, nil, span, span != nil, req, tr).trace
			if span == nil && tr.plainDial {
				// Pooled, a request that only meters has the dial hooks
				// too, to tell when a dial of net/http's is over (hooks).
				wantTrace.ConnectStart, wantTrace.ConnectDone = func(string, string) {}, func(string, string, error) {}
				if req.URL.Scheme == "https" {
					wantTrace.TLSHandshakeStart, wantTrace.TLSHandshakeDone = func() {}, func(tls.ConnectionState, error) {}
				}
			}
			want := hookNames(&wantTrace)
			fresh := newPooledRequest(nil)
			fresh.r.init(context.Background(), tr.cfg, nil, span, span != nil, req, tr, fresh)
			assert.Equal(t, want, hookNames(&fresh.r.trace), "binding for the first time")
			full.r.init(context.Background(), tr.cfg, nil, span, span != nil, req, tr, full)
			assert.Equal(t, want, hookNames(&full.r.trace), "from hooks already bound")

			// What net/http finds in the context the request is sent
			// with: the hooks installed once for the state (chain), as
			// installing them for this request alone would give.
			perRequest := httptrace.ContextClientTrace(clienttrace.WithClientTrace(context.Background(), &full.r.trace))
			sent := full.context(context.Background(), tr.direct)
			assert.Equal(t, hookNames(perRequest), hookNames(httptrace.ContextClientTrace(sent)), "the state's installed hooks")
			again := full.context(context.Background(), tr.direct)
			assert.Same(t, sent.hooks, again.hooks, "a second request with the same hooks is sent with the same install")
		})
	}
	assert.Len(t, hookNames(&full.bound), 18, "every hook was bound once")
}

// TestPooledStateComposesWithTheCallersTrace: a request whose context
// carries a trace of the caller's gets the state's hooks installed over it,
// composed, and the next request, without it, does not call the caller's
// hooks, on the same state.
func TestPooledStateComposesWithTheCallersTrace(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	rt := NewTransport(base, WithTracerProvider(tp))
	releases := watchReleases(t)

	var gotConns, firstBytes int
	callers := &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { gotConns++ },
		GotFirstResponseByte: func() { firstBytes++ },
	}
	plain := context.Background()
	traced := httptrace.WithClientTrace(plain, callers)

	// (The race detector's sync.Pool drops states at random, so which
	// state a request gets is not asserted here; below, one state is.)
	for i, ctx := range []context.Context{plain, traced, plain, traced} {
		p, _ := sentState(doRead(t, ctx, rt, get(t, srv.URL)))
		require.NotNil(t, p, "request %d: pooled", i+1)
		awaitRelease(t, releases, p)
	}
	assert.Equal(t, 2, gotConns, "the caller's GotConn, once per request that carried it")
	assert.Equal(t, 2, firstBytes, "the caller's GotFirstResponseByte, once per request that carried it")

	spans := sr.Ended()
	var getconns, waits int
	for _, s := range spans {
		switch s.Name() {
		case "http.getconn":
			getconns++
		case "http.wait":
			waits++
		}
	}
	assert.Equal(t, 4, getconns, "each request's own phases, with or without the caller's trace")
	assert.Equal(t, 4, waits)

	// One state, the caller's trace on its second request only.
	tr := rt.(*transport)
	p := newPooledRequest(nil)
	req := get(t, srv.URL)
	p.r.init(plain, tr.cfg, nil, nil, false, req, tr, p)
	chain := p.context(plain, tr.direct).hooks
	p.r.init(traced, tr.cfg, nil, nil, false, req, tr, p)
	composed := p.context(traced, tr.direct)
	assert.NotSame(t, chain, composed.hooks, "installed over the caller's trace, not the state's chain")
	before := gotConns
	httptrace.ContextClientTrace(composed).GotConn(httptrace.GotConnInfo{})
	assert.Equal(t, before+1, gotConns, "the caller's hook, composed with the state's")
	p.r.init(plain, tr.cfg, nil, nil, false, req, tr, p)
	assert.Same(t, chain, p.context(plain, tr.direct).hooks, "the chain again, for a request without")
}

// hookNames returns the names of the hooks set in ct, a *ClientTrace of
// clienttrace or of httptrace.
func hookNames(ct any) []string {
	var names []string
	v := reflect.ValueOf(ct).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Func && !f.IsNil() {
			names = append(names, v.Type().Field(i).Name)
		}
	}
	return names
}

// TestDialOverNeedsItsLastStep pins dialOverLocked's rules on the hooks a
// dial reports, one field at a time from a dial that is over.
func TestDialOverNeedsItsLastStep(t *testing.T) {
	v4 := net.IPAddr{IP: net.ParseIP("127.0.0.1")}
	v6 := net.IPAddr{IP: net.ParseIP("::1")}
	over := func(scheme string) *request {
		r := &request{plainDial: true, recording: true, done: true,
			req:  &http.Request{URL: &url.URL{Scheme: scheme, Host: "localhost"}},
			resp: &http.Response{ProtoMajor: 1},
		}
		r.seen = seenGetConn | seenGotConn | seenDial | seenConnected
		if scheme == "https" {
			r.seen |= seenHandshaken
		}
		r.seen.sawDNSDone(clienttrace.DNSDoneInfo{Addrs: []net.IPAddr{v4}})
		return r
	}
	require.True(t, over("http").reusableLocked())
	require.True(t, over("https").reusableLocked())
	metered := over("http")
	metered.recording = false
	require.True(t, metered.reusableLocked(), "metrics only: a pooled state that dials itself has the dial hooks too (hooks)")
	for _, tc := range []struct {
		name   string
		scheme string
		change func(r *request)
	}{
		{"an answer of both families (Happy Eyeballs)", "http", func(r *request) {
			r.seen.sawDNSDone(clienttrace.DNSDoneInfo{Addrs: []net.IPAddr{v4, v6}})
		}},
		{"a hook still open", "http", func(r *request) { r.dialing = 1 }},
		{"no connection made", "http", func(r *request) { r.seen &^= seenConnected }},
		{"https without its handshake", "https", func(r *request) { r.seen &^= seenHandshaken }},
		{"a reused connection after a dial", "http", func(r *request) { r.seen |= seenReusedConn }},
		{"HTTP/2", "https", func(r *request) { r.resp.ProtoMajor = 2 }},
		{"a dialer of the caller's or a proxy", "http", func(r *request) { r.plainDial = false }},
		{"a second GetConn (a retry)", "http", func(r *request) { r.seen.once(seenGetConn, seenGetConnAgain) }},
		{"not finished", "http", func(r *request) { r.done = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := over(tc.scheme)
			tc.change(r)
			assert.False(t, r.reusableLocked())
		})
	}
}

// keyRecorder is a context that records every key looked up in it.
type keyRecorder struct {
	context.Context
	mu   sync.Mutex
	keys []any
	done chan struct{}
}

func (r *keyRecorder) Done() <-chan struct{} { return r.done }

func (r *keyRecorder) Value(key any) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, key)
	return nil
}

// TestCancelCtxKeyIsTheOneCancelingLooksUp pins the probe behind
// cancelCtxKey: canceling a context derived from ours (as net/http does
// with the request's when the body ends) looks up that key, and only it.
func TestCancelCtxKeyIsTheOneCancelingLooksUp(t *testing.T) {
	require.NotNil(t, cancelCtxKey)
	rec := &keyRecorder{Context: context.Background(), done: make(chan struct{})}
	_, cancel := context.WithCancelCause(rec)
	cancel(errors.New("body done"))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.keys)
	for _, k := range rec.keys {
		assert.Equal(t, cancelCtxKey, k)
	}
}

// TestWroteRequestAfterTheEndReleasesOnce: of the WroteRequests that come
// after a request's body ended, only the first may hand its state back. A
// second one comes when a request sent with the kept context under
// WithConnectionSpans took the hooks (the state is then leaked, and not
// cleared): it must not release the state again, into the pool, while that
// request still calls its hooks.
func TestWroteRequestAfterTheEndReleasesOnce(t *testing.T) {
	var pool sync.Pool
	p := newPooledRequest(&pool)
	p.r = request{
		recording: true, done: true,
		req:  &http.Request{URL: &url.URL{Scheme: "http", Host: "127.0.0.1"}},
		resp: &http.Response{ProtoMajor: 1},
		seen: seenGetConn | seenGotConn | seenPooledConn,
	}
	p.r.trace.WroteRequest = p.wroteRequest
	p.markLeaked(p.gen.Load()) // its hooks were taken after its round trip returned
	puts := 0
	f := func(*pooledRequest) { puts++ }
	testHookReleased.Store(&f)
	t.Cleanup(func() { testHookReleased.Store(nil) })

	p.wroteRequest(clienttrace.WroteRequestInfo{})
	require.Equal(t, uint64(1), p.gen.Load(), "the first WroteRequest after the end releases the state")
	assert.True(t, p.r.done, "leaked: left as it was, not cleared")
	p.wroteRequest(clienttrace.WroteRequestInfo{})
	assert.Equal(t, uint64(1), p.gen.Load(), "a second WroteRequest releases nothing")
	assert.Zero(t, puts, "nothing went into the pool")
}
