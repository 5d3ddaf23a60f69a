package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// defaultTimeout bounds each request unless -timeout says otherwise.
const defaultTimeout = 30 * time.Second

// defaultMaxRedirs is how many redirects a request follows without
// --max-redirs: net/http's own bound.
const defaultMaxRedirs = 10

// options are the parsed command line.
type options struct {
	method      string      // -X; "" means GET, HEAD with -I, or POST with a body
	header      http.Header // -H, in the order given
	host        string      // -H "Host: …", which net/http takes from Request.Host
	body        []byte      // -d
	hasBody     bool
	user        *url.Userinfo // -u user:password; never shown
	head        bool          // -I: HEAD, no body
	insecure    bool          // -k
	count       int           // -n
	timeout     time.Duration // -timeout, -m; 0 means none
	timeoutFlag string        // the flag that set timeout, for its message
	http1       bool          // -http1: HTTP/1.1 only
	http2       bool          // -http2: HTTP/2 only
	json        bool          // -json
	otlp        *otlpTarget   // -otlp, -otlp-protocol and the environment; nil for none
	service     string        // -service, or "" to take OTEL_SERVICE_NAME or the default
	urls        []*url.URL
	tcpInfo     bool // -tcpinfo: instrument connections for the kernel's facts
	connSpans   bool // -connspans: otelhooks.WithConnectionSpans

	include    bool     // -i: print the status line and response headers
	verbose    bool     // -v: print the request and response headers
	silent     bool     // -s: no captions, waterfalls or summaries
	outputs    []string // -o, one per URL in order; "-" is stdout
	remoteName bool     // -O: save each body under the last segment of its URL's path
	fail       bool     // -f: exit 22 on HTTP status >= 400
	writeOut   string   // -w; "" for none
	hasWrite   bool
	maxRedirs  int  // --max-redirs; 0 follows none
	compressed bool // --compressed: ask for gzip and decode it

	proxy          *url.URL      // -x; nil for none
	noProxy        []string      // --noproxy: hosts and domains; "*" is all
	resolve        []resolveRule // --resolve
	connectTo      []connectRule // --connect-to
	ipv4, ipv6     bool          // -4, -6
	connectTimeout time.Duration // --connect-timeout; 0 means none
	caCert         string        // --cacert
	cert, key      string        // -E, --key
	version        bool          // --version
	tls            *tls.Config   // of -k, --cacert, -E, --key and -http2
}

// resolveRule is a --resolve host:port:addr: connections to host:port
// go to addr instead, without a DNS lookup.
type resolveRule struct {
	host, port string // port "*" is any
	addrs      []string
}

// connectRule is a --connect-to host1:port1:host2:port2: connections to
// host1:port1 go to host2:port2. Empty fields match anything, or keep
// what the URL says.
type connectRule struct {
	fromHost, fromPort, toHost, toPort string
}

