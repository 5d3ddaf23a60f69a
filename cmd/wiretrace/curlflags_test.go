package main

import (
	"compress/gzip"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/internal/testnet"
)

// redirectChain serves /r/N as a 302 to /r/N-1, and /r/0 as "done".
func redirectChain(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
	if err != nil || n < 0 {
		http.NotFound(w, r)
		return
	}
	if n == 0 {
		w.Header().Set("X-Final", "yes")
		_, _ = io.WriteString(w, "done")
		return
	}
	http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
}

func TestIncludePrintsEachResponseHead(t *testing.T) {
	srv := newServer(t, redirectChain)

	t.Run("waterfall", func(t *testing.T) {
		res := wiretrace(t, "-i", srv.URL+"/r/1")
		require.Equal(t, exitOK, res.code, res.stderr)
		requireInOrder(t, res.stdout, []string{"HTTP/1.1 302 Found\n", "Location: /r/0\n", "HTTP/1.1 200 OK\n", "X-Final: yes\n", "trace "})
	})
	t.Run("-I sends HEAD and shows the head", func(t *testing.T) {
		methods := make(chan string, 1)
		head := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			methods <- r.Method
			w.Header().Set("X-Head", "1")
		})
		res := wiretrace(t, "-I", head.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, "HEAD", <-methods)
		assert.Contains(t, res.stdout, "HTTP/1.1 200 OK\n")
		assert.Contains(t, res.stdout, "X-Head: 1\n")
		assert.Contains(t, res.stdout, "└─ HEAD "+head.URL+" 200")
	})
	t.Run("HTTP/2 as curl writes it", func(t *testing.T) {
		h2, _ := testnet.NewTLSServer(t, http.HandlerFunc(redirectChain), true)
		res := wiretrace(t, "-k", "-i", "-v", h2.URL+"/r/0")
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Contains(t, res.stdout, "HTTP/2 200 OK\n")
		assert.Contains(t, res.stderr, "> GET /r/0 HTTP/2\n")
		assert.Contains(t, res.stderr, "< HTTP/2 200 OK\n")
	})
	t.Run("-json carries the heads as exchange lines", func(t *testing.T) {
		res := wiretrace(t, "-json", "-i", srv.URL+"/r/1")
		require.Equal(t, exitOK, res.code, res.stderr)
		recs := parseRecords(t, res.stdout)
		require.Len(t, recs.exchanges, 2, "one per hop")
		tt := traces(t, parseSpans(t, res.stdout))
		require.Len(t, tt, 1)
		for i, want := range []int{302, 200} {
			ex := recs.exchanges[i]
			assert.Equal(t, tt[0].root.TraceID, ex.TraceID)
			assert.Nil(t, ex.Request, "-i shows responses only")
			require.NotNil(t, ex.Response)
			assert.Equal(t, want, ex.Response.StatusCode)
			assert.Equal(t, "HTTP/1.1", ex.Response.Protocol)
		}
		assert.Equal(t, []string{"yes"}, recs.exchanges[1].Response.Headers["X-Final"])
	})
}

