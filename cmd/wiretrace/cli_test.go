package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// newServer starts an HTTP server on 127.0.0.1 for the test.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func hello(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "hello")
}

// blockUntilDone is a server that answers nothing until the client gives
// up or the test ends; arrived, if not nil, is told of each request.
func blockUntilDone(t *testing.T, arrived chan<- struct{}) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := newServer(t, func(_ http.ResponseWriter, r *http.Request) {
		if arrived != nil {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv
}

func TestGetPrintsWaterfall(t *testing.T) {
	srv := newServer(t, hello)
	url := srv.URL + "/path"

	res := wiretrace(t, url)

	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Empty(t, res.stderr)
	caption := "▶ GET " + url + "\n"
	require.Contains(t, res.stdout, caption)
	assert.True(t, strings.HasPrefix(res.stdout, caption+"trace "), "the caption comes right before its waterfall:\n%s", res.stdout)
	assert.Contains(t, res.stdout, "wiretrace GET "+url)
	assert.Regexp(t, `└─ GET `+regexp.QuoteMeta(url)+` 200 HTTP/1\.1 5 B`, res.stdout)
	assert.Regexp(t, `http\.getconn\s+127\.0\.0\.1:\d+ new`, res.stdout)
	assert.Regexp(t, `http\.connect\s+127\.0\.0\.1:\d+`, res.stdout)
	assert.Regexp(t, `http\.receive\s+5 B`, res.stdout)
	assert.True(t, strings.HasSuffix(res.stdout, "\n\n"), "a waterfall ends with a blank line")
}

func TestJSONSpansFormOneTree(t *testing.T) {
	srv := newServer(t, hello)
	url := srv.URL + "/j?q=1"

	res := wiretrace(t, "-json", url)

	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Equal(t, "▶ GET "+url+"\n", res.stderr, "captions go to stderr with -json")
	tt := traces(t, parseSpans(t, res.stdout))
	require.Len(t, tt, 1)
	tr := tt[0]
	requireTree(t, tr)

	assert.Equal(t, "wiretrace GET "+srv.URL+"/j", tr.root.Name, "the root span's name leaves the query out")
	assert.Equal(t, "internal", tr.root.Kind)
	assert.Equal(t, "Unset", tr.root.Status.Code)

	get := tr.one(t, "GET")
	assert.Equal(t, tr.root.SpanID, get.ParentSpanID)
	assert.Equal(t, "client", get.Kind)
	assert.Equal(t, url, get.Attributes["url.full"])
	assert.Equal(t, "GET", get.Attributes["http.request.method"])
	assert.InDelta(t, 200, get.Attributes["http.response.status_code"], 0)
	assert.Equal(t, "1.1", get.Attributes["network.protocol.version"])

	getconn := tr.one(t, "http.getconn")
	assert.Equal(t, get.SpanID, getconn.ParentSpanID)
	assert.Equal(t, false, getconn.Attributes["wiretrace.conn.reused"])
	connect := tr.one(t, "http.connect")
	assert.Equal(t, getconn.SpanID, connect.ParentSpanID)
	assert.Equal(t, "127.0.0.1", connect.Attributes["network.peer.address"])
	for _, name := range []string{"http.send", "http.wait", "http.receive"} {
		assert.Equal(t, get.SpanID, tr.one(t, name).ParentSpanID, name)
	}
	assert.InDelta(t, 5, tr.one(t, "http.receive").Attributes["http.response.body.size"], 0)
	assert.Empty(t, tr.named("http.dns"), "an IP address needs no lookup")

	assert.Equal(t, tr.root.Name, tr.spans[len(tr.spans)-1].Name, "spans are written as they end, the root last")
}

func TestRepeatReusesTheConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(hello))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	res := wiretrace(t, "-n", "3", "-json", srv.URL)

	require.Equal(t, exitOK, res.code, res.stderr)
	tt := traces(t, parseSpans(t, res.stdout))
	require.Len(t, tt, 3, "one trace per request")
	var reused []any
	for _, tr := range tt {
		requireTree(t, tr)
		reused = append(reused, tr.one(t, "http.getconn").Attributes["wiretrace.conn.reused"])
	}
	assert.Equal(t, []any{false, true, true}, reused)
	assert.Len(t, tt[0].named("http.connect"), 1)
	assert.Empty(t, tt[1].named("http.connect"))
	assert.Equal(t, int32(1), conns.Load(), "the server saw one connection")
	for i, want := range []string{"(1 of 3)", "(2 of 3)", "(3 of 3)"} {
		assert.Contains(t, res.stderr, "▶ GET "+srv.URL+" "+want, "caption %d", i+1)
	}
}