// usageText is the help of -h, its flags grouped as curl's users look for
// them.
const usageText = `Usage: wiretrace [flags] [URL...]

wiretrace sends HTTP requests and shows what every phase of each one costs:
DNS lookup, TCP connect, TLS handshake, sending, waiting for the first byte,
receiving. Each request is traced with OpenTelemetry and printed as a
waterfall; -otlp sends the same spans to a collector such as Jaeger.

With no URL, it runs a demo against an HTTPS server of its own on 127.0.0.1.
Flags may come before or after the URLs, as -name or --name; short ones can be
combined (-sSf). A URL without a scheme gets http://. Flag names follow curl.

Request:
  -X, --request METHOD      request method (default GET; HEAD with -I; POST with -d)
  -H, --header 'Name: v'    add a request header; repeat for more
  -d, --data DATA           request body, repeats joined by &; @file reads a file,
                            @- stdin (also --data-binary; --data-raw takes no @)
  -u, --user USER:PASSWORD  basic authentication; never shown, not even by -v
  -I, --head                send HEAD, read no body
      --compressed          ask for gzip and decode it; sizes stay wire sizes,
                            the decoded size is shown beside them
      --max-redirs N        follow at most N redirects (default 10; 0 follows none)
  -L, --location            accepted for curl's sake: redirects are always followed
  -m, --max-time, -timeout D
                            give up on a request after D, redirects and body
                            included (default 30s; 0 for no limit; seconds or 1.5s)

Output:
  -i, --include             print the status line and response headers
  -v, --verbose             print the request and response headers, as sent and
                            received, to stderr (credentials shown as REDACTED)
  -o, --output FILE         save the body to FILE (- for stdout); one per URL
  -O, --remote-name         save the body under the URL's file name
  -w, --write-out FORMAT    print FORMAT after each request, with curl's variables:
                            %{time_total}, %{http_code}, %{json}, ... (@file, @-)
  -s, --silent              no captions, waterfalls or summaries; errors still print
  -S, --show-error          accepted for curl's sake: errors always print
  -f, --fail                exit 22 when a response's status is 400 or more
  -json                     one JSON object per line on stdout: the spans, and
                            with -i/-v the headers, with -n the summary
  -tcpinfo                  show what the kernel knows of each connection (Linux):
                            round-trip time, congestion window, retransmissions
  -connspans                trace connections as the OpenTelemetry conventions do:
                            each setup a trace of its own, linked from the
                            requests it serves

Connection:
  -k, --insecure            do not verify the server's TLS certificate
      --cacert FILE         trust the CA certificates in FILE (PEM)
  -E, --cert FILE           client certificate (PEM); with --key, or the key in FILE
      --key FILE            the client certificate's private key (PEM)
  -x, --proxy URL           go through the HTTP(S) proxy at URL (http:// if none)
      --noproxy HOSTS       hosts, comma-separated, reached directly; * for all
      --resolve H:P:ADDR    connect to ADDR for host H, port P (* for any), no DNS
      --connect-to H1:P1:H2:P2
                            connect to H2:P2 for requests to H1:P1 (empty fields
                            match any or keep the URL's)
  -4, --ipv4                IPv4 addresses only
  -6, --ipv6                IPv6 addresses only
      --connect-timeout D   give up on getting a connection (DNS, connect, TLS)
                            after D (seconds or 1.5s)
  -http1, --http1.1         use HTTP/1.1 only
  -http2, --http2           HTTP/2 or an error: over TLS, or h2c for http:// URLs

Repeat:
  -n COUNT                  send each request COUNT times, to show connection reuse,
                            then a summary: min, median, p90, p99, max per phase

Tracing:
  -otlp ENDPOINT            also export the spans over OTLP: grpc://host:4317,
                            http://host:4318, or host:port (4317 means gRPC)
  -otlp-protocol P          grpc, http/protobuf or http/json, whatever the endpoint
  -service NAME             service.name of the spans (default $OTEL_SERVICE_NAME,
                            else wiretrace)

  -V, --version             print the version and exit
  -h, --help                print this help

Without -otlp, spans are exported over OTLP too when
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
With -w, or -o -, captions and waterfalls go to stderr: stdout is the script's.

Exit status: 0 done, 1 a request failed, 2 bad usage, 22 an HTTP error with -f,
130 interrupted.

Examples:
  wiretrace
  wiretrace -n 3 https://example.com
  wiretrace -s -o /dev/null -w '%{time_starttransfer} %{time_total}\n' https://example.com
  wiretrace --connect-to example.com:443:10.0.0.7:443 https://example.com
  wiretrace -X POST -H 'Content-Type: application/json' -d @body.json https://example.com/api
  wiretrace -json https://example.com | jq -r 'select(.span_id) | [.name, .duration_ms] | @tsv'
  wiretrace -otlp localhost:4317 https://example.com
`

// shortBools are the one-letter flags that take no value, which may be
// combined in one argument, as in "-sSfL".
const shortBools = "kiIvsSfOL46Vh"

// shortValued are the one-letter flags that take a value; one may end a
// combination, as in "-sSo FILE".
const shortValued = "XHdnouEwxm"

// parseState holds what the flags set before parseArgs makes options of
// it.
type parseState struct {
	data                                             []string // -d, in order
	rawProxy, noProxy, user, maxTime, connectTimeout string
	otlpEndpoint, otlpProtocol                       string
	ignored                                          bool // -S, -L
}

