/*
Wiretrace shows what every phase of an HTTP request costs: the DNS lookup,
the TCP connect, the TLS handshake, sending the request, waiting for the
first byte and reading the response. Each request is traced with
OpenTelemetry by the otelhooks package and printed as a waterfall; the same
spans can go to Jaeger, or any OTLP collector, at the same time.

Usage:

	wiretrace [flags] [URL...]

With no URL, wiretrace runs its demo (see below). Flags may come before,
between or after the URLs, and "--" ends them. A URL without a scheme gets
"http://", as with curl.

The flags are:

	-X method
		The request method. Without it: GET, or POST with -d.
	-H 'Name: value'
		Add a request header; repeat for more. "Host: name" sets the host
		the request is for, not the one dialed. Without a User-Agent header,
		requests send "wiretrace/VERSION".
	-d data
		The request body; "@file" reads it from a file, "@-" from standard
		input. Without a Content-Type header, it is sent as
		application/x-www-form-urlencoded, as curl sends it.
	-k
		Do not verify the server's TLS certificate.
	-n count
		Send each request count times, one after the other, so that the
		second and later ones show a reused connection. Default 1.
	-timeout duration
		Give up on a request after this long, redirects and reading the
		body included. Default 30s; 0 for no limit.
	-http1, -http2
		Use HTTP/1.1 only, or HTTP/2 only: negotiated over TLS, or h2c with
		prior knowledge for http:// URLs. They exclude each other. Without
		them, HTTP/2 is used when a server offers it over TLS.
	-json
		Write the spans as JSON lines to standard output, instead of the
		waterfall (see "JSON lines").
	-tcpinfo
		Instrument the connections (otelhooks.InstrumentTransport) so that,
		on Linux, each request span records what the kernel knows of its
		connection: smoothed round-trip time and its variance, congestion
		window, retransmissions, local interface. The waterfall shows them
		on the http.getconn row; without Linux, nothing is shown.
	-otlp endpoint
		Also export the spans over OTLP (see "OTLP").
	-otlp-protocol grpc|http/protobuf|http/json
		The OTLP protocol, whatever the endpoint suggests.
	-service name
		The service.name of the spans' resource. Without it,
		OTEL_SERVICE_NAME, else "wiretrace".
	-h
		Print the usage and exit.

# What is printed

Before each request, a caption line, "▶ GET URL", with "(2 of 3)" under -n;
then the request's trace as a waterfall ([waterfall.Exporter]), which ends
with a blank line. The trace's root span, "wiretrace GET URL" (the URL
without user info or query), holds the request and the hops of the
redirects it follows, up to 10, each a client span with its phases as
children. The response body is read to the end and discarded.

The waterfall is for people, and its layout may change. It is colored on a
terminal unless NO_COLOR is set or TERM is "dumb", as the waterfall package
decides, and is as wide as the terminal, else COLUMNS, else 100 columns.

A request that fails is printed all the same, with its error, which is
repeated on one line of standard error: wiretrace: Get "URL": .... The
other requests are still made. An HTTP error status such as 404 is a
response, not a failure.

# JSON lines

With -json, standard output carries nothing but spans, one JSON object per
line, in the format of [waterfall.JSONExporter], a stable contract: the
fields name, trace_id, span_id, parent_span_id, kind, start, end,
duration_ms, status, attributes and events. Spans come as they end,
children before their parents, so the root of each trace (parent_span_id
"") comes last in it. Captions, errors and warnings go to standard error.
To print each span's name and milliseconds, for instance:

	wiretrace -json https://example.com | jq -r '[.name, .duration_ms] | @tsv'

# OTLP

-otlp sends the spans to an OpenTelemetry collector, or to Jaeger, which
takes OTLP itself, as well as printing them. The endpoint says where, and
by convention how:

	grpc://host:port    OTLP/gRPC without TLS
	grpcs://host:port   OTLP/gRPC with TLS
	http://host:port    OTLP/HTTP without TLS, to /v1/traces unless the URL has a path
	https://host:port   OTLP/HTTP with TLS, likewise
	host:port           gRPC for port 4317, else HTTP; without TLS for
	                    localhost and loopback addresses, with TLS for others

A missing port is 4317 for gRPC and 4318 for HTTP. The protocol is, first
that applies: -otlp-protocol; gRPC for grpc:// and grpcs://; the
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
environment variable; gRPC for port 4317; else http/protobuf.

Without -otlp, the spans are exported when OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, to the endpoint the exporter
reads from them, with the protocol chosen as above from its port. Either
way the exporters read the other OTEL_EXPORTER_OTLP_* variables themselves:
headers, certificates, compression, insecure, and the timeout, which is 3
seconds without it. OTEL_RESOURCE_ATTRIBUTES adds to the resource.

Spans are exported in batches and flushed before wiretrace exits. An
endpoint that cannot be reached costs one warning line on standard error,
"wiretrace: warning: OTLP export to ENDPOINT failed: ...", and a second of
retries, not the run: the waterfall is printed and the exit status is what
it would have been.

With Jaeger listening on its default OTLP ports on this machine:

	wiretrace -otlp localhost:4317 https://example.com

and the trace is in Jaeger's UI under the service "wiretrace".

# The demo

Run without a URL, wiretrace starts an HTTPS server of its own on
127.0.0.1, with a certificate it makes for localhost and 127.0.0.1 and
trusts, speaking HTTP/2 and HTTP/1.1, and traces a short tour against it,
each step under a caption that says what to look for:

 1. a cold request: DNS lookup of "localhost", connect, TLS handshake;
 2. a warm one, on the same connection;
 3. a redirect chain of three hops, in one trace;
 4. a slow answer, 150ms spent in http.wait;
 5. a "103 Early Hints" response before the final one;
 6. a refused connection, to a port where nothing listens.

It needs no network and takes well under a second. The refused connection
is expected: it does not fail the demo. -json, -otlp, -service, -timeout,
-k, -http1 and -http2 apply to the demo too; -X, -H, -d and -n need a URL.

# Exit status

	0    done: every request got a response, or the demo went as expected
	1    a request failed (its waterfall is printed all the same)
	2    the command line is wrong: an unknown flag, a malformed URL, an
	     unreadable -d @file, -http1 with -http2; one line on standard error
	130  interrupted

# Interrupting

Ctrl-C (SIGINT), or SIGTERM, cancels the request in flight and stops: its
trace is printed as far as it went, OTLP gets a second to flush, and
wiretrace prints "wiretrace: interrupted" on standard error and exits with
status 130. A second signal ends it at once.
*/
package main