// seenRequest is what a server saw of a request.
type seenRequest struct {
	method, host, body string
	header             http.Header
}

func TestRequestFlagsReachTheServer(t *testing.T) {
	bodyFile := filepath.Join(t.TempDir(), "body.txt")
	require.NoError(t, os.WriteFile(bodyFile, []byte("from a file"), 0o600))

	seen := make(chan seenRequest, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- seenRequest{method: r.Method, host: r.Host, body: string(b), header: r.Header.Clone()}
		w.WriteHeader(http.StatusNoContent)
	})

	tests := []struct {
		name       string
		args       []string // the URL is added last
		stdin      string
		wantMethod string
		wantBody   string
		wantHeader map[string]string
		wantHost   string
	}{
		{
			name:       "plain GET",
			wantMethod: "GET",
			wantHeader: map[string]string{"User-Agent": userAgent},
		},
		{
			name:       "POST with a body from a file and a header",
			args:       []string{"-X", "POST", "-d", "@" + bodyFile, "-H", "X-A: 1"},
			wantMethod: "POST",
			wantBody:   "from a file",
			wantHeader: map[string]string{"X-A": "1", "Content-Type": "application/x-www-form-urlencoded"},
		},
		{
			name:       "a body alone makes a POST, its content type given",
			args:       []string{"-d", `{"a":1}`, "-H", "content-type: application/json", "-H", "User-Agent: test/1"},
			wantMethod: "POST",
			wantBody:   `{"a":1}`,
			wantHeader: map[string]string{"Content-Type": "application/json", "User-Agent": "test/1"},
		},
		{
			name:       "PUT with the body from stdin",
			args:       []string{"-X", "PUT", "-d", "@-"},
			stdin:      "from stdin",
			wantMethod: "PUT",
			wantBody:   "from stdin",
		},
		{
			name:       "curl's long names, --data-binary and --data-raw joined by &",
			args:       []string{"--request", "PATCH", "--header", "X-A: 2", "--data-binary", "@" + bodyFile, "--data-raw", "@raw", "-L", "--location"},
			wantMethod: "PATCH",
			wantBody:   "from a file&@raw",
			wantHeader: map[string]string{"X-A": "2"},
		},
		{
			name:       "--http1.1 and --max-time",
			args:       []string{"--http1.1", "--max-time", "5"},
			wantMethod: "GET",
		},
		{
			name:       "Host header sets the host",
			args:       []string{"-H", "Host: example.test"},
			wantMethod: "GET",
			wantHost:   "example.test",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretraceWith(t, runOpts{stdin: tt.stdin}, append(tt.args, srv.URL)...)
			require.Equal(t, exitOK, res.code, res.stderr)
			require.Len(t, seen, 1, "the server saw one request")
			got := <-seen
			assert.Equal(t, tt.wantMethod, got.method)
			assert.Equal(t, tt.wantBody, got.body)
			for k, v := range tt.wantHeader {
				assert.Equal(t, v, got.header.Get(k), k)
			}
			if tt.wantHost != "" {
				assert.Equal(t, tt.wantHost, got.host)
			}
			assert.Contains(t, res.stdout, tt.wantMethod+" "+srv.URL+" 204")
		})
	}
}

func TestFlagsAfterTheURL(t *testing.T) {
	seen := make(chan string, 2)
	srv := newServer(t, func(_ http.ResponseWriter, r *http.Request) { seen <- r.Method })

	res := wiretrace(t, srv.URL, "-X", "DELETE", "-n", "2")

	require.Equal(t, exitOK, res.code, res.stderr)
	require.Len(t, seen, 2)
	assert.Equal(t, "DELETE", <-seen)
}

