package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"
)

// defaultTimeout bounds each request unless -timeout says otherwise.
const defaultTimeout = 30 * time.Second

// options are the parsed command line.
type options struct {
	method   string      // -X; "" means GET, or POST with a body
	header   http.Header // -H, in the order given
	host     string      // -H "Host: …", which net/http takes from Request.Host
	body     []byte      // -d
	hasBody  bool
	insecure bool          // -k
	count    int           // -n
	timeout  time.Duration // -timeout; 0 means none
	http1    bool          // -http1: HTTP/1.1 only
	http2    bool          // -http2: HTTP/2 only
	json     bool          // -json
	otlp     *otlpTarget   // -otlp, -otlp-protocol and the environment; nil for none
	service  string        // -service, or "" to take OTEL_SERVICE_NAME or the default
	urls     []*url.URL
	tcpInfo  bool // -tcpinfo: instrument connections for the kernel's facts
}

const usageText = `Usage: wiretrace [flags] [URL...]

wiretrace sends HTTP requests and shows what every phase of each one costs:
DNS lookup, TCP connect, TLS handshake, sending, waiting for the first byte,
receiving. Each request is traced with OpenTelemetry and printed as a
waterfall; -otlp sends the same spans to a collector such as Jaeger.

With no URL, it runs a demo against an HTTPS server of its own on 127.0.0.1.

Flags may come before or after the URLs. A URL without a scheme gets http://.

  -X method        request method (default GET, or POST with -d)
  -H 'Name: value' add a request header; repeat for more
  -d data          request body; @file reads it from a file, @- from stdin
  -k               do not verify the server's TLS certificate
  -n count         send each request count times, to show connection
                   reuse (default 1)
  -timeout d       give up on a request after d, redirects and body
                   included (default 30s; 0 for no limit)
  -http1           use HTTP/1.1 only
  -http2           use HTTP/2 only: over TLS, or h2c for http:// URLs
  -json            write one JSON object per span to stdout, for scripts;
                   captions and messages go to stderr
  -tcpinfo         show what the kernel knows of each connection (Linux):
                   round-trip time, congestion window, retransmissions
  -otlp endpoint   also export the spans over OTLP: grpc://host:4317,
                   http://host:4318, or host:port (4317 means gRPC)
  -otlp-protocol p grpc, http/protobuf or http/json, whatever the endpoint
  -service name    service.name of the spans (default $OTEL_SERVICE_NAME,
                   else wiretrace)
  -h               print this help

Without -otlp, spans are exported over OTLP too when
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.

Exit status: 0 done, 1 a request failed, 2 bad usage, 130 interrupted.

Examples:
  wiretrace
  wiretrace -n 3 https://example.com
  wiretrace -X POST -H 'Content-Type: application/json' -d @body.json https://example.com/api
  wiretrace -json https://example.com | jq -r '[.name, .duration_ms] | @tsv'
  wiretrace -otlp localhost:4317 https://example.com
`

// parseArgs parses the command line; every error it returns but
// flag.ErrHelp, for -h, is the user's. stdin is read for "-d @-", and getenv
// gives the environment, for the OTLP exporter's variables.
func parseArgs(args []string, stdin io.Reader, getenv func(string) string) (*options, error) {
	o := &options{header: make(http.Header)}
	var data string
	var dataSet bool

	fs := flag.NewFlagSet("wiretrace", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, on one line
	fs.StringVar(&o.method, "X", "", "")
	fs.Func("H", "", func(s string) error { return o.addHeader(s) })
	fs.Func("d", "", func(s string) error {
		data, dataSet = s, true
		return nil
	})
	fs.BoolVar(&o.insecure, "k", false, "")
	fs.IntVar(&o.count, "n", 1, "")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "")
	fs.BoolVar(&o.http1, "http1", false, "")
	fs.BoolVar(&o.http2, "http2", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.tcpInfo, "tcpinfo", false, "")
	var otlpEndpoint, otlpProtocol string
	fs.StringVar(&otlpEndpoint, "otlp", "", "")
	fs.StringVar(&otlpProtocol, "otlp-protocol", "", "")
	fs.StringVar(&o.service, "service", "", "")

	// Parse flags and URLs in any order, as curl does: the flag package
	// stops at the first argument that is not a flag, or after "--".
	var rawURLs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
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

	switch {
	case o.http1 && o.http2:
		return nil, errors.New("-http1 and -http2 exclude each other")
	case o.count < 1:
		return nil, fmt.Errorf("-n must be at least 1, not %d", o.count)
	case o.timeout < 0:
		return nil, fmt.Errorf("-timeout must not be negative, not %v", o.timeout)
	}
	if o.method != "" && !validToken(o.method) {
		return nil, fmt.Errorf("-X %q is not a valid method", o.method)
	}
	if o.service == "" && isSet(fs, "service") {
		return nil, errors.New("-service needs a name")
	}
	if isSet(fs, "otlp") && otlpEndpoint == "" {
		return nil, errors.New("-otlp needs an endpoint")
	}
	otlp, err := resolveOTLP(otlpEndpoint, otlpProtocol, getenv)
	if err != nil {
		return nil, err
	}
	o.otlp = otlp
	if dataSet {
		body, err := readBody(data, stdin)
		if err != nil {
			return nil, err
		}
		o.body, o.hasBody = body, true
	}

	if len(rawURLs) == 0 {
		// The demo makes requests of its own: flags that shape them make
		// no sense there.
		for _, name := range []string{"X", "H", "d", "n"} {
			if isSet(fs, name) {
				return nil, fmt.Errorf("-%s needs a URL: the demo makes requests of its own", name)
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
	return o, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
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
		return nil, fmt.Errorf("malformed URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("malformed URL %q: scheme %q is not http or https", raw, u.Scheme)
	case u.Hostname() == "":
		return nil, fmt.Errorf("malformed URL %q: no host", raw)
	}
	return u, nil
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
