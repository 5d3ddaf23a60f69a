package otelhooks_test

// Tests of otelhttp v0.72.0's transport_test.go
// (go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp) ported onto
// otelhooks.NewTransport, each naming the test it ports. Where otelhttp's
// tests use a fake base RoundTripper, these make a real round trip on
// loopback first and then return what the fake returned; where otelhttp's
// behavior differs on purpose, the test follows docs/spans.md and says why.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// realThen returns a base that sends the request to a real server through
// tr, drains and closes the real response, and returns what fake makes of
// it.
func realThen(tr http.RoundTripper, fake func(*http.Response) (*http.Response, error)) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if err := resp.Body.Close(); err != nil {
			return nil, err
		}
		return fake(resp)
	})
}

// Ports TestTransportNilResponse, TestTransportNilResponseBody,
// TestTransportNilResponseBodyWithContentLength and
// TestTransportNilResponseBodyWithHeadContentLength: a base that breaks
// RoundTripper's contract gets an error naming it, as http.Client gives,
// and the request span ends either way.
func TestOtelhttpTransportNilResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	tests := []struct {
		name    string
		method  string
		fake    func(*http.Response) (*http.Response, error)
		wantErr string // "" for success
	}{
		{
			name: "TestTransportNilResponse", method: http.MethodGet,
			fake:    func(*http.Response) (*http.Response, error) { return nil, nil },
			wantErr: "RoundTrip returned a nil *http.Response and a nil error",
		},
		{
			name: "TestTransportNilResponseBody", method: http.MethodGet,
			fake: func(r *http.Response) (*http.Response, error) { return &http.Response{StatusCode: r.StatusCode}, nil },
		},
		{
			name: "TestTransportNilResponseBodyWithContentLength", method: http.MethodGet,
			fake: func(r *http.Response) (*http.Response, error) {
				return &http.Response{StatusCode: r.StatusCode, ContentLength: 1}, nil
			},
			wantErr: "with ContentLength 1 but a nil Body",
		},
		{
			name: "TestTransportNilResponseBodyWithHeadContentLength", method: http.MethodHead,
			fake: func(r *http.Response) (*http.Response, error) {
				return &http.Response{StatusCode: r.StatusCode, ContentLength: 1}, nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.name, "TestTransport"), func(t *testing.T) {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			e := newEnv(t)
			rt := otelhooks.NewTransport(realThen(tr, tt.fake), otelhooks.WithTracerProvider(e.tp))
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL, http.NoBody)
			require.NoError(t, err)
			res, err := rt.RoundTrip(req)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Nil(t, res)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), "otelhooks_test.roundTripperFunc", "the error names the base")
				span := one(t, e.spans(), tt.method)
				assert.Equal(t, codes.Error, span.Status().Code)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, res.Body)
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Empty(t, body)
			require.NoError(t, res.Body.Close())
			assert.Equal(t, codes.Unset, one(t, e.spans(), tt.method).Status().Code)
		})
	}
}

// Ports TestNilTransport: a nil base is http.DefaultTransport.
func TestOtelhttpNilTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	e := newEnv(t)
	res, body := get(t, t.Context(), e.client(nil), srv.URL)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "ok", body)
	one(t, e.spans(), http.MethodGet)
}

// Ports TestTransportProtocolSwitch (otelhttp issue #1329) and
// TestWrappedBodyWrite: the body of a 101 Switching Protocols response
// keeps io.ReadWriteCloser, and writes reach the new protocol.
func TestOtelhttpTransportProtocolSwitch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.Upgrade))
	defer srv.Close()
	e := newEnv(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	res, err := e.client(http.DefaultTransport).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	rwc, ok := res.Body.(io.ReadWriteCloser)
	require.True(t, ok, "invalid body returned for protocol switch: %T", res.Body)
	_, err = io.WriteString(rwc, "hello\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(rwc).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HELLO\n", line)
	require.NoError(t, rwc.Close())
	span := one(t, e.spans(), http.MethodGet)
	assert.Equal(t, int64(101), attrValue(t, span, "http.response.status_code").AsInt64())
}

