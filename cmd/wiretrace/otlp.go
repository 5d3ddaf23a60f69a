package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	protoGRPC = "grpc"
	protoHTTP = "http/protobuf"
	protoJSON = "http/json"
)

// Environment variables read here; the exporters read these and the
// others (headers, certificates, compression) themselves.
const (
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envTimeout        = "OTEL_EXPORTER_OTLP_TIMEOUT"
	envTracesTimeout  = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
)

const (
	// exportTimeout bounds one export, retries included, unless
	// OTEL_EXPORTER_OTLP_TIMEOUT says otherwise: a command-line tool
	// must not hang on a collector that is not there.
	exportTimeout = 3 * time.Second
	// retryBudget is how long an export is retried after it failed.
	retryBudget = time.Second

	defaultGRPCPort = "4317"
	defaultHTTPPort = "4318"
	defaultHTTPPath = "/v1/traces"
)

// otlpTarget is where spans are exported over OTLP, and how.
type otlpTarget struct {
	protocol string // protoGRPC, protoHTTP or protoJSON
	// endpoint is "host:port", or "" when the exporter takes it from the
	// environment.
	endpoint string
	path     string // the URL path, for HTTP
	// plain is whether to send without TLS. When false, the exporter
	// decides: TLS, unless OTEL_EXPORTER_OTLP_INSECURE or an http://
	// endpoint in the environment says otherwise.
	plain bool
	// display names the endpoint in messages.
	display string
}

// resolveOTLP decides where and how to export over OTLP, from the -otlp
// endpoint, the -otlp-protocol flag and the environment; it returns nil
// when neither the flags nor the environment ask for it.
//
// The protocol is, first that applies: -otlp-protocol; gRPC for a grpc://
// or grpcs:// endpoint; OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
// OTEL_EXPORTER_OTLP_PROTOCOL; gRPC for port 4317; else http/protobuf.
// Spans go without TLS to grpc:// and http:// endpoints and to bare
// "host:port" endpoints on a loopback host; with TLS to grpcs:// and
// https:// endpoints and to other hosts.
func resolveOTLP(endpoint, protocol string, getenv func(string) string) (*otlpTarget, error) {
	if protocol != "" && !knownProtocol(protocol) {
		return nil, fmt.Errorf("-otlp-protocol %q: want grpc, http/protobuf or http/json", protocol)
	}
	envProto := cmp.Or(knownProtocolOrEmpty(getenv(envTracesProtocol)), knownProtocolOrEmpty(getenv(envProtocol)))

	if endpoint == "" {
		name, value := envTracesEndpoint, getenv(envTracesEndpoint)
		if value == "" {
			name, value = envEndpoint, getenv(envEndpoint)
		}
		if value == "" {
			if protocol != "" {
				return nil, errors.New("-otlp-protocol needs -otlp or " + envEndpoint)
			}
			return nil, nil
		}
		return &otlpTarget{
			protocol: cmp.Or(protocol, envProto, protocolForPort(envPort(value))),
			display:  value + " (" + name + ")",
		}, nil
	}

	scheme, hostport, path := "", endpoint, ""
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return nil, fmt.Errorf("-otlp %q: %w", endpoint, err)
		}
		scheme, hostport, path = u.Scheme, u.Host, u.Path
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), ""
	}
	if host == "" {
		return nil, fmt.Errorf("-otlp %q: no host", endpoint)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("-otlp %q: bad port %q", endpoint, port)
		}
	}

	t := &otlpTarget{}
	schemeProto := ""
	switch scheme {
	case "grpc":
		schemeProto, t.plain = protoGRPC, true
	case "grpcs":
		schemeProto = protoGRPC
	case "http":
		t.plain = true
	case "https":
	case "":
		t.plain = isLoopback(host)
	default:
		return nil, fmt.Errorf("-otlp %q: scheme %q is not grpc, grpcs, http or https", endpoint, scheme)
	}
	if schemeProto != "" && protocol != "" && protocol != schemeProto {
		return nil, fmt.Errorf("-otlp-protocol %s contradicts the endpoint %q", protocol, endpoint)
	}
	t.protocol = cmp.Or(protocol, schemeProto, envProto, protocolForPort(port))
	if port == "" {
		port = defaultHTTPPort
		if t.protocol == protoGRPC {
			port = defaultGRPCPort
		}
	}
	t.endpoint = net.JoinHostPort(host, port)

	display := "grpc"
	if t.protocol != protoGRPC {
		display = "http"
		t.path = path
		if t.path == "" || t.path == "/" {
			t.path = defaultHTTPPath
		}
	}
	if !t.plain {
		display += "s"
	}
	t.display = display + "://" + t.endpoint + t.path
	return t, nil
}

func knownProtocol(p string) bool {
	return p == protoGRPC || p == protoHTTP || p == protoJSON
}

func knownProtocolOrEmpty(p string) string {
	if knownProtocol(p) {
		return p
	}
	return ""
}

// protocolForPort guesses the protocol from the port: gRPC for OTLP's gRPC
// port 4317, else HTTP, the protocol OpenTelemetry defaults to.
func protocolForPort(port string) string {
	if port == defaultGRPCPort {
		return protoGRPC
	}
	return protoHTTP
}

// envPort returns the port of an endpoint from the environment, a URL or
// a "host:port", or "".
func envPort(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Port()
	}
	if _, port, err := net.SplitHostPort(endpoint); err == nil {
		return port
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newOTLPExporter returns an exporter to t. It connects lazily: an
// unreachable endpoint shows as export errors, not here.
func newOTLPExporter(ctx context.Context, t *otlpTarget, getenv func(string) string) (sdktrace.SpanExporter, error) {
	timeoutFromEnv := getenv(envTracesTimeout) != "" || getenv(envTimeout) != ""
	if t.protocol == protoGRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{
			Enabled:         true,
			InitialInterval: 100 * time.Millisecond,
			MaxInterval:     500 * time.Millisecond,
			MaxElapsedTime:  retryBudget,
		})}
		if !timeoutFromEnv {
			opts = append(opts, otlptracegrpc.WithTimeout(exportTimeout))
		}
		if t.endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(t.endpoint))
		}
		if t.plain {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}

	encoding := otlptracehttp.EncodingProtobuf
	if t.protocol == protoJSON {
		encoding = otlptracehttp.EncodingJSON
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEncoding(encoding),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled:         true,
			InitialInterval: 100 * time.Millisecond,
			MaxInterval:     500 * time.Millisecond,
			MaxElapsedTime:  retryBudget,
		}),
	}
	if !timeoutFromEnv {
		opts = append(opts, otlptracehttp.WithTimeout(exportTimeout))
	}
	if t.endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpoint(t.endpoint), otlptracehttp.WithURLPath(t.path))
	}
	if t.plain {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

// reportingExporter passes the errors of exporter to report, and returns
// them marked as reported, so that the global error handler, which the
// batch span processor also hands them to, can leave them out.
type reportingExporter struct {
	sdktrace.SpanExporter
	report func(error)
}

func (e reportingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.SpanExporter.ExportSpans(ctx, spans); err != nil {
		e.report(err)
		return reportedError{err}
	}
	return nil
}

// reportedError is an error already shown to the user.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }
