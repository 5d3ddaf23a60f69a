package clienttrace_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
)

func TestWithClientTraceNilArguments(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, 1)
	assert.Same(t, ctx, clienttrace.WithClientTrace(ctx, nil), "a nil trace returns ctx unchanged")
	assert.Nil(t, clienttrace.ContextClientTrace(ctx))
	assert.Nil(t, clienttrace.ContextClientTrace(nil)) //nolint:staticcheck // a nil context is tolerated

	trace := &clienttrace.ClientTrace{GetConn: func(string) {}}
	ctx = clienttrace.WithClientTrace(nil, trace) //nolint:staticcheck // a nil context is tolerated
	require.NotNil(t, ctx)
	assert.Same(t, trace, clienttrace.ContextClientTrace(ctx))
	assert.NotNil(t, httptrace.ContextClientTrace(ctx), "net/http sees the hooks")
}

func TestContextClientTraceReturnsNewest(t *testing.T) {
	a := &clienttrace.ClientTrace{GetConn: func(string) {}}
	b := &clienttrace.ClientTrace{BodyDone: func(clienttrace.BodyDoneInfo) {}}
	ctx := clienttrace.WithClientTrace(context.Background(), a)
	assert.Same(t, a, clienttrace.ContextClientTrace(ctx))
	ctx = clienttrace.WithClientTrace(ctx, b)
	assert.Same(t, b, clienttrace.ContextClientTrace(ctx))
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{})
	assert.Same(t, b, clienttrace.ContextClientTrace(ctx), "httptrace installs are not reported")
	ctx = context.WithValue(ctx, ctxKey{}, 1)
	assert.Same(t, b, clienttrace.ContextClientTrace(ctx))
}

type ctxKey struct{}

// install adds one trace to a context, with clienttrace or with httptrace.
type install func(context.Context, *recorder) context.Context

func ours(tag string) install {
	return func(ctx context.Context, rec *recorder) context.Context {
		return clienttrace.WithClientTrace(ctx, rec.tagged(tag))
	}
}

func stdlib(tag string) install {
	return func(ctx context.Context, rec *recorder) context.Context {
		return httptrace.WithClientTrace(ctx, clienttrace.ToHTTPTrace(rec.tagged(tag)))
	}
}

func TestWithClientTraceComposesWithHTTPTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()

	tests := []struct {
		name     string
		installs []install
		netOrder []string // the tags, in the order net/http hooks reach them
		ours     []string // the tags that get lifecycle hooks, in order
	}{
		{"clienttrace alone", []install{ours("a.")}, []string{"a."}, []string{"a."}},
		{"httptrace on top of clienttrace", []install{ours("a."), stdlib("p.")}, []string{"p.", "a."}, []string{"a."}},
		{"clienttrace on top of httptrace", []install{stdlib("p."), ours("a.")}, []string{"a.", "p."}, []string{"a."}},
		{"two clienttraces", []install{ours("a."), ours("b.")}, []string{"b.", "a."}, []string{"b.", "a."}},
		{
			"clienttrace, httptrace, clienttrace",
			[]install{ours("a."), stdlib("p."), ours("b.")},
			[]string{"b.", "p.", "a."}, []string{"b.", "a."},
		},
		{
			"httptrace, clienttrace, httptrace",
			[]install{stdlib("p."), ours("a."), stdlib("q.")},
			[]string{"q.", "a.", "p."}, []string{"a."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			ctx := t.Context()
			for _, in := range tt.installs {
				ctx = in(ctx, &rec)
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, testnet.ByName(t, srv.URL), nil)
			require.NoError(t, err)
			resp, err := clienttrace.NewTransport(tr).RoundTrip(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())

			for _, hook := range []string{"GetConn", "DNSStart", "DNSDone", "ConnectStart", "GotConn", "WroteRequest"} {
				assert.Equal(t, prefixed(tt.netOrder, hook), tagsOf(rec.hooks(), hook), hook)
			}
			for _, hook := range []string{"RoundTripDone", "BodyDone"} {
				assert.Equal(t, prefixed(tt.ours, hook), tagsOf(rec.hooks(), hook), hook)
			}
		})
	}
}

// prefixed returns tag+hook for each tag.
func prefixed(tags []string, hook string) []string {
	out := make([]string, len(tags))
	for i, tag := range tags {
		out[i] = tag + hook
	}
	return out
}

// tagsOf returns the names in got that end in "."+hook, in order.
func tagsOf(got []string, hook string) []string {
	var out []string
	for _, g := range got {
		if strings.HasSuffix(g, "."+hook) {
			out = append(out, g)
		}
	}
	return out
}

func TestWithClientTraceDoesNotModifyTraces(t *testing.T) {
	var rec recorder
	plain := clienttrace.ToHTTPTrace(rec.tagged("p."))
	ctx := httptrace.WithClientTrace(context.Background(), plain)
	a := rec.tagged("a.")
	ctx = clienttrace.WithClientTrace(ctx, a)
	ctx = clienttrace.WithClientTrace(ctx, rec.tagged("b."))
	require.NotNil(t, ctx)

	// Had either been composed in place, as httptrace does, calling its
	// hook would reach the others.
	plain.GetConn("x:1")
	a.GetConn("x:1")
	assert.Equal(t, []string{"p.GetConn", "a.GetConn"}, rec.hooks())
}

func TestWithClientTraceSameTraceTwice(t *testing.T) {
	var rec recorder
	trace := rec.trace()
	ctx := clienttrace.WithClientTrace(context.Background(), trace)
	again := clienttrace.WithClientTrace(ctx, trace)
	assert.Same(t, ctx, again, "installing a trace ctx already carries returns ctx")

	again = clienttrace.WithClientTrace(clienttrace.WithClientTrace(ctx, &clienttrace.ClientTrace{}), trace)
	httptrace.ContextClientTrace(again).GetConn("x:1")
	assert.Equal(t, []string{"GetConn"}, rec.hooks(), "the hook fires once")
}

func TestWithClientTraceConcurrentInstallsOfOneTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: clienttrace.NewTransport(tr)}

	var getConn, gotConn, bodyDone, other atomic.Int64
	shared := &clienttrace.ClientTrace{
		GetConn:  func(string) { getConn.Add(1) },
		GotConn:  func(clienttrace.GotConnInfo) { gotConn.Add(1) },
		BodyDone: func(clienttrace.BodyDoneInfo) { bodyDone.Add(1) },
	}
	otherTrace := &clienttrace.ClientTrace{GetConn: func(string) { other.Add(1) }}

	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for range perWorker {
				ctx := t.Context()
				switch w % 3 {
				case 1: // on top of a plain httptrace trace
					ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GetConn: func(string) { other.Add(1) }})
				case 2: // stacked with another clienttrace
					ctx = clienttrace.WithClientTrace(ctx, otherTrace)
				}
				ctx = clienttrace.WithClientTrace(ctx, shared)
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				if err != nil {
					errs <- err
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	const total = workers * perWorker
	assert.Equal(t, int64(total), getConn.Load())
	assert.Equal(t, int64(total), gotConn.Load())
	assert.Equal(t, int64(total), bodyDone.Load())
	stacked := 0 // workers whose contexts carry another trace too
	for w := range workers {
		if w%3 != 0 {
			stacked++
		}
	}
	assert.Equal(t, int64(stacked*perWorker), other.Load())
}
