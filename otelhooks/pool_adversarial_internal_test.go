package otelhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// TestPoolKeptContextSentBeforeTheBodyEndsReachesNoOtherRequest sends a
// request B with the context of a request A (resp.Request.Context()) while
// A's body is still open, as a handler fanning out under the response it
// is reading may. B's hooks are composed, at B's start, with those A's
// context answers with then: A's. A's body then ends, A's state goes back
// to the pool and carries a request C; only then does B look for its
// connection. None of B's hooks may reach C's state: C must keep one
// http.getconn, no resend, and its request span must end when C's body
// does, not when B's does.
func TestPoolKeptContextSentBeforeTheBodyEndsReachesNoOtherRequest(t *testing.T) {
	testPoolKeptContext(t)
}

// TestPoolKeptContextUnderConnectionSpans is the same under
// WithConnectionSpans, whose pooled states keep their hooks in the context
// after the round trip returned (pool.go): B takes A's hooks, and that keeps
// A's state out of the pool, so C never gets it.
func TestPoolKeptContextUnderConnectionSpans(t *testing.T) {
	testPoolKeptContext(t, WithConnectionSpans())
}

func testPoolKeptContext(t *testing.T, opts ...Option) {
	t.Helper()
	keep := len(opts) > 0 // WithConnectionSpans: the hooks stay in A's context
	for _, tc := range []struct {
		name string
		rt   func(base *http.Transport, tp trace.TracerProvider) http.RoundTripper
	}{
		{"B through a bare *http.Transport", func(base *http.Transport, _ trace.TracerProvider) http.RoundTripper { return base }},
		{"B through another traced transport", func(base *http.Transport, tp trace.TracerProvider) http.RoundTripper {
			return NewTransport(base, WithTracerProvider(tp))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			ends := spantest.NewEndChecker()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(ends))
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			t.Cleanup(srv.Close)
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			rt := NewTransport(base, append([]Option{WithTracerProvider(tp)}, opts...)...)
			ctx := context.Background()
			doRead(t, ctx, rt, get(t, srv.URL)) // the idle connection
			releases := watchReleases(t)

			// The race detector's sync.Pool drops states at random: try
			// until C gets A's state.
			for range 50 {
				respA, err := rt.RoundTrip(get(t, srv.URL))
				require.NoError(t, err)
				pA, _ := sentState(respA)
				require.NotNil(t, pA)

				// B's transport holds B in its Proxy func, which
				// net/http calls after it took B's hooks from the
				// context and before GetConn.
				captured, proceed := make(chan struct{}), make(chan struct{})
				bBase := &http.Transport{Proxy: func(*http.Request) (*url.URL, error) {
					close(captured)
					<-proceed
					return nil, nil
				}}
				t.Cleanup(bBase.CloseIdleConnections)
				bDone := make(chan error, 1)
				kept := respA.Request.Context()
				go func() { bDone <- roundTripRead(kept, tc.rt(bBase, tp), srv.URL) }()
				<-captured

				_, err = io.Copy(io.Discard, respA.Body)
				require.NoError(t, err)
				require.NoError(t, respA.Body.Close())
				if keep {
					// B took A's hooks after A's round trip returned.
					require.True(t, sentLeaked(respA), "A's state is marked leaked")
				} else {
					awaitRelease(t, releases, pA)
				}

				respC, err := rt.RoundTrip(get(t, srv.URL))
				require.NoError(t, err)
				pC, _ := sentState(respC)
				if keep {
					require.NotSame(t, pA, pC, "a leaked state never goes back to the pool")
				} else if pC != pA {
					close(proceed)
					require.NoError(t, <-bDone)
					_, _ = io.Copy(io.Discard, respC.Body)
					_ = respC.Body.Close()
					continue
				}
				cSpan := trace.SpanFromContext(respC.Request.Context()).SpanContext()
				require.True(t, cSpan.IsValid())

				close(proceed)
				require.NoError(t, <-bDone)
				for _, s := range rec.Ended() {
					assert.NotEqual(t, cSpan.SpanID(), s.SpanContext().SpanID(), "C's request span ended before C's body did (by B's BodyDone)")
				}
				_, err = io.Copy(io.Discard, respC.Body)
				require.NoError(t, err)
				require.NoError(t, respC.Body.Close())

				var getconns []string
				for _, s := range rec.Ended() {
					if s.Parent().SpanID() != cSpan.SpanID() {
						continue
					}
					if s.Name() == "http.getconn" {
						getconns = append(getconns, s.Name())
					}
					assert.Equal(t, cSpan.TraceID(), s.SpanContext().TraceID())
				}
				if len(opts) == 0 { // WithConnectionSpans records no http.getconn
					assert.Len(t, getconns, 1, "C's http.getconn spans: B's GetConn reached C's state")
				}
				for _, s := range rec.Ended() {
					if s.SpanContext().SpanID() == cSpan.SpanID() {
						for _, e := range s.Events() {
							assert.NotEqual(t, names.EventResend, e.Name, "a resend on C: B's GetConn")
						}
					}
				}
				ends.AssertAllEnded(t)
				return
			}
			t.Fatal("the pool never gave A's state to C")
		})
	}
}

