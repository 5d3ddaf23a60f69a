package otelhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// bigBody is larger than net/http's buffers, so that closing it unread
// really leaves bytes unread.
var bigBody = strings.Repeat("0123456789abcdef", 64<<10/16)

func TestTransportBodyEndings(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, bigBody) })
	mux.HandleFunc("/reset", testnet.AbortMidBody)
	srv := httptest.NewServer(mux)
	srv.Config.ErrorLog = testnet.QuietLog()
	defer srv.Close()

	tests := []struct {
		name      string
		path      string
		consume   func(body io.ReadCloser) error
		wantDone  string
		wantBytes int64
		wantErr   string // error.type of receive and of the request span, if any
	}{
		{
			name: "read to EOF", path: "/big",
			consume:  func(b io.ReadCloser) error { _, err := io.Copy(io.Discard, b); return errors.Join(err, b.Close()) },
			wantDone: "eof", wantBytes: int64(len(bigBody)),
		},
		{
			name: "closed unread", path: "/big",
			consume:  func(b io.ReadCloser) error { return b.Close() },
			wantDone: "closed",
		},
		{
			name: "read half then closed", path: "/big",
			consume: func(b io.ReadCloser) error {
				_, err := io.CopyN(io.Discard, b, int64(len(bigBody)/2))
				return errors.Join(err, b.Close())
			},
			wantDone: "closed", wantBytes: int64(len(bigBody) / 2),
		},
		{
			name: "connection reset mid-body", path: "/reset",
			consume: func(b io.ReadCloser) error {
				_, err := io.Copy(io.Discard, b)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					return errors.New("want io.ErrUnexpectedEOF")
				}
				return b.Close()
			},
			wantDone: "read_error", wantBytes: testnet.AbortBodyBytes, wantErr: "unexpected_eof",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tt.path, nil)
			require.NoError(t, err)
			resp, err := e.client(base).Do(req)
			require.NoError(t, err)
			assert.Equal(t, []string{"http.connect", "http.getconn", "http.send", "http.wait"}, names(e.spans()),
				"the request and its receive phase end with the body")
			require.NoError(t, tt.consume(resp.Body))

			spans := e.spans()
			receive := one(t, spans, "http.receive")
			assert.Equal(t, tt.wantDone, attrValue(t, receive, "wiretrace.body.done").AsString())
			assert.Equal(t, tt.wantBytes, attrValue(t, receive, "http.response.body.size").AsInt64())
			r := one(t, spans, "GET")
			assert.Equal(t, tt.wantBytes, attrValue(t, r, "http.response.body.size").AsInt64())
			assertWithin(t, r, receive)
			if tt.wantErr == "" {
				assert.Equal(t, codes.Unset, receive.Status().Code)
				return
			}
			assert.Equal(t, codes.Error, receive.Status().Code)
			assert.Equal(t, tt.wantErr, attrValue(t, receive, "error.type").AsString())
		})
	}
}

func TestTransportCanceledWhileWaiting(t *testing.T) {
	e := newEnv(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	go func() {
		<-arrived // the request is written: the client waits for the server
		cancel()
	}()
	resp, err := e.client(base).Do(req)
	require.ErrorIs(t, err, context.Canceled)
	require.Nil(t, resp)

	spans := e.spans()
	wait := one(t, spans, "http.wait")
	assert.Equal(t, codes.Error, wait.Status().Code)
	assert.Equal(t, "canceled", attrValue(t, wait, "error.type").AsString())
	r := one(t, spans, "GET")
	assert.Equal(t, "canceled", attrValue(t, r, "error.type").AsString())
	assert.Equal(t, codes.Error, r.Status().Code)
	assert.Empty(t, named(spans, "http.receive"))
	assertSequence(t, one(t, spans, "http.send"), wait)
}

func TestTransportClientTimeout(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	client := e.client(base)
	client.Timeout = 50 * time.Millisecond
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.Error(t, err)
	require.Nil(t, resp)
	var netErr interface{ Timeout() bool }
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout())

	r := one(t, e.spans(), "GET")
	assert.Equal(t, codes.Error, r.Status().Code)
	assert.Contains(t, []string{"timeout", "canceled"}, attrValue(t, r, "error.type").AsString())
	assert.Equal(t, codes.Error, one(t, e.spans(), "http.wait").Status().Code)
}