func TestVerboseShowsHeadersAsSentWithCredentialsRedacted(t *testing.T) {
	const secret = "s3cr3t-pass"
	auth := make(chan string, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		auth <- user + ":" + pass
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "cookie-" + secret})
		// A URL-valued header is scrubbed as url.full is.
		w.Header().Set("Content-Location", "/p?X-Amz-Signature="+secret+"&b=2")
		_, _ = io.WriteString(w, "ok")
	})

	for _, mode := range []string{"waterfall", "json"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{"-v", "-u", "bob:" + secret, "-H", "Cookie: c=" + secret, "-H", "X-Custom: 1", "-w", "%{json}", srv.URL + "/p?sig=" + secret + "&a=1;Access_Token=" + secret}
			if mode == "json" {
				args = slicesReplace(args, "-w", "%{json}")
				args = append([]string{"-json"}, args...)
			}
			res := wiretrace(t, args...)
			require.Equal(t, exitOK, res.code, res.stderr)
			assert.Equal(t, "bob:"+secret, <-auth, "the server got the credentials")
			assert.NotContains(t, res.stdout+res.stderr, secret, "the secret is never shown")

			if mode == "waterfall" {
				requireInOrder(t, res.stderr, []string{
					"> GET /p?sig=REDACTED&a=1;Access_Token=REDACTED HTTP/1.1\n",
					"> Host: " + strings.TrimPrefix(srv.URL, "http://") + "\n",
					"> Authorization: REDACTED\n",
					"> Cookie: REDACTED\n",
					"> Traceparent: 00-",
					"> User-Agent: wiretrace/",
					"> X-Custom: 1\n",
					"< HTTP/1.1 200 OK\n",
					"< Content-Location: /p?X-Amz-Signature=REDACTED&b=2\n",
					"< Set-Cookie: REDACTED\n",
				})
				return
			}
			recs := parseRecords(t, res.stdout)
			require.Len(t, recs.exchanges, 1)
			ex := recs.exchanges[0]
			require.NotNil(t, ex.Request)
			assert.Equal(t, "GET", ex.Request.Method)
			assert.Equal(t, "/p?sig=REDACTED&a=1;Access_Token=REDACTED", ex.Request.Target)
			assert.Equal(t, []string{"REDACTED"}, ex.Request.Headers["Authorization"])
			assert.Equal(t, []string{"1"}, ex.Request.Headers["X-Custom"])
			assert.Len(t, ex.Request.Headers["Traceparent"], 1)
			assert.Equal(t, []string{"REDACTED"}, ex.Response.Headers["Set-Cookie"])
		})
	}
}

// slicesReplace drops the flag name and its value from args.
func slicesReplace(args []string, name, value string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == name && i+1 < len(args) && args[i+1] == value {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func TestOutputSavesTheBody(t *testing.T) {
	body := strings.Repeat("0123456789", 100)
	srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })

	t.Run("-o FILE", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "out.txt")
		res := wiretrace(t, "-o", file, srv.URL+"/a")
		require.Equal(t, exitOK, res.code, res.stderr)
		got, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, body, string(got))
		assert.Contains(t, res.stdout, "trace ", "the waterfall is still printed")
	})
	t.Run("-O takes the URL's file name", func(t *testing.T) {
		dir := t.TempDir()
		res := wiretraceWith(t, runOpts{dir: dir}, "-O", srv.URL+"/files/report.csv?x=1")
		require.Equal(t, exitOK, res.code, res.stderr)
		got, err := os.ReadFile(filepath.Join(dir, "report.csv"))
		require.NoError(t, err)
		assert.Equal(t, body, string(got))
	})
	t.Run("-O without a file name is a usage error", func(t *testing.T) {
		res := wiretrace(t, "-O", srv.URL+"/dir/")
		assert.Equal(t, exitUsage, res.code)
		assert.Contains(t, res.stderr, "-O: ")
	})
	t.Run("-o - writes the body to stdout, the waterfall to stderr", func(t *testing.T) {
		res := wiretrace(t, "-o", "-", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, body, res.stdout)
		assert.Contains(t, res.stderr, "trace ")
	})
	t.Run("one -o per URL, in order", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		res := wiretrace(t, "-o", a, srv.URL+"/1", "-o", b, srv.URL+"/2")
		require.Equal(t, exitOK, res.code, res.stderr)
		for _, f := range []string{a, b} {
			got, err := os.ReadFile(f)
			require.NoError(t, err)
			assert.Equal(t, body, string(got))
		}
	})
	t.Run("an -o that cannot be written fails the request", func(t *testing.T) {
		res := wiretrace(t, "-o", filepath.Join(t.TempDir(), "no", "such", "dir"), srv.URL)
		assert.Equal(t, exitFailed, res.code)
		assert.Contains(t, res.stderr, "-o: open ")
	})
}

func TestMaxRedirs(t *testing.T) {
	srv := newServer(t, redirectChain)
	tests := []struct {
		name      string
		args      []string
		wantHops  int
		wantCode  string
		wantEvent string // "" for none
	}{
		{"followed by default", nil, 4, "200", ""},
		{"--max-redirs 3 is enough", []string{"--max-redirs", "3"}, 4, "200", ""},
		{"--max-redirs 1 stops at the second redirect", []string{"--max-redirs", "1"}, 2, "302", "redirect not followed (--max-redirs 1)"},
		{"--max-redirs 0 follows none", []string{"--max-redirs", "0"}, 1, "302", "redirect not followed (--max-redirs 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, append(tt.args, "-json", srv.URL+"/r/3")...)
			require.Equal(t, exitOK, res.code, "a redirect not followed is a response: %s", res.stderr)
			tr := traces(t, parseSpans(t, res.stdout))
			require.Len(t, tr, 1)
			hops := tr[0].named("GET")
			require.Len(t, hops, tt.wantHops)
			last := hops[len(hops)-1]
			assert.InDelta(t, mustAtoi(t, tt.wantCode), last.Attributes["http.response.status_code"], 0)
			var events []string
			for _, e := range tr[0].root.Events {
				events = append(events, e.Name)
			}
			if tt.wantEvent == "" {
				assert.Empty(t, events)
				return
			}
			require.Equal(t, []string{tt.wantEvent}, events)
			assert.Equal(t, srv.URL+"/r/"+strconv.Itoa(3-tt.wantHops), tr[0].root.Events[0].Attributes["url.full"])
		})
	}
	t.Run("the waterfall says where it stopped", func(t *testing.T) {
		res := wiretrace(t, "--max-redirs", "1", srv.URL+"/r/3")
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Contains(t, res.stdout, "• redirect not followed (--max-redirs 1)")
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

func TestProxy(t *testing.T) {
	via := make(chan string, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		via <- r.Header.Get("Via")
		_, _ = io.WriteString(w, "proxied")
	})
	plain := newServer(t, h)
	secure, _ := testnet.NewTLSServer(t, h, true)
	proxy := testnet.StartTinyproxy(t, secure.Listener.Addr().(*net.TCPAddr).Port).Host

	t.Run("forwarded: the connection is to the proxy", func(t *testing.T) {
		res := wiretrace(t, "-x", "http://"+proxy, "-json", plain.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Contains(t, <-via, "tinyproxy")
		tr := traces(t, parseSpans(t, res.stdout))
		require.Len(t, tr, 1)
		connect := tr[0].one(t, "http.connect")
		assert.Equal(t, "127.0.0.2", connect.Attributes["network.peer.address"])
		assert.InDelta(t, 200, tr[0].one(t, "GET").Attributes["http.response.status_code"], 0)
	})
	t.Run("https:// goes through CONNECT", func(t *testing.T) {
		res := wiretrace(t, "-x", proxy, "-k", "-s", "-w", "%{http_connect} %{remote_ip} %{http_version}", secure.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, "200 127.0.0.2 2", res.stdout)
		assert.Empty(t, <-via, "the proxy cannot see inside the tunnel")
	})
	t.Run("--noproxy goes direct", func(t *testing.T) {
		res := wiretrace(t, "-x", proxy, "--noproxy", "example.com,127.0.0.1", "-s", "-w", "%{remote_ip}:%{remote_port}", plain.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, strings.TrimPrefix(plain.URL, "http://"), res.stdout)
		assert.Empty(t, <-via)
	})
	t.Run("proxy credentials are never shown", func(t *testing.T) {
		res := wiretrace(t, "-x", "http://user:pr0xy-secret@"+proxy, "-v", plain.URL+"/p")
		require.Equal(t, exitOK, res.code, res.stderr)
		<-via
		assert.NotContains(t, res.stdout+res.stderr, "pr0xy-secret")
		assert.Contains(t, res.stderr, "> GET "+plain.URL+"/p HTTP/1.1\n", "a forward proxy is sent the whole URL")
	})
}

func TestResolveAndConnectToReachOneBackend(t *testing.T) {
	hosts := make(chan string, 2)
	srv := newServer(t, func(_ http.ResponseWriter, r *http.Request) { hosts <- r.Host })
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	ca := newPEMCA(t)
	cert, _, _ := ca.issue(t, "lb.test", false, "lb.test")
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { hosts <- r.Host }))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsSrv.Config.ErrorLog = testnet.QuietLog()
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	_, tlsPort, _ := net.SplitHostPort(strings.TrimPrefix(tlsSrv.URL, "https://"))

	tests := []struct {
		name     string
		args     []string
		wantHost string
	}{
		{"--resolve", []string{"--resolve", "lb.test:" + port + ":127.0.0.1", "http://lb.test:" + port + "/"}, "lb.test:" + port},
		{"--resolve for any port", []string{"--resolve", "lb.test:*:127.0.0.1", "http://lb.test:" + port + "/"}, "lb.test:" + port},
		{"--connect-to", []string{"--connect-to", "lb.test:80:127.0.0.1:" + port, "http://lb.test/"}, "lb.test"},
		{"--connect-to with empty fields", []string{"--connect-to", "::127.0.0.1:" + port, "http://lb.test/"}, "lb.test"},
		{"--connect-to over TLS verifies the URL's name", []string{"--cacert", ca.file, "--connect-to", "lb.test:443:127.0.0.1:" + tlsPort, "https://lb.test/"}, "lb.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, append(tt.args, "-json")...)
			require.Equal(t, exitOK, res.code, res.stderr)
			assert.Equal(t, tt.wantHost, <-hosts)
			tr := traces(t, parseSpans(t, res.stdout))
			require.Len(t, tr, 1)
			assert.Empty(t, tr[0].named("http.dns"), "no lookup of lb.test")
			assert.Equal(t, "127.0.0.1", tr[0].one(t, "http.connect").Attributes["network.peer.address"])
		})
	}
}

