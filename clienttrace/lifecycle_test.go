package clienttrace_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// roundTripperFunc adapts a function to http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// dropBody is a base that makes a real round trip through tr, then drops the
// response body (closing it) and returns the response with a nil Body and
// the ContentLength the server sent: a broken transport.
func dropBody(tr http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
		resp.Body = nil
		return resp, nil
	})
}

// TestTransportNilBodyWithContentLength pins that a base returning a nil body
// while promising ContentLength > 0 bytes is an error, as http.Client makes
// it, and is not masked by replacing the body with http.NoBody; with or
// without a lifecycle hook.
func TestTransportNilBodyWithContentLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()

	for _, lifecycle := range []bool{true, false} {
		t.Run(map[bool]string{true: "lifecycle hook", false: "no lifecycle hook"}[lifecycle], func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			var rec recorder
			trace := rec.trace()
			if !lifecycle {
				trace.RoundTripDone, trace.BodyDone = nil, nil
			}
			req := newRequest(t, http.MethodGet, srv.URL, nil)
			req = req.WithContext(clienttrace.WithClientTrace(req.Context(), trace))
			resp, err := clienttrace.NewTransport(dropBody(tr)).RoundTrip(req)
			require.Nil(t, resp)
			require.EqualError(t, err, "clienttrace: clienttrace_test.roundTripperFunc.RoundTrip returned a *http.Response with ContentLength 2 but a nil Body")
			assert.Equal(t, 1, rec.count("GotFirstResponseByte"), "the round trip was real")
			if lifecycle {
				require.Equal(t, 1, rec.count("RoundTripDone"))
				rt := rec.args("RoundTripDone")[0][0].(clienttrace.RoundTripDoneInfo)
				assert.Equal(t, err, rt.Err)
				assert.Nil(t, rt.Response)
				assert.False(t, rec.has("BodyDone"), "a failed round trip has no body")
			}

			// Through an http.Client, the error is ours, not
			// net/http's own check, which the replacement would have
			// hidden.
			client := &http.Client{Transport: clienttrace.NewTransport(dropBody(tr))}
			req = newRequest(t, http.MethodGet, srv.URL, nil)
			req = req.WithContext(clienttrace.WithClientTrace(req.Context(), trace))
			_, err = client.Do(req)
			require.ErrorContains(t, err, "ContentLength 2 but a nil Body")
		})
	}
}

// TestTransportBadBaseWithoutLifecycleHook pins that the checks of what base
// returns hold when no lifecycle hook is installed, where the request
// otherwise passes straight through.
func TestTransportBadBaseWithoutLifecycleHook(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	realThenNil := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
		return nil, nil //nolint:nilnil // the broken base under test
	})
	emptyNilBody := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
		resp.Body = nil // 204: no body was promised
		return resp, nil
	})
	for _, ctxTrace := range []*clienttrace.ClientTrace{nil, {GetConn: func(string) {}}} {
		req := newRequest(t, http.MethodGet, srv.URL, nil)
		req = req.WithContext(clienttrace.WithClientTrace(req.Context(), ctxTrace))

		resp, err := clienttrace.NewTransport(realThenNil).RoundTrip(req)
		require.Nil(t, resp)
		require.EqualError(t, err, "clienttrace: clienttrace_test.roundTripperFunc.RoundTrip returned a nil *http.Response and a nil error")

		resp, err = clienttrace.NewTransport(emptyNilBody).RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		assert.Equal(t, http.NoBody, resp.Body, "a nil body becomes http.NoBody")
	}
}

// TestTransportProtocolSwitchWriteError pins that a failed Write to the body
// of a 101 Switching Protocols response is reported: BodyDone with
// BodyWriteError and the error, once.
func TestTransportProtocolSwitchWriteError(t *testing.T) {
	hungUp := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer close(hungUp)
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		// Reset the connection: the client's next writes fail.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}))
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
	require.True(t, ok)
	<-hungUp

	// The reset reaches the client asynchronously: write until a write
	// fails, as it must within a few.
	var werr error
	deadline := time.Now().Add(10 * time.Second)
	for werr == nil && time.Now().Before(deadline) {
		_, werr = rw.Write([]byte("hello\n"))
	}
	require.Error(t, werr, "writing to a reset connection fails")
	_, _ = rw.Write([]byte("again\n"))
	require.NoError(t, rw.Close())

	got := bodyDone(t, &rec)
	assert.Equal(t, clienttrace.BodyWriteError, got.Reason)
	require.ErrorIs(t, got.Err, werr)
	assert.Equal(t, "write_error", got.Reason.String())
}