// newFlagSet defines the flags, which set o and st.
func newFlagSet(o *options, st *parseState) *flag.FlagSet {
	fs := flag.NewFlagSet("wiretrace", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, on one line
	str := func(p *string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, "", "")
		}
	}
	boolean := func(p *bool, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, "")
		}
	}
	fn := func(f func(string) error, names ...string) {
		for _, n := range names {
			fs.Func(n, "", f)
		}
	}

	str(&o.method, "X", "request")
	fn(o.addHeader, "H", "header")
	fn(func(s string) error {
		st.data = append(st.data, s)
		return nil
	}, "d", "data", "data-binary")
	fn(func(s string) error {
		st.data = append(st.data, "\x00raw"+s) // marked: no @ here
		return nil
	}, "data-raw")
	str(&st.user, "u", "user")
	boolean(&o.head, "I", "head")
	boolean(&o.insecure, "k", "insecure")
	fs.IntVar(&o.count, "n", 1, "")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "")
	str(&st.maxTime, "m", "max-time")
	boolean(&o.http1, "http1", "http1.1")
	boolean(&o.http2, "http2")
	boolean(&o.json, "json")
	boolean(&o.tcpInfo, "tcpinfo")
	boolean(&o.connSpans, "connspans")
	str(&st.otlpEndpoint, "otlp")
	str(&st.otlpProtocol, "otlp-protocol")
	str(&o.service, "service")

	boolean(&o.include, "i", "include")
	boolean(&o.verbose, "v", "verbose")
	boolean(&o.silent, "s", "silent")
	boolean(&st.ignored, "S", "show-error", "L", "location")
	fn(func(s string) error {
		if s == "" {
			return errors.New("needs a file name")
		}
		o.outputs = append(o.outputs, s)
		return nil
	}, "o", "output")
	boolean(&o.remoteName, "O", "remote-name")
	boolean(&o.fail, "f", "fail")
	fn(func(s string) error {
		o.writeOut, o.hasWrite = s, true
		return nil
	}, "w", "write-out")
	fs.IntVar(&o.maxRedirs, "max-redirs", defaultMaxRedirs, "")
	boolean(&o.compressed, "compressed")

	str(&st.rawProxy, "x", "proxy")
	str(&st.noProxy, "noproxy")
	fn(func(s string) error {
		r, err := parseResolve(s)
		if err == nil {
			o.resolve = append(o.resolve, r)
		}
		return err
	}, "resolve")
	fn(func(s string) error {
		r, err := parseConnectTo(s)
		if err == nil {
			o.connectTo = append(o.connectTo, r)
		}
		return err
	}, "connect-to")
	boolean(&o.ipv4, "4", "ipv4")
	boolean(&o.ipv6, "6", "ipv6")
	str(&st.connectTimeout, "connect-timeout")
	str(&o.caCert, "cacert")
	str(&o.cert, "E", "cert")
	str(&o.key, "key")
	boolean(&o.version, "V", "version")

	return fs
}