// Ports TestWrappedBodyWriteError: the first failed write to a 101's body
// ends the request span with the error (wiretrace.body.done write_error),
// once; later writes and the close do not end it again.
func TestOtelhttpTransportProtocolSwitchWriteError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_ = conn.Close() // the new protocol's connection is gone
	}))
	defer srv.Close()
	e := newEnv(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	res, err := e.client(&http.Transport{}).Do(req)
	require.NoError(t, err)
	w, ok := res.Body.(io.Writer)
	require.True(t, ok)
	// Read to the server's close, so that the writes that follow fail.
	_, _ = io.Copy(io.Discard, res.Body)
	var werr error
	for range 1000 {
		if _, werr = w.Write([]byte(strings.Repeat("x", 1024))); werr != nil {
			break
		}
	}
	require.Error(t, werr, "writes to a closed connection fail")
	_, _ = w.Write([]byte("again"))
	require.NoError(t, res.Body.Close())

	span := one(t, e.spans(), http.MethodGet)
	receive := one(t, e.spans(), "http.receive")
	// Read to EOF first: the body was done at EOF, before the writes; a
	// write error after that ends nothing (docs/spans.md: the first
	// ending wins).
	assert.Equal(t, "eof", attrValue(t, receive, "wiretrace.body.done").AsString())
	assert.Equal(t, codes.Unset, span.Status().Code)
}

// Ports TestWrappedBodyWriteError on an open body: a write that fails before
// the body was read to its end ends the request span with Error and
// wiretrace.body.done write_error.
func TestOtelhttpTransportProtocolSwitchWriteErrorEndsBody(t *testing.T) {
	closed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_ = conn.Close()
		close(closed)
	}))
	defer srv.Close()
	e := newEnv(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	res, err := e.client(&http.Transport{}).Do(req)
	require.NoError(t, err)
	<-closed
	w := res.Body.(io.Writer)
	var werr error
	for range 1000 {
		if _, werr = w.Write([]byte(strings.Repeat("x", 1024))); werr != nil {
			break
		}
	}
	require.Error(t, werr)
	require.NoError(t, res.Body.Close())
	span := one(t, e.spans(), http.MethodGet)
	assert.Equal(t, codes.Error, span.Status().Code)
	assert.Equal(t, "write_error", attrValue(t, one(t, e.spans(), "http.receive"), "wiretrace.body.done").AsString())
}

// Ports TestWrappedBodyReadError, TestWrappedBodyReadEOFError,
// TestWrappedBodyClose and TestWrappedBodyReadEOFThenCloseRecordsOnce on
// real bodies: however the body ends, the request span ends once, and the
// duration metric counts the request once.
func TestOtelhttpTransportBodyEndsOnce(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", testnet.OK)
	mux.HandleFunc("/abort", testnet.AbortMidBody)
	srv := httptest.NewServer(mux)
	srv.Config.ErrorLog = testnet.QuietLog()
	defer srv.Close()
	tests := []struct {
		name     string // the otelhttp test
		path     string
		consume  func(io.ReadCloser)
		wantDone string
		wantErr  bool
	}{
		{name: "TestWrappedBodyReadEOFThenCloseRecordsOnce", path: "/ok", wantDone: "eof",
			consume: func(b io.ReadCloser) {
				_, _ = io.ReadAll(b)
				_, _ = b.Read(make([]byte, 1))
				_ = b.Close()
				_ = b.Close()
			}},
		{name: "TestWrappedBodyClose", path: "/ok", wantDone: "closed",
			consume: func(b io.ReadCloser) { _ = b.Close(); _ = b.Close() }},
		{name: "TestWrappedBodyReadError", path: "/abort", wantDone: "read_error", wantErr: true,
			consume: func(b io.ReadCloser) { _, _ = io.ReadAll(b); _, _ = b.Read(make([]byte, 1)); _ = b.Close() }},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.name, "TestWrappedBody"), func(t *testing.T) {
			e := newEnv(t)
			m := newMeters(t)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			client := e.client(tr, otelhooks.WithMeterProvider(m.mp))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tt.path, nil)
			require.NoError(t, err)
			res, err := client.Do(req)
			require.NoError(t, err)
			tt.consume(res.Body)

			assert.Empty(t, e.checker.EndedTwice())
			span := one(t, e.spans(), http.MethodGet)
			assert.Equal(t, tt.wantDone, attrValue(t, one(t, e.spans(), "http.receive"), "wiretrace.body.done").AsString())
			if tt.wantErr {
				assert.Equal(t, codes.Error, span.Status().Code)
			} else {
				assert.Equal(t, codes.Unset, span.Status().Code)
			}
			assert.Equal(t, uint64(1), totalCount(points(t, m.collect(t), "http.client.request.duration")))
		})
	}
}