// poolLoadHandler answers /?id=I&size=N[&hints=1][&close=1]: reads the
// request body, sends "103 Early Hints" if asked, asks to close the
// connection if asked (HTTP/2: a GOAWAY), then N bytes in flushed chunks.
// Early hints go over HTTP/1 only: net/http's HTTP/2 server writes a 1xx's
// header map from another goroutine while the handler goes on changing it
// (golang/go#67940), which the race detector reports.
func poolLoadHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	q := r.URL.Query()
	if q.Get("hints") != "" && r.ProtoMajor == 1 {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
	}
	if q.Get("close") != "" {
		w.Header().Set("Connection", "close")
	}
	size, _ := strconv.Atoi(q.Get("size"))
	w.Header().Set("Content-Length", strconv.Itoa(size))
	chunk := bytes.Repeat([]byte("x"), 8<<10)
	for size > 0 {
		k := min(size, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		_ = http.NewResponseController(w).Flush()
		size -= k
	}
}

// poolLoad is one mode of TestPoolStatesCarryOnlyTheirOwnRequestUnderLoad.
type poolLoad struct {
	name string
	n    int
	// pools is whether requests get pooled states: net/http's h2c calls
	// GetConn twice, which keeps every state.
	pools   bool
	opts    []Option
	targets func(t *testing.T) (hosts []string, scheme string, base *http.Transport)
}

// TestPoolStatesCarryOnlyTheirOwnRequestUnderLoad sends a bounded load
// through a pooling transport, 32 requests at a time, each with a 3s
// timeout, mixing what may make a hook come late or twice: fault relays
// (resets mid-request and mid-response, truncation, stalls, close after
// the headers), servers that close idle connections (net/http retries) or
// answer "Connection: close" (HTTP/2: GOAWAY), MaxConnsPerHost with many
// waiters (connections handed from request to request), "localhost" (DNS
// hooks, and the dial-over rule), uploads with and without "Expect:
// 100-continue", 103 Early Hints, cancellations from a hook of every phase
// and during the body, early Close, and requests sent with the context of
// an earlier response (resp.Request.Context()), its body open or not.
//
// Each request has a root span of its own, with its id, and targets one of
// several addresses (relays and servers, each its own port). A hook of one
// request that reached the state of another would show: every request span
// is under the root of its id, has one http.getconn per attempt, at most
// one http.receive, and its dials (http.dns, http.connect) name its own
// host and port. Every span ends, exactly once, and the race detector
// watches the states' resets.
func TestPoolStatesCarryOnlyTheirOwnRequestUnderLoad(t *testing.T) {
	relayed := func(h2c bool) func(t *testing.T) ([]string, string, *http.Transport) {
		return func(t *testing.T) ([]string, string, *http.Transport) {
			t.Helper()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(poolLoadHandler))
			srv.Config.ErrorLog = testnet.QuietLog()
			srv.Config.IdleTimeout = 30 * time.Millisecond // closes idle connections: retries
			base := &http.Transport{MaxConnsPerHost: 2, MaxIdleConnsPerHost: 2, ExpectContinueTimeout: 50 * time.Millisecond}
			if h2c {
				var p http.Protocols
				p.SetUnencryptedHTTP2(true)
				srv.Config.Protocols = &p
				base.Protocols = &p
				base.MaxConnsPerHost = 0
			}
			srv.Start()
			t.Cleanup(srv.Close)
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			hosts := []string{"localhost:" + port}
			for i := range 3 {
				r := testnet.NewFaultRelay(t, srv.Listener.Addr().String(), testnet.FaultConfig{
					Seed: uint64(i + 1), FaultRate: 0.15, MaxStall: 50 * time.Millisecond, HTTP2: h2c,
				})
				_, rp, _ := net.SplitHostPort(r.Addr())
				host := "127.0.0.1:" + rp
				if i == 0 {
					host = "localhost:" + rp
				}
				hosts = append(hosts, host)
			}
			t.Cleanup(base.CloseIdleConnections)
			return hosts, "http", base
		}
	}
	modes := []poolLoad{
		{"HTTP/1.1 keep-alive, relays with faults, MaxConnsPerHost 2", 1200, true, nil, relayed(false)},
		{"HTTPS HTTP/2, many streams, GOAWAY", 600, true, nil, func(t *testing.T) ([]string, string, *http.Transport) {
			t.Helper()
			var hosts []string
			var base *http.Transport
			for i := range 2 {
				srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(poolLoadHandler), true)
				if i == 0 {
					base = tr
				} else {
					base.TLSClientConfig.RootCAs.AddCert(srv.Certificate())
				}
				_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
				hosts = append(hosts, "localhost:"+port, "127.0.0.1:"+port)
			}
			base.ExpectContinueTimeout = 50 * time.Millisecond
			return hosts, "https", base
		}},
		{"h2c, relays with faults", 300, false, nil, relayed(true)},
		{"HTTP/1.1 keep-alive, relays with faults, WithConnectionSpans", 600, true, []Option{WithConnectionSpans()}, relayed(false)},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			n := m.n
			if testing.Short() {
				n /= 10
			}
			runPoolLoad(t, m, n)
		})
	}
}

// poolLoadRequest is what one request of runPoolLoad does.
type poolLoadRequest struct {
	id       int
	target   string
	method   string
	body     int  // upload bytes; 0: none
	expect   bool // Expect: 100-continue
	query    string
	cancelAt string // hook that cancels the request, "body", or ""
	closeAt  bool   // close the body after its first read
	kept     bool   // sent with an earlier response's context
}

func runPoolLoad(t *testing.T, m poolLoad, n int) {
	t.Helper()
	hosts, scheme, base := m.targets(t)
	rec := tracetest.NewSpanRecorder()
	ends := spantest.NewEndChecker()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(ends))
	rt := NewTransport(base, append([]Option{WithTracerProvider(tp)}, m.opts...)...)
	tracer := tp.Tracer("test")

	var released atomic.Int64
	f := func(*pooledRequest) { released.Add(1) }
	testHookReleased.Store(&f)
	t.Cleanup(func() { testHookReleased.Store(nil) })

	rng := rand.New(rand.NewPCG(11, uint64(n)))
	reqs := make([]poolLoadRequest, n)
	cancels := []string{"GetConn", "GotConn", "WroteHeaders", "WroteRequest", "GotFirstResponseByte", "body"}
	for i := range reqs {
		q := poolLoadRequest{id: i, target: hosts[rng.IntN(len(hosts))], method: http.MethodGet}
		q.query = "size=" + strconv.Itoa([]int{0, 2, 5000, 70000}[rng.IntN(4)])
		if rng.IntN(10) == 0 {
			q.query += "&hints=1"
		}
		if rng.IntN(20) == 0 {
			q.query += "&close=1"
		}
		if rng.IntN(4) == 0 {
			q.method, q.body = http.MethodPost, []int{1, 4000, 100000}[rng.IntN(3)]
			q.expect = rng.IntN(2) == 0
		}
		switch rng.IntN(10) {
		case 0:
			q.cancelAt = cancels[rng.IntN(len(cancels))]
		case 1:
			q.closeAt = true
		}
		q.kept = rng.IntN(6) == 0
		reqs[i] = q
	}

	// kept holds the context of a recent response, set as soon as the
	// round trip returned, its body still open.
	var kept atomic.Pointer[context.Context]
	var failed atomic.Int64
	work := make(chan poolLoadRequest)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for q := range work {
				if err := sendPoolLoad(tracer, rt, scheme, q, &kept, true); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	for _, q := range reqs {
		work <- q
	}
	close(work)
	wg.Wait()
	base.CloseIdleConnections()

	// Under WithConnectionSpans, a dial that outlives its canceled request
	// ends its setup when the dial ends, on net/http's goroutine.
	ends.AwaitAllEnded(t, 10*time.Second)
	checkPoolLoadSpans(t, rec.Ended(), reqs, m)
	t.Logf("%d requests, %d failed, %d states given back to the pool, %d spans", n, failed.Load(), released.Load(), len(rec.Ended()))
	if m.pools {
		assert.Positive(t, released.Load(), "the pool was used")
	}
}

