package otelhooks_test

// Each phase compared with a delay injected where it happens: a DNS
// responder that answers late (http.dns), a server that thinks before it
// answers (http.wait), a server that paces its body (http.receive), a
// request body that paces its upload (http.send), over HTTP/1.1 and
// HTTP/2, uploads of known and unknown length. Medians over 21
// repetitions, with tolerances for a loaded 2-core machine.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

const (
	truthRuns = 21
	// truthSlack is how much longer than the injected delay a phase's
	// median may be: timer lateness (about 0.3ms a sleep on a loaded
	// 2-core machine), the race detector, a scheduler that runs 2 cores
	// for 8 test processes.
	truthSlack = 10 * time.Millisecond
)

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// pacedUpload is a request body of chunks chunks, gap apart, that times
// itself from its first Read to its io.EOF.
type pacedUpload struct {
	chunks, sent int
	gap          time.Duration
	first        time.Time
	took         time.Duration
}

func (b *pacedUpload) Read(p []byte) (int, error) {
	switch b.sent {
	case 0:
		b.first = time.Now()
	case b.chunks:
		b.took = time.Since(b.first)
		return 0, io.EOF
	default:
		time.Sleep(b.gap)
	}
	b.sent++
	return copy(p, strings.Repeat("u", min(1024, len(p)))), nil
}

func (*pacedUpload) Close() error { return nil }

// truthCase is one injected delay and the phase that must hold it.
type truthCase struct {
	name     string
	phase    string
	injected time.Duration // nominal; the lower bound of every repetition
	// base starts the server and returns its URL and a transport to it.
	base func(t *testing.T) (string, *http.Transport)
	// run sends one request and returns the delay as the injecting side
	// measured it (0 if it did not); nil: a GET.
	run func(t *testing.T, client *http.Client, target string) time.Duration
}

func TestInjectedDelaysMatchPhases(t *testing.T) {
	const (
		dnsDelay = 25 * time.Millisecond
		think    = 25 * time.Millisecond
		chunks   = 5
		gap      = 6 * time.Millisecond
	)
	paced := (chunks - 1) * gap

	// Each server stores what it measured of the request in flight, in
	// the atomic its case reads (one per server: the cases run in
	// parallel).
	thinker := func(measured *atomic.Int64) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			start := time.Now()
			time.Sleep(think)
			measured.Store(int64(time.Since(start)))
			_, _ = io.WriteString(w, "ok")
		})
	}
	pacer := func(measured *atomic.Int64) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			rc := http.NewResponseController(w)
			start := time.Now()
			for i := range chunks {
				if i > 0 {
					time.Sleep(gap)
				}
				_, _ = io.WriteString(w, strings.Repeat("b", 1024))
				_ = rc.Flush()
			}
			measured.Store(int64(time.Since(start)))
		})
	}
	reader := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	tlsBase := func(h http.Handler, h2 bool) func(t *testing.T) (string, *http.Transport) {
		return func(t *testing.T) (string, *http.Transport) {
			t.Helper()
			srv, base := testnet.NewTLSServer(t, h, h2)
			return srv.URL, base
		}
	}
	getMeasured := func(measured *atomic.Int64) func(t *testing.T, client *http.Client, target string) time.Duration {
		return func(t *testing.T, client *http.Client, target string) time.Duration {
			t.Helper()
			measured.Store(0)
			get(t, t.Context(), client, target)
			return time.Duration(measured.Load())
		}
	}
	upload := func(known bool) func(t *testing.T, client *http.Client, target string) time.Duration {
		return func(t *testing.T, client *http.Client, target string) time.Duration {
			t.Helper()
			body := &pacedUpload{chunks: chunks, gap: gap}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, body)
			require.NoError(t, err)
			if known {
				req.ContentLength = chunks * 1024
			} // else: neither nil nor http.NoBody, length 0: unknown (chunked on HTTP/1.1)
			doRead(t, client, req)
			return body.took
		}
	}

	var cases []truthCase
	cases = append(cases, truthCase{
		name: "DNS responder delay", phase: "http.dns", injected: dnsDelay,
		base: func(t *testing.T) (string, *http.Transport) {
			t.Helper()
			srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
			t.Cleanup(srv.Close)
			dns := testnet.NewDNSServer(t, map[string][]netip.Addr{"slow.wiretrace.test": {netip.MustParseAddr("127.0.0.1")}})
			dns.SetDelay(dnsDelay)
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			base := &http.Transport{
				DialContext:       (&net.Dialer{Resolver: dns.Resolver()}).DialContext,
				DisableKeepAlives: true, // a lookup per request
			}
			return "http://slow.wiretrace.test:" + port + "/", base
		},
	})
	for _, h2 := range []bool{false, true} {
		proto := map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2]
		var thought, wrote atomic.Int64
		cases = append(cases,
			truthCase{name: "server think time " + proto, phase: "http.wait", injected: think,
				base: tlsBase(thinker(&thought), h2), run: getMeasured(&thought)},
			truthCase{name: "body pacing " + proto, phase: "http.receive", injected: paced,
				base: tlsBase(pacer(&wrote), h2), run: getMeasured(&wrote)},
		)
		for _, known := range []bool{true, false} {
			name := "upload pacing " + proto + map[bool]string{true: " known length", false: " unknown length"}[known]
			if !known && !h2 {
				name = "upload pacing HTTP/1.1 chunked"
			}
			cases = append(cases, truthCase{name: name, phase: "http.send", injected: paced, base: tlsBase(reader, h2), run: upload(known)})
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The cases sleep more than they compute: side by side they
			// take a second, not nine.
			t.Parallel()
			e := newEnv(t)
			target, base := tc.base(t)
			defer base.CloseIdleConnections()
			client := e.client(base)
			run := tc.run
			if run == nil {
				run = func(t *testing.T, client *http.Client, target string) time.Duration {
					t.Helper()
					get(t, t.Context(), client, target)
					return 0
				}
			}
			var phases, injected []time.Duration
			for range truthRuns {
				if m := run(t, client, target); m > 0 {
					injected = append(injected, m)
				}
			}
			spans := named(e.spans(), tc.phase) // in the order sent
			require.Len(t, spans, truthRuns)
			var diffs []time.Duration
			for i, s := range spans {
				d := s.EndTime().Sub(s.StartTime())
				phases = append(phases, d)
				assert.GreaterOrEqual(t, d, tc.injected, "%s shorter than the delay injected in it", tc.phase)
				if len(injected) == truthRuns {
					diffs = append(diffs, d-injected[i])
				}
			}
			med := median(phases)
			msg := ""
			if len(diffs) > 0 {
				// Both sides of a pair see the same load: their
				// difference is what the phase adds to the delay.
				dm := median(diffs)
				msg = fmt.Sprintf(", as the injecting side measured it %v; median of the differences %v", median(injected), dm)
				assert.Less(t, dm, truthSlack/2, "%s: median excess over the measured delay", tc.phase)
				assert.Greater(t, dm, -2*time.Millisecond, "%s: median excess over the measured delay", tc.phase)
			}
			t.Logf("%s: median %v (min %v, max %v) for %v injected%s",
				tc.phase, med, slices.Min(phases), slices.Max(phases), tc.injected, msg)
			assert.Less(t, med, tc.injected+truthSlack, "%s: median %v for %v injected", tc.phase, med, tc.injected)
		})
	}
}