// countingTrace counts every hook call of one trace; safe for concurrent
// hooks.
func countingTrace(rec *recorder, tag string) *clienttrace.ClientTrace { return rec.tagged(tag) }

// hookCounts returns how many times each hook was called.
func hookCounts(rec *recorder) map[string]int {
	out := map[string]int{}
	for _, h := range rec.hooks() {
		out[h]++
	}
	return out
}

// TestTransportNestedFiresEachHookOnce pins that lifecycle transports wrapped
// around one another call every hook once per event: the outer transport
// reports the caller's trace, an inner one only what was installed further
// in.
func TestTransportNestedFiresEachHookOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, bigBody) }))
	defer srv.Close()

	// installing is a middleware that installs inner's trace in the
	// request's context, as a library's transport would.
	installing := func(inner *clienttrace.ClientTrace, base http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return base.RoundTrip(r.WithContext(clienttrace.WithClientTrace(r.Context(), inner)))
		})
	}
	run := func(t *testing.T, wrap func(tr *http.Transport, inner *clienttrace.ClientTrace) http.RoundTripper) (outer, inner map[string]int) {
		t.Helper()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		var outerRec, innerRec recorder
		rt := wrap(tr, countingTrace(&innerRec, ""))
		req := newRequest(t, http.MethodGet, srv.URL, nil)
		req = req.WithContext(clienttrace.WithClientTrace(req.Context(), countingTrace(&outerRec, "")))
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.Equal(t, int64(len(bigBody)), n)
		require.NoError(t, resp.Body.Close())
		return hookCounts(&outerRec), hookCounts(&innerRec)
	}

	baseline, _ := run(t, func(tr *http.Transport, _ *clienttrace.ClientTrace) http.RoundTripper {
		return clienttrace.NewTransport(tr)
	})
	require.Equal(t, 1, baseline["RoundTripDone"])
	require.Equal(t, 1, baseline["BodyDone"])

	tests := []struct {
		name string
		wrap func(tr *http.Transport, inner *clienttrace.ClientTrace) http.RoundTripper
		// innerInstalled is whether the inner trace is installed.
		innerInstalled bool
	}{
		{"two deep", func(tr *http.Transport, _ *clienttrace.ClientTrace) http.RoundTripper {
			return clienttrace.NewTransport(clienttrace.NewTransport(tr))
		}, false},
		{"three deep", func(tr *http.Transport, _ *clienttrace.ClientTrace) http.RoundTripper {
			return clienttrace.NewTransport(clienttrace.NewTransport(clienttrace.NewTransport(tr)))
		}, false},
		{"inner trace installed between", func(tr *http.Transport, inner *clienttrace.ClientTrace) http.RoundTripper {
			return clienttrace.NewTransport(installing(inner, clienttrace.NewTransport(tr)))
		}, true},
		{"inner trace installed outside both", func(tr *http.Transport, inner *clienttrace.ClientTrace) http.RoundTripper {
			return installing(inner, clienttrace.NewTransport(clienttrace.NewTransport(tr)))
		}, true},
		{"a plain transport between", func(tr *http.Transport, inner *clienttrace.ClientTrace) http.RoundTripper {
			return clienttrace.NewTransport(installing(inner, roundTripperFunc(clienttrace.NewTransport(tr).RoundTrip)))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outer, inner := run(t, tt.wrap)
			assert.Equal(t, baseline, outer, "the caller's trace")
			if tt.innerInstalled {
				assert.Equal(t, baseline, inner, "the trace installed inside")
			}
		})
	}
}

// TestTransportClaimDoesNotLeakIntoLaterRequests pins that what a transport
// tells the transports it calls stays with its own request: the caller's
// context is not changed, and a later request with it is reported again.
func TestTransportClaimDoesNotLeakIntoLaterRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	rt := clienttrace.NewTransport(clienttrace.NewTransport(tr))
	var rec recorder
	ctx := clienttrace.WithClientTrace(t.Context(), rec.trace())
	for range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Same(t, ctx, req.Context())
	}
	assert.Equal(t, 3, rec.count("RoundTripDone"))
	assert.Equal(t, 3, rec.count("BodyDone"))
}