// sendPoolLoad sends q through rt under a root span of its own and reads
// (or abandons) the response as q says. Errors are expected (faults,
// cancellations) and returned.
//
// keepOpen is whether the context of a response is kept as soon as the
// round trip returned, before its body ended, rather than after.
func sendPoolLoad(tracer trace.Tracer, rt http.RoundTripper, scheme string, q poolLoadRequest, kept *atomic.Pointer[context.Context], keepOpen bool) error {
	ctx := context.Background()
	if q.kept {
		if k := kept.Load(); k != nil {
			ctx = *k
		}
	}
	ctx, root := tracer.Start(ctx, "request", trace.WithAttributes(attribute.Int("test.id", q.id)))
	defer root.End()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if q.cancelAt != "" && q.cancelAt != "body" {
		ht := &httptrace.ClientTrace{}
		switch q.cancelAt {
		case "GetConn":
			ht.GetConn = func(string) { cancel() }
		case "GotConn":
			ht.GotConn = func(httptrace.GotConnInfo) { cancel() }
		case "WroteHeaders":
			ht.WroteHeaders = cancel
		case "WroteRequest":
			ht.WroteRequest = func(httptrace.WroteRequestInfo) { cancel() }
		case "GotFirstResponseByte":
			ht.GotFirstResponseByte = cancel
		}
		ctx = httptrace.WithClientTrace(ctx, ht)
	}
	var body io.Reader
	if q.body > 0 {
		body = bytes.NewReader(bytes.Repeat([]byte("u"), q.body))
	}
	u := scheme + "://" + q.target + "/?id=" + strconv.Itoa(q.id) + "&" + q.query
	req, err := http.NewRequestWithContext(ctx, q.method, u, body)
	if err != nil {
		return err
	}
	if q.expect {
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	rc := resp.Request.Context()
	if q.cancelAt == "" && keepOpen {
		kept.Store(&rc)
	}
	defer func() {
		if q.cancelAt == "" && !keepOpen {
			kept.Store(&rc)
		}
	}()
	buf := make([]byte, 4<<10)
	_, err = resp.Body.Read(buf)
	switch {
	case q.closeAt:
	case q.cancelAt == "body":
		cancel()
		_, err = io.Copy(io.Discard, resp.Body)
	case err == nil:
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return errors.Join(err, resp.Body.Close())
}

// checkPoolLoadSpans checks that each request's spans are its own (see
// TestPoolStatesCarryOnlyTheirOwnRequestUnderLoad).
func checkPoolLoadSpans(t *testing.T, spans []sdktrace.ReadOnlySpan, reqs []poolLoadRequest, m poolLoad) {
	t.Helper()
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	attr := func(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
		for _, kv := range s.Attributes() {
			if kv.Key == key {
				return kv.Value, true
			}
		}
		return attribute.Value{}, false
	}
	// requestOf returns the request span s is under (s itself for one).
	requestOf := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
		for range 5 {
			if s.SpanKind() == trace.SpanKindClient {
				return s
			}
			p, ok := byID[s.Parent().SpanID()]
			if !ok || p.SpanContext().TraceID() != s.SpanContext().TraceID() {
				return nil
			}
			s = p
		}
		return nil
	}
	type counts struct{ getconn, receive, resends int }
	perRequest := map[trace.SpanID]*counts{}
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		c := &counts{}
		perRequest[s.SpanContext().SpanID()] = c
		if v, ok := attr(s, semconv.HTTPRequestResendCountKey); ok {
			c.resends = int(v.AsInt64())
		}
		// Under the root of the id its URL names.
		full, _ := attr(s, semconv.URLFullKey)
		u, err := url.Parse(full.AsString())
		require.NoError(t, err)
		root, ok := byID[s.Parent().SpanID()]
		if !ok || root.Name() != "request" {
			report("request span %s has no root span", full.AsString())
			continue
		}
		id, _ := attr(root, "test.id")
		if strconv.Itoa(int(id.AsInt64())) != u.Query().Get("id") {
			report("request span %s under the root of request %d", full.AsString(), id.AsInt64())
		}
	}
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindClient || s.Name() == "request" {
			continue
		}
		r := requestOf(s)
		if r == nil && len(m.opts) > 0 {
			// WithConnectionSpans: a connection's setup is a trace of
			// its own.
			continue
		}
		if r == nil {
			report("%s is under no request span of its trace", s.Name())
			continue
		}
		c := perRequest[r.SpanContext().SpanID()]
		switch s.Name() {
		case "http.getconn":
			c.getconn++
		case "http.receive":
			c.receive++
		}
		full, _ := attr(r, semconv.URLFullKey)
		u, _ := url.Parse(full.AsString())
		if port, ok := attr(s, semconv.NetworkPeerPortKey); ok && s.Name() == "http.connect" && strconv.Itoa(int(port.AsInt64())) != u.Port() {
			report("%s to port %d under a request to %s", s.Name(), port.AsInt64(), u.Host)
		}
		if name, ok := attr(s, semconv.DNSQuestionNameKey); ok && name.AsString() != u.Hostname() {
			report("%s of %s under a request to %s", s.Name(), name.AsString(), u.Host)
		}
	}
	for id, c := range perRequest {
		r := byID[id]
		full, _ := attr(r, semconv.URLFullKey)
		if c.getconn > c.resends+1 || c.receive > 1 {
			report("request %s: %d http.getconn, %d resends, %d http.receive", full.AsString(), c.getconn, c.resends, c.receive)
		}
	}
	assert.Len(t, perRequest, len(reqs), "one request span per request")
}

