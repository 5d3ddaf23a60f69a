package otelhooks_test

// Tests against a real nginx (Debian's package, run as a child of the test
// by internal/testnet): protocols as nginx negotiated them, keep-alive as
// nginx counted it, the traceparent nginx received, gzip as nginx
// compressed it, and a 100-continue upload nginx reads before proxying.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// nginxPeer is how a test reaches one of nginx's listeners.
type nginxPeer struct {
	name     string
	kind     string // testnet.Nginx.Transport's argument
	scheme   string
	addr     func(*testnet.Nginx) string
	version  string // network.protocol.version
	protocol string // nginx's $server_protocol
	tls      bool
}

var nginxPeers = []nginxPeer{
	{"HTTP/1.1", "http", "http", func(n *testnet.Nginx) string { return n.HTTP }, "1.1", "HTTP/1.1", false},
	{"h2c", "h2c", "http", func(n *testnet.Nginx) string { return n.H2C }, "2", "HTTP/2.0", false},
	{"HTTPS h2", "h2", "https", func(n *testnet.Nginx) string { return n.TLS }, "2", "HTTP/2.0", true},
	{"HTTPS HTTP/1.1", "https1", "https", func(n *testnet.Nginx) string { return n.TLS }, "1.1", "HTTP/1.1", true},
}

// url returns the URL of path on p's listener, by the name "localhost" so
// that the client resolves it.
func (p nginxPeer) url(t *testing.T, n *testnet.Nginx, path string) string {
	t.Helper()
	return testnet.ByName(t, p.scheme+"://"+p.addr(n)) + path
}

// traceparentOf returns the traceparent a server receives from the client
// span s.
func traceparentOf(s sdktrace.ReadOnlySpan) string {
	sc := s.SpanContext()
	return fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID())
}

// TestNginxKeepAliveProtocolAndTraceparent sends three requests in a row on
// each of nginx's listeners and compares each request span with nginx's log
// line: one connection, the first request's with DNS, dial (and handshake),
// reused by the next two as nginx counts them; the protocol version nginx
// spoke; and the traceparent nginx received, the request span's own.
func TestNginxKeepAliveProtocolAndTraceparent(t *testing.T) {
	n := testnet.NewNginx(t, testnet.NginxConfig{})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			base := n.Transport(p.kind)
			defer base.CloseIdleConnections()
			client := e.client(base)
			ctx, root := e.root(t.Context())
			const requests = 3
			for range requests {
				_, body := get(t, ctx, client, p.url(t, n, "/"))
				assert.Equal(t, "ok", body)
			}
			root.End()
			var logs []testnet.NginxLog
			for range requests {
				logs = append(logs, n.NextLog(t))
			}

			spans := e.spans()
			reqs := named(spans, "GET")
			require.Len(t, reqs, requests)
			getconns := named(spans, "http.getconn")
			require.Len(t, getconns, requests)
			for i, r := range reqs {
				l := logs[i]
				assert.Equal(t, root.SpanContext().TraceID(), r.SpanContext().TraceID())
				assert.Equal(t, traceparentOf(r), l.Traceparent, "request %d: what nginx received is the request span", i)
				assert.Equal(t, p.version, attrValue(t, r, "network.protocol.version").AsString())
				assert.Equal(t, p.protocol, l.Protocol)
				assert.Equal(t, "200", l.Status)
				assert.Equal(t, logs[0].Connection, l.Connection, "request %d: one connection", i)
				assert.Equal(t, strconv.Itoa(i+1), l.ConnectionRequests)
				assert.Equal(t, int64(2), attrValue(t, r, "http.response.body.size").AsInt64())
				assert.Equal(t, codes.Unset, r.Status().Code)
				assert.NotContains(t, attrs(r), attribute.Key("http.request.resend_count"))

				gc := getconns[i]
				assert.Equal(t, i > 0, attrValue(t, gc, "wiretrace.conn.reused").AsBool(), "request %d", i)
				want := []string{"http.getconn", "http.receive", "http.send", "http.wait"}
				if p.version == "2" {
					// HTTP/2 may report the request written after the
					// response began: then there is no http.wait.
					if len(named(spans, "http.wait")) < requests {
						want = childrenOf(spans, r)
					}
				}
				assert.Equal(t, want, childrenOf(spans, r), "request %d", i)
				wantConn := []string(nil)
				if i == 0 {
					wantConn = []string{"http.connect", "http.dns"}
					if p.tls {
						wantConn = []string{"http.connect", "http.dns", "http.tls"}
					}
				}
				assert.Equal(t, wantConn, childrenOf(spans, gc), "request %d", i)
			}
			if p.tls {
				tlsSpan := one(t, spans, "http.tls")
				assert.Equal(t, map[bool]string{true: "h2", false: "http/1.1"}[p.version == "2"],
					attrValue(t, tlsSpan, "tls.next_protocol").AsString())
				assert.Equal(t, "1.3", attrValue(t, tlsSpan, "tls.protocol.version").AsString())
				assert.Equal(t, "localhost", attrValue(t, tlsSpan, "tls.server.subject").AsString()[len("CN="):])
			}
			assertNotAbandoned(t, spans)
		})
	}
}