func TestTransportExpectContinue(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	base := &http.Transport{ExpectContinueTimeout: time.Minute}
	defer base.CloseIdleConnections()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, strings.NewReader("payload"))
	require.NoError(t, err)
	req.Header.Set("Expect", "100-continue")
	resp, err := e.client(base).Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "payload", string(b))

	spans := e.spans()
	send := one(t, spans, "http.send")
	// Wait100Continue and Got100Continue come from two goroutines of
	// net/http, in either order; both come after the headers.
	events := eventNames(send)
	require.Len(t, events, 3)
	assert.Equal(t, "http.wrote_headers", events[0])
	assert.ElementsMatch(t, []string{"http.wait_100_continue", "http.got_100_continue"}, events[1:])
	r := one(t, spans, "PUT")
	info := event(t, r, "http.informational_response")
	assert.Equal(t, int64(100), eventAttrs(info)["http.response.status_code"].AsInt64())
	// "100 Continue" is a 1xx: http.receive starts with the final
	// response, never before the body is sent (TestExpectContinueReceiveStartsAtFinalResponse
	// pins the timing).
	assertNotAbandoned(t, spans)
	assert.False(t, one(t, spans, "http.receive").StartTime().Before(send.StartTime()))
}

func TestTransportHTTP2ResponseBeforeWroteRequest(t *testing.T) {
	e := newEnv(t)
	srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.OK), true)
	client := e.client(base)
	// net/http's HTTP/2 client may report the request written after the
	// response began; over many requests it happens.
	for range 30 {
		get(t, t.Context(), client, srv.URL)
	}
	spans := e.spans()
	assertNotAbandoned(t, spans)
	assert.Len(t, named(spans, "http.send"), 30)
	assert.Len(t, named(spans, "http.receive"), 30)
	receives := named(spans, "http.receive")
	early := 0
	for i, s := range named(spans, "http.send") {
		assert.Equal(t, codes.Unset, s.Status().Code)
		// A GET has no body: if the response began first, the request
		// was sent, and http.send ends where http.receive starts.
		if v, ok := attrs(s)["wiretrace.send.end"]; ok {
			early++
			assert.Equal(t, "first_response_byte", v.AsString())
			assert.Equal(t, s.EndTime(), receives[i].StartTime())
		}
	}
	t.Logf("the response began before WroteRequest in %d of 30 requests", early)
}

func TestTransportEarlyHints(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			e := newEnv(t)
			srv, base := testnet.NewTLSServer(t, http.HandlerFunc(testnet.EarlyHints), h2)
			_, body := get(t, t.Context(), e.client(base, otelhooks.WithResponseHeaders("Link")), srv.URL)
			assert.Equal(t, "hinted", body)

			r := one(t, e.spans(), "GET")
			info := event(t, r, "http.informational_response")
			a := eventAttrs(info)
			assert.Equal(t, int64(103), a["http.response.status_code"].AsInt64())
			assert.Equal(t, []string{"</style.css>; rel=preload; as=style"}, a["http.response.header.link"].AsStringSlice())
			assert.False(t, info.Time.Before(r.StartTime()))
			assert.NotContains(t, attrs(r), attribute.Key("http.response.header.link"), "the final response has no Link")
		})
	}
}

func TestTransportNeverRecordsSecrets(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "server-secret"})
		w.Header().Set("X-Visible", "shown")
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := e.client(srv.Client().Transport,
		otelhooks.WithRequestHeaders("Authorization", "Cookie", "X-Api-Key", "X-Request-Id", ":authority"),
		otelhooks.WithResponseHeaders("Set-Cookie", "X-Visible"),
		otelhooks.WithRedactedHeaders("x-api-key"))

	u := strings.Replace(srv.URL, "http://", "http://user:pass-secret@", 1) + "/p?sig=sig-secret&keep=1&X-Goog-Signature=goog-secret"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer auth-secret")
	req.Header.Set("Cookie", "session=cookie-secret")
	req.Header.Set("X-Api-Key", "key-secret")
	req.Header.Set("X-Request-Id", "req-1")
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	spans := e.spans()
	all := allStrings(spans)
	for _, secret := range []string{"pass-secret", "user:", "sig-secret", "goog-secret", "auth-secret", "cookie-secret", "key-secret", "server-secret"} {
		assert.NotContains(t, all, secret)
	}
	r := one(t, spans, "GET")
	assert.Equal(t, srv.URL+"/p?sig=REDACTED&keep=1&X-Goog-Signature=REDACTED", attrValue(t, r, "url.full").AsString())
	for key, want := range map[attribute.Key][]string{
		"http.request.header.authorization": {"REDACTED"},
		"http.request.header.cookie":        {"REDACTED"},
		"http.request.header.x-api-key":     {"REDACTED"},
		"http.request.header.x-request-id":  {"req-1"},
		"http.response.header.set-cookie":   {"REDACTED"},
		"http.response.header.x-visible":    {"shown"},
	} {
		assert.Equal(t, want, attrValue(t, r, key).AsStringSlice(), key)
	}
	for k := range attrs(r) {
		assert.NotContains(t, string(k), ":", "no pseudo-header")
	}
}

func TestTransportHeadersOffByDefault(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "req-1")
	resp, err := e.client(srv.Client().Transport).Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	for k := range attrs(one(t, e.spans(), "GET")) {
		assert.NotContains(t, string(k), ".header.")
	}
}
