package otelhooks_test

// Tests of net/http ported onto otelhooks: the traffic of each upstream test
// ($(go env GOROOT)/src/net/http/transport_test.go, clientserver_test.go)
// sent through otelhooks.NewTransport, asserting that every span ends, with
// the phases and events docs/spans.md promises. clienttrace/upstream_test.go
// ports the same tests onto the hooks themselves.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// requestSpans returns the request spans (children of root), in the order
// they started.
func requestSpans(spans []sdktrace.ReadOnlySpan, root sdktrace.ReadOnlySpan, method string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range named(spans, method) {
		if s.Parent().SpanID() == root.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	return out
}

// phasesOf returns the spans named name whose parent is p.
func phasesOf(spans []sdktrace.ReadOnlySpan, p sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range named(spans, name) {
		if s.Parent().SpanID() == p.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	return out
}

// Ports TestTransportEventTrace (h1 and h2): a POST with Expect:
// 100-continue to a name the DNS responder resolves, then a GET on the
// pooled connection. The first request's spans have every phase of a new
// connection and the 100-continue events; the second's http.getconn is a
// reused connection without children.
//
// Ports TestTransportEventTrace_NoHooks too: under an httptrace.ClientTrace
// with every hook nil, installed by the caller, the spans are the same.
func TestUpstreamTransportEventTraceSpans(t *testing.T) {
	for _, tc := range []struct {
		h2, noHooks bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		h2 := tc.h2
		name := string(testnet.ModeOf(h2))
		if tc.noHooks {
			name += "/NoHooks"
		}
		t.Run(name, func(t *testing.T) {
			const resBody = "some body"
			const fakeHost = "dns-is-faked.golang"
			dns := testnet.NewDNSServer(t, map[string][]netip.Addr{fakeHost: {netip.MustParseAddr("127.0.0.1")}})
			srv, tr := testnet.NewModeServer(t, testnet.ModeOf(h2), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					return
				}
				if _, err := io.ReadAll(r.Body); err != nil {
					t.Error(err)
				}
				_, _ = io.WriteString(w, resBody)
			}), dns.Resolver())
			tr.ExpectContinueTimeout = time.Second
			e := newEnv(t)
			// The headers upstream's WroteHeaderField assertions name.
			client := e.client(tr, otelhooks.WithRequestHeaders("User-Agent", "Host", "Content-Length", "X-Foo-Multiple-Vals", "Accept-Encoding"))
			_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
			require.NoError(t, err)
			target := map[bool]string{false: "http", true: "https"}[h2] + "://" + fakeHost + ":" + port

			ctx, root := e.root(context.Background())
			if tc.noHooks {
				ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{})
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader("some body"))
			require.NoError(t, err)
			req.Header.Set("Expect", "100-continue")
			req.Header["X-Foo-Multiple-Vals"] = []string{"bar", "baz"}
			res, err := client.Do(req)
			require.NoError(t, err)
			slurp, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())
			require.Equal(t, resBody, string(slurp))

			_, _ = get(t, ctx, client, target)
			root.End()

			spans := e.spans()
			rootRO := one(t, spans, "root")
			post := one(t, requestSpans(spans, rootRO, http.MethodPost), http.MethodPost)
			wantConn := []string{"http.connect", "http.dns"}
			if h2 {
				wantConn = []string{"http.connect", "http.dns", "http.tls"}
			}
			getconn := one(t, phasesOf(spans, post, "http.getconn"), "http.getconn")
			assert.Equal(t, wantConn, childrenOf(spans, getconn))
			assert.Equal(t, fakeHost, attrValue(t, one(t, spans, "http.dns"), "dns.question.name").AsString())
			send := one(t, phasesOf(spans, post, "http.send"), "http.send")
			assert.Subset(t, eventNames(send), []string{"http.wrote_headers", "http.wait_100_continue", "http.got_100_continue"})
			receive := one(t, phasesOf(spans, post, "http.receive"), "http.receive")
			assert.Equal(t, int64(len(resBody)), attrValue(t, receive, "http.response.body.size").AsInt64())
			assert.Equal(t, int64(100), eventAttrs(event(t, post, "http.informational_response"))["http.response.status_code"].AsInt64())
			for _, s := range []sdktrace.ReadOnlySpan{getconn, send, receive} {
				assertWithin(t, post, s)
			}
			assertSequence(t, getconn, send)
			assert.Equal(t, codes.Unset, post.Status().Code)
			// As net/http wrote them (upstream's WroteHeaderField lines):
			// HTTP/2 sends the host as :authority, recorded as host.
			wantHeaders := map[string][]string{
				"http.request.header.user-agent":          {"Go-http-client/1.1"},
				"http.request.header.host":                {fakeHost + ":" + port},
				"http.request.header.content-length":      {"9"},
				"http.request.header.x-foo-multiple-vals": {"bar", "baz"},
				"http.request.header.accept-encoding":     {"gzip"},
			}
			if h2 {
				wantHeaders["http.request.header.user-agent"] = []string{"Go-http-client/2.0"}
			}
			for key, want := range wantHeaders {
				v, ok := attrs(post)[attribute.Key(key)]
				if assert.True(t, ok, "%s missing", key) {
					assert.Equal(t, want, v.AsStringSlice(), key)
				}
			}

			getSpan := one(t, requestSpans(spans, rootRO, http.MethodGet), http.MethodGet)
			getconn2 := one(t, phasesOf(spans, getSpan, "http.getconn"), "http.getconn")
			assert.Empty(t, childrenOf(spans, getconn2), "a pooled connection has no dial")
			assert.True(t, attrValue(t, getconn2, "wiretrace.conn.reused").AsBool())
			assertNotAbandoned(t, spans)
		})
	}
}

// Ports TestTransportEventTraceTLSVerify: a certificate for another name
// fails http.tls, http.getconn and the request span, all ended.
func TestUpstreamTransportEventTraceTLSVerifySpans(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(string(testnet.ModeOf(h2)), func(t *testing.T) {
			srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("Unexpected request")
			}), h2)
			tr.TLSClientConfig.ServerName = "dns-is-faked.golang"
			e := newEnv(t)
			ctx, root := e.root(context.Background())
			err := send(ctx, e.client(tr), srv.URL)
			root.End()
			require.ErrorContains(t, err, "x509: certificate is valid for localhost")

			spans := e.spans()
			tlsSpan := one(t, spans, "http.tls")
			assert.Equal(t, codes.Error, tlsSpan.Status().Code)
			assert.Equal(t, "tls_hostname_mismatch", attrValue(t, tlsSpan, "error.type").AsString())
			assert.Equal(t, codes.Error, one(t, spans, "http.getconn").Status().Code)
			req := one(t, spans, http.MethodGet)
			assert.Equal(t, codes.Error, req.Status().Code)
			assert.Equal(t, "tls_hostname_mismatch", attrValue(t, req, "error.type").AsString())
			assert.Empty(t, named(spans, "http.send"), "nothing was sent")
		})
	}
}

// Ports TestTransportEventTraceRealDNS, with the DNS responder's NXDOMAIN
// for the system's: http.dns fails with dns_not_found, no dial is made.
func TestUpstreamTransportEventTraceRealDNSSpans(t *testing.T) {
	dns := testnet.NewDNSServer(t, nil)
	tr := &http.Transport{DialContext: (&net.Dialer{Resolver: dns.Resolver()}).DialContext}
	defer tr.CloseIdleConnections()
	e := newEnv(t)
	ctx, root := e.root(context.Background())
	err := send(ctx, e.client(tr), "http://dns-should-not-resolve.golang:80")
	root.End()
	require.Error(t, err)

	spans := e.spans()
	dnsSpan := one(t, spans, "http.dns")
	assert.Equal(t, codes.Error, dnsSpan.Status().Code)
	assert.Equal(t, "dns_not_found", attrValue(t, dnsSpan, "error.type").AsString())
	assert.Equal(t, "dns-should-not-resolve.golang", attrValue(t, dnsSpan, "dns.question.name").AsString())
	assert.Empty(t, named(spans, "http.connect"), "should not see Connect events")
	assert.Equal(t, "dns_not_found", attrValue(t, one(t, spans, http.MethodGet), "error.type").AsString())
}