// TestNginxRedirectHopsHaveTheirOwnSpanIDs follows nginx's 302: each hop is
// a request span of its own, nginx received each hop's own span id, and the
// second hop counts the first as a resend.
func TestNginxRedirectHopsHaveTheirOwnSpanIDs(t *testing.T) {
	n := testnet.NewNginx(t, testnet.NginxConfig{})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			base := n.Transport(p.kind)
			defer base.CloseIdleConnections()
			_, body := get(t, t.Context(), e.client(base), p.url(t, n, "/redirect"))
			assert.Equal(t, "ok", body)
			first, second := n.NextLog(t), n.NextLog(t)
			assert.Equal(t, "/redirect", first.URI)
			assert.Equal(t, "/", second.URI)

			hops := named(e.spans(), "GET")
			require.Len(t, hops, 2)
			assert.Equal(t, traceparentOf(hops[0]), first.Traceparent)
			assert.Equal(t, traceparentOf(hops[1]), second.Traceparent)
			assert.NotEqual(t, first.Traceparent, second.Traceparent)
			assert.Equal(t, int64(302), attrValue(t, hops[0], "http.response.status_code").AsInt64())
			assert.Equal(t, codes.Unset, hops[0].Status().Code)
			assert.NotContains(t, attrs(hops[0]), attribute.Key("http.request.resend_count"))
			assert.Equal(t, int64(1), attrValue(t, hops[1], "http.request.resend_count").AsInt64())
			assert.Equal(t, first.Connection, second.Connection, "the second hop reuses the connection")
		})
	}
}

// TestNginxGzipBodySizes fetches a static file nginx compresses on the fly
// (chunked on HTTP/1.1, no Content-Length on any protocol). Decoded by
// net/http, the request span has the decoded size and no
// http.response.body.size; asked for by the caller, it has the bytes
// transferred, which are valid gzip of the file.
func TestNginxGzipBodySizes(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	words := []string{"wire", "trace", "nginx", "gzip", "span", "body", "size"}
	for b.Len() < 64<<10 {
		b.WriteString(words[rnd.IntN(len(words))] + " ")
	}
	file := b.String()
	n := testnet.NewNginx(t, testnet.NginxConfig{Files: map[string]string{"words.txt": file}})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			t.Run("decoded by net/http", func(t *testing.T) {
				e := newEnv(t)
				base := n.Transport(p.kind)
				defer base.CloseIdleConnections()
				resp, body := get(t, t.Context(), e.client(base), p.url(t, n, "/static/words.txt"))
				require.True(t, resp.Uncompressed)
				require.Equal(t, file, body)
				l := n.NextLog(t)
				assert.NotEqual(t, "-", l.GzipRatio, "nginx compressed it")
				for _, s := range []sdktrace.ReadOnlySpan{one(t, e.spans(), "GET"), one(t, e.spans(), "http.receive")} {
					assert.NotContains(t, attrs(s), attribute.Key("http.response.body.size"), s.Name())
					assert.Equal(t, int64(len(file)), attrValue(t, s, "wiretrace.response.body.decoded_size").AsInt64(), s.Name())
				}
			})
			t.Run("asked for by the caller", func(t *testing.T) {
				e := newEnv(t)
				base := n.Transport(p.kind)
				defer base.CloseIdleConnections()
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.url(t, n, "/static/words.txt"), nil)
				require.NoError(t, err)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, body := doRead(t, e.client(base), req)
				require.False(t, resp.Uncompressed)
				assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
				zr, err := gzip.NewReader(strings.NewReader(body))
				require.NoError(t, err)
				plain, err := io.ReadAll(zr)
				require.NoError(t, err)
				require.Equal(t, file, string(plain))
				l := n.NextLog(t)
				assert.NotEqual(t, "-", l.GzipRatio)
				for _, s := range []sdktrace.ReadOnlySpan{one(t, e.spans(), "GET"), one(t, e.spans(), "http.receive")} {
					assert.Equal(t, int64(len(body)), attrValue(t, s, "http.response.body.size").AsInt64(), s.Name())
					assert.NotContains(t, attrs(s), attribute.Key("wiretrace.response.body.decoded_size"), s.Name())
				}
				t.Logf("%s: %d bytes of gzip for %d, nginx's $body_bytes_sent %s", p.name, len(body), len(file), l.BodyBytesSent)
			})
		})
	}
}