// TestKeptContextSentBeforeTheBodyEndsRecordsNothingInTheFirstRequest is
// the same leak without a pool (a base that is not an *http.Transport): a
// request B sent with resp.Request.Context() of a request A whose body is
// still open takes A's hooks (clienttrace.WithClientTrace composes them,
// and a bare net/http calls them), so that B's connection and phases would
// be recorded in A's trace. A's context answers as the caller's once A's
// round trip returned (keptContext), so B takes nothing of A.
func TestKeptContextSentBeforeTheBodyEndsRecordsNothingInTheFirstRequest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	rt := NewTransport(struct{ http.RoundTripper }{base}, WithTracerProvider(tp))

	respA, err := rt.RoundTrip(get(t, srv.URL))
	require.NoError(t, err)
	aSpan := trace.SpanFromContext(respA.Request.Context()).SpanContext()
	require.True(t, aSpan.IsValid())
	require.NoError(t, roundTripRead(respA.Request.Context(), base, srv.URL)) // B
	_, err = io.Copy(io.Discard, respA.Body)
	require.NoError(t, err)
	require.NoError(t, respA.Body.Close())

	getconns := 0
	for _, s := range rec.Ended() {
		if s.Parent().SpanID() == aSpan.SpanID() && s.Name() == "http.getconn" {
			getconns++
		}
	}
	assert.Equal(t, 1, getconns, "A's http.getconn spans: B's GetConn was recorded in A")
}
