package otelhooks_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// TestTransportThroughTinyproxy pins http.proxy_connect against a real
// forward proxy: tinyproxy opens the tunnel with 200, and refuses a CONNECT
// to a port it does not allow with 403, which the request span, the phase
// and the dial report as such.
func TestTransportThroughTinyproxy(t *testing.T) {
	for _, mode := range proxyModes {
		t.Run(mode.name, func(t *testing.T) {
			srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), false)
			originPort := srv.Listener.Addr().(*net.TCPAddr).Port

			t.Run("tunnel", func(t *testing.T) {
				e := newEnv(t)
				tr := tr.Clone()
				tr.Proxy = http.ProxyURL(testnet.StartTinyproxy(t, originPort))
				if mode.instrumented {
					otelhooks.InstrumentTransport(tr)
				}
				defer tr.CloseIdleConnections()
				_, body := get(t, t.Context(), e.client(tr), srv.URL)
				assert.Equal(t, "ok", body)

				spans := e.spans()
				pc := one(t, spans, "http.proxy_connect")
				assert.Equal(t, codes.Unset, pc.Status().Code)
				if mode.instrumented {
					assert.Equal(t, int64(200), attrValue(t, pc, "http.response.status_code").AsInt64())
				}
				assertWithin(t, one(t, spans, "http.getconn"), pc)
				assertSequence(t, one(t, spans, "http.connect"), pc, one(t, spans, "http.tls"))
				t.Logf("http.proxy_connect through tinyproxy: %v", pc.EndTime().Sub(pc.StartTime()))
			})
			t.Run("refused", func(t *testing.T) {
				e := newEnv(t)
				tr := tr.Clone()
				tr.Proxy = http.ProxyURL(testnet.StartTinyproxy(t, originPort+1))
				if mode.instrumented {
					otelhooks.InstrumentTransport(tr)
				}
				defer tr.CloseIdleConnections()
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
				require.NoError(t, err)
				resp, err := e.client(tr).Do(req)
				require.Error(t, err)
				require.Nil(t, resp)

				spans := e.spans()
				r := one(t, spans, "GET")
				assert.Equal(t, "proxy_connect_refused", attrValue(t, r, "error.type").AsString())
				pc := one(t, spans, "http.proxy_connect")
				assert.Equal(t, codes.Error, pc.Status().Code)
				if mode.instrumented {
					assert.Equal(t, int64(403), attrValue(t, pc, "http.response.status_code").AsInt64())
				}
				assert.True(t, attrValue(t, one(t, spans, "http.connect"), "wiretrace.connect.winner").AsBool())
			})
		})
	}
}
