package otelhooks_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// TestPhaseStartAttributesSetAtTheEnd: what the DNS and connect hooks know
// when their phase starts (the name looked up; the address dialed, its
// transport and family) is set on the span when it ends, with the rest, in
// one call to the SDK (request.startAttrs); the span has it however it
// ended: done, failed, or abandoned by a request that ended first. (The
// allocation it saves is pinned by TestAllocationBudgets, N.)
func TestPhaseStartAttributesSetAtTheEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	t.Cleanup(srv.Close)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	refused := testnet.RefusedAddr(t)
	dns := testnet.NewDNSServer(t, map[string][]netip.Addr{
		"ok.test":   {netip.MustParseAddr("127.0.0.1")},
		"slow.test": {netip.MustParseAddr("127.0.0.1")},
	})

	for _, tc := range []struct {
		name   string
		target string
		// cancelAt cancels the request from the caller's hook of that
		// name: "dns" (DNSStart, with the lookup delayed) or "connect"
		// (ConnectStart).
		cancelAt string
		wantDNS  string // dns.question.name of http.dns; "" for none
		wantErr  bool
	}{
		{name: "done", target: "http://ok.test:" + port + "/", wantDNS: "ok.test"},
		{name: "refused", target: "http://" + refused + "/", wantErr: true},
		{name: "canceled while looking up", target: "http://slow.test:" + port + "/", cancelAt: "dns", wantDNS: "slow.test", wantErr: true},
		{name: "canceled while dialing", target: "http://ok.test:" + port + "/", cancelAt: "connect", wantDNS: "ok.test", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.cancelAt == "dns" {
				dns.SetDelay(200 * time.Millisecond)
				t.Cleanup(func() { dns.SetDelay(0) })
			}
			base := &http.Transport{DialContext: (&net.Dialer{Resolver: dns.Resolver()}).DialContext}
			t.Cleanup(base.CloseIdleConnections)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				DNSStart: func(httptrace.DNSStartInfo) {
					if tc.cancelAt == "dns" {
						cancel()
					}
				},
				ConnectStart: func(string, string) {
					if tc.cancelAt == "connect" {
						cancel()
					}
				},
			})
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tc.target, nil)
			require.NoError(t, err)
			resp, err := e.client(base).Do(req)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
			}
			// A dial that outlives its request ends its phases when it
			// returns: wait for every span.
			e.checker.AwaitAllEnded(t, 5*time.Second)

			spans := e.spans()
			if tc.wantDNS != "" {
				d := one(t, spans, "http.dns")
				assert.Equal(t, tc.wantDNS, attrValue(t, d, "dns.question.name").AsString())
				assert.Len(t, namedAttrs(d.Attributes(), "dns.question.name"), 1, "set once")
			} else {
				assert.Empty(t, named(spans, "http.dns"))
			}
			connects := named(spans, "http.connect")
			if tc.cancelAt == "dns" {
				assert.Empty(t, connects, "no dial after a canceled lookup")
				return
			}
			require.NotEmpty(t, connects)
			for _, c := range connects {
				assert.Equal(t, "127.0.0.1", attrValue(t, c, "network.peer.address").AsString(), c.Attributes())
				assert.NotZero(t, attrValue(t, c, "network.peer.port").AsInt64())
				assert.Equal(t, "tcp", attrValue(t, c, "network.transport").AsString())
				assert.Equal(t, "ipv4", attrValue(t, c, "network.type").AsString())
				assert.Len(t, namedAttrs(c.Attributes(), "network.peer.address"), 1, "set once")
			}
		})
	}
}

// namedAttrs returns the attributes of attrs with key.
func namedAttrs(attrs []attribute.KeyValue, key attribute.Key) []attribute.KeyValue {
	var out []attribute.KeyValue
	for _, kv := range attrs {
		if kv.Key == key {
			out = append(out, kv)
		}
	}
	return out
}