// Ports the TestTransportExpect100Continue* tests: a PUT with Expect:
// 100-continue to a raw server the test drives line by line.
func TestUpstreamTransportExpect100ContinueSpans(t *testing.T) {
	const body = "request body"
	tests := []struct {
		name    string // the upstream test
		timeout time.Duration
		// serve answers the request, given the connection and its reader.
		serve      func(t *testing.T, c net.Conn, br *bufio.Reader)
		wantStatus int
		wantGot100 bool
		// lateWait is whether Wait100Continue may come after the request
		// ended, and be ignored (docs/spans.md, "Hooks that arrive after
		// the request ended are ignored"): net/http calls it from the
		// writing goroutine after flushing the headers, and a response
		// that ends the request at once can beat it.
		lateWait bool
	}{
		{
			name: "TestTransportExpect100ContinueSent", timeout: time.Hour, wantStatus: 200, wantGot100: true,
			serve: func(t *testing.T, c net.Conn, br *bufio.Reader) {
				t.Helper()
				writeLines(t, c, "HTTP/1.1 100 Continue")
				readBody(t, br, body)
				writeLines(t, c, "HTTP/1.1 200", "Content-Length: 0")
			},
		},
		{
			name: "TestTransportExpect100Continue200ResponseNoConnClose", timeout: time.Hour, wantStatus: 200,
			serve: func(t *testing.T, c net.Conn, br *bufio.Reader) {
				t.Helper()
				writeLines(t, c, "HTTP/1.1 200", "Content-Length: 0")
				readBody(t, br, body)
			},
		},
		{
			name: "TestTransportExpect100Continue200ResponseWithConnClose", timeout: time.Hour, wantStatus: 200, lateWait: true,
			serve: func(t *testing.T, c net.Conn, _ *bufio.Reader) {
				t.Helper()
				writeLines(t, c, "HTTP/1.1 200", "Connection: close", "Content-Length: 0")
			},
		},
		{
			name: "TestTransportExpect100Continue500ResponseNoConnClose", timeout: time.Hour, wantStatus: 500,
			serve: func(t *testing.T, c net.Conn, br *bufio.Reader) {
				t.Helper()
				writeLines(t, c, "HTTP/1.1 500", "Content-Length: 0")
				readBody(t, br, body)
			},
		},
		{
			name: "TestTransportExpect100Continue500ResponseTimeout", timeout: 5 * time.Millisecond, wantStatus: 200,
			serve: func(t *testing.T, c net.Conn, br *bufio.Reader) {
				t.Helper()
				readBody(t, br, body) // after the timeout
				writeLines(t, c, "HTTP/1.1 200", "Content-Length: 0")
			},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.name, "TestTransportExpect100Continue"), func(t *testing.T) {
			ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			served := make(chan struct{})
			go func() {
				defer close(served)
				c, err := ln.Accept()
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					t.Error(err)
					return
				}
				tt.serve(t, c, br)
				// Hold the connection until the client is done with it.
				_, _ = io.Copy(io.Discard, br)
			}()
			tr := &http.Transport{ExpectContinueTimeout: tt.timeout}
			e := newEnv(t)
			ctx, root := e.root(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+ln.Addr().String(), strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Expect", "100-continue")
			res, err := e.client(tr).Do(req)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, res.StatusCode)
			require.NoError(t, res.Body.Close())
			root.End()
			tr.CloseIdleConnections()
			<-served

			spans := e.spans()
			put := one(t, spans, http.MethodPut)
			sendSpan := one(t, spans, "http.send")
			if !tt.lateWait {
				assert.Contains(t, eventNames(sendSpan), "http.wait_100_continue")
			}
			if tt.wantGot100 {
				assert.Contains(t, eventNames(sendSpan), "http.got_100_continue")
				assert.Contains(t, eventNames(put), "http.informational_response")
			} else {
				assert.NotContains(t, eventNames(sendSpan), "http.got_100_continue")
				assert.NotContains(t, eventNames(put), "http.informational_response")
			}
			assert.Equal(t, codes.Unset, sendSpan.Status().Code, "no write failed")
			receive := one(t, spans, "http.receive")
			assertWithin(t, put, receive)
			assert.Equal(t, int64(tt.wantStatus), attrValue(t, put, "http.response.status_code").AsInt64())
		})
	}
}

func writeLines(t *testing.T, c net.Conn, lines ...string) {
	t.Helper()
	_, err := io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n\r\n")
	assert.NoError(t, err)
}

func readBody(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	got, err := io.ReadAll(io.LimitReader(br, int64(len(want))))
	if err != nil {
		t.Error(err) // on the server's goroutine: no FailNow
		return
	}
	assert.Equal(t, want, string(got))
}

// limits1xxHandler is the handler of TestTransportLimits1xxResponses: ten
// 1xx responses with 100 bytes of header each, then 204.
func limits1xxHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Add("X-Header", strings.Repeat("a", 100))
	for range 10 {
		w.WriteHeader(123)
	}
	w.WriteHeader(http.StatusNoContent)
}