func TestInsecureSkipsVerification(t *testing.T) {
	srv, _ := testnet.NewTLSServer(t, http.HandlerFunc(hello), false)

	t.Run("without -k the certificate is refused", func(t *testing.T) {
		res := wiretrace(t, srv.URL)
		assert.Equal(t, exitFailed, res.code)
		assert.Contains(t, res.stderr, "certificate")
		assert.Regexp(t, `http\.tls .*✗`, res.stdout, "the waterfall shows the failed handshake")
	})
	t.Run("with -k it is accepted", func(t *testing.T) {
		res := wiretrace(t, "-k", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Regexp(t, `http\.tls\s+TLS 1\.3`, res.stdout)
		assert.Contains(t, res.stdout, "GET "+srv.URL+" 200")
	})
}

func TestHTTPVersionFlags(t *testing.T) {
	protos := make(chan string, 1)
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { protos <- r.Proto })

	h2, _ := testnet.NewTLSServer(t, h, true)
	h1, _ := testnet.NewTLSServer(t, h, false)
	h2c := httptest.NewUnstartedServer(h)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)

	tests := []struct {
		name      string
		args      []string
		url       string
		wantProto string // as the server saw it; "" if the request fails
		wantAttr  string // network.protocol.version
	}{
		{"TLS, default", []string{"-k"}, h2.URL, "HTTP/2.0", "2"},
		{"TLS, -http1", []string{"-k", "-http1"}, h2.URL, "HTTP/1.1", "1.1"},
		{"TLS, -http2", []string{"-k", "-http2"}, h2.URL, "HTTP/2.0", "2"},
		{"TLS, -http2 to a server without it", []string{"-k", "-http2"}, h1.URL, "", ""},
		{"cleartext, default", nil, h2c.URL, "HTTP/1.1", "1.1"},
		{"cleartext, -http2 is h2c", []string{"-http2"}, h2c.URL, "HTTP/2.0", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, append(tt.args, "-json", tt.url)...)
			tr := traces(t, parseSpans(t, res.stdout))
			require.Len(t, tr, 1)
			get := tr[0].one(t, "GET")
			if tt.wantProto == "" {
				assert.Equal(t, exitFailed, res.code)
				assert.Equal(t, "Error", get.Status.Code)
				assert.Empty(t, protos)
				return
			}
			require.Equal(t, exitOK, res.code, res.stderr)
			assert.Equal(t, tt.wantAttr, get.Attributes["network.protocol.version"])
			require.Len(t, protos, 1)
			assert.Equal(t, tt.wantProto, <-protos)
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Run("waiting for the response", func(t *testing.T) {
		srv := blockUntilDone(t, nil)

		res := wiretrace(t, "-timeout", "200ms", srv.URL)

		assert.Equal(t, exitFailed, res.code)
		assert.Equal(t, `wiretrace: Get "`+srv.URL+`": -timeout 200ms exceeded`+"\n", res.stderr)
		// The message once, on the root; the request and the phase it
		// failed in carry the mark.
		assert.Regexp(t, `wiretrace GET `+regexp.QuoteMeta(srv.URL)+` ✗ -timeout 200ms exceeded`, res.stdout)
		assert.Regexp(t, `└─ GET `+regexp.QuoteMeta(srv.URL)+` ✗\s`, res.stdout)
		assert.Regexp(t, `http\.wait\s+✗\s`, res.stdout)
		assert.Equal(t, 1, strings.Count(res.stdout, "200ms exceeded"), res.stdout)
	})
	t.Run("--max-time, in seconds as curl's", func(t *testing.T) {
		srv := blockUntilDone(t, nil)

		res := wiretrace(t, "--max-time", "0.2", srv.URL)

		assert.Equal(t, exitFailed, res.code)
		assert.Equal(t, `wiretrace: Get "`+srv.URL+`": --max-time 200ms exceeded`+"\n", res.stderr)
	})
	t.Run("reading the body", func(t *testing.T) {
		release := make(chan struct{})
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "12345")
			_ = http.NewResponseController(w).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		t.Cleanup(func() { close(release) })

		res := wiretrace(t, "-json", "-timeout", "200ms", srv.URL)

		assert.Equal(t, exitFailed, res.code)
		assert.Equal(t, "▶ GET "+srv.URL+"\n"+`wiretrace: Get "`+srv.URL+`": reading the body: -timeout 200ms exceeded`+"\n", res.stderr)
		tr := traces(t, parseSpans(t, res.stdout))
		require.Len(t, tr, 1)
		receive := tr[0].one(t, "http.receive")
		assert.Equal(t, "Error", receive.Status.Code)
		assert.InDelta(t, 5, receive.Attributes["http.response.body.size"], 0)
		assert.Equal(t, "-timeout 200ms exceeded", tr[0].root.Status.Description)
	})
}

func TestRefusedConnection(t *testing.T) {
	addr := testnet.RefusedAddr(t)

	res := wiretrace(t, "http://"+addr+"/")

	assert.Equal(t, exitFailed, res.code)
	assert.Equal(t, `wiretrace: Get "http://`+addr+`/": dial tcp `+addr+": connect: connection refused\n", res.stderr)
	assert.Regexp(t, `http\.connect\s+`+regexp.QuoteMeta(addr)+` ✗\s`, res.stdout)
	assert.Contains(t, res.stdout, " ✗ 1 error ", "one failed request, however many of its spans failed")
	assert.Contains(t, res.stdout, "wiretrace GET http://"+addr+"/ ✗ connection refused")
}

