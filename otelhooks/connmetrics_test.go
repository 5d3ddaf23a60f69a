package otelhooks_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// Every series of http.client.open_connections, idle and active, carries the
// same server and peer attributes beside its state: the idle series once lost
// server.port to an attribute slice that attribute.NewSet had sorted in place.
func TestMetricsOpenConnectionsEverySeriesHasServerPort(t *testing.T) {
	e := newEnv(t)
	m := newMeters(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	base := otelhooks.InstrumentTransport(&http.Transport{}, otelhooks.WithMeterProvider(m.mp))
	defer base.CloseIdleConnections()
	client := e.client(base, otelhooks.WithMeterProvider(m.mp))

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	series := points(t, m.collect(t), "http.client.open_connections")
	states := map[string]int64{}
	for _, p := range series {
		state := p.attrs["http.connection.state"]
		states[state] += p.value
		assert.Equal(t, map[attribute.Key]string{
			"http.connection.state": state,
			"server.address":        "127.0.0.1",
			"server.port":           port,
			"network.peer.address":  "127.0.0.1",
		}, p.attrs, "series %q", state)
	}
	assert.Equal(t, map[string]int64{"active": 0, "idle": 1}, states, "one connection, idle in the pool")
}
