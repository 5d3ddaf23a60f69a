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
"http://", as with curl. Flag names follow curl wherever curl has the
concept, so a curl command line mostly works as it is: every flag can be
written -name or --name, one-letter flags combine ("-sSfL", "-so FILE"),
and -h lists them grouped as curl's manual groups them.

# Recipes

Why is this request slow? One cold request, then nine on the same
connection, and the per-phase summary that neither curl nor httpstat
prints:

	wiretrace -n 10 https://api.example.com/search?q=x

The waterfalls show where each request spent its time; the summary after
them gives min, median, p90, p99 and max of dns, connect, tls, wait,
receive and total, and how many connections were new.

Which backend behind the load balancer is slow? Send the request for the
public name, with its TLS name and Host header, to each backend in turn:

	wiretrace --connect-to api.example.com:443:10.0.0.7:443 https://api.example.com/
	wiretrace --resolve api.example.com:443:10.0.0.8 https://api.example.com/

Does HTTP/2 help? The same request over each protocol, five times:

	wiretrace -n 5 -http1 https://example.com/
	wiretrace -n 5 -http2 https://example.com/

-http2 means HTTP/2 or an error: a server that does not negotiate h2 fails
the TLS handshake with "-http2: the server negotiated ...".

# Flags

Request:

	-X, --request METHOD
		The request method. Without it: GET, HEAD with -I, POST with -d.
	-H, --header 'Name: value'
		Add a request header; repeat for more. "Host: name" sets the host
		the request is for, not the one dialed. Without a User-Agent header,
		requests send "wiretrace/VERSION".
	-d, --data DATA (also --data-binary; --data-raw)
		The request body; "@file" reads it from a file, "@-" from standard
		input; --data-raw takes "@" as it is. Repeated, the parts are joined
		by "&". Without a Content-Type header, it is sent as
		application/x-www-form-urlencoded, as curl sends it.
	-u, --user USER:PASSWORD
		Basic authentication. The credentials are never shown: -v, -i,
		-json and -w show the Authorization header as REDACTED, and no span
		records it.
	-I, --head
		Send HEAD and show the response's headers, as -i does.
	--compressed
		Ask for "gzip, deflate" and decode the body (into -o). Off by
		default, and net/http's own transparent gzip is always off, so that
		the sizes in the spans are what crossed the wire; with it, the
		decoded size is printed beside the wire size after the waterfall,
		and is on the root span as wiretrace.cli.body.decoded_size, with
		wiretrace.cli.body.content_encoding.
	--max-redirs N
		Follow at most N redirects; 10 by default; 0 follows none. The
		redirect not followed is the response (exit status 0), and the
		waterfall shows an event row "redirect not followed (--max-redirs
		N)" on the root span, with the Location in its url.full attribute.
	-L, --location
		Accepted for curl's command lines: redirects are always followed.
	-m, --max-time D, -timeout D
		Give up on a request after D, redirects and reading the body
		included: seconds as curl takes them ("2.5"), or a Go duration
		("1.5s"). Default 30s; 0 for no limit.

