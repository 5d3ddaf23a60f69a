package otelhooks

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// hookCounter is a raw httptrace.ClientTrace that counts every hook
// net/http fires, by name.
type hookCounter struct {
	mu    sync.Mutex
	fired map[string]int
}

func (c *hookCounter) hit(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fired[name]++
}

func (c *hookCounter) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:              func(string) { c.hit("GetConn") },
		GotConn:              func(httptrace.GotConnInfo) { c.hit("GotConn") },
		PutIdleConn:          func(error) { c.hit("PutIdleConn") },
		GotFirstResponseByte: func() { c.hit("GotFirstResponseByte") },
		Got100Continue:       func() { c.hit("Got100Continue") },
		Got1xxResponse:       func(int, textproto.MIMEHeader) error { c.hit("Got1xxResponse"); return nil },
		DNSStart:             func(httptrace.DNSStartInfo) { c.hit("DNSStart") },
		DNSDone:              func(httptrace.DNSDoneInfo) { c.hit("DNSDone") },
		ConnectStart:         func(string, string) { c.hit("ConnectStart") },
		ConnectDone:          func(string, string, error) { c.hit("ConnectDone") },
		TLSHandshakeStart:    func() { c.hit("TLSHandshakeStart") },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { c.hit("TLSHandshakeDone") },
		WroteHeaderField:     func(string, []string) { c.hit("WroteHeaderField") },
		WroteHeaders:         func() { c.hit("WroteHeaders") },
		Wait100Continue:      func() { c.hit("Wait100Continue") },
		WroteRequest:         func(httptrace.WroteRequestInfo) { c.hit("WroteRequest") },
	}
}

