package testnet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NginxConfig says what an [Nginx] serves besides its fixed locations.
type NginxConfig struct {
	// Upstream is the "host:port" of a plain HTTP server that the location
	// /upstream/ proxies to (nginx reads the whole request body first,
	// answering "Expect: 100-continue" as it starts to). Empty: no such
	// location.
	Upstream string
	// Files are served from /static/NAME, keyed by NAME, with gzip for
	// text/plain whatever their size.
	Files map[string]string
	// KeepaliveRequests is how many requests nginx serves on a connection
	// before it closes it (keepalive_requests); 0 means 1000.
	KeepaliveRequests int
}

// Nginx is a real nginx, run as a child of one test with everything it
// writes under a directory of the test's own. Its three listeners on
// 127.0.0.1 serve the same locations:
//
//   - HTTP: HTTP/1.1 with keep-alive;
//   - H2C: HTTP/2 with prior knowledge (net/http's unencrypted HTTP/2);
//   - TLS: HTTPS with ALPN h2 and http/1.1, with a certificate for
//     "localhost" and 127.0.0.1 signed by the CA in [Nginx.RootCAs].
//
// The locations: / answers 200 "ok"; /redirect answers 302 to /; /static/
// serves [NginxConfig.Files]; /upstream/ proxies to [NginxConfig.Upstream].
//
// Every request is logged to the test through [Nginx.NextLog]: nginx
// writes its access log to a named pipe the test reads, so that a test
// waits for the line of a request without polling a file, and no line is
// lost (a burst of lines over syslog's UDP is).
type Nginx struct {
	// HTTP, H2C and TLS are the listeners' "127.0.0.1:port" addresses.
	HTTP, H2C, TLS string

	pool *x509.CertPool
	dir  string
	logs chan NginxLog
}

// NginxLog is one line of an [Nginx]'s access log: what nginx received and
// sent for one request.
type NginxLog struct {
	Method, URI string
	// Protocol is $server_protocol: "HTTP/1.1", "HTTP/2.0".
	Protocol string
	// Traceparent is the traceparent header nginx received, "-" for none.
	Traceparent string
	// Status is the status nginx sent.
	Status string
	// Connection is nginx's serial number of the connection, and
	// ConnectionRequests how many requests it has carried, this one
	// included.
	Connection, ConnectionRequests string
	// BodyBytesSent is $body_bytes_sent, RequestLength $request_length
	// (request line, headers and body as received).
	BodyBytesSent, RequestLength string
	// GzipRatio is $gzip_ratio, "-" when nginx did not compress.
	GzipRatio string
	// RequestTime is $request_time, seconds with millisecond resolution.
	RequestTime string
}

const nginxLogFormat = `$request_method $uri $server_protocol $http_traceparent $status ` +
	`$connection $connection_requests $body_bytes_sent $request_length $gzip_ratio $request_time`

func parseNginxLog(line string) (NginxLog, bool) {
	f := strings.Fields(line)
	if len(f) != 11 {
		return NginxLog{}, false
	}
	return NginxLog{
		Method: f[0], URI: f[1], Protocol: f[2], Traceparent: f[3], Status: f[4],
		Connection: f[5], ConnectionRequests: f[6], BodyBytesSent: f[7], RequestLength: f[8],
		GzipRatio: f[9], RequestTime: f[10],
	}, true
}

// NginxPath returns the path of the nginx binary. Without one it fails the
// test under CI=true (.ci/run installs nginx) and skips it elsewhere.
func NginxPath(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr == nil {
			return "/usr/sbin/nginx" // Debian's, when /usr/sbin is not on PATH
		}
		if os.Getenv("CI") == "true" {
			tb.Fatalf("testnet: nginx is not installed; .ci/run installs it: %v", err)
		}
		tb.Skipf("testnet: nginx is not installed (apt-get install nginx): %v", err)
	}
	return bin
}