// parseArgs parses the command line; every error it returns but
// flag.ErrHelp, for -h, is the user's. stdin is read for "-d @-" and
// "-w @-", and getenv gives the environment, for the OTLP exporter's
// variables.
func parseArgs(args []string, stdin io.Reader, getenv func(string) string) (*options, error) {
	o := &options{header: make(http.Header), maxRedirs: defaultMaxRedirs}
	st := &parseState{}
	fs := newFlagSet(o, st)

	// Parse flags and URLs in any order, as curl does: the flag package
	// stops at the first argument that is not a flag, or after "--".
	var rawURLs []string
	for rest := splitCombined(fs, args); ; {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			rawURLs = append(rawURLs, left...)
			break
		}
		rawURLs = append(rawURLs, left[0])
		rest = left[1:]
	}
	if o.version {
		return o, nil
	}
	if o.head {
		o.include = true // as curl -I shows the headers
	}

	if st.maxTime != "" {
		d, err := parseSeconds(st.maxTime)
		if err != nil {
			return nil, fmt.Errorf("--max-time %q: %w", st.maxTime, err)
		}
		o.timeout, o.timeoutFlag = d, "--max-time"
	}
	if st.connectTimeout != "" {
		d, err := parseSeconds(st.connectTimeout)
		if err != nil {
			return nil, fmt.Errorf("--connect-timeout %q: %w", st.connectTimeout, err)
		}
		o.connectTimeout = d
	}
	switch {
	case o.http1 && o.http2:
		return nil, errors.New("-http1 and -http2 exclude each other")
	case o.ipv4 && o.ipv6:
		return nil, errors.New("-4 and -6 exclude each other")
	case o.count < 1:
		return nil, fmt.Errorf("-n must be at least 1, not %d", o.count)
	case o.timeout < 0:
		return nil, fmt.Errorf("-timeout must not be negative, not %v", o.timeout)
	case o.connectTimeout < 0:
		return nil, fmt.Errorf("--connect-timeout must not be negative, not %v", o.connectTimeout)
	case o.maxRedirs < 0:
		return nil, fmt.Errorf("--max-redirs must not be negative, not %d", o.maxRedirs)
	case o.json && o.hasWrite:
		return nil, errors.New("-json and -w both write to stdout: choose one")
	case o.head && len(st.data) > 0:
		return nil, errors.New("-I and -d exclude each other: HEAD has no body")
	case o.key != "" && o.cert == "":
		return nil, errors.New("--key needs -E/--cert")
	}
	if o.json && contains(o.outputs, "-") {
		return nil, errors.New("-json and -o - both write to stdout: choose one")
	}
	if o.method != "" && !validToken(o.method) {
		return nil, fmt.Errorf("-X %q is not a valid method", o.method)
	}
	if o.service == "" && isSet(fs, "service") {
		return nil, errors.New("-service needs a name")
	}
	if isSet(fs, "otlp") && st.otlpEndpoint == "" {
		return nil, errors.New("-otlp needs an endpoint")
	}
	otlp, err := resolveOTLP(st.otlpEndpoint, st.otlpProtocol, getenv)
	if err != nil {
		return nil, err
	}
	o.otlp = otlp
	if len(st.data) > 0 {
		body, err := readBodies(st.data, stdin)
		if err != nil {
			return nil, err
		}
		o.body, o.hasBody = body, true
	}
	if isSet(fs, "u", "user") {
		name, pass, ok := strings.Cut(st.user, ":")
		if !ok || name == "" {
			// curl would prompt for the password; a trace has no one to ask.
			return nil, errors.New("-u wants user:password")
		}
		o.user = url.UserPassword(name, pass)
	}
	if isSet(fs, "x", "proxy") {
		p, err := parseProxy(st.rawProxy)
		if err != nil {
			return nil, err
		}
		o.proxy = p
	}
	for _, h := range strings.Split(st.noProxy, ",") {
		if h = strings.TrimSpace(h); h != "" {
			o.noProxy = append(o.noProxy, strings.ToLower(h))
		}
	}
	if o.hasWrite {
		f, err := readFormat(o.writeOut, stdin, o.hasBody && contains(st.data, "@-"))
		if err != nil {
			return nil, err
		}
		o.writeOut = f
	}

	tc, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	o.tls = tc

	if len(rawURLs) == 0 {
		// The demo makes requests of its own: flags that shape them make
		// no sense there.
		for _, names := range [][]string{
			{"X", "request"}, {"H", "header"}, {"d", "data", "data-binary", "data-raw"}, {"n"},
			{"u", "user"}, {"I", "head"}, {"o", "output"}, {"O", "remote-name"}, {"w", "write-out"},
			{"x", "proxy"}, {"resolve"}, {"connect-to"}, {"cacert"}, {"E", "cert"}, {"f", "fail"},
			{"i", "include"}, {"v", "verbose"}, {"compressed"}, {"max-redirs"}, {"4", "ipv4"}, {"6", "ipv6"},
		} {
			if isSet(fs, names...) {
				return nil, fmt.Errorf("%s needs a URL: the demo makes requests of its own", flagName(names[0]))
			}
		}
	}
	for _, raw := range rawURLs {
		u, err := parseURL(raw)
		if err != nil {
			return nil, err
		}
		o.urls = append(o.urls, u)
	}
	if len(o.outputs) > len(o.urls) {
		return nil, fmt.Errorf("%d -o for %d URLs", len(o.outputs), len(o.urls))
	}
	if o.remoteName {
		for _, u := range o.urls[len(o.outputs):] {
			if remoteName(u) == "" {
				return nil, fmt.Errorf("-O: %s has no file name", u.Redacted())
			}
		}
	}
	return o, nil
}