// Ports TestTransportLimits1xxResponses. net/http stops reading 1xx
// responses past MaxResponseHeaderBytes unless a Got1xxResponse hook sees
// them; otelhooks' own hook (for the http.informational_response events)
// used to lift that limit, so a server could keep an instrumented client
// reading 1xx responses forever. The transport now keeps the limit, and the
// request fails as it does without instrumentation.
func TestUpstreamTransportLimits1xxResponsesThroughOtelhooks(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(string(testnet.ModeOf(h2)), func(t *testing.T) {
			srv, tr := testnet.NewModeServer(t, testnet.ModeOf(h2), http.HandlerFunc(limits1xxHandler), nil)
			tr.DisableKeepAlives = true
			tr.MaxResponseHeaderBytes = 1000
			e := newEnv(t)
			ctx, root := e.root(context.Background())
			err := send(ctx, e.client(tr), srv.URL)
			root.End()
			require.Error(t, err, "RoundTrip succeeded; want error")
			assert.Regexp(t, "response headers exceeded|too many 1xx|header list too large", err.Error())
			req := one(t, e.spans(), http.MethodGet)
			assert.Equal(t, codes.Error, req.Status().Code)
			assert.NotEmpty(t, eventNames(req), "the 1xx responses read before the limit are recorded")
		})
	}
}

// Ports TestTransportDoesNotLimitDelivered1xxResponses: with the caller's
// own Got1xxResponse, net/http leaves limiting to the caller, and so does
// otelhooks: all ten 1xx arrive, each an event.
func TestUpstreamTransportDoesNotLimitDelivered1xxResponsesSpans(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(string(testnet.ModeOf(h2)), func(t *testing.T) {
			srv, tr := testnet.NewModeServer(t, testnet.ModeOf(h2), http.HandlerFunc(limits1xxHandler), nil)
			tr.DisableKeepAlives = true
			tr.MaxResponseHeaderBytes = 1000
			e := newEnv(t)
			ctx, root := e.root(context.Background())
			got1xx := 0
			ctx = clienttrace.WithClientTrace(ctx, &clienttrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error { got1xx++; return nil },
			})
			require.NoError(t, send(ctx, e.client(tr), srv.URL))
			root.End()
			assert.Equal(t, 10, got1xx)
			req := one(t, e.spans(), http.MethodGet)
			n := 0
			for _, name := range eventNames(req) {
				if name == "http.informational_response" {
					n++
				}
			}
			assert.Equal(t, 10, n)
		})
	}
}

// Ports TestEarlyHintsRequest (clientserver_test.go): two 103 Early Hints,
// the second after the first reached the client, each an event within
// http.wait, which runs to the final response.
func TestUpstreamEarlyHintsRequestSpans(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(string(testnet.ModeOf(h2)), func(t *testing.T) {
			first := make(chan struct{})
			srv, tr := testnet.NewModeServer(t, testnet.ModeOf(h2), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				h.Add("Content-Length", "123") // must be ignored
				h.Add("Link", "</style.css>; rel=preload; as=style")
				h.Add("Link", "</script.js>; rel=preload; as=script")
				w.WriteHeader(http.StatusEarlyHints)
				<-first
				h.Add("Link", "</foo.js>; rel=preload; as=script")
				w.WriteHeader(http.StatusEarlyHints)
				_, _ = w.Write([]byte("Hello"))
			}), nil)
			e := newEnv(t)
			ctx, root := e.root(context.Background())
			ctx = clienttrace.WithClientTrace(ctx, &clienttrace.ClientTrace{
				Got1xxResponse: func(int, textproto.MIMEHeader) error {
					select {
					case <-first:
					default:
						close(first)
					}
					return nil
				},
			})
			req0, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			res, err := e.client(tr, otelhooks.WithResponseHeaders("Link")).Do(req0)
			require.NoError(t, err)
			// The final response promises 123 bytes and sends 5: upstream
			// reads "Hello" and ignores the unexpected EOF.
			body, _ := io.ReadAll(res.Body)
			require.NoError(t, res.Body.Close())
			root.End()
			assert.Equal(t, "Hello", string(body))
			assert.Equal(t, "123", res.Header.Get("Content-Length"))

			spans := e.spans()
			req := one(t, spans, http.MethodGet)
			wait := one(t, spans, "http.wait")
			var hints []sdktrace.Event
			for _, ev := range req.Events() {
				if ev.Name == "http.informational_response" {
					hints = append(hints, ev)
				}
			}
			require.Len(t, hints, 2)
			assert.Len(t, eventAttrs(hints[0])["http.response.header.link"].AsStringSlice(), 2)
			assert.Len(t, eventAttrs(hints[1])["http.response.header.link"].AsStringSlice(), 3)
			for _, ev := range hints {
				assert.False(t, ev.Time.Before(wait.StartTime()), "hint before http.wait")
				assert.False(t, ev.Time.After(wait.EndTime()), "hint after http.wait")
			}
			receive := one(t, spans, "http.receive")
			assert.False(t, receive.StartTime().Before(wait.EndTime()))
			assert.Equal(t, "read_error", attrValue(t, receive, "wiretrace.body.done").AsString(), "the body ended early")
		})
	}
}