// NewNginx starts an nginx serving cfg, and stops it (by the PID it
// started) at cleanup. The listening sockets are made by the test and
// handed to nginx (its NGINX environment variable, as for a binary
// upgrade), so each is accepting connections before nginx starts: there
// is no port to race for and nothing to wait for. NewNginx returns once
// nginx has answered one request on each listener, and fails the test,
// with nginx's error log, if nginx exits first.
func NewNginx(tb testing.TB, cfg NginxConfig) *Nginx {
	tb.Helper()
	bin := NginxPath(tb)
	dir := tb.TempDir()
	n := &Nginx{dir: dir, logs: make(chan NginxLog, 4096)}

	ca := NewCA(tb, "wiretrace nginx CA")
	n.pool = ca.Pool()
	writePEM(tb, ca.Leaf(tb, "localhost", "localhost", "127.0.0.1"), dir)
	html := filepath.Join(dir, "html")
	must(tb, os.MkdirAll(filepath.Join(html, "static"), 0o755))
	for name, body := range cfg.Files {
		must(tb, os.WriteFile(filepath.Join(html, "static", name), []byte(body), 0o644))
	}

	// Three listeners, and the pipe of the access log.
	var files []*os.File
	var addrs []string
	for range 3 {
		ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp4", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("testnet: listen: %v", err)
		}
		f, err := ln.(*net.TCPListener).File()
		_ = ln.Close() // f holds the socket
		if err != nil {
			tb.Fatalf("testnet: listener file: %v", err)
		}
		files = append(files, f)
		addrs = append(addrs, ln.Addr().String())
	}
	n.HTTP, n.H2C, n.TLS = addrs[0], addrs[1], addrs[2]
	accessLog := filepath.Join(dir, "access.pipe")
	must(tb, mkfifo(accessLog))
	// Read and write: opening it does not wait for nginx, and the read
	// sees no end of file between nginx's writes. Close ends the read.
	pipe, err := os.OpenFile(accessLog, os.O_RDWR, 0)
	if err != nil {
		tb.Fatalf("testnet: open the access log's pipe: %v", err)
	}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		n.readLogs(pipe)
	}()

	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who cannot read the test's
		// directory; as another user nginx ignores the directive.
		user = "user root root;"
	}
	keepalive := cfg.KeepaliveRequests
	if keepalive == 0 {
		keepalive = 1000
	}
	upstream := ""
	if cfg.Upstream != "" {
		upstream = fmt.Sprintf(`
			location /upstream/ {
				proxy_pass http://%s;
				proxy_http_version 1.1;
				proxy_set_header Connection "";
			}`, cfg.Upstream)
	}
	locations := fmt.Sprintf(`
			location = / { default_type text/plain; gzip off; return 200 "ok"; }
			location = /redirect { return 302 /; }
			location /static/ { default_type text/plain; }
			%s`, upstream)
	// "listen ... ssl http2" rather than "http2 on": nginx before 1.25.1
	// (Debian 12's 1.22) knows only the former; later ones warn and comply.
	conf := fmt.Sprintf(`%s
worker_processes 1;
error_log %[2]s/error.log info;
events { worker_connections 1024; }
http {
	log_format wiretrace '%[3]s';
	access_log %[4]s wiretrace;
	client_body_temp_path %[2]s/client_body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	root %[2]s/html;
	keepalive_requests %[9]d;
	client_max_body_size 64m;
	gzip on;
	gzip_types text/plain;
	gzip_min_length 0;
	gzip_http_version 1.0;
	server {
		listen %[5]s;
		%[8]s
	}
	server {
		listen %[6]s http2;
		%[8]s
	}
	server {
		listen %[7]s ssl http2;
		ssl_certificate %[2]s/cert.pem;
		ssl_certificate_key %[2]s/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		%[8]s
	}
}
`, user, dir, nginxLogFormat, accessLog, n.HTTP, n.H2C, n.TLS, locations, keepalive)
	confPath := filepath.Join(dir, "nginx.conf")
	must(tb, os.WriteFile(confPath, []byte(conf), 0o600))

	var out bytes.Buffer // nginx's stderr; read after Wait
	// Stopped by its PID at cleanup, not by a context.
	cmd := exec.CommandContext(context.Background(), bin, "-p", dir, "-c", confPath, "-g", "daemon off; pid "+dir+"/nginx.pid;")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.ExtraFiles = files // fds 3, 4, 5
	cmd.Env = append(os.Environ(), "NGINX=3;4;5;")
	// Its own process group, so that the workers go too if the master
	// must be killed.
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testnet: start nginx: %v", err)
	}
	for _, f := range files {
		_ = f.Close()
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return out.String() + string(b)
	}
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM) // fast shutdown
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				killProcessGroup(cmd.Process)
				<-exited
			}
			_ = pipe.Close()
			<-logDone
		})
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() {
			tb.Logf("nginx's error log:\n%s", errorLog())
		}
	})

	// One request on each listener: nginx read its configuration and
	// serves. The sockets queue connections meanwhile.
	probe := make(chan error, 1)
	go func() { probe <- n.probe() }()
	select {
	case err := <-probe:
		if err != nil {
			stop()
			tb.Fatalf("testnet: nginx does not answer: %v\n%s", err, errorLog())
		}
	case <-exited:
		tb.Fatalf("testnet: nginx exited at start (%v):\n%s", waitErr, errorLog())
	}
	for range 3 {
		select {
		case <-n.logs: // the probes' lines
		case <-time.After(10 * time.Second):
			tb.Fatalf("testnet: nginx logged no probe")
		}
	}
	return n
}