func TestIPVersionFlags(t *testing.T) {
	v4 := newServer(t, hello)
	_, port4, _ := net.SplitHostPort(strings.TrimPrefix(v4.URL, "http://"))
	ln6, err := new(net.ListenConfig).Listen(t.Context(), "tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	v6 := httptest.NewUnstartedServer(http.HandlerFunc(hello))
	v6.Listener = ln6
	v6.Start()
	t.Cleanup(v6.Close)
	_, port6, _ := net.SplitHostPort(strings.TrimPrefix(v6.URL, "http://"))

	tests := []struct {
		name     string
		args     []string
		wantOK   bool
		wantType string // network.type of the connect
	}{
		{"-4 to an IPv4 address", []string{"-4", "http://127.0.0.1:" + port4 + "/"}, true, "ipv4"},
		{"-6 to an IPv6 address", []string{"-6", "http://[::1]:" + port6 + "/"}, true, "ipv6"},
		{"-4 to an IPv6 address", []string{"-4", "http://[::1]:" + port6 + "/"}, false, ""},
		{"-6 to an IPv4 address", []string{"-6", "http://127.0.0.1:" + port4 + "/"}, false, ""},
		{"-6 to a name with both", []string{"-6", "--resolve", "both.test:*:127.0.0.1,[::1]", "http://both.test:" + port6 + "/"}, true, "ipv6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, append(tt.args, "-json")...)
			if !tt.wantOK {
				assert.Equal(t, exitFailed, res.code)
				assert.Contains(t, res.stderr, "no suitable address")
				return
			}
			require.Equal(t, exitOK, res.code, res.stderr)
			tr := traces(t, parseSpans(t, res.stdout))
			require.Len(t, tr, 1)
			assert.Equal(t, tt.wantType, tr[0].one(t, "http.connect").Attributes["network.type"])
		})
	}
}