Output:

	-i, --include
		Print each hop's status line and response headers to standard
		output, before the waterfall.
	-v, --verbose
		Print each hop's request headers as they were sent (propagation
		headers included) and its response headers, as curl -v does, with
		"> " and "< ", to standard error. Authorization,
		Proxy-Authorization, Cookie and Set-Cookie show as REDACTED, as do
		the values of the query keys the spans redact
		(otelhooks.DefaultRedactedQueryKeys: signing, OAuth and API keys,
		in any case); the URLs of Location, Content-Location, Referer and
		Origin lose their user info and those values.
	-o, --output FILE
		Save the body to FILE; "-" is standard output. One -o per URL, in
		order. Without -o or -O, the body is read to its end and discarded.
	-O, --remote-name
		Save the body under the last segment of the URL's path, in the
		current directory.
	-w, --write-out FORMAT
		After each request, print FORMAT with curl's variables (see
		"Write-out"); "@file" reads it from a file, "@-" from standard input.
	-s, --silent
		No captions, waterfalls or summaries. Errors are still printed; -S
		and --show-error are accepted and change nothing.
	-f, --fail
		Exit with status 22 when a response's status is 400 or more, as curl
		does. Without -f, a 4xx or 5xx is printed like any response, and the
		exit status is 0.
	-json
		Write JSON lines to standard output, instead of the waterfall (see
		"JSON lines").
	-tcpinfo
		Instrument the connections (otelhooks.InstrumentTransport) so that,
		on Linux, each request span records what the kernel knows of its
		connection: smoothed round-trip time and its variance, congestion
		window, retransmissions, local interface. The waterfall shows them
		on the http.getconn row; without Linux, nothing is shown.
	-connspans
		Trace connections as the OpenTelemetry semantic conventions model
		them (otelhooks.WithConnectionSpans): each connection's setup is a
		trace of its own, "HTTP connection_setup host:port" with its DNS
		lookup, socket connect attempts and TLS handshake, and each request
		links to the setup of the connection that served it. The waterfall
		shows that setup under the request as a dimmed "↗ setup, linked"
		row, with the connection's age and how many requests it served
		(and, with -tcpinfo, the kernel's facts of the connection).

Connection:

	-k, --insecure
		Do not verify the server's TLS certificate.
	--cacert FILE
		Trust the CA certificates of the PEM file instead of the system's.
	-E, --cert FILE, --key FILE
		Present the client certificate of the PEM file; its key is in --key,
		or in the same file.
	-x, --proxy URL, --noproxy HOSTS
		Go through the HTTP, HTTPS or SOCKS5 proxy at URL ("http://" when it
		has no scheme); https:// URLs go through a CONNECT tunnel. Proxy
		credentials in URL are never shown. --noproxy lists hosts and
		domains, comma-separated, reached directly; "*" is all. Without -x,
		the proxy is the one HTTPS_PROXY or HTTP_PROXY names, unless
		NO_PROXY or --noproxy covers the host, as with curl (net/http never
		proxies requests to localhost and loopback addresses from the
		environment). The http.getconn
		and http.connect rows show the proxy's address; -w's
		%{http_connect} is the proxy's answer to CONNECT.
	--resolve HOST:PORT:ADDR[,ADDR...]
		Connect to ADDR, without a DNS lookup, for requests to HOST on PORT
		("*" for any port). IPv6 addresses go in brackets.
	--connect-to HOST1:PORT1:HOST2:PORT2
		Connect to HOST2:PORT2 for requests to HOST1:PORT1; an empty field
		matches any host or port, or keeps the URL's. The TLS server name
		and the Host header stay the URL's. --resolve applies after it.
	-4, --ipv4, -6, --ipv6
		Connect over IPv4, or IPv6, only.
	--connect-timeout D
		Give up when a hop's connection is not ready after D: the wait for
		it, DNS, connect and TLS handshake together, as curl counts it. The
		error says "--connect-timeout D exceeded"; error.type is "timeout".
	-http1, --http1.1, -http2, --http2
		Use HTTP/1.1 only, or HTTP/2 only: negotiated over TLS, or h2c with
		prior knowledge for http:// URLs. -http2 against a TLS server that
		does not negotiate h2 is an error, not HTTP/1. They exclude each
		other. Without them, HTTP/2 is used when a server offers it over TLS.

Repeat, tracing and the rest:

	-n COUNT
		Send each request COUNT times, one after the other, so that the
		second and later ones show a reused connection, then print a
		summary (see "Summary"). Default 1.
	-otlp ENDPOINT, -otlp-protocol grpc|http/protobuf|http/json
		Also export the spans over OTLP (see "OTLP").
	-service NAME
		The service.name of the spans' resource. Without it,
		OTEL_SERVICE_NAME, else "wiretrace".
	-V, --version
		Print the module's version as the build recorded it ("(devel)" for
		a build from a work tree), its commit, the otelhooks version, and
		Go's version and platform.
	-h, --help
		Print the usage and exit.

# What is printed

Before each request, a caption line, "▶ GET URL", with "(2 of 3)" under -n;
then the request's trace as a waterfall ([waterfall.Exporter]), which ends
with a blank line. The trace's root span, "wiretrace GET URL" (the URL
without user info or query), holds the request and the hops of the
redirects it follows, each a client span with its phases as children.

When standard output is the script's, with -w or -o -, captions, waterfalls
and summaries go to standard error instead; -s drops them.

The waterfall is for people, and its layout may change. It is colored on a
terminal unless NO_COLOR is set or TERM is "dumb", as the waterfall package
decides, and is as wide as the terminal, else COLUMNS, else 100 columns.

A request that fails is printed all the same, with its error, which is
repeated on one line of standard error: wiretrace: Get "URL": .... The
same failure again under -n is not repeated there: the summary counts it.
A failure is one error however many spans it failed (a failed handshake
fails http.tls, http.getconn and the request): the waterfall's header
counts it once, and the message is shown once, at the top of its chain.
The other requests are still made.

