/*
Package otelhooks records where the time of each HTTP client request goes, as
OpenTelemetry spans.

Wrap a client's transport with [NewTransport]. Every round trip gets a client
span named after its method, under the span in the request's context, and one
child span per phase that net/http reports:

	GET                       the request, kind Client
	├─ http.getconn           waiting for a connection, new or pooled
	│  ├─ http.dns            resolving the host name
	│  ├─ http.connect        each dial attempt, parallel ones included
	│  ├─ http.proxy_connect  the CONNECT to a forward proxy, for https
	│  └─ http.tls            the TLS handshake
	├─ http.send              writing the headers and the body
	├─ http.wait              waiting for the final response (a 1xx is an event)
	└─ http.receive           from the final response's first byte to the body's end

The spans follow the OpenTelemetry semantic conventions for HTTP clients where
they have names, and use the "wiretrace." namespace where they do not;
docs/spans.md in the repository lists every span, event and attribute.

# Using the transport

	client := &http.Client{Transport: otelhooks.NewTransport(nil)}
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close() // ends the request span

The request span and its phases end when the response body is read to the
end, fails, or is closed, or when the round trip fails, whichever comes
first, so that the request span covers the whole exchange. A body that is
never closed keeps its spans open, as it keeps its connection.

The transport injects the request span's context into the outgoing request
with the [github.com/wiretrace/wiretrace/propagation] package: a server that
extracts it continues the same trace, even when the application never set a
global propagator.

# Options

Options follow the OpenTelemetry style: [WithTracerProvider] and
[WithPropagators] choose the provider and the propagator (by default, the
provider of the span in the request's context, else the global one);
[WithPropagationOptions] passes options to the propagation package, such as a
host policy for baggage; [WithoutSubSpans] turns the phases into events on the
request span;
[WithRequestHeaders] and [WithResponseHeaders] record headers, which are off by
default and always redacted for credentials; [WithSpanNameFormatter] and
[WithFilter] name and select the requests.

The options otelhttp users know have its names and meanings:
[WithSpanOptions] (attributes such as "peer.service", links, for the request
span's start), [WithMetricAttributesFn] (per-request metric attributes),
[WithClientTrace] (the caller's own hooks beside ours), [WithFilter] (which
takes otelhttp's filters helpers as they are). docs/migrating-from-otelhttp.md
in the repository maps every otelhttp client option.

# Sampling

The request span starts with the attributes the HTTP semantic conventions
mark as available at creation: http.request.method, url.full (scrubbed),
server.address and server.port. A sampler sees them in its
SamplingParameters, and a span processor in OnStart; the others are set when
the span ends.

# Secrets

No secret reaches a span, event, status or metric: url.full and the URL-valued
headers recorded lose their userinfo and the values of the query and fragment
parameters that carry credentials ([DefaultRedactedQueryKeys]; change the list
with [WithRedactedQueryKeys] and [WithoutRedactedQueryKeys], redact every value
with [WithRedactAllQueryValues], or replace the scrubbing with
[WithURLScrubber]); credential headers are recorded as "REDACTED"
([WithRedactedHeaders] adds keys); and error texts, as status descriptions and
wiretrace.error.message attributes, show URLs only scrubbed, never quote a
header line a server sent, and lose the request's secrets wherever they
appear. The URL path is recorded as it is. docs/spans.md, "What is scrubbed",
has the details.

# Connections as traces of their own

[WithConnectionSpans] records connections as the OpenTelemetry semantic
conventions model them: each dial is the root span
"HTTP connection_setup host:port" of a trace of its own, with its DNS lookup,
socket connect attempts and TLS handshake under it; a request that waited
gets "HTTP wait_for_connection host:port" instead of http.getconn; and every
request span links to the setup of the connection that served it, new or
reused, with the connection's age and the number of requests it served. It
suits clients whose connections outlive their requests (HTTP/2, keep-alive,
dials that outlive a canceled request); pair it with [InstrumentTransport]
for an exact match of connections and setups.

	tr := otelhooks.InstrumentTransport(&http.Transport{})
	client := &http.Client{Transport: otelhooks.NewTransport(tr, otelhooks.WithConnectionSpans())}

# Cost

A request whose trace is not sampled gets no spans; it builds only the
attributes a sampler may look at, and its context is propagated. It gets no
hooks either, unless metrics record: then it gets the six the metrics need
(GetConn, GotConn, DNSStart, DNSDone and the two lifecycle hooks), which
docs/metrics.md prices. A sampled one costs one allocation for all of its
state, one per hook that can fire for it (net/http takes each hook as a
function value), and what the SDK needs for each span.

# Under another instrumentation

[NewClientTrace] returns the hooks alone, to record the phases under a span
the caller started. [WithoutRequestSpan] does the same inside the transport,
which puts the phases under the client span of an otelhttp.Transport wrapped
around it:

	client := &http.Client{Transport: otelhttp.NewTransport(
		otelhooks.NewTransport(nil, otelhooks.WithoutRequestSpan()))}

# Concurrency and late events

net/http calls the hooks on its own goroutines, concurrently, and may call
some after the request ended: a dial can outlive the request that started it.
Each request's state is its own and is guarded; once the request has ended,
later hooks are ignored, so no span is started that would stay open and no
event reaches another request's spans. Under [WithConnectionSpans] the dial's
hooks go on to its connection's setup, which belongs to no request and ends
with the dial.
*/
package otelhooks