func TestCompressed(t *testing.T) {
	plain := strings.Repeat("wiretrace compresses well. ", 400) // 10800 bytes
	encodings := make(chan string, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		encodings <- r.Header.Get("Accept-Encoding")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			_, _ = io.WriteString(w, plain)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, plain)
		_ = zw.Close()
	})

	t.Run("off: nothing asked, the size is the body's", func(t *testing.T) {
		res := wiretrace(t, "-s", "-w", "%{size_download}", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Empty(t, <-encodings, "no Accept-Encoding: net/http's own gzip is off")
		assert.Equal(t, strconv.Itoa(len(plain)), res.stdout)
	})
	t.Run("on: the wire size, and the decoded size beside it", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "body")
		res := wiretraceWith(t, runOpts{env: []string{"NO_COLOR=1"}}, "--compressed", "-o", file, "-w", "%{size_download}\n", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Contains(t, <-encodings, "gzip")
		wire := mustAtoi(t, strings.TrimSpace(res.stdout))
		assert.Less(t, wire, len(plain)/10, "the gzip body as it crossed the wire")
		got, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, plain, string(got), "-o gets the decoded body")
		assert.Regexp(t, `http\.receive\s+`+strconv.Itoa(wire)+` B`, res.stderr)
		assert.Contains(t, res.stderr, fmt.Sprintf("body: %d B on the wire, 10.8 kB decoded (gzip)", wire))
	})
	t.Run("on, with -json: the decoded size on the root span", func(t *testing.T) {
		res := wiretrace(t, "--compressed", "-json", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		<-encodings
		tr := traces(t, parseSpans(t, res.stdout))
		require.Len(t, tr, 1)
		assert.InDelta(t, len(plain), tr[0].root.Attributes["wiretrace.cli.body.decoded_size"], 0)
		assert.Equal(t, "gzip", tr[0].root.Attributes["wiretrace.cli.body.content_encoding"])
		wire := tr[0].one(t, "http.receive").Attributes["http.response.body.size"]
		assert.Less(t, wire, float64(len(plain)/10), "http.receive counts the wire bytes")
	})
}

func TestCACertAndClientCertificate(t *testing.T) {
	ca := newPEMCA(t)
	serverCert, _, _ := ca.issue(t, "localhost", false, "127.0.0.1")
	_, clientCert, clientKey := ca.issue(t, "alice", true)
	subjects := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		subjects <- r.TLS.PeerCertificates[0].Subject.CommonName
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool()}
	srv.Config.ErrorLog = testnet.QuietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)

	combined := filepath.Join(t.TempDir(), "both.pem")
	c, err := os.ReadFile(clientCert)
	require.NoError(t, err)
	k, err := os.ReadFile(clientKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(combined, append(c, k...), 0o600))

	t.Run("--cacert, -E and --key", func(t *testing.T) {
		res := wiretrace(t, "--cacert", ca.file, "-E", clientCert, "--key", clientKey, srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, "alice", <-subjects)
	})
	t.Run("--cert with the key in its file", func(t *testing.T) {
		res := wiretrace(t, "--cacert", ca.file, "--cert", combined, srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, "alice", <-subjects)
	})
	t.Run("without a client certificate the server refuses", func(t *testing.T) {
		res := wiretrace(t, "--cacert", ca.file, srv.URL)
		assert.Equal(t, exitFailed, res.code)
		assert.Contains(t, res.stderr, "certificate required")
		assert.Empty(t, subjects)
	})
	t.Run("without --cacert the server is not trusted", func(t *testing.T) {
		res := wiretrace(t, "-E", clientCert, "--key", clientKey, srv.URL)
		assert.Equal(t, exitFailed, res.code)
		assert.Contains(t, res.stderr, "certificate signed by unknown authority")
	})
	for _, tt := range []struct{ name, want string }{
		{"--cacert", "--cacert: open "},
		{"-E", "-E/--cert: open "},
	} {
		t.Run(tt.name+" that does not load is a usage error", func(t *testing.T) {
			res := wiretrace(t, tt.name, "/nonexistent.pem", srv.URL)
			assert.Equal(t, exitUsage, res.code)
			assert.Contains(t, res.stderr, tt.want)
		})
	}
}

