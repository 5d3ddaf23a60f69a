package otelhooks

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

func tlsTestServer(t *testing.T) (*httptest.Server, *tls.Config) {
	t.Helper()
	ca := testnet.NewCA(t, "wiretrace test CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "localhost", "localhost", "127.0.0.1")}}
	srv.Config.ErrorLog = testnet.QuietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &tls.Config{RootCAs: ca.Pool()}
}

func TestConnRegistryForgetsCollectedConnections(t *testing.T) {
	srv, clientTLS := tlsTestServer(t)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	base := &http.Transport{TLSClientConfig: clientTLS, DisableKeepAlives: true}
	rt := NewTransport(base, WithTracerProvider(tp), WithConnectionSpans())
	reg := rt.(*transport).conns
	client := &http.Client{Transport: rt}

	const n = 10
	for range n {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
	}
	pending, paired := reg.size()
	assert.Zero(t, pending, "every setup was paired with its connection")
	assert.Positive(t, paired)
	base.CloseIdleConnections()

	// Closed, the connections are garbage; their cleanups delete the
	// entries. Cleanups run after a collection, on a goroutine of the
	// runtime's: poll.
	require.Eventually(t, func() bool {
		runtime.GC()
		_, paired := reg.size()
		return paired == 0
	}, 10*time.Second, 10*time.Millisecond, "entries of collected connections are deleted")
}

func TestConnRegistryPendingIsBounded(t *testing.T) {
	reg := newConnRegistry()
	setups := make([]*connSetup, 100)
	for i := range setups {
		setups[i] = &connSetup{id: int64(i)}
		reg.addPending(setups[i])
	}
	pending, _ := reg.size()
	assert.Equal(t, maxPending, pending)
	assert.Same(t, setups[len(setups)-maxPending], reg.pending[0], "the oldest are dropped")
	assert.Same(t, setups[len(setups)-1], reg.pending[maxPending-1])
}

func TestConnRegistryPairsTLSByKeyingMaterial(t *testing.T) {
	srv, clientTLS := tlsTestServer(t)
	conn, err := (&tls.Dialer{Config: clientTLS}).DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	cs := conn.(*tls.Conn).ConnectionState()
	key := keyingMaterial(&cs)
	require.NotEmpty(t, key, "TLS 1.3 exports keying material")

	// Two setups to the same address; the older one is another connection's.
	reg := newConnRegistry()
	addr := conn.RemoteAddr().String()
	other := &connSetup{id: 1, connected: true, winner: addr, tlsKey: "another connection"}
	mine := &connSetup{id: 2, connected: true, winner: addr, tlsKey: key}
	reg.addPending(other)
	reg.addPending(mine)

	assert.Same(t, mine, reg.lookup(conn, nil), "paired by keying material, not by address or age")
	assert.Same(t, mine, reg.lookup(conn, nil), "and found again when reused")
	pending, paired := reg.size()
	assert.Equal(t, 1, pending)
	assert.Equal(t, 1, paired)
	assert.False(t, other.claimed)
}