// TestHookPruningMatchesNetHTTP checks every pruning rule of hooksFor
// against net/http itself: for each request, every hook a raw httptrace sees
// net/http fire must be installed, unless the rule drops it on purpose, and
// each rule's pruned hooks must be ones net/http did not fire.
func TestHookPruningMatchesNetHTTP(t *testing.T) {
	quiet := testnet.QuietLog()
	ca := testnet.NewCA(t, "pruning CA")
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "localhost", "localhost", "127.0.0.1")}}
	tlsSrv.Config.ErrorLog = quiet
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer plain.Close()
	// A forward proxy for plain HTTP, named by host.
	forward := &http.Transport{}
	defer forward.CloseIdleConnections()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RequestURI = ""
		resp, err := forward.RoundTrip(r)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	proxyURL, err := url.Parse(strings.Replace(proxy.URL, "127.0.0.1", "localhost", 1))
	require.NoError(t, err)
	pool := ca.Pool()
	byName := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

	tests := []struct {
		name    string
		base    func() *http.Transport
		url     string
		expect  string // the Expect header, if any
		body    bool
		headers bool // WithRequestHeaders
		// want are the optional hooks the rule must install; dropped are
		// hooks net/http fires that the rule leaves out on purpose.
		want    hookSet
		dropped []string
	}{
		{name: "plain HTTP to an IP: no DNS, no TLS", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL},
		{name: "plain HTTP by name: DNS", base: func() *http.Transport { return &http.Transport{} }, url: byName(plain.URL), want: hookSet{dns: true}},
		{name: "HTTPS by name: DNS and TLS", base: func() *http.Transport { return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}} },
			url: byName(tlsSrv.URL), want: hookSet{dns: true, tls: true}},
		{name: "HTTPS to an IP: TLS", base: func() *http.Transport { return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}} },
			url: tlsSrv.URL, want: hookSet{tls: true}},
		{name: "HTTPS over DialTLSContext: TLS hooks after the dial", base: func() *http.Transport {
			return &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return (&tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "localhost"}}).DialContext(ctx, network, addr)
			}}
		}, url: byName(tlsSrv.URL), want: hookSet{dns: true, tls: true, tlsInDial: true}},
		{name: "proxy named by host, IP URL: DNS for the proxy", base: func() *http.Transport { return &http.Transport{Proxy: http.ProxyURL(proxyURL)} },
			url: plain.URL, want: hookSet{dns: true, tls: true}},
		{name: "Expect 100-continue", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL, expect: "100-continue", body: true,
			want: hookSet{continue100: true}},
		{name: "Expect token in another case", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL, expect: "100-Continue", body: true,
			want: hookSet{continue100: true}},
		{name: "Expect token in a list", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL, expect: "foo, 100-CONTINUE", body: true,
			want: hookSet{continue100: true}},
		{name: "Expect token before a space", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL, expect: "100-continue x", body: true,
			want: hookSet{continue100: true}},
		{name: "Expect another token", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL, expect: "200-ok", body: true},
		{name: "headers asked for: WroteHeaderField", base: func() *http.Transport { return &http.Transport{} }, url: plain.URL, headers: true,
			want: hookSet{headerField: true}},
	}
	// The hooks each hookSet field stands for.
	optional := map[string]func(hookSet) bool{
		"DNSStart": func(h hookSet) bool { return h.dns }, "DNSDone": func(h hookSet) bool { return h.dns },
		"TLSHandshakeStart": func(h hookSet) bool { return h.tls }, "TLSHandshakeDone": func(h hookSet) bool { return h.tls },
		"Wait100Continue": func(h hookSet) bool { return h.continue100 }, "Got100Continue": func(h hookSet) bool { return h.continue100 },
		"WroteHeaderField": func(h hookSet) bool { return h.headerField },
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base()
			base.ExpectContinueTimeout = 5e9
			defer base.CloseIdleConnections()
			newReq := func(ctx context.Context) *http.Request {
				var body io.Reader
				if tt.body {
					body = strings.NewReader("payload")
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, tt.url, body)
				require.NoError(t, err)
				if tt.expect != "" {
					req.Header.Set("Expect", tt.expect)
				}
				return req
			}
			var opts []Option
			if tt.headers {
				opts = append(opts, WithRequestHeaders("Host"))
			}
			cfg := newConfig(opts)
			tr := &transport{cfg: cfg}
			tr.learnBase(base)
			req := newReq(context.Background())
			assert.Equal(t, tt.want, hooksFor(cfg, tr, req), "the rule's answer")

			// What a recording request installs for it.
			span := recordingSpan{}
			r := newRequest(context.Background(), cfg, noop.NewTracerProvider().Tracer(""), span, true, req, tr)
			installed := reflect.ValueOf(r.trace)

			// What net/http fires for the same request.
			counter := &hookCounter{fired: map[string]int{}}
			resp, err := base.RoundTrip(newReq(httptrace.WithClientTrace(context.Background(), counter.trace())))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())

			dropped := tt.dropped
			if !tt.headers {
				// Not a hook that cannot fire: one that is not needed.
				dropped = append(dropped, "WroteHeaderField")
			}
			for hook, n := range counter.fired {
				if slices.Contains(dropped, hook) {
					continue
				}
				f := installed.FieldByName(hook)
				require.True(t, f.IsValid(), hook)
				assert.False(t, f.IsNil(), "net/http fired %s %d times, and the rule left it out", hook, n)
			}
			for hook, in := range optional {
				if in(tt.want) {
					continue
				}
				assert.True(t, installed.FieldByName(hook).IsNil(), "%s installed though pruned", hook)
				if !slices.Contains(dropped, hook) {
					assert.Zero(t, counter.fired[hook], "%s pruned, and net/http fired it", hook)
				}
			}
			for _, hook := range tt.dropped {
				assert.NotZero(t, counter.fired[hook], "the rule drops %s, which net/http fires here", hook)
			}
		})
	}
}

// recordingSpan is a no-op span that says it records, so that newRequest
// installs the hooks of a sampled request.
type recordingSpan struct{ noop.Span }

func (recordingSpan) IsRecording() bool { return true }