// Ports TestTransportOriginRequestNotModify: the caller's request is left
// as it was, though the transport injects a trace context.
func TestOtelhttpTransportOriginRequestNotModify(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.NotEmpty(t, r.Header.Get("Traceparent"), "the sent copy carries the context")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	e := newEnv(t)
	ctx, root := e.root(t.Context())
	defer root.End()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	expected := r.Clone(r.Context())
	res, err := e.client(http.DefaultTransport, otelhooks.WithPropagators(otelprop.TraceContext{})).Do(r)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.Equal(t, expected, r)
}

// Ports TestTransportUsesFormatter. otelhttp's default name is "HTTP GET";
// wiretrace's is the method, as the HTTP semantic conventions say
// (docs/spans.md), and WithSpanNameFormatter names it otherwise. The server
// sees a valid propagated context either way.
func TestOtelhttpTransportUsesFormatter(t *testing.T) {
	prop := otelprop.TraceContext{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := trace.SpanContextFromContext(prop.Extract(r.Context(), otelprop.HeaderCarrier(r.Header)))
		assert.True(t, sc.IsValid(), "invalid span wrapping handler: %#v", sc)
		_, _ = io.WriteString(w, "Hello, world!")
	}))
	defer srv.Close()
	for _, tt := range []struct {
		name string
		opts []otelhooks.Option
		want string
	}{
		{name: "default", want: "GET"},
		{name: "formatter", opts: []otelhooks.Option{otelhooks.WithSpanNameFormatter(func(r *http.Request) string {
			return "HTTP " + r.Method
		})}, want: "HTTP GET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			opts := append([]otelhooks.Option{otelhooks.WithPropagators(prop)}, tt.opts...)
			_, _ = get(t, t.Context(), e.client(http.DefaultTransport, opts...), srv.URL)
			one(t, e.spans(), tt.want)
		})
	}
}

// Ports TestTransportErrorStatus: a refused connection ends the request
// span with status Error, described by the error.
func TestOtelhttpTransportErrorStatus(t *testing.T) {
	e := newEnv(t)
	err := send(t.Context(), e.client(&http.Transport{}), "http://"+testnet.RefusedAddr(t)+"/")
	require.Error(t, err)
	span := one(t, e.spans(), http.MethodGet)
	assert.False(t, span.EndTime().IsZero())
	assert.Equal(t, codes.Error, span.Status().Code)
	assert.Contains(t, span.Status().Description, "connect: connection refused")
	assert.Equal(t, "connection_refused", attrValue(t, span, "error.type").AsString())
}

// Ports TestTransportRequestWithTraceContext: the request span is a child
// of the span in the request's context, and ends with the body, after the
// caller's span did.
func TestOtelhttpTransportRequestWithTraceContext(t *testing.T) {
	content := "Hello, world!"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, content)
	}))
	defer srv.Close()
	e := newEnv(t)
	ctx, span := e.tp.Tracer("").Start(t.Context(), "test_span")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	// No WithTracerProvider: the tracer comes from the span in the context.
	res, err := (&http.Client{Transport: otelhooks.NewTransport(http.DefaultTransport)}).Do(req)
	require.NoError(t, err)
	span.End()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, content, string(body))

	spans := e.spans()
	parent := one(t, spans, "test_span")
	child := one(t, spans, http.MethodGet)
	assert.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID())
	assert.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID())
}

