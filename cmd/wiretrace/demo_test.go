package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demoBound is the promise: the tour, from start to exit, in ten
// seconds.
const demoBound = 10 * time.Second

var demoCaptions = []string{
	"▶ 1/6 cold request: ",
	"▶ 2/6 warm request: ",
	"▶ 3/6 redirect chain: ",
	"▶ 4/6 slow server: ",
	"▶ 5/6 103 Early Hints: ",
	"▶ 6/6 refused connection: ",
}

// runDemo runs the demo binary with args within demoBound.
func runDemo(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), demoBound)
	defer cancel()
	cmd := command(ctx, runOpts{}, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "the demo did not finish within %v", demoBound)
	return result{code: exitCode(t, err), stdout: stdout.String(), stderr: stderr.String()}
}

// requireInOrder requires each of subs in s, in order.
func requireInOrder(t *testing.T, s string, subs []string) {
	t.Helper()
	at := 0
	for _, sub := range subs {
		i := strings.Index(s[at:], sub)
		require.GreaterOrEqual(t, i, 0, "%q missing, or out of order, in:\n%s", sub, s)
		at += i + len(sub)
	}
}

func TestDemo(t *testing.T) {
	res := runDemo(t)

	require.Equal(t, exitOK, res.code, "the expected failure does not fail the demo: %s", res.stderr)
	assert.Empty(t, res.stderr)
	requireInOrder(t, res.stdout, demoCaptions)
	out := res.stdout
	assert.Contains(t, out, "this failure is expected")
	assert.Regexp(t, `http\.tls\s+TLS 1\.3 h2`, out, "the cold request shakes hands, over HTTP/2")
	assert.Regexp(t, `http\.getconn\s+127\.0\.0\.1:\d+ reused`, out)
	assert.Equal(t, 3, strings.Count(out, " 302 HTTP/2"), "three redirects")
	assert.Contains(t, out, "• http.informational_response 103")
	// The message once, at the top of the failure; the rows below it
	// carry the mark.
	assert.Regexp(t, `refused connection\s+✗ connection refused`, out)
	assert.Regexp(t, `http\.connect\s+127\.0\.0\.1:\d+ ✗\s`, out)
	if demoHost(t.Context()) == "localhost" {
		assert.Regexp(t, `http\.dns\s+localhost → 127\.0\.0\.1`, out)
	}
	assert.Contains(t, out, "Trace your own: wiretrace https://example.com")
}

func TestDemoJSON(t *testing.T) {
	res := runDemo(t, "-json")

	require.Equal(t, exitOK, res.code, res.stderr)
	requireInOrder(t, res.stderr, demoCaptions)
	tt := traces(t, parseSpans(t, res.stdout))
	require.Len(t, tt, 6, "one trace per step")
	var roots []string
	for _, tr := range tt {
		requireTree(t, tr)
		roots = append(roots, tr.root.Name)
	}
	assert.Equal(t, []string{"cold request", "warm request", "redirect chain", "slow server", "103 Early Hints", "refused connection"}, roots)

	cold, warm, redirect, slow, hints, refused := tt[0], tt[1], tt[2], tt[3], tt[4], tt[5]
	assert.Equal(t, "h2", cold.one(t, "http.tls").Attributes["tls.next_protocol"])
	assert.Len(t, cold.named("http.connect"), 1)
	assert.Equal(t, true, warm.one(t, "http.getconn").Attributes["wiretrace.conn.reused"])
	assert.Empty(t, warm.named("http.tls"))

	var codes []any
	for _, get := range redirect.named("GET") {
		assert.Equal(t, redirect.root.SpanID, get.ParentSpanID, "each hop is a child of the step's root")
		codes = append(codes, get.Attributes["http.response.status_code"])
	}
	assert.Equal(t, []any{302.0, 302.0, 302.0, 200.0}, codes)
	for _, gc := range redirect.named("http.getconn") {
		assert.Equal(t, true, gc.Attributes["wiretrace.conn.reused"])
	}

	assert.GreaterOrEqual(t, slow.one(t, "GET").DurationMS, float64(slowDelay/time.Millisecond))

	var informational []any
	for _, ev := range hints.one(t, "GET").Events {
		if ev.Name == "http.informational_response" {
			informational = append(informational, ev.Attributes["http.response.status_code"])
		}
	}
	assert.Equal(t, []any{103.0}, informational)

	get := refused.one(t, "GET")
	assert.Equal(t, "Error", get.Status.Code)
	assert.Equal(t, "connection_refused", get.Attributes["error.type"])
	assert.Equal(t, "connection refused", refused.root.Status.Description)
}

func TestDemoHTTP1(t *testing.T) {
	res := runDemo(t, "-http1", "-json")

	require.Equal(t, exitOK, res.code, res.stderr)
	tt := traces(t, parseSpans(t, res.stdout))
	require.Len(t, tt, 6)
	assert.NotEqual(t, "h2", tt[0].one(t, "http.tls").Attributes["tls.next_protocol"])
	for _, tr := range tt[:5] {
		for _, get := range tr.named("GET") {
			assert.Equal(t, "1.1", get.Attributes["network.protocol.version"], tr.root.Name)
		}
	}
}

// TestDemoInProcess runs the demo through run, as main does, to show that
// it leaves no goroutine behind (TestMain checks) and writes nothing
// after run returned.
func TestDemoInProcess(t *testing.T) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), demoBound)
	defer cancel()

	code := run(ctx, nil, &stdout, &stderr)

	require.Equal(t, exitOK, code, stderr.String())
	requireInOrder(t, stdout.String(), demoCaptions)
	assert.Empty(t, stderr.String())
}

func TestDemoServer(t *testing.T) {
	srv, err := startDemoServer(t.Context())
	require.NoError(t, err)
	t.Cleanup(srv.close)
	// A client that trusts only the demo's certificate, and does not
	// follow redirects, to see them.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.roots, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := "https://127.0.0.1:" + srv.port

	tests := []struct {
		path, wantLocation string
		wantCode           int
	}{
		{"/", "", http.StatusOK},
		{"/redirect/3", "/redirect/2", http.StatusFound},
		{"/redirect/1", "/", http.StatusFound},
		{"/redirect/0", "", http.StatusNotFound},
		{"/redirect/x", "", http.StatusNotFound},
		{"/slow", "", http.StatusOK},
		{"/hints", "", http.StatusOK},
		{"/nope", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+tt.path, nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			t.Cleanup(func() { _ = resp.Body.Close() })
			assert.Equal(t, tt.wantCode, resp.StatusCode)
			assert.Equal(t, tt.wantLocation, resp.Header.Get("Location"))
		})
	}
}

func TestDemoRefusedPort(t *testing.T) {
	port, err := refusedPort(t.Context())
	require.NoError(t, err)
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp4", "127.0.0.1:"+port)
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err)
}
