/*
Package waterfall prints traces for people to read, and writes spans as JSON
lines for scripts.

[Exporter] is a [go.opentelemetry.io/otel/sdk/trace.SpanExporter] that writes each finished trace as a
waterfall: one line per span, nested as a tree, with its duration, the facts
that matter inline and a bar on a time axis shared by the whole trace.
[JSONExporter] writes one JSON object per span per line, in a documented,
stable format. Both plug into any OpenTelemetry SDK tracer provider.

# Printing traces

Register an Exporter with a tracer provider. WithSyncer hands each span over
as it ends, which suits a command-line tool; a batching processor works too.

	exp := waterfall.NewExporter(os.Stderr)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx) // writes whatever is still held

A request traced by the otelhooks package then prints like this:

	trace 4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b                       120.4ms |0                     120.4ms|
	GET https://example.com/index.html 200 HTTP/2 12.3 kB        120.4ms |█████████████████████████████|
	├─ http.getconn    93.184.216.34:443 new                      60.1ms |███████████████              |
	│  ├─ http.dns     example.com → 93.184.216.34 +1             15.1ms |████                         |
	│  ├─ http.connect 93.184.216.34:443 ✓ winner                 16.5ms |    ████                     |
	│  └─ http.tls     TLS 1.3 h2                                 27.9ms |        ██████               |
	├─ http.send                                                   400µs |               █             |
	├─ http.wait                                                  34.6ms |               ████████      |
	└─ http.receive    12.3 kB                                    25.2ms |                       ██████|

Each line shows the span name, the facts that matter (peer address, new or
reused connection and its idle time, TLS version and ALPN protocol, status
code, body size, the error in red), the duration, and the bar. Spans of
other instrumentation show their name, duration, status code and error.
A failure is said once: the header counts errors at the top of their chain
(a failed handshake fails http.tls, http.getconn and the request, and is one
error), and a row whose parent failed with the same error, or a part of it,
shows only "✗". With the otelhooks events mode, where the request span carries events such
as "http.dns.start" and "http.dns.done" instead of child spans, the pairs of
events become rows of their own and the waterfall looks the same.

With otelhooks' WithConnectionSpans, each connection's setup ("HTTP
connection_setup", with its DNS lookup, socket connect attempts and TLS
handshake) is a trace of its own, printed as such, and each request links to
the setup of the connection that served it. Under such a request, a dimmed
row repeats that setup, if the exporter has seen it (it remembers the last
256): "↗ setup, linked example.com:443 conn #7 request #2 age 4.96s", with a
bar where the setup falls on the request's time axis, and none when it was
over before the trace began.

Markers explain what the times alone do not: "late +130.0ms" on a span that
ended after its parent, "abandoned" (dimmed, with a ░ bar) on a phase the
request did not wait for, "orphan" on a span whose parent never arrived,
"unfinished" on a phase whose done event never came. A span that lasted no
time is a · on the axis, as is an event.

The waterfall is for people: its layout may change in any version. Scripts
should read [JSONExporter]'s output instead.

# When a trace is printed

Spans end, and reach the exporter, children first. The exporter holds the
spans of a trace until it is complete: its local root has ended and every
span has all the children the SDK counted for it, so a dial attempt that
outlives its request is still drawn in place. [Exporter.ForceFlush] and
[Exporter.Shutdown] print everything held, complete or not, and spans that
arrive after their trace was printed are printed on their own, under a
"(continued)" header. The [Exporter] documentation has the details.

A program that prints a caption before each trace writes the caption, runs
the traced work under a root span, so that redirect hops and retries share
one tree, and calls the exporter's ForceFlush (the tracer provider's
ForceFlush does not reach it):

	fmt.Fprintln(os.Stderr, "== cold request")
	ctx, span := tracer.Start(ctx, "cold request")
	resp, err := client.Do(req.WithContext(ctx))
	// ... read and close the body ...
	span.End()
	exp.ForceFlush(ctx)

# Colors and width

Colors are used when the output is a terminal, the NO_COLOR environment
variable is unset or empty (https://no-color.org) and TERM is not "dumb";
[WithColor] decides instead. The width is the terminal's, else the COLUMNS
environment variable, else 100 columns; [WithWidth] sets it. No line is
longer than the width: long URLs and errors are cut first, with "…".
Text from spans is printed with control characters replaced, so a server
cannot send escape sequences to the terminal through a span.

# JSON lines

[JSONExporter] writes each span as it is exported, one object per line,
with the fields name, trace_id, span_id, parent_span_id, kind, start, end,
duration_ms, status, attributes and events, and links when a span has some;
its documentation is the contract. A script reads it line by line with any JSON parser, for instance
to list the phases that took longer than 100ms with jq:

	jq -r 'select(.duration_ms > 100) | .name' spans.jsonl
*/
package waterfall