// Ports TestTransportMetrics and TestTransportErrorTypeMetricAttribute:
// one request records the request metrics once, with the attributes
// docs/metrics.md lists; a failed one adds error.type.
func TestOtelhttpTransportMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "Hello, world!")
	}))
	defer srv.Close()
	m := newMeters(t)
	e := newEnv(t)
	client := e.client(&http.Transport{}, otelhooks.WithMeterProvider(m.mp))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("request body"))
	require.NoError(t, err)
	res, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.ReadAll(res.Body)
	require.NoError(t, res.Body.Close())
	require.Error(t, send(t.Context(), client, "http://"+testnet.RefusedAddr(t)+"/"))

	all := m.collect(t)
	dur := points(t, all, "http.client.request.duration")
	require.Len(t, dur, 2)
	var ok, failed point
	for _, p := range dur {
		if _, has := p.attrs["error.type"]; has {
			failed = p
		} else {
			ok = p
		}
	}
	assert.Equal(t, uint64(1), ok.count)
	assert.Equal(t, "POST", ok.attrs["http.request.method"])
	assert.Equal(t, "200", ok.attrs["http.response.status_code"])
	assert.Equal(t, "127.0.0.1", ok.attrs["server.address"])
	assert.Equal(t, "1.1", ok.attrs["network.protocol.version"])
	assert.Equal(t, uint64(1), failed.count)
	assert.Equal(t, "connection_refused", failed.attrs["error.type"])
	reqSize := points(t, all, "http.client.request.body.size")
	var sizes []float64
	for _, p := range reqSize {
		sizes = append(sizes, p.sum)
	}
	assert.Contains(t, sizes, float64(len("request body")))
	respSize := points(t, all, "http.client.response.body.size")
	require.Len(t, respSize, 1, "no response, no response size")
	assert.InDelta(t, float64(len("Hello, world!")), respSize[0].sum, 0)
	for _, p := range points(t, all, "http.client.active_requests") {
		assert.Zero(t, p.value, "every request ended")
	}
}

// Ports TestTransportNetworkProtocolVersionFromResponse: over HTTP/2 the
// span and the metrics say the protocol negotiated, not req.Proto. otelhttp
// records "2.0"; the semantic conventions' value, which wiretrace records,
// is "2".
func TestOtelhttpTransportNetworkProtocolVersionFromResponse(t *testing.T) {
	srv, tr := testnet.NewTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}), true)
	e := newEnv(t)
	m := newMeters(t)
	res, _ := get(t, t.Context(), e.client(tr, otelhooks.WithMeterProvider(m.mp)), srv.URL)
	require.Equal(t, "HTTP/2.0", res.Proto)
	assert.Equal(t, "2", attrValue(t, one(t, e.spans(), http.MethodGet), "network.protocol.version").AsString())
	for _, name := range []string{"http.client.request.duration", "http.client.response.body.size"} {
		for _, p := range points(t, m.collect(t), name) {
			assert.Equal(t, "2", p.attrs["network.protocol.version"], name)
		}
	}
}

// Ports TestTransportFilterPassThrough: a request a filter rejects is sent
// untouched: no span, no metric, no propagated context.
func TestOtelhttpTransportFilterPassThrough(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Empty(t, r.Header.Get("Traceparent"))
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	e := newEnv(t)
	m := newMeters(t)
	ctx, root := e.root(t.Context())
	client := e.client(&http.Transport{}, otelhooks.WithMeterProvider(m.mp),
		otelhooks.WithFilter(func(*http.Request) bool { return false }))
	_, _ = get(t, ctx, client, srv.URL)
	root.End()
	assert.Equal(t, []string{"root"}, names(e.spans()))
	var rm metricdata.ResourceMetrics
	require.NoError(t, m.reader.Collect(t.Context(), &rm))
	assert.Empty(t, rm.ScopeMetrics)
}