// pacedBody is a request body that yields chunks of size bytes with gap
// between them: an upload whose length is known to the test.
type pacedBody struct {
	chunks int
	size   int
	gap    time.Duration
	sent   int
	// first and last are when the first chunk was handed over and when
	// the reader returned io.EOF.
	first, last time.Time
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if b.sent == b.chunks {
		b.last = time.Now()
		return 0, io.EOF
	}
	if b.sent > 0 {
		time.Sleep(b.gap)
	} else {
		b.first = time.Now()
	}
	b.sent++
	return copy(p, bytes.Repeat([]byte{'u'}, min(b.size, len(p)))), nil
}

// TestNginxExpectContinueUpload uploads a paced body with "Expect:
// 100-continue" to a location nginx proxies to a Go server that thinks
// before answering. Over HTTP/1.1 nginx sends the "100 Continue" as it
// starts reading the body, reads all of it, then proxies: http.send holds
// the wait for the 100 and the upload, http.wait the upstream's think
// time. Over HTTP/2 nginx sends no 100: the body goes after the
// transport's ExpectContinueTimeout, and http.send holds that wait too,
// with no http.got_100_continue.
func TestNginxExpectContinueUpload(t *testing.T) {
	const chunks, size, gap, think = 5, 16 << 10, 10 * time.Millisecond, 40 * time.Millisecond
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.Copy(io.Discard, r.Body)
		time.Sleep(think)
		_, _ = fmt.Fprintf(w, "%d", got)
	}))
	defer up.Close()
	n := testnet.NewNginx(t, testnet.NginxConfig{Upstream: up.Listener.Addr().String()})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			base := n.Transport(p.kind)
			h2 := p.version == "2"
			// HTTP/1.1: long enough that a missing 100 would show.
			// HTTP/2: how long the client waits for the 100 nginx never
			// sends.
			continueTimeout := 10 * time.Second
			if h2 {
				continueTimeout = 100 * time.Millisecond
			}
			base.ExpectContinueTimeout = continueTimeout
			defer base.CloseIdleConnections()
			body := &pacedBody{chunks: chunks, size: size, gap: gap}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.url(t, n, "/upstream/echo"), body)
			require.NoError(t, err)
			req.ContentLength = chunks * size
			req.Header.Set("Expect", "100-continue")
			start := time.Now()
			resp, got := doRead(t, e.client(base), req)
			elapsed := time.Since(start)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, strconv.Itoa(chunks*size), got)
			l := n.NextLog(t)

			spans := e.spans()
			r := one(t, spans, "POST")
			assert.Equal(t, traceparentOf(r), l.Traceparent)
			assert.Equal(t, p.protocol, l.Protocol)
			send, receive := one(t, spans, "http.send"), one(t, spans, "http.receive")
			wait := one(t, spans, "http.wait") // the upstream thinks long after the body was written
			assert.Contains(t, eventNames(send), "http.wait_100_continue")
			assertSequence(t, send, wait, receive)
			upload := body.last.Sub(body.first)
			sendLen, waitLen := send.EndTime().Sub(send.StartTime()), wait.EndTime().Sub(wait.StartTime())
			t.Logf("upload %v (injected %v): http.send %v; think %v: http.wait %v; request %v (client saw %v)",
				upload, (chunks-1)*gap, sendLen, think, waitLen, r.EndTime().Sub(r.StartTime()), elapsed)
			assert.GreaterOrEqual(t, sendLen, upload, "http.send holds the upload")
			assert.GreaterOrEqual(t, waitLen, think, "http.wait holds the upstream's think time")
			assert.Less(t, waitLen, think+200*time.Millisecond)
			if h2 {
				assert.NotContains(t, eventNames(send), "http.got_100_continue")
				assert.NotContains(t, eventNames(r), "http.informational_response")
				assert.GreaterOrEqual(t, sendLen, continueTimeout+upload, "http.send holds the wait for a 100 that never came")
				assert.False(t, body.first.Before(send.StartTime().Add(continueTimeout)), "the body went after ExpectContinueTimeout")
			} else {
				assert.Contains(t, eventNames(send), "http.got_100_continue")
				info := event(t, r, "http.informational_response")
				assert.Equal(t, int64(100), eventAttrs(info)[attribute.Key("http.response.status_code")].AsInt64())
				assert.False(t, info.Time.After(send.EndTime()), "the 100 came while sending")
			}
			assertNotAbandoned(t, spans)
		})
	}
}