// flagName is how a flag is written in messages: -X, --max-redirs.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// splitCombined expands combined one-letter flags, "-sSf" into "-s -S
// -f", and "-so FILE" into "-s -o FILE". An argument that names a flag of
// fs, that is a flag's value, or that is not made of one-letter flags, is
// left as it is.
func splitCombined(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	valueNext := false // the argument before takes a value: this one
	for i, a := range args {
		if valueNext {
			out = append(out, a)
			valueNext = false
			continue
		}
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, isFlag := strings.CutPrefix(a, "-")
		name = strings.TrimPrefix(name, "-")
		if !isFlag || name == "" || strings.Contains(name, "=") {
			out = append(out, a)
			continue
		}
		if f := fs.Lookup(name); f != nil {
			valueNext = !isBoolFlag(f)
			out = append(out, a)
			continue
		}
		if strings.HasPrefix(a, "--") || len(name) < 2 || !combined(name) {
			out = append(out, a)
			continue
		}
		for _, c := range name {
			out = append(out, "-"+string(c))
		}
		valueNext = strings.ContainsRune(shortValued, rune(name[len(name)-1]))
	}
	return out
}

// combined reports whether name is one-letter flags that take no value,
// the last one perhaps taking one.
func combined(name string) bool {
	for j, c := range name {
		last := j == len(name)-1
		if !strings.ContainsRune(shortBools, c) && (!last || !strings.ContainsRune(shortValued, c)) {
			return false
		}
	}
	return true
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// isSet reports whether any of the names was given.
func isSet(fs *flag.FlagSet, names ...string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if contains(names, f.Name) {
			set = true
		}
	})
	return set
}

// parseSeconds parses a duration as curl's -m and --connect-timeout take
// it, in seconds with a fraction ("2.5"), or as Go writes one ("300ms").
func parseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > float64(1<<62)/float64(time.Second) {
			return 0, errors.New("out of range")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want seconds, such as 2.5, or a duration, such as 300ms")
	}
	return d, nil
}

// addHeader adds a "Name: value" header. "Host" sets the request's host,
// as net/http ignores it among the headers.
func (o *options) addHeader(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || !validToken(name) {
		return fmt.Errorf("want 'Name: value', not %q", s)
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: value has a line break or NUL", name)
	}
	if strings.EqualFold(name, "Host") {
		o.host = value
		return nil
	}
	o.header.Add(textproto.CanonicalMIMEHeaderKey(name), value)
	return nil
}

// readBodies returns the body of the -d flags, joined by "&" as curl joins
// them.
func readBodies(data []string, stdin io.Reader) ([]byte, error) {
	var parts [][]byte
	for _, d := range data {
		if raw, ok := strings.CutPrefix(d, "\x00raw"); ok {
			parts = append(parts, []byte(raw))
			continue
		}
		b, err := readBody(d, stdin)
		if err != nil {
			return nil, err
		}
		parts = append(parts, b)
	}
	return joinBytes(parts, '&'), nil
}

func joinBytes(parts [][]byte, sep byte) []byte {
	var out []byte
	for i, p := range parts {
		if i > 0 {
			out = append(out, sep)
		}
		out = append(out, p...)
	}
	return out
}

// readBody returns the body -d gives: the data itself, or the contents of
// the file after "@", or standard input for "@-".
func readBody(data string, stdin io.Reader) ([]byte, error) {
	name, isFile := strings.CutPrefix(data, "@")
	if !isFile {
		return []byte(data), nil
	}
	if name == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("-d @-: read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("-d: %w", err)
	}
	return b, nil
}

