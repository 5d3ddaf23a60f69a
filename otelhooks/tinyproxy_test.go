package otelhooks_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// startTinyproxy runs Debian's tinyproxy as a child of the test, on
// 127.0.0.2, allowing CONNECT to connectPort only, and returns its URL. It
// fails the test under CI=true if tinyproxy is not installed (.ci/run
// installs it), and skips it elsewhere.
func startTinyproxy(t *testing.T, connectPort int) *url.URL {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tinyproxy is not installed; .ci/run installs it: %v", err)
		}
		t.Skipf("tinyproxy is not installed (apt-get install tinyproxy): %v", err)
	}
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.2:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	conf := filepath.Join(t.TempDir(), "tinyproxy.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil,
		"Port %s\nListen 127.0.0.2\nTimeout 60\nAllow 127.0.0.0/8\nConnectPort %d\nMaxClients 20\nLogLevel Info\n",
		port, connectPort), 0o600))
	cmd := exec.CommandContext(context.WithoutCancel(t.Context()), bin, "-d", "-c", conf)
	// In the foreground, tinyproxy logs to standard output; it is ready
	// once it says it accepts connections.
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	ready := make(chan struct{})
	var log bytes.Buffer // written by the reader below until out closes
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(out)
		signaled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signaled && strings.Contains(sc.Text(), "Accepting connections") {
				signaled = true
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-readerDone
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("tinyproxy log:\n%s", log.String())
		}
	})
	select {
	case <-ready:
	case <-readerDone:
		t.Fatalf("tinyproxy exited before accepting connections")
	case <-time.After(10 * time.Second):
		t.Fatalf("tinyproxy did not start in 10s")
	}
	return &url.URL{Scheme: "http", Host: addr}
}

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
				tr.Proxy = http.ProxyURL(startTinyproxy(t, originPort))
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
				tr.Proxy = http.ProxyURL(startTinyproxy(t, originPort+1))
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
