package clienttrace_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// bigBody is larger than net/http's buffers, so an unread body is really
// unread when it is closed.
var bigBody = strings.Repeat("0123456789abcdef", 64<<10/16)

// roundTrip sends a GET to url through NewTransport(base) with rec's trace.
func roundTrip(t *testing.T, base http.RoundTripper, method, url string, rec *recorder) (*http.Response, error) {
	t.Helper()
	req := newRequest(t, method, url, nil)
	req = req.WithContext(clienttrace.WithClientTrace(req.Context(), rec.trace()))
	return clienttrace.NewTransport(base).RoundTrip(req)
}

func bodyDone(t *testing.T, rec *recorder) clienttrace.BodyDoneInfo {
	t.Helper()
	args := rec.args("BodyDone")
	require.Len(t, args, 1, "BodyDone fires exactly once")
	return args[0][0].(clienttrace.BodyDoneInfo)
}

func TestTransportBodyDone(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, bigBody) })
	mux.HandleFunc("/abort", testnet.AbortMidBody)
	mux.HandleFunc("/empty", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	srv.Config.ErrorLog = testnet.QuietLog()
	defer srv.Close()

	tests := []struct {
		name   string
		method string
		path   string
		// consume uses the body and returns how many bytes it read.
		consume func(t *testing.T, body io.ReadCloser) int64
		want    clienttrace.BodyDoneInfo
		wantErr error
	}{
		{
			name: "read to EOF", method: http.MethodGet, path: "/big",
			consume: func(t *testing.T, body io.ReadCloser) int64 {
				t.Helper()
				n, err := io.Copy(io.Discard, body)
				require.NoError(t, err)
				require.NoError(t, body.Close())
				return n
			},
			want: clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF, BytesRead: int64(len(bigBody))},
		},
		{
			name: "closed unread", method: http.MethodGet, path: "/big",
			consume: func(t *testing.T, body io.ReadCloser) int64 {
				t.Helper()
				require.NoError(t, body.Close())
				return 0
			},
			want: clienttrace.BodyDoneInfo{Reason: clienttrace.BodyClosed},
		},
		{
			name: "read half then closed", method: http.MethodGet, path: "/big",
			consume: func(t *testing.T, body io.ReadCloser) int64 {
				t.Helper()
				n, err := io.CopyN(io.Discard, body, int64(len(bigBody)/2))
				require.NoError(t, err)
				require.NoError(t, body.Close())
				return n
			},
			want: clienttrace.BodyDoneInfo{Reason: clienttrace.BodyClosed, BytesRead: int64(len(bigBody) / 2)},
		},
		{
			name: "read error", method: http.MethodGet, path: "/abort",
			consume: func(t *testing.T, body io.ReadCloser) int64 {
				t.Helper()
				n, err := io.Copy(io.Discard, body)
				require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				require.NoError(t, body.Close())
				return n
			},
			want:    clienttrace.BodyDoneInfo{Reason: clienttrace.BodyReadError, BytesRead: testnet.AbortBodyBytes},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name: "no content", method: http.MethodGet, path: "/empty",
			consume: func(t *testing.T, body io.ReadCloser) int64 {
				t.Helper()
				assert.Equal(t, http.NoBody, body)
				return 0
			},
			want: clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF},
		},
		{
			name: "HEAD", method: http.MethodHead, path: "/big",
			consume: func(t *testing.T, body io.ReadCloser) int64 {
				t.Helper()
				assert.Equal(t, http.NoBody, body)
				return 0
			},
			want: clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			var rec recorder
			resp, err := roundTrip(t, tr, tt.method, srv.URL+tt.path, &rec)
			require.NoError(t, err)
			n := tt.consume(t, resp.Body)
			_ = resp.Body.Close() // a second Close reports nothing more
			_, _ = resp.Body.Read(make([]byte, 1))

			got := bodyDone(t, &rec)
			assert.Equal(t, tt.want.Reason, got.Reason)
			assert.Equal(t, tt.want.BytesRead, got.BytesRead)
			assert.Equal(t, n, got.BytesRead)
			if tt.wantErr != nil {
				require.ErrorIs(t, got.Err, tt.wantErr)
			} else {
				require.NoError(t, got.Err)
			}
			assertInOrder(t, rec.hooks(), "GotFirstResponseByte", "RoundTripDone", "BodyDone")
			rt := rec.args("RoundTripDone")[0][0].(clienttrace.RoundTripDoneInfo)
			assert.Same(t, resp, rt.Response)
			assert.NoError(t, rt.Err)
		})
	}
}

func TestTransportBodyDoneOnCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "partial")
		_ = http.NewResponseController(w).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(t.Context())
	var rec recorder
	req := newRequest(t, http.MethodGet, srv.URL, nil)
	req = req.WithContext(clienttrace.WithClientTrace(ctx, rec.trace()))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := clienttrace.NewTransport(tr).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	buf := make([]byte, len("partial"))
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	cancel()
	_, err = io.Copy(io.Discard, resp.Body)
	require.ErrorIs(t, err, context.Canceled)

	got := bodyDone(t, &rec)
	assert.Equal(t, clienttrace.BodyReadError, got.Reason)
	assert.Equal(t, int64(len("partial")), got.BytesRead)
	assert.ErrorIs(t, got.Err, context.Canceled)
}