// readFormat returns the -w format: f itself, or the contents of the file
// after "@", or standard input for "@-" unless -d took it already.
func readFormat(f string, stdin io.Reader, stdinTaken bool) (string, error) {
	name, isFile := strings.CutPrefix(f, "@")
	if !isFile {
		return f, nil
	}
	if name == "-" {
		if stdinTaken {
			return "", errors.New("-w @- and -d @- cannot both read standard input")
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return "", fmt.Errorf("-w @-: read standard input: %w", err)
		}
		return string(b), nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("-w: %w", err)
	}
	return string(b), nil
}

// parseURL parses a URL of the command line. One without a scheme gets
// "http://", as with curl.
func parseURL(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("malformed URL %q: %w", redactRaw(raw), err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("malformed URL %q: scheme %q is not http or https", u.Redacted(), u.Scheme)
	case u.Hostname() == "":
		return nil, fmt.Errorf("malformed URL %q: no host", u.Redacted())
	}
	return u, nil
}

// redactRaw hides the password of a URL that does not parse: what comes
// between "://" and "@".
func redactRaw(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok || strings.ContainsAny(userinfo, "/?#") {
		return raw
	}
	if name, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return strings.Replace(raw, userinfo, name+":xxxxx", 1)
	}
	return raw
}

// parseProxy parses -x: a URL, http:// if it has no scheme, as curl takes
// it.
func parseProxy(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("-x: malformed proxy URL %q", redactRaw(raw))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5":
		return nil, fmt.Errorf("-x: proxy scheme %q is not http, https or socks5", u.Scheme)
	case u.Hostname() == "":
		return nil, fmt.Errorf("-x: proxy URL %q has no host", u.Redacted())
	}
	return u, nil
}

// parseResolve parses --resolve host:port:addr[,addr...], an IPv6
// address in brackets.
func parseResolve(s string) (resolveRule, error) {
	host, rest, ok1 := strings.Cut(s, ":")
	port, addrs, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || host == "" || port == "" || addrs == "" {
		return resolveRule{}, fmt.Errorf("want host:port:address, not %q", s)
	}
	if port != "*" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return resolveRule{}, fmt.Errorf("bad port %q in %q", port, s)
		}
	}
	r := resolveRule{host: strings.ToLower(host), port: port}
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "["), "]")
		if net.ParseIP(a) == nil {
			return resolveRule{}, fmt.Errorf("%q in %q is not an IP address", a, s)
		}
		r.addrs = append(r.addrs, a)
	}
	return r, nil
}

// parseConnectTo parses --connect-to host1:port1:host2:port2, any field
// empty, IPv6 addresses in brackets.
func parseConnectTo(s string) (connectRule, error) {
	fields, err := splitHostFields(s)
	if err != nil || len(fields) != 4 {
		return connectRule{}, fmt.Errorf("want host1:port1:host2:port2, not %q", s)
	}
	for _, p := range []string{fields[1], fields[3]} {
		if p == "" {
			continue
		}
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return connectRule{}, fmt.Errorf("bad port %q in %q", p, s)
		}
	}
	return connectRule{fromHost: strings.ToLower(fields[0]), fromPort: fields[1], toHost: fields[2], toPort: fields[3]}, nil
}

// splitHostFields splits s at the colons outside brackets.
func splitHostFields(s string) ([]string, error) {
	var fields []string
	var cur strings.Builder
	inBracket := false
	for _, c := range s {
		switch {
		case c == '[':
			inBracket = true
		case c == ']':
			inBracket = false
		case c == ':' && !inBracket:
			fields = append(fields, cur.String())
			cur.Reset()
			continue
		}
		if c != '[' && c != ']' {
			cur.WriteRune(c)
		}
	}
	if inBracket {
		return nil, errors.New("unclosed bracket")
	}
	return append(fields, cur.String()), nil
}

// validToken reports whether s is an HTTP token (RFC 9110, section 5.6.2),
// as header names and methods must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