// Ports TestTransportTreat101Terminal (issue 26161): a 101 is the final
// response; the request span ends when its body is closed, with status
// code 101 and no informational event.
func TestUpstreamTransportTreat101TerminalSpans(t *testing.T) {
	srv, tr := testnet.NewModeServer(t, testnet.HTTP1, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, _ := http.NewResponseController(w).Hijack()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		_, _ = buf.WriteString("HTTP/1.1 204 No Content\r\n\r\n")
		_ = buf.Flush()
		_ = conn.Close()
	}), nil)
	e := newEnv(t)
	ctx, root := e.root(context.Background())
	res, _ := get(t, ctx, e.client(tr), srv.URL)
	root.End()
	assert.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	req := one(t, e.spans(), http.MethodGet)
	assert.Equal(t, int64(101), attrValue(t, req, "http.response.status_code").AsInt64())
	assert.NotContains(t, eventNames(req), "http.informational_response")
}

// Ports TestTransportReading100Continue (issue 2184) and
// TestTransportIgnore1xxResponses (issue 17739): a 1xx the request did not
// ask for (an unsolicited "100 Continue", an unknown 123) before the final
// response, five times on one keep-alive connection. Each is an
// informational event inside http.wait; each request's phases are whole.
func TestUpstreamTransportUnsolicited1xxSpans(t *testing.T) {
	for _, status := range []string{"100 Continue", "123 OneTwoThree"} {
		t.Run(status, func(t *testing.T) {
			const numReqs = 5
			addr := testnet.ServeConn(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return // the client closed the connection
					}
					_, _ = io.Copy(io.Discard, req.Body)
					body := fmt.Sprintf("Response number %d", n)
					_, err = fmt.Fprintf(c, "HTTP/1.1 %s\r\nFoo: bar\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
					if err != nil {
						return
					}
				}
			})
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			e := newEnv(t)
			client := e.client(tr)
			ctx, root := e.root(t.Context())
			for i := 1; i <= numReqs; i++ {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", strings.NewReader(fmt.Sprintf("request body %d", i)))
				require.NoError(t, err)
				res, err := client.Do(req)
				require.NoError(t, err)
				b, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				require.NoError(t, res.Body.Close())
				assert.Equal(t, fmt.Sprintf("Response number %d", i), string(b))
			}
			root.End()

			spans := e.spans()
			posts := named(spans, http.MethodPost)
			require.Len(t, posts, numReqs)
			for i, post := range posts {
				assert.Equal(t, []string{"http.getconn", "http.receive", "http.send", "http.wait"}, childrenOf(spans, post), "request %d", i+1)
				assert.Contains(t, eventNames(post), "http.informational_response", "request %d", i+1)
				wait := one(t, phasesOf(spans, post, "http.wait"), "http.wait")
				ev := event(t, post, "http.informational_response")
				assert.False(t, ev.Time.Before(wait.StartTime()), "request %d: the 1xx before http.wait", i+1)
				assert.False(t, ev.Time.After(wait.EndTime()), "request %d: the 1xx after http.wait", i+1)
				assert.Equal(t, i > 0, attrValue(t, one(t, phasesOf(spans, post, "http.getconn"), "http.getconn"), "wiretrace.conn.reused").AsBool())
			}
			assertNotAbandoned(t, spans)
		})
	}
}

// TestUpstreamTransportLimits1xxResponsesNested is
// TestTransportLimits1xxResponses through two nested otelhooks transports:
// the inner one sees the outer's Got1xxResponse and leaves the limit to it,
// and the outer keeps the limit of the *http.Transport under both.
func TestUpstreamTransportLimits1xxResponsesNested(t *testing.T) {
	srv, tr := testnet.NewModeServer(t, testnet.HTTP1, http.HandlerFunc(limits1xxHandler), nil)
	tr.DisableKeepAlives = true
	tr.MaxResponseHeaderBytes = 1000
	e := newEnv(t)
	inner := otelhooks.NewTransport(tr, otelhooks.WithTracerProvider(e.tp))
	ctx, root := e.root(t.Context())
	err := send(ctx, e.client(inner), srv.URL)
	root.End()
	require.Error(t, err, "RoundTrip succeeded; want error")
	assert.Contains(t, err.Error(), "exceeded 1000 bytes")
	assert.Len(t, named(e.spans(), http.MethodGet), 2, "outer and inner request spans")
}