// Ports TestTransportMetricsRecordedBeforeResponseBodyFinalized. On purpose
// different: otelhttp records its duration when RoundTrip returns;
// wiretrace's http.client.request.duration includes reading the body
// (docs/metrics.md), so while a long-lived body is open the request is
// active and no duration is recorded; closing the body records it.
func TestOtelhttpTransportMetricsRecordedWhenBodyDone(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		<-release
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	m := newMeters(t)
	e := newEnv(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	res, err := e.client(&http.Transport{}, otelhooks.WithMeterProvider(m.mp)).Do(req)
	require.NoError(t, err)

	all := m.collect(t)
	_, recorded := all["http.client.request.duration"]
	assert.False(t, recorded, "the request is not done while its body is open")
	active := points(t, all, "http.client.active_requests")
	require.Len(t, active, 1)
	assert.Equal(t, int64(1), active[0].value)

	require.NoError(t, res.Body.Close())
	all = m.collect(t)
	assert.Equal(t, uint64(1), totalCount(points(t, all, "http.client.request.duration")))
	assert.Zero(t, points(t, all, "http.client.active_requests")[0].value)
}

// Ports TestRequestBodyReuse: a 308 redirect sends the body again from
// GetBody; each hop is a request span of its own, the second a resend.
func TestOtelhttpRequestBodyReuse(t *testing.T) {
	var received []string // handler runs one request at a time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		received = append(received, string(b))
		if len(received) == 1 {
			http.Redirect(w, r, "/", http.StatusPermanentRedirect) // 308 sends the body again
		}
	}))
	defer srv.Close()
	e := newEnv(t)
	ctx, root := e.root(t.Context())
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL,
		io.NopCloser(strings.NewReader("plain text body1"))) // hide *strings.Reader
	require.NoError(t, err)
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("plain text body2")), nil }
	resp, err := e.client(&http.Transport{}).Do(r)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	root.End()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"plain text body1", "plain text body2"}, received)
	hops := named(e.spans(), http.MethodPost)
	require.Len(t, hops, 2)
	assert.Equal(t, int64(308), attrValue(t, hops[0], "http.response.status_code").AsInt64())
	assert.Equal(t, int64(1), attrValue(t, hops[1], "http.request.resend_count").AsInt64())
}

// Ports TestHandleErrorOnGetBodyError: when GetBody fails at the redirect,
// http.Client fails the request; the one hop that was sent is one ended
// span, and no span is started for the hop that never was.
func TestOtelhttpHandleErrorOnGetBodyError(t *testing.T) {
	requests := 0 // handler runs one request at a time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		_, _ = io.ReadAll(r.Body)
		http.Redirect(w, r, "/", http.StatusPermanentRedirect)
	}))
	defer srv.Close()
	e := newEnv(t)
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("plain text body")))
	require.NoError(t, err)
	getBodyErr := errors.New("GetBody error")
	r.GetBody = func() (io.ReadCloser, error) { return nil, getBodyErr }
	_, err = e.client(&http.Transport{}).Do(r)
	require.ErrorContains(t, err, getBodyErr.Error())
	assert.Equal(t, 1, requests)
	one(t, e.spans(), http.MethodPost)
}

// Ports TestWrappedBodyReadEOFKeepsReadWriteCloserOpenUntilClose: reading a
// 101's body to io.EOF (the server half-closed) leaves the connection open
// for writes. On purpose different: otelhttp ends its span at Close for a
// ReadWriteCloser; wiretrace's body is done at its first ending, EOF
// included (docs/spans.md, http.receive), so the request span ends at EOF
// and the writes that follow are the new protocol's, outside the request.
func TestOtelhttpProtocolSwitchReadEOFKeepsConnOpen(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_ = conn.(interface{ CloseWrite() error }).CloseWrite()
		line, _ := brw.ReadString('\n')
		got <- line
	}))
	defer srv.Close()
	e := newEnv(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	res, err := e.client(&http.Transport{}).Do(req)
	require.NoError(t, err)
	rwc := res.Body.(io.ReadWriteCloser)
	_, err = io.ReadAll(rwc)
	require.NoError(t, err)
	span := one(t, e.spans(), http.MethodGet) // ended at EOF
	assert.Equal(t, "eof", attrValue(t, one(t, e.spans(), "http.receive"), "wiretrace.body.done").AsString())

	_, err = io.WriteString(rwc, "after EOF\n")
	require.NoError(t, err, "EOF does not close the connection")
	assert.Equal(t, "after EOF\n", <-got)
	require.NoError(t, rwc.Close())
	assert.Empty(t, e.checker.EndedTwice())
	assert.Equal(t, codes.Unset, span.Status().Code)
}

// errOnClose is a response body whose Close fails after closing the real
// one.
type errOnClose struct {
	io.ReadCloser
	err error
}

func (b errOnClose) Close() error {
	_ = b.ReadCloser.Close()
	return b.err
}

// Ports TestWrappedBodyCloseError: Close returns the body's error, and the
// request span ends, without error status (a failed Close is not a failed
// request, as otelhttp records it).
func TestOtelhttpTransportBodyCloseError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	closeErr := errors.New("test")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	base := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body = errOnClose{ReadCloser: resp.Body, err: closeErr}
		return resp, nil
	})
	e := newEnv(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	res, err := e.client(base).Do(req)
	require.NoError(t, err)
	require.ErrorIs(t, res.Body.Close(), closeErr)
	span := one(t, e.spans(), http.MethodGet)
	assert.Equal(t, codes.Unset, span.Status().Code)
	assert.Equal(t, "closed", attrValue(t, one(t, e.spans(), "http.receive"), "wiretrace.body.done").AsString())
}

// Ports TestWithHTTPTrace: WithClientTrace's hooks, written for
// net/http/httptrace and adapted with clienttrace.FromHTTPTrace, run beside
// ours under the request span: the span they start in GetConn is its child.
// otelhttp names the request span "HTTP GET"; wiretrace names it "GET".
func TestOtelhttpWithHTTPTrace(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "Hello, world!")
	}))
	defer srv.Close()
	e := newEnv(t)
	ctx, span := e.tp.Tracer("").Start(t.Context(), "test_span")
	clientTracer := func(ctx context.Context) *clienttrace.ClientTrace {
		var span trace.Span // GetConn and GotConn of one request run in order
		return clienttrace.FromHTTPTrace(&httptrace.ClientTrace{
			GetConn: func(string) {
				_, span = trace.SpanFromContext(ctx).TracerProvider().Tracer("").Start(ctx, "httptrace.GetConn")
			},
			GotConn: func(httptrace.GotConnInfo) {
				if span != nil {
					span.End()
				}
			},
		})
	}
	res, body := get(t, ctx, e.client(&http.Transport{}, otelhooks.WithClientTrace(clientTracer)), srv.URL)
	span.End()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "Hello, world!", body)

	spans := e.spans()
	getConn := one(t, spans, "httptrace.GetConn")
	req := one(t, spans, http.MethodGet)
	assert.Equal(t, req.SpanContext().SpanID(), getConn.Parent().SpanID())
	assert.Equal(t, one(t, spans, "test_span").SpanContext().SpanID(), req.Parent().SpanID())
	one(t, spans, "http.getconn") // ours ran too
}

// TestOtelhttpWithClientTraceGot1xxLiftsLimit is
// TestTransportDoesNotLimitDelivered1xxResponses with the caller's
// Got1xxResponse given by WithClientTrace: it sees the 1xx responses, so
// the limit is lifted as net/http lifts it, and all ten arrive.
func TestOtelhttpWithClientTraceGot1xxLiftsLimit(t *testing.T) {
	srv, tr := testnet.NewModeServer(t, testnet.HTTP1, http.HandlerFunc(limits1xxHandler), nil)
	tr.DisableKeepAlives = true
	tr.MaxResponseHeaderBytes = 1000
	e := newEnv(t)
	var got1xx atomic.Int32
	client := e.client(tr, otelhooks.WithClientTrace(func(context.Context) *clienttrace.ClientTrace {
		return &clienttrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { got1xx.Add(1); return nil }}
	}))
	require.NoError(t, send(t.Context(), client, srv.URL))
	assert.Equal(t, int32(10), got1xx.Load())
}

// Ports TestTransportBasics: with no tracer provider set and a remote span
// context in the request's context (the global provider is a no-op), the
// server still receives that context, and the body arrives whole.
func TestOtelhttpTransportBasics(t *testing.T) {
	prop := otelprop.TraceContext{}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x01}, SpanID: trace.SpanID{0x01}})
	ctx := trace.ContextWithRemoteSpanContext(t.Context(), sc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := trace.SpanContextFromContext(prop.Extract(r.Context(), otelprop.HeaderCarrier(r.Header)))
		assert.Equal(t, sc.TraceID(), got.TraceID())
		assert.Equal(t, sc.SpanID(), got.SpanID(), "testing remote SpanID")
		_, _ = io.WriteString(w, "Hello, world!")
	}))
	defer srv.Close()
	client := &http.Client{Transport: otelhooks.NewTransport(&http.Transport{}, otelhooks.WithPropagators(prop))}
	_, body := get(t, ctx, client, srv.URL)
	assert.Equal(t, "Hello, world!", body)
}