// TestNginxThroughTinyproxy reaches nginx through a real forward proxy:
// HTTPS (h2 and HTTP/1.1) through tinyproxy's CONNECT tunnel, and plain
// HTTP forwarded by tinyproxy itself. nginx receives the request span's
// traceparent either way; the tunnel's request has http.connect to the
// proxy, http.proxy_connect with tinyproxy's 200, then http.tls with
// nginx; the forwarded one has no CONNECT and speaks HTTP/1.1 to the
// proxy whatever nginx speaks.
func TestNginxThroughTinyproxy(t *testing.T) {
	n := testnet.NewNginx(t, testnet.NginxConfig{})
	_, tlsPort, err := net.SplitHostPort(n.TLS)
	require.NoError(t, err)
	port, err := strconv.Atoi(tlsPort)
	require.NoError(t, err)
	proxy := testnet.StartTinyproxy(t, port)
	for _, p := range nginxPeers {
		if p.kind == "h2c" {
			continue // a forward proxy speaks HTTP/1.1
		}
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			base := n.Transport(p.kind)
			base.Proxy = http.ProxyURL(proxy)
			otelhooks.InstrumentTransport(base)
			defer base.CloseIdleConnections()
			_, body := get(t, t.Context(), e.client(base), p.scheme+"://"+p.addr(n)+"/")
			assert.Equal(t, "ok", body)
			l := n.NextLog(t)

			spans := e.spans()
			r := one(t, spans, "GET")
			assert.Equal(t, traceparentOf(r), l.Traceparent, "nginx received the request span's context through the proxy")
			assert.Equal(t, p.protocol, l.Protocol)
			assert.Equal(t, p.version, attrValue(t, r, "network.protocol.version").AsString())
			connect := one(t, spans, "http.connect")
			assert.Equal(t, "127.0.0.2", attrValue(t, connect, "network.peer.address").AsString(), "the dial goes to the proxy")
			gc := one(t, spans, "http.getconn")
			if !p.tls {
				assert.Equal(t, []string{"http.connect"}, childrenOf(spans, gc), "no CONNECT for plain HTTP")
				return
			}
			assert.Equal(t, []string{"http.connect", "http.proxy_connect", "http.tls"}, childrenOf(spans, gc))
			pc := one(t, spans, "http.proxy_connect")
			assert.Equal(t, int64(200), attrValue(t, pc, "http.response.status_code").AsInt64())
			assertSequence(t, connect, pc, one(t, spans, "http.tls"))
			// An IP address is no server name: TLS sends none (no SNI).
			assert.NotContains(t, attrs(one(t, spans, "http.tls")), attribute.Key("server.address"))
		})
	}
}

// TestNginxBadGatewayIsAServerError has nginx proxy to an address that
// refuses connections: nginx answers 502, which fails the request span
// (error.type "502", no description) and none of its phases: the
// transport did its part.
func TestNginxBadGatewayIsAServerError(t *testing.T) {
	n := testnet.NewNginx(t, testnet.NginxConfig{Upstream: testnet.RefusedAddr(t)})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			m := newMeters(t)
			base := n.Transport(p.kind)
			defer base.CloseIdleConnections()
			resp, _ := get(t, t.Context(), e.client(base, otelhooks.WithMeterProvider(m.mp)), p.url(t, n, "/upstream/x"))
			require.Equal(t, http.StatusBadGateway, resp.StatusCode)
			assert.Equal(t, "502", n.NextLog(t).Status)

			spans := e.spans()
			r := one(t, spans, "GET")
			assert.Equal(t, codes.Error, r.Status().Code)
			assert.Empty(t, r.Status().Description)
			assert.Equal(t, "502", attrValue(t, r, "error.type").AsString())
			for _, s := range spans {
				if s != r {
					assert.Equal(t, codes.Unset, s.Status().Code, "%s: %s", s.Name(), s.Status().Description)
				}
			}
			ps := points(t, m.collect(t), "http.client.request.duration")
			require.Len(t, ps, 1)
			assert.Equal(t, "502", ps[0].attrs["error.type"])
			assert.Equal(t, "502", ps[0].attrs["http.response.status_code"])
		})
	}
}

