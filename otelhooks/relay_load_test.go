package otelhooks_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// connectionPhases are the phases a dial has, which are http.getconn's
// children as sub-spans.
var connectionPhases = map[string]bool{"http.dns": true, "http.connect": true, "http.tls": true, "http.proxy_connect": true}

var (
	relaySeed     = flag.Uint64("relay.seed", 7, "seed of TestFaultRelayLoad's relay and requests")
	relayRequests = flag.Int("relay.requests", 1000, "requests per mode of TestFaultRelayLoad (a quarter for HTTPS, a tenth with -short)")
)

// relayed is what the client of one request of TestFaultRelayLoad saw.
type relayed struct {
	err     error // of the round trip
	status  int
	bodyErr error // reading the body
}

// loadHandler answers /?size=N&status=C with C and N bytes, in flushed
// chunks, after reading the request body.
func loadHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	status, _ := strconv.Atoi(r.URL.Query().Get("status"))
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(status)
	chunk := []byte(strings.Repeat("x", 4<<10))
	for size > 0 {
		k := min(size, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		_ = http.NewResponseController(w).Flush()
		size -= k
	}
}

// TestFaultRelayLoad sends a bounded load (-relay.requests per mode, 64
// at a time, each with a 1s timeout) through otelhooks.NewTransport and a
// relay that delays chunks, resets connections mid-request and
// mid-response, truncates responses, stalls and closes after the headers,
// over HTTP/1.1 with keep-alive and over HTTP/2 (h2c, so that the relay
// sees the frames), and, a quarter as many, over HTTPS HTTP/2 with
// WithoutSubSpans. Every span that starts ends, exactly once; each
// request span's status and error.type agree with what the client saw,
// and so does the phase the failure happened in; the duration metric
// counts the same error.type values as the spans.
func TestFaultRelayLoad(t *testing.T) {
	modes := []struct {
		name            string
		h2, tls, events bool
		share           int // of -relay.requests: 1/share
	}{
		{"HTTP/1.1", false, false, false, 1},
		{"h2c", true, false, false, 1},
		{"HTTPS h2 WithoutSubSpans", true, true, true, 4},
	}
	for _, mode := range modes {
		h2 := mode.h2
		n := *relayRequests / mode.share
		if testing.Short() {
			n /= 10
		}
		t.Run(mode.name, func(t *testing.T) {
			var (
				srv    *httptest.Server
				base   *http.Transport
				scheme = "http"
			)
			if mode.tls {
				srv, base = testnet.NewTLSServer(t, http.HandlerFunc(loadHandler), h2)
				scheme = "https"
			} else {
				srv = httptest.NewUnstartedServer(http.HandlerFunc(loadHandler))
				srv.Config.ErrorLog = testnet.QuietLog()
				var protos http.Protocols
				protos.SetHTTP1(true)
				protos.SetUnencryptedHTTP2(true)
				srv.Config.Protocols = &protos
				srv.Start()
				defer srv.Close()
				base = &http.Transport{}
				if h2 {
					var p http.Protocols
					p.SetUnencryptedHTTP2(true)
					base.Protocols = &p
				}
			}
			base.MaxIdleConnsPerHost = 64
			cfg := testnet.FaultConfig{
				Seed:     *relaySeed,
				Span:     256 << 10,
				MaxStall: 1200 * time.Millisecond, // beyond the timeout, sometimes
				// Over TLS the relay sees no frames: it closes after a
				// header block only if the ciphertext has a blank line.
				HTTP2: h2 && !mode.tls,
			}
			if h2 {
				// One connection carries every stream: fault most of them,
				// further in, so that faults strike with streams in flight;
				// a stall holds them all, so keep it within the timeout.
				cfg.FaultRate, cfg.Span, cfg.MaxStall = 0.9, 2<<20, 300*time.Millisecond
			}
			relay := testnet.NewFaultRelay(t, srv.Listener.Addr().String(), cfg)

			e := newEnv(t)
			m := newMeters(t)
			defer base.CloseIdleConnections()
			opts := []otelhooks.Option{otelhooks.WithMeterProvider(m.mp)}
			if mode.events {
				opts = append(opts, otelhooks.WithoutSubSpans())
			}
			client := e.client(base, opts...)

			outcomes := make([]relayed, n)
			ids := make(chan int)
			deadline := time.Now().Add(60 * time.Second) // a bound, far above the run time
			start := time.Now()
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for i := range ids {
						outcomes[i] = relayRequest(t.Context(), client, scheme, relay.Addr(), *relaySeed, i)
					}
				})
			}
			for i := 0; i < n && time.Now().Before(deadline); i++ {
				ids <- i
			}
			close(ids)
			wg.Wait()
			elapsed := time.Since(start)
			base.CloseIdleConnections()

			e.assertAllEnded(t)
			started, ended := e.checker.Counts()
			spans := e.spans()
			byID := map[int]sdktrace.ReadOnlySpan{}
			children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
			var phaseErrors int
			for _, s := range spans {
				if s.Name() != "GET" && s.Name() != "POST" {
					children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
					if s.Status().Code == codes.Error {
						phaseErrors++
						assert.NotEmpty(t, attrs(s)["error.type"].AsString(), "%s failed without error.type: %s", s.Name(), s.Status().Description)
					}
					continue
				}
				u, err := url.Parse(attrs(s)["url.full"].AsString())
				require.NoError(t, err)
				id, err := strconv.Atoi(u.Query().Get("id"))
				require.NoError(t, err)
				_, dup := byID[id]
				require.False(t, dup, "two request spans for request %d", id)
				byID[id] = s
			}
			require.Len(t, byID, n, "one request span per request")

			spanTypes := map[string]int{}
			clientSaw := map[string]int{}
			sendOwnError := 0
			for i, o := range outcomes {
				s := byID[i]
				et := attrs(s)["error.type"].AsString()
				spanTypes[et]++
				// Each failure the relay causes has a name of its own, not
				// the Go type of an error that wraps it.
				assert.False(t, strings.HasPrefix(et, "*"), "request %d: error.type %s for %q", i, et, s.Status().Description)
				// The phases that failed, by name, with their error.type;
				// a failed attempt net/http retried is not a failure.
				failed := map[string]string{}
				for _, c := range children[s.SpanContext().SpanID()] {
					if c.Status().Code == codes.Error {
						if ct := attrs(c)["error.type"].AsString(); ct != "retried" {
							failed[c.Name()] = ct
						}
					}
				}
				for _, ev := range s.Events() { // WithoutSubSpans: "http.send.done", …
					// The connection's phases are counted as the sub-spans
					// count them: they are under http.getconn there, not
					// the request span's children (a dial of the request's
					// may fail while it takes another request's connection).
					if phase, ok := strings.CutSuffix(ev.Name, ".done"); ok && !connectionPhases[phase] {
						if ct := eventAttrs(ev)["error.type"].AsString(); ct != "" && ct != "retried" {
							failed[phase] = ct
						}
					}
				}
				switch {
				case o.err != nil:
					clientSaw["round trip failed"]++
					// The phase it failed in failed with it: with the round
					// trip's error.type, or, for http.send, with the error
					// of its own write (a reset reads as connection_reset
					// to the round trip and connection_closed to a write
					// after it).
					assert.Len(t, failed, 1, "request %d: %v", i, o.err)
					for name, ct := range failed {
						assert.Contains(t, []string{"http.getconn", "http.send", "http.wait"}, name, "request %d", i)
						if name != "http.send" {
							assert.Equal(t, et, ct, "request %d: %s", i, name)
						} else if ct != et {
							sendOwnError++
						}
					}
					assert.Equal(t, codes.Error, s.Status().Code, "request %d failed (%v), its span did not", i, o.err)
					assert.NotEmpty(t, et, "request %d: %v", i, o.err)
					if errors.Is(o.err, context.DeadlineExceeded) {
						assert.Equal(t, "timeout", et, "request %d: %v", i, o.err)
					}
				case o.bodyErr != nil:
					clientSaw["body failed"]++
					assert.Equal(t, map[string]string{"http.receive": et}, failed, "request %d: %v", i, o.bodyErr)
					assert.Equal(t, codes.Error, s.Status().Code, "request %d: the body failed (%v), its span did not", i, o.bodyErr)
					assert.NotEmpty(t, et, "request %d: %v", i, o.bodyErr)
					if errors.Is(o.bodyErr, context.DeadlineExceeded) {
						assert.Equal(t, "timeout", et, "request %d: %v", i, o.bodyErr)
					}
				case o.status >= 400:
					clientSaw[strconv.Itoa(o.status)]++
					assert.Empty(t, failed, "request %d", i)
					assert.Equal(t, codes.Error, s.Status().Code, "request %d", i)
					assert.Equal(t, strconv.Itoa(o.status), et, "request %d", i)
				default:
					clientSaw["ok"]++
					assert.Empty(t, failed, "request %d", i)
					assert.Equal(t, codes.Unset, s.Status().Code, "request %d succeeded, its span says %q", i, s.Status().Description)
					assert.Empty(t, et, "request %d", i)
					assert.Equal(t, int64(o.status), attrs(s)["http.response.status_code"].AsInt64(), "request %d", i)
				}
			}

			metricTypes := map[string]int{}
			for _, p := range points(t, m.collect(t), "http.client.request.duration") {
				metricTypes[p.attrs["error.type"]] += int(p.count)
			}
			assert.Equal(t, spanTypes, metricTypes, "error.type: spans vs. the duration metric")

			t.Logf("%d requests in %v; %d spans started, %d ended, %d failed phases; relay connections by fault: %v",
				n, elapsed.Round(time.Millisecond), started, ended, phaseErrors, relay.Counts())
			t.Logf("client saw %v; request spans' error.type %s; %d failed http.send with the error of its write",
				clientSaw, sortedCounts(spanTypes), sendOwnError)
		})
	}
}