// probe sends GET / to each listener.
func (n *Nginx) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tr := range []*http.Transport{n.Transport("http"), n.Transport("h2c"), n.Transport("h2")} {
		addr := n.HTTP
		scheme := "http"
		switch {
		case tr.TLSClientConfig != nil:
			addr, scheme = n.TLS, "https"
		case tr.Protocols != nil:
			addr = n.H2C
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+"/", nil)
		if err != nil {
			return err
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		tr.CloseIdleConnections()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", req.URL, resp.Status)
		}
	}
	return nil
}

// RootCAs returns a pool that trusts the certificate of the TLS listener.
func (n *Nginx) RootCAs() *x509.CertPool { return n.pool }

// Transport returns a new transport for one of the listeners: "http"
// (HTTP/1.1, for [Nginx.HTTP]), "h2c" (HTTP/2 with prior knowledge, for
// [Nginx.H2C]), "h2" or "https1" (HTTPS with HTTP/2 or HTTP/1.1 only, for
// [Nginx.TLS]).
func (n *Nginx) Transport(kind string) *http.Transport {
	switch kind {
	case "h2c":
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		return &http.Transport{Protocols: &p}
	case "h2":
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.pool}, ForceAttemptHTTP2: true}
	case "https1":
		// ALPN http/1.1, as a client that speaks only HTTP/1.1 says.
		return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: n.pool, NextProtos: []string{"http/1.1"}}}
	}
	return &http.Transport{}
}

// NextLog returns the next access log line, in the order nginx finished
// the requests, failing the test if none comes within 10s.
func (n *Nginx) NextLog(tb testing.TB) NginxLog {
	tb.Helper()
	select {
	case l := <-n.logs:
		return l
	case <-time.After(10 * time.Second):
		tb.Fatalf("testnet: nginx logged no request in 10s")
		return NginxLog{}
	}
}

func (n *Nginx) readLogs(pipe *os.File) {
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		if l, ok := parseNginxLog(sc.Text()); ok {
			select {
			case n.logs <- l:
			default: // nobody reads this many; drop
			}
		}
	}
}

// writePEM writes cert's chain and key to dir/cert.pem and dir/key.pem.
func writePEM(tb testing.TB, cert tls.Certificate, dir string) {
	tb.Helper()
	var certs []byte
	for _, der := range cert.Certificate {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		tb.Fatalf("testnet: marshal key: %v", err)
	}
	must(tb, os.WriteFile(filepath.Join(dir, "cert.pem"), certs, 0o600))
	must(tb, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600))
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("testnet: %v", err)
	}
}