// sendAndRead sends a GET to target and reads the whole body, so that the
// connection goes back to the pool.
func sendAndRead(ctx context.Context, client *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// TestNginxConcurrentRequestsCarryTheirOwnSpans sends 300 requests, 150 at
// a time, more than nginx's 128 concurrent HTTP/2 streams a connection
// (net/http opens more connections then): nginx received 300 distinct
// traceparents, exactly the request spans' own, on as many connections as
// the spans say were opened.
func TestNginxConcurrentRequestsCarryTheirOwnSpans(t *testing.T) {
	const total, parallel = 300, 150
	n := testnet.NewNginx(t, testnet.NginxConfig{})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			base := n.Transport(p.kind)
			base.MaxIdleConnsPerHost = parallel
			defer base.CloseIdleConnections()
			client := e.client(base)
			target := p.url(t, n, "/")
			errs := make(chan error, total)
			sem := make(chan struct{}, parallel)
			var wg sync.WaitGroup
			for range total {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					errs <- sendAndRead(t.Context(), client, target)
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			received := map[string]bool{}
			conns := map[string]bool{}
			for range total {
				l := n.NextLog(t)
				received[l.Traceparent] = true
				conns[l.Connection] = true
			}
			sent := map[string]bool{}
			spans := e.spans()
			for _, r := range named(spans, "GET") {
				sent[traceparentOf(r)] = true
			}
			assert.Len(t, sent, total)
			assert.Equal(t, sent, received, "nginx received exactly the request spans' contexts")
			// The connections the requests used, as http.getconn says
			// (the local port tells them apart), are those nginx served
			// them on. Fewer http.getconn say they opened one: a dial
			// whose request took another connection meanwhile hands its
			// connection to the pool, where other requests find it; and
			// over HTTP/2 net/http calls a connection reused for every
			// stream but the first to start on it, which need not be the
			// stream of the request that dialed it (docs/spans.md).
			used, opened := map[int64]bool{}, 0
			for _, gc := range named(spans, "http.getconn") {
				used[attrValue(t, gc, "network.local.port").AsInt64()] = true
				if !attrValue(t, gc, "wiretrace.conn.reused").AsBool() {
					opened++
				}
			}
			assert.Len(t, used, len(conns), "connections the spans used vs. those nginx served requests on")
			t.Logf("%s: %d requests on %d connections (%d opened by their request); %d dials, %d TLS handshakes",
				p.name, total, len(conns), opened, len(named(spans, "http.connect")), len(named(spans, "http.tls")))
		})
	}
}

// TestNginxKeepaliveRequestsLimit has nginx close each connection after 2
// requests (keepalive_requests 2: "Connection: close" on HTTP/1.1, GOAWAY
// on HTTP/2): the third request opens a new connection, which no span
// calls a resend or an error, and the connections the spans used are
// nginx's.
func TestNginxKeepaliveRequestsLimit(t *testing.T) {
	n := testnet.NewNginx(t, testnet.NginxConfig{KeepaliveRequests: 2})
	for _, p := range nginxPeers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t)
			base := n.Transport(p.kind)
			defer base.CloseIdleConnections()
			client := e.client(base)
			const requests = 5
			for range requests {
				_, body := get(t, t.Context(), client, p.url(t, n, "/"))
				assert.Equal(t, "ok", body)
			}
			var logs []testnet.NginxLog
			for range requests {
				logs = append(logs, n.NextLog(t))
			}
			spans := e.spans()
			getconns := named(spans, "http.getconn")
			require.Len(t, getconns, requests)
			for i, gc := range getconns {
				assert.Equal(t, strconv.Itoa(i%2+1), logs[i].ConnectionRequests, "request %d", i)
				assert.Equal(t, i%2 == 1, attrValue(t, gc, "wiretrace.conn.reused").AsBool(), "request %d", i)
				if i > 0 {
					samePort := attrValue(t, gc, "network.local.port").AsInt64() == attrValue(t, getconns[i-1], "network.local.port").AsInt64()
					assert.Equal(t, logs[i].Connection == logs[i-1].Connection, samePort, "request %d: the spans' connection vs. nginx's", i)
				}
			}
			for _, r := range named(spans, "GET") {
				assert.Equal(t, codes.Unset, r.Status().Code)
				assert.NotContains(t, attrs(r), attribute.Key("http.request.resend_count"))
				assert.NotContains(t, eventNames(r), "http.resend")
			}
			for _, s := range spans {
				assert.NotEqual(t, codes.Error, s.Status().Code, "%s: %s", s.Name(), s.Status().Description)
			}
			assertNotAbandoned(t, spans)
		})
	}
}
