/*
Package propagation carries a trace from HTTP clients to HTTP servers: it
injects the trace context and baggage of a request's context into the
request's headers, and extracts them on the server, so that the server's
spans join the client's trace.

It builds on the propagators of OpenTelemetry's propagation package, called
otelpropagation here, and makes them right by default:

  - With no setup, traces connect and nothing private leaves: while the
    application has not set a global propagator, W3C Trace Context is sent,
    and no baggage. An application that sets one, an empty one included, is
    honored.
  - Each hop of a redirect chain, and each retry, carries its own span's
    traceparent: stale copies are replaced, never repeated.
  - A host policy decides which destinations receive the trace context and
    which the baggage, so that baggage need not leak to third parties.
  - Baggage sent always fits the W3C limits; baggage received is kept
    list-member by list-member.
  - Extraction never fails and never panics, whatever the headers hold.
  - The caller's request is never modified.

# Clients

Wrap the transport of an http.Client with [NewTransport]:

	client := &http.Client{Transport: propagation.NewTransport(nil)}

	ctx, span := tracer.Start(ctx, "GET /items", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)

Every request sent carries the trace context of its own context, and its
baggage once baggage propagation is configured, set on a copy of the
request. wiretrace's otelhooks.NewTransport does this
for the spans it creates, with a [Propagator] of its own.

To set the headers on a request yourself, use [Inject], or build a
[Propagator] once with [New] and call its [Propagator.Inject] or, to leave
the request alone, [Propagator.Clone].

# Servers

Extract the context in the handler and start the server span from it:

	func handle(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.Extract(r.Context(), r)
		ctx, span := tracer.Start(ctx, "GET /items", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		...
	}

Malformed, oversized, duplicated or hostile headers give a context without
them, or with their valid part: Extract has no error to return, and the
handler has no reason to answer with one.

# Which propagator

Without [WithPropagators], the propagator is chosen at each request: the
global one, set with otel.SetTextMapPropagator, once the application has set
one, whatever it is: an empty composite, the usual way to switch propagation
off, sends nothing. Until then, W3C Trace Context is injected and no baggage,
and extraction reads W3C Trace Context and W3C Baggage. A global propagator
set after the transport is built is honored from the next request on.

Baggage is sent only when the application asks for it, with one line:

	otel.SetTextMapPropagator(otelpropagation.NewCompositeTextMapPropagator(
		otelpropagation.TraceContext{}, otelpropagation.Baggage{}))

or with the same propagator given to [WithPropagators]; then within the host
policy.

Before injecting, every header field the propagator owns, its Fields, is
deleted from the request's copy, whatever its case: the context is the only
source of what is sent. A traceparent set by hand is therefore replaced by
the context's, or removed when the context has no span.

# Host policy

By default every destination receives everything the propagator injects.
Once baggage propagation is on, baggage, which often carries user or tenant
identifiers, goes to every host; to keep it inside your own services, give a
policy:

	propagation.NewTransport(nil, propagation.WithHostPolicy(
		propagation.TrustedHosts("*.internal.example.com", "10.0.0.0/8")))

[TrustedHosts] sends the trace context everywhere and the baggage to the
listed hosts only. A policy of your own, a func(host string) [Policy],
can send anything from [SendNothing] to [SendAll], per host. It is called
for every request, on the host of its URL without port or brackets, so each
hop of a redirect chain gets the policy of its own destination.

The split between trace context and baggage works with any propagator,
B3 and Jaeger included: the trace context is withheld by injecting a
context without a span, the baggage by injecting a context without
baggage.

# Baggage limits

Baggage members can be filtered with [WithBaggageFilter]. What remains is
cut to fit the W3C Baggage limits (https://www.w3.org/TR/baggage/#limits)
and those of the earlier drafts that deployed SDKs still enforce: at most 64
list-members, 4096 bytes each and 8192 bytes in all. When the members do
not fit, they are taken in key order and those that would exceed a limit are
dropped, so the same baggage always gives the same header. Members that
cannot be encoded are dropped too, and no empty baggage header is ever sent.

# Concurrency

A [Propagator] and the transport of [NewTransport] are safe for concurrent
use. The options are resolved once, when they are built; host policies and
baggage filters are called concurrently, on the goroutines that send
requests, and must not block.
*/
package propagation