func TestFailureDoesNotStopTheOthers(t *testing.T) {
	srv := newServer(t, hello)
	addr := testnet.RefusedAddr(t)

	res := wiretrace(t, "-json", "http://"+addr+"/", srv.URL)

	assert.Equal(t, exitFailed, res.code, "one request failed")
	tt := traces(t, parseSpans(t, res.stdout))
	require.Len(t, tt, 2)
	assert.Equal(t, "Error", tt[0].root.Status.Code)
	assert.Equal(t, "connection refused", tt[0].root.Status.Description)
	assert.Equal(t, "Unset", tt[1].root.Status.Code)
}

func TestUsageErrors(t *testing.T) {
	const url = "http://127.0.0.1:1/"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope", url}, "flag provided but not defined: -nope"},
		{"flag without its value", []string{url, "-X"}, "flag needs an argument: -X"},
		{"malformed URL", []string{"http://[::1"}, `malformed URL "http://[::1": missing ']' in host`},
		{"other scheme", []string{"ftp://example.com/"}, `malformed URL "ftp://example.com/": scheme "ftp" is not http or https`},
		{"no host", []string{"http:///path"}, `malformed URL "http:///path": no host`},
		{"bad URL after a good one", []string{url, "http://a b/"}, `malformed URL "http://a b/"`},
		{"-http1 and -http2", []string{"-http1", "-http2", url}, "-http1 and -http2 exclude each other"},
		{"-n 0", []string{"-n", "0", url}, "-n must be at least 1, not 0"},
		{"negative timeout", []string{"-timeout", "-1s", url}, "-timeout must not be negative"},
		{"body file missing", []string{"-d", "@/nonexistent/body", url}, "-d: open /nonexistent/body: no such file or directory"},
		{"header without a colon", []string{"-H", "X-A", url}, `invalid value "X-A" for flag -H: want 'Name: value'`},
		{"bad method", []string{"-X", "GE T", url}, `-X "GE T" is not a valid method`},
		{"bad OTLP protocol", []string{"-otlp", "localhost:4317", "-otlp-protocol", "thrift", url}, `-otlp-protocol "thrift"`},
		{"bad OTLP scheme", []string{"-otlp", "ftp://localhost:4317", url}, `scheme "ftp" is not grpc, grpcs, http or https`},
		{"request flags without a URL", []string{"-n", "2"}, "-n needs a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, tt.args...)
			assert.Equal(t, exitUsage, res.code)
			assert.Empty(t, res.stdout)
			require.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
			assert.True(t, strings.HasPrefix(res.stderr, "wiretrace: "), res.stderr)
			assert.Contains(t, res.stderr, tt.want)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			res := wiretrace(t, arg)
			assert.Equal(t, exitOK, res.code)
			assert.Equal(t, usageText, res.stdout)
			assert.Empty(t, res.stderr)
		})
	}
}

func TestTCPInfoShowsConnectionFacts(t *testing.T) {
	srv := newServer(t, hello)
	tests := []struct {
		name string
		args []string
		want bool
	}{
		{"with -tcpinfo", []string{"-tcpinfo", "-json", srv.URL}, runtime.GOOS == "linux"},
		{"without", []string{"-json", srv.URL}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, tt.args...)
			require.Equal(t, exitOK, res.code, res.stderr)
			trees := traces(t, parseSpans(t, res.stdout))
			require.Len(t, trees, 1)
			get := trees[0].one(t, "GET")
			rtt, ok := get.Attributes["wiretrace.tcp.rtt_s"]
			require.Equal(t, tt.want, ok, "wiretrace.tcp.rtt_s in %v", get.Attributes)
			if !tt.want {
				return
			}
			assert.Positive(t, rtt, "loopback has a small round-trip time, not none")
			assert.Equal(t, "lo", get.Attributes["network.interface.name"])
			assert.Contains(t, get.Attributes, "wiretrace.tcp.snd_cwnd")
		})
	}

	if runtime.GOOS == "linux" {
		res := wiretraceWith(t, runOpts{env: []string{"NO_COLOR=1", "COLUMNS=200"}}, "-tcpinfo", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Regexp(t, `http\.getconn .*new rtt \d`, res.stdout, "the waterfall shows them")
	}
}