// silentTLSListener accepts TCP connections and never answers, so that a
// TLS handshake waits forever.
func silentTLSListener(t *testing.T) string {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestConnectTimeoutCoversTheHandshake(t *testing.T) {
	addr := silentTLSListener(t)

	start := time.Now()
	res := wiretrace(t, "--connect-timeout", "0.3", "-json", "https://"+addr+"/")
	took := time.Since(start)

	assert.Equal(t, exitFailed, res.code)
	assert.Contains(t, res.stderr, `Get "https://`+addr+`/": --connect-timeout 300ms exceeded`)
	assert.Less(t, took, 20*time.Second, "far below -timeout's 30s")
	tr := traces(t, parseSpans(t, res.stdout))
	require.Len(t, tr, 1)
	getconn := tr[0].one(t, "http.getconn")
	assert.Equal(t, "Error", getconn.Status.Code)
	assert.Equal(t, "timeout", getconn.Attributes["error.type"])
	assert.GreaterOrEqual(t, getconn.DurationMS, 250.0, "the connection was waited for until the timer")
	assert.Len(t, tr[0].named("http.tls"), 1, "the handshake had begun")
	assert.Equal(t, "timeout", tr[0].one(t, "GET").Attributes["error.type"])
}

func TestFail(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"404 without -f prints and exits 0", []string{srv.URL + "/404"}, exitOK, ""},
		{"500 without -f exits 0", []string{srv.URL + "/500"}, exitOK, ""},
		{"404 with -f exits 22", []string{"-f", srv.URL + "/404"}, exitHTTPError, "wiretrace: GET " + srv.URL + "/404: the server answered 404 Not Found (-f)\n"},
		{"200 with -f exits 0", []string{"-f", srv.URL + "/200"}, exitOK, ""},
		{"combined -fsS", []string{"-fsS", srv.URL + "/503"}, exitHTTPError, "503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := wiretrace(t, tt.args...)
			assert.Equal(t, tt.wantCode, res.code, res.stderr)
			if tt.wantErr == "" {
				assert.Empty(t, res.stderr)
			} else {
				assert.Contains(t, res.stderr, tt.wantErr)
			}
		})
	}
	t.Run("a failed request outranks -f", func(t *testing.T) {
		res := wiretrace(t, "-f", srv.URL+"/404", "http://"+testnet.RefusedAddr(t)+"/")
		assert.Equal(t, exitFailed, res.code)
	})
}

// noALPNServer is an HTTPS server that negotiates no ALPN protocol at all:
// HTTP/1.1 over a TLS listener that offers none.
func noALPNServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ca := newPEMCA(t)
	cert, _, _ := ca.issue(t, "localhost", false, "127.0.0.1")
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ErrorLog: testnet.QuietLog(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "https://" + ln.Addr().String()
}

func TestHTTP2IsHTTP2OrAnError(t *testing.T) {
	requests := make(chan string, 1)
	url := noALPNServer(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { requests <- r.Proto }))

	t.Run("without -http2, HTTP/1.1", func(t *testing.T) {
		res := wiretrace(t, "-k", "-s", "-w", "%{http_version}", url)
		require.Equal(t, exitOK, res.code, res.stderr)
		assert.Equal(t, "1.1", res.stdout)
		assert.Equal(t, "HTTP/1.1", <-requests)
	})
	t.Run("with -http2, a clear error and no request", func(t *testing.T) {
		res := wiretrace(t, "-k", "-http2", url)
		assert.Equal(t, exitFailed, res.code)
		assert.Contains(t, res.stderr, "-http2: the server negotiated no ALPN protocol, so no HTTP/2")
		assert.Regexp(t, `http\.tls .*✗`, res.stdout)
		assert.Empty(t, requests, "nothing was sent")
	})
}

