package otelhooks

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
	"github.com/wiretrace/wiretrace/internal/spantest"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

// TestPoolKeptContextSentBeforeTheBodyEndsReachesNoOtherRequest sends a
// request B with the context of a request A (resp.Request.Context()) while
// A's body is still open, as a handler fanning out under the response it
// is reading may. B's hooks are composed, at B's start, with those A's
// context answers with then: A's. A's body then ends, A's state goes back
// to the pool and carries a request C; only then does B look for its
// connection. None of B's hooks may reach C's state: C must keep one
// http.getconn, no resend, and its request span must end when C's body
// does, not when B's does.
func TestPoolKeptContextSentBeforeTheBodyEndsReachesNoOtherRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		rt   func(base *http.Transport, tp trace.TracerProvider) http.RoundTripper
	}{
		{"B through a bare *http.Transport", func(base *http.Transport, _ trace.TracerProvider) http.RoundTripper { return base }},
		{"B through another traced transport", func(base *http.Transport, tp trace.TracerProvider) http.RoundTripper {
			return NewTransport(base, WithTracerProvider(tp))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			ends := spantest.NewEndChecker()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSpanProcessor(ends))
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			t.Cleanup(srv.Close)
			base := &http.Transport{}
			t.Cleanup(base.CloseIdleConnections)
			rt := NewTransport(base, WithTracerProvider(tp))
			ctx := context.Background()
			doRead(t, ctx, rt, get(t, srv.URL)) // the idle connection
			releases := watchReleases(t)

			// The race detector's sync.Pool drops states at random: try
			// until C gets A's state.
			for range 50 {
				respA, err := rt.RoundTrip(get(t, srv.URL))
				require.NoError(t, err)
				pA, _ := sentState(respA)
				require.NotNil(t, pA)

				// B's transport holds B in its Proxy func, which
				// net/http calls after it took B's hooks from the
				// context and before GetConn.
				captured, proceed := make(chan struct{}), make(chan struct{})
				bBase := &http.Transport{Proxy: func(*http.Request) (*url.URL, error) {
					close(captured)
					<-proceed
					return nil, nil
				}}
				t.Cleanup(bBase.CloseIdleConnections)
				bDone := make(chan error, 1)
				kept := respA.Request.Context()
				go func() { bDone <- roundTripRead(kept, tc.rt(bBase, tp), srv.URL) }()
				<-captured

				_, err = io.Copy(io.Discard, respA.Body)
				require.NoError(t, err)
				require.NoError(t, respA.Body.Close())
				awaitRelease(t, releases, pA)

				respC, err := rt.RoundTrip(get(t, srv.URL))
				require.NoError(t, err)
				pC, _ := sentState(respC)
				if pC != pA {
					close(proceed)
					require.NoError(t, <-bDone)
					_, _ = io.Copy(io.Discard, respC.Body)
					_ = respC.Body.Close()
					continue
				}
				cSpan := trace.SpanFromContext(respC.Request.Context()).SpanContext()
				require.True(t, cSpan.IsValid())

				close(proceed)
				require.NoError(t, <-bDone)
				for _, s := range rec.Ended() {
					assert.NotEqual(t, cSpan.SpanID(), s.SpanContext().SpanID(), "C's request span ended before C's body did (by B's BodyDone)")
				}
				_, err = io.Copy(io.Discard, respC.Body)
				require.NoError(t, err)
				require.NoError(t, respC.Body.Close())

				var getconns []string
				for _, s := range rec.Ended() {
					if s.Parent().SpanID() != cSpan.SpanID() {
						continue
					}
					if s.Name() == "http.getconn" {
						getconns = append(getconns, s.Name())
					}
					assert.Equal(t, cSpan.TraceID(), s.SpanContext().TraceID())
				}
				assert.Len(t, getconns, 1, "C's http.getconn spans: B's GetConn reached C's state")
				for _, s := range rec.Ended() {
					if s.SpanContext().SpanID() == cSpan.SpanID() {
						for _, e := range s.Events() {
							assert.NotEqual(t, names.EventResend, e.Name, "a resend on C: B's GetConn")
						}
					}
				}
				ends.AssertAllEnded(t)
				return
			}
			t.Fatal("the pool never gave A's state to C")
		})
	}
}