func TestTransportProtocolSwitchKeepsWriter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.Upgrade))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	var rec recorder
	req := newRequest(t, http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	req = req.WithContext(clienttrace.WithClientTrace(req.Context(), rec.trace()))
	resp, err := clienttrace.NewTransport(tr).RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	rw, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "the body of a 101 response stays writable")
	_, err = io.WriteString(rw, "hello\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(rw).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HELLO\n", line)
	assert.False(t, rec.has("BodyDone"), "the stream is still open")
	require.NoError(t, rw.Close())

	got := bodyDone(t, &rec)
	assert.Equal(t, clienttrace.BodyClosed, got.Reason)
	assert.Equal(t, int64(len("HELLO\n")), got.BytesRead)
}

func TestTransportConcurrentReadAndClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, bigBody)
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()

	for range 20 {
		var rec recorder
		resp, err := roundTrip(t, tr, http.MethodGet, srv.URL, &rec)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = io.Copy(io.Discard, resp.Body) })
		wg.Go(func() { _ = resp.Body.Close() })
		wg.Wait()
		got := bodyDone(t, &rec)
		assert.Contains(t, []clienttrace.BodyDoneReason{clienttrace.BodyEOF, clienttrace.BodyClosed, clienttrace.BodyReadError}, got.Reason)
	}
}

// stubTransport returns its response and error without doing anything.
type stubTransport struct {
	resp *http.Response
	err  error
}

func (s *stubTransport) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, s.err }

func TestTransportBadBase(t *testing.T) {
	t.Run("nil response and nil error", func(t *testing.T) {
		var rec recorder
		resp, err := roundTrip(t, &stubTransport{}, http.MethodGet, "http://example.test/", &rec)
		require.Nil(t, resp)
		require.EqualError(t, err, "clienttrace: *clienttrace_test.stubTransport.RoundTrip returned a nil *http.Response and a nil error")
		rt := rec.args("RoundTripDone")[0][0].(clienttrace.RoundTripDoneInfo)
		assert.Equal(t, err, rt.Err)
		assert.False(t, rec.has("BodyDone"))
	})
	t.Run("nil body", func(t *testing.T) {
		var rec recorder
		resp, err := roundTrip(t, &stubTransport{resp: &http.Response{StatusCode: http.StatusOK}}, http.MethodGet, "http://example.test/", &rec)
		require.NoError(t, err)
		assert.Equal(t, http.NoBody, resp.Body)
		assert.Equal(t, clienttrace.BodyDoneInfo{Reason: clienttrace.BodyEOF}, bodyDone(t, &rec))
	})
	t.Run("error", func(t *testing.T) {
		errBase := errors.New("base failed")
		var rec recorder
		resp, err := roundTrip(t, &stubTransport{err: errBase}, http.MethodGet, "http://example.test/", &rec)
		require.Nil(t, resp)
		require.ErrorIs(t, err, errBase)
		assert.Equal(t, []string{"RoundTripDone"}, rec.hooks())
	})
	t.Run("nil request", func(t *testing.T) {
		resp, err := clienttrace.NewTransport(&stubTransport{}).RoundTrip(nil)
		require.Nil(t, resp)
		require.EqualError(t, err, "clienttrace: nil *http.Request")
	})
}

func TestTransportPassesThroughWithoutAllocating(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	base := &stubTransport{resp: resp}
	rt := clienttrace.NewTransport(base)

	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"no trace", context.Background()},
		{"trace without lifecycle hooks", clienttrace.WithClientTrace(context.Background(), &clienttrace.ClientTrace{GetConn: func(string) {}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(tt.ctx, http.MethodGet, "http://example.test/", nil)
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(100, func() {
				got, _ := rt.RoundTrip(req)
				if got != resp {
					panic("response replaced")
				}
			})
			assert.Zero(t, allocs)
		})
	}
}

type closeIdleRecorder struct {
	stubTransport
	closed int
}

func (c *closeIdleRecorder) CloseIdleConnections() { c.closed++ }

func TestTransportForwardsCloseIdleConnections(t *testing.T) {
	base := &closeIdleRecorder{}
	client := &http.Client{Transport: clienttrace.NewTransport(base)}
	client.CloseIdleConnections()
	assert.Equal(t, 1, base.closed)

	// A base without the method is fine too.
	(&http.Client{Transport: clienttrace.NewTransport(&stubTransport{})}).CloseIdleConnections()
}

func TestBodyDoneReasonString(t *testing.T) {
	tests := []struct {
		reason clienttrace.BodyDoneReason
		want   string
	}{
		{clienttrace.BodyEOF, "eof"},
		{clienttrace.BodyClosed, "closed"},
		{clienttrace.BodyReadError, "read_error"},
		{0, "BodyDoneReason(0)"},
		{42, "BodyDoneReason(42)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.reason.String())
		assert.Equal(t, "reason "+tt.want, fmt.Sprintf("reason %v", tt.reason))
	}
}