func TestRepeatEndsWithASummary(t *testing.T) {
	const think = 20 * time.Millisecond
	srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(think)
		_, _ = io.WriteString(w, "ok")
	})

	t.Run("table", func(t *testing.T) {
		res := wiretrace(t, "-n", "5", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		requireInOrder(t, res.stdout, []string{
			"(5 of 5)",
			"▶ summary of 5 × GET " + srv.URL + "\n",
			"  5 responded (200 ×5), 0 failed; connections: 1 new, 4 reused\n",
			"  phase        n       min    median       p90       p99       max\n",
			"  dns          0         -",
			"  connect      1 ",
			"  tls          0         -",
			"  wait         5 ",
			"  receive      5 ",
			"  total        5 ",
		})
	})
	t.Run("json", func(t *testing.T) {
		res := wiretrace(t, "-n", "5", "-json", srv.URL)
		require.Equal(t, exitOK, res.code, res.stderr)
		recs := parseRecords(t, res.stdout)
		require.Len(t, recs.summaries, 1)
		s := recs.summaries[0]
		assert.Equal(t, 5, s.Requests)
		assert.Equal(t, 0, s.Failed)
		assert.Equal(t, map[string]int{"200": 5}, s.Statuses)
		assert.Equal(t, jsonSummaryConns{New: 1, Reused: 4}, s.Connections)
		assert.Empty(t, s.Errors)
		require.Len(t, s.Phases, len(summaryPhases))
		assert.Equal(t, 0, s.Phases["tls"].Count)
		assert.Nil(t, s.Phases["tls"].MedianMS)
		wait := s.Phases["wait"]
		require.Equal(t, 5, wait.Count)
		ms := float64(think) / float64(time.Millisecond)
		assert.GreaterOrEqual(t, *wait.MinMS, ms, "the server thinks %v each time", think)
		assert.LessOrEqual(t, *wait.MinMS, *wait.MedianMS)
		assert.LessOrEqual(t, *wait.MedianMS, *wait.P90MS)
		assert.LessOrEqual(t, *wait.P90MS, *wait.P99MS)
		assert.LessOrEqual(t, *wait.P99MS, *wait.MaxMS)
		assert.GreaterOrEqual(t, *s.Phases["total"].MedianMS, *wait.MedianMS)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		assert.True(t, strings.HasPrefix(lines[len(lines)-1], `{"summary":`), "the summary comes last")
	})
}

func TestRepeatedFailureIsSaidOnce(t *testing.T) {
	srv, _ := testnet.NewTLSServer(t, http.HandlerFunc(hello), false)

	res := wiretraceWith(t, runOpts{env: []string{"COLUMNS=300"}}, "-n", "3", srv.URL)

	assert.Equal(t, exitFailed, res.code)
	const msg = "x509: certificate signed by unknown authority"
	assert.Equal(t, 1, strings.Count(res.stderr, msg), "one line on stderr for three failures:\n%s", res.stderr)
	assert.Equal(t, 3, strings.Count(res.stdout, "✗ 1 error "), "each waterfall counts one failed request:\n%s", res.stdout)
	// Once per waterfall, and once in the summary.
	assert.Equal(t, 4, strings.Count(res.stdout, msg), res.stdout)
	assert.Contains(t, res.stdout, "  0 responded, 3 failed; connections: 0 new, 0 reused\n")
	assert.Contains(t, res.stdout, "  ✗ 3× Get \""+srv.URL+"\": tls: failed to verify certificate: "+msg+"\n")
}

func TestSilent(t *testing.T) {
	srv := newServer(t, hello)
	res := wiretrace(t, "-s", srv.URL)
	require.Equal(t, exitOK, res.code)
	assert.Empty(t, res.stdout)
	assert.Empty(t, res.stderr)
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-V"} {
		t.Run(arg, func(t *testing.T) {
			res := wiretrace(t, arg)
			require.Equal(t, exitOK, res.code, res.stderr)
			assert.Regexp(t, `^wiretrace \S+ .*\(otelhooks \S+\) `+regexp.QuoteMeta(runtime.Version())+` `+runtime.GOOS+"/"+runtime.GOARCH+"\n$", res.stdout)
		})
	}
}
