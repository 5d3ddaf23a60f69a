package main

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: a server, a
// client connection or an exporter not shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// example-traces.json is what Jaeger answered to
// /api/traces?service=wiretrace-frontend after two runs of examples/jaeger:
// "explore-grpc" (3 requests, OTLP over gRPC) and "explore-http" (2
// requests, OTLP over HTTP).
func loadFixture(t *testing.T) []jaegerTrace {
	t.Helper()
	b, err := os.ReadFile("testdata/example-traces.json")
	require.NoError(t, err)
	traces, err := parseTraces(b)
	require.NoError(t, err)
	require.Len(t, traces, 5)
	return traces
}

func TestCheckExampleAcceptsCompleteRuns(t *testing.T) {
	traces := loadFixture(t)
	n, err := checkExample(traces, "explore-grpc", 3)
	require.NoError(t, err)
	// Three traces of 13 spans, one of them with an http.connect.
	assert.Equal(t, 40, n)
	_, err = checkExample(traces, "explore-http", 2)
	require.NoError(t, err)
}

func TestCheckExampleCountsTracesOfItsRunOnly(t *testing.T) {
	_, err := checkExample(loadFixture(t), "explore-grpc", 4)
	require.ErrorContains(t, err, "3 traces in Jaeger, want 4")
	_, err = checkExample(loadFixture(t), "no-such-run", 1)
	require.ErrorContains(t, err, "0 traces in Jaeger, want 1")
}

// mutate returns the fixture's traces of run explore-http, after f changed
// the first.
func mutate(t *testing.T, f func(t *jaegerTrace)) []jaegerTrace {
	t.Helper()
	var out []jaegerTrace
	for _, tr := range loadFixture(t) {
		for _, p := range tr.Processes {
			if procTag(p, runKey) == "explore-http" {
				out = append(out, tr)
				break
			}
		}
	}
	require.Len(t, out, 2)
	f(&out[0])
	return out
}

// spanNamed returns the first span of tr with the given name.
func spanNamed(t *testing.T, tr *jaegerTrace, name string) *jaegerSpan {
	t.Helper()
	for i := range tr.Spans {
		if tr.Spans[i].OperationName == name {
			return &tr.Spans[i]
		}
	}
	t.Fatalf("no span %q", name)
	return nil
}

func TestCheckExampleRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, tr *jaegerTrace)
		want   string
	}{
		{"backend spans not arrived", func(_ *testing.T, tr *jaegerTrace) {
			var kept []jaegerSpan
			for _, s := range tr.Spans {
				if tr.Processes[s.ProcessID].ServiceName != backendService {
					kept = append(kept, s)
				}
			}
			tr.Spans = kept
		}, `0 backend spans "GET /weather"`},
		{"phase under the wrong parent", func(t *testing.T, tr *jaegerTrace) {
			t.Helper()
			root := spanNamed(t, tr, "GET /")
			spanNamed(t, tr, "http.wait").References[0].SpanID = root.SpanID
		}, `0 children "http.wait"`},
		{"no parent reference", func(t *testing.T, tr *jaegerTrace) {
			t.Helper()
			spanNamed(t, tr, "http.send").References = nil
		}, "2 root spans"},
		{"failed phase", func(t *testing.T, tr *jaegerTrace) {
			t.Helper()
			s := spanNamed(t, tr, "http.receive")
			s.Tags = append(s.Tags, tag{Key: "otel.status_code", Type: "string", Value: "ERROR"})
		}, "status ERROR"},
		{"status code", func(t *testing.T, tr *jaegerTrace) {
			t.Helper()
			s := spanNamed(t, tr, "GET")
			for i := range s.Tags {
				if s.Tags[i].Key == "http.response.status_code" {
					s.Tags[i].Value = float64(503)
				}
			}
		}, "http.response.status_code = 503, want 200"},
		{"missing peer address", func(t *testing.T, tr *jaegerTrace) {
			t.Helper()
			s := spanNamed(t, tr, "http.connect")
			for i := range s.Tags {
				if s.Tags[i].Key == "network.peer.address" {
					s.Tags[i].Key = "something.else"
				}
			}
		}, "no tag network.peer.address"},
		{"backend in another trace", func(t *testing.T, tr *jaegerTrace) {
			t.Helper()
			spanNamed(t, tr, "GET /weather").TraceID = "0123456789abcdef0123456789abcdef"
		}, "has trace ID 0123456789abcdef0123456789abcdef"},
		{"spans of another run", func(_ *testing.T, tr *jaegerTrace) {
			for id, p := range tr.Processes {
				if p.ServiceName == backendService {
					p.Tags = []tag{{Key: runKey, Type: "string", Value: "other"}}
					tr.Processes[id] = p
				}
			}
		}, `has example.run="other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			traces := mutate(t, func(tr *jaegerTrace) { tt.change(t, tr) })
			_, err := checkExample(traces, "explore-http", 2)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCheckClient(t *testing.T) {
	n, err := checkClient(loadFixture(t), frontendService, backendService)
	require.NoError(t, err)
	assert.Equal(t, 10, n, "two requests to the backend per trace")

	_, err = checkClient(loadFixture(t), "wiretrace-cli", "")
	require.ErrorContains(t, err, "no successful client span")

	_, err = checkClient(loadFixture(t), frontendService, "wiretrace-elsewhere")
	require.ErrorContains(t, err, "no server span of wiretrace-elsewhere under it")
}

func TestParseProcNet(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:334C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 108857 2 0000000000000000 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   2: 0100007F:334C 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
`
	socks, err := parseProcNet(strings.NewReader(tcp), "tcp")
	require.NoError(t, err)
	require.Len(t, socks, 2, "the established connection is not listening")
	assert.Equal(t, "127.0.0.1:13132", socks[0].addr.String())
	assert.Equal(t, "108857", socks[0].inode)
	assert.Equal(t, "0.0.0.0:2024", socks[1].addr.String())
	assert.False(t, socks[1].addr.Addr().IsLoopback())

	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3003 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3004 1 0000000000000000 100 0 0 10 0
`
	socks, err = parseProcNet(strings.NewReader(tcp6), "tcp6")
	require.NoError(t, err)
	require.Len(t, socks, 2)
	assert.Equal(t, "[::1]:8080", socks[0].addr.String())
	assert.Equal(t, "127.0.0.1:8081", socks[1].addr.String(), "an IPv4-mapped address is its IPv4 address")

	udp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 2777: 0100007F:1AAF 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 108876 2 0000000000000000 0
`
	socks, err = parseProcNet(strings.NewReader(udp), "udp")
	require.NoError(t, err)
	require.Len(t, socks, 1)
	assert.Equal(t, "127.0.0.1:6831", socks[0].addr.String())
}

func TestPortsListsThisProcessListener(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("no /proc/self/net/tcp: not Linux")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	var out bytes.Buffer
	require.NoError(t, run([]string{"ports", "-pid", strconv.Itoa(os.Getpid())}, &out))
	assert.Contains(t, out.String(), "tcp "+ln.Addr().String()+"\n")

	require.ErrorContains(t, run([]string{"ports", "-pid", "0"}, &out), "bad pid 0")
}

func TestRequiredVersion(t *testing.T) {
	v, err := requiredVersion("../go.mod", jaegerModule)
	require.NoError(t, err)
	assert.Regexp(t, `^v1\.[0-9]+\.[0-9]+$`, v)
	_, err = requiredVersion("../go.mod", "example.com/nothing")
	require.ErrorContains(t, err, "does not require example.com/nothing")
}

func TestBinaryMatchesRejectsOtherBinaries(t *testing.T) {
	// The test binary is a Go binary, but not jaeger.
	err := binaryMatches(os.Args[0], "../go.mod", "../go.sum")
	require.ErrorContains(t, err, "want github.com/jaegertracing/jaeger@")
	err = binaryMatches("testdata/example-traces.json", "../go.mod", "../go.sum")
	require.Error(t, err, "not a Go binary")
}

// Over HTTP/2, WroteRequest may come after the response: no http.wait.
// checkClient, for clients of any protocol, lets that pass;
// checkExample, over HTTP/1.1, does not.
func TestCheckClientAllowsAMissingWait(t *testing.T) {
	traces := mutate(t, func(tr *jaegerTrace) {
		wait := spanNamed(t, tr, "http.wait")
		var kept []jaegerSpan
		for _, s := range tr.Spans {
			if s.SpanID != wait.SpanID {
				kept = append(kept, s)
			}
		}
		tr.Spans = kept
	})
	_, err := checkClient(traces, frontendService, backendService)
	require.NoError(t, err)
	_, err = checkExample(traces, "explore-http", 2)
	require.ErrorContains(t, err, `0 children "http.wait"`)
}

func TestCheckClientRejectsOrphans(t *testing.T) {
	traces := mutate(t, func(tr *jaegerTrace) {
		spanNamed(t, tr, "http.send").References[0].SpanID = "00000000000000aa"
	})
	_, err := checkClient(traces, frontendService, "")
	require.ErrorContains(t, err, "the parent 00000000000000aa of \"http.send\"")
}