# Write-out

-w takes curl's format: %{name} is a variable, %% a percent sign, and \n,
\r and \t a newline, carriage return and tab; %{stderr} and %{stdout}
switch where the rest goes; %header{name} is a response header;
%{header_json} all of them; %{json} every variable below as one JSON
object. An unknown variable writes nothing and one warning. The timings
come from the spans, with curl's meanings: each time_* runs from the
start of a hop to the end of its phase, added up over the hops of a
redirect chain as curl adds them, in seconds with six decimals.

	time_namelookup     until http.dns ended (no lookup: until http.getconn began)
	time_connect        until the winning http.connect ended; 0 for a reused connection
	time_appconnect     until http.tls ended; 0 without a handshake
	time_pretransfer    until http.getconn ended: the connection was ready
	time_starttransfer  until the first response byte (the end of http.wait)
	time_total          from the first hop's start to the last hop's end, body read
	time_redirect       from the first hop's start to the last hop's start
	http_code, response_code  the last status, 000 without a response
	http_version        "1.0", "1.1" or "2"; "0" without a response
	http_connect        the proxy's status for CONNECT; 0 without one
	size_download       the last body as it crossed the wire (before --compressed decodes it)
	size_upload         the last request's body
	speed_download, speed_upload  bytes per second over time_total
	remote_ip, remote_port, local_ip, local_port  the last connection's (the proxy's under -x)
	num_connects        connections dialed; num_redirects: hops followed
	num_headers         the last response's header lines
	url, url_effective  the URL given, and the last hop's; without passwords or signed query values
	redirect_url        the Location not followed, or null
	content_type, method, scheme, errormsg, exitcode, filename_effective

A test runs curl and wiretrace side by side on the same local server and
checks that every variable above is written and that the medians of the
timings agree.

# JSON lines

With -json, standard output carries nothing but JSON, one object per line.
Most lines are spans, in the format of [waterfall.JSONExporter], a stable
contract: the fields name, trace_id, span_id, parent_span_id, kind, start,
end, duration_ms, status, attributes and events. Spans come as they end,
children before their parents, so the root of each trace (parent_span_id
"") comes last in it. Captions, errors and warnings go to standard error.
Two more kinds of line have a single key that names them, and no span_id:

	{"exchange": {...}}  with -i or -v, one per hop, before the hop's span:
	                     trace_id; request (with -v only): method, target,
	                     host, headers; response: protocol, status_code,
	                     status, headers (null if none came); error (null
	                     if none). Header values are arrays; credentials are
	                     "REDACTED".
	{"summary": {...}}   with -n above 1, after the requests to each URL:
	                     method, url, requests, failed, status_codes (code
	                     to count), errors ([{message, count}]),
	                     connections ({new, reused}), and phases: for each
	                     of dns, connect, tls, wait, receive and total,
	                     {count, min_ms, median_ms, p90_ms, p99_ms, max_ms},
	                     the statistics null when count is 0.

To print each span's name and milliseconds, for instance:

	wiretrace -json https://example.com | jq -r 'select(.span_id) | [.name, .duration_ms] | @tsv'

# Summary

After the -n requests to a URL, a table: how many responded, by status
code, and failed (each distinct error with its count); how many
connections were new and how many reused; and for each phase the number
of requests that had it, and the min, median, p90, p99 (nearest rank) and
max of its duration per request, over the hops of its redirects. A phase a
request did not have (no DNS for an IP address, no connect on a reused
connection) is left out of that phase's statistics rather than counted as
zero.

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
--connect-timeout, -k, -s, -http1, -http2, -tcpinfo and -connspans apply to
the demo too; the flags that shape
requests (-X, -H, -d, -n, -u, -I, -o, -w, -x, -i, -v, ...) need a URL.

# Exit status

	0    done: every request got a response, or the demo went as expected
	1    a request failed (its waterfall is printed all the same)
	2    the command line is wrong: an unknown flag, a malformed URL, an
	     unreadable -d @file or --cacert, -http1 with -http2; one line on
	     standard error
	22   -f, and a response's status was 400 or more (a failed request
	     outranks it: 1)
	130  interrupted

# Interrupting

Ctrl-C (SIGINT), or SIGTERM, cancels the request in flight and stops: its
trace is printed as far as it went, OTLP gets a second to flush, and
wiretrace prints "wiretrace: interrupted" on standard error and exits with
status 130. A second signal ends it at once.
*/
package main