// relayRequest sends request i of TestFaultRelayLoad: a GET, or a POST
// with a body, for a response of random size and status, drawn from a
// source seeded by seed and i.
func relayRequest(ctx context.Context, client *http.Client, scheme, addr string, seed uint64, i int) relayed {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	status := http.StatusOK
	if rng.IntN(10) == 0 {
		status = http.StatusInternalServerError
	}
	target := fmt.Sprintf("%s://%s/?id=%d&size=%d&status=%d", scheme, addr, i, rng.IntN(48<<10), status)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var body io.Reader
	method := http.MethodGet
	if rng.IntN(3) == 0 {
		method = http.MethodPost
		body = strings.NewReader(strings.Repeat("u", rng.IntN(32<<10)))
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return relayed{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return relayed{err: err}
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return relayed{status: resp.StatusCode, bodyErr: err}
}

// sortedCounts formats counts by key, sorted, "" shown as "none".
func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		name := k
		if name == "" {
			name = "none"
		}
		fmt.Fprintf(&b, "%s=%d ", name, m[k])
	}
	return strings.TrimSpace(b.String())
}

// TestResponseCutInItsHeaderIsMalformedResponse pins the error.type of a
// response cut short in its status line or its header block, as
// TestFaultRelayLoad's truncations make them: net/http reports a malformed
// response (it reads what came as a whole line), which was recorded as the
// Go type of its wrapper, *fmt.wrapError.
func TestResponseCutInItsHeaderIsMalformedResponse(t *testing.T) {
	for _, tc := range []struct{ name, sent string }{
		{"in the status line", "HTTP"},
		{"in a header line", "HTTP/1.1 200 OK\r\nContent-Leng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = http.ReadRequest(bufio.NewReader(c))
				_, _ = io.WriteString(c, tc.sent)
			})
			e := newEnv(t)
			m := newMeters(t)
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			err = send(t.Context(), e.client(base, otelhooks.WithMeterProvider(m.mp)), "http://"+ln.Addr().String()+"/")
			require.Error(t, err)
			r := one(t, e.spans(), "GET")
			assert.Equal(t, codes.Error, r.Status().Code)
			assert.Equal(t, "malformed_response", attrValue(t, r, "error.type").AsString(), "for %v", err)
			ps := points(t, m.collect(t), "http.client.request.duration")
			require.Len(t, ps, 1)
			assert.Equal(t, "malformed_response", ps[0].attrs["error.type"])
		})
	}
}
