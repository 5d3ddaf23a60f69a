/*
Package clienttrace traces the events of outgoing HTTP client requests.

It mirrors [net/http/httptrace]: a [ClientTrace] has the same sixteen hooks
with the same names and signatures, installed on a request's context with
[WithClientTrace] and read back with [ContextClientTrace]. It differs in three
ways:

  - Installing never modifies the trace, so one ClientTrace can serve every
    request of a program, concurrently, and installing it twice fires nothing
    twice.
  - [Compose] combines traces with plain typed code, not reflection: a
    composed hook costs a loop over function values and allocates nothing.
  - Two lifecycle hooks report what net/http does not: RoundTripDone, when
    the round trip returns, and BodyDone, when the response body is read to
    the end, fails or is closed. [NewTransport] fires them.

The package uses only the standard library.

# Installing a trace

A trace applies to requests made with the context it is installed on:

	trace := &clienttrace.ClientTrace{
		GotConn: func(info clienttrace.GotConnInfo) {
			log.Printf("reused connection: %v", info.Reused)
		},
	}
	ctx := clienttrace.WithClientTrace(req.Context(), trace)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))

Traces stack. Hooks of the newest trace run first, then the older ones, and
traces installed with [httptrace.WithClientTrace] take part in the same order,
whichever was installed first.

# Lifecycle hooks

net/http reports nothing when a round trip ends, and the time a request takes
includes reading its body. Wrap the transport with [NewTransport] to get both:

	client := &http.Client{Transport: clienttrace.NewTransport(nil)}
	trace := &clienttrace.ClientTrace{
		BodyDone: func(info clienttrace.BodyDoneInfo) {
			log.Printf("body %s after %d bytes", info.Reason, info.BytesRead)
		},
	}

Each round trip reports RoundTripDone once; each response it returns reports
BodyDone once, whether the body was read to io.EOF, failed, or was closed
early (or, for a 101 Switching Protocols response, whether a write to it
failed). A body that is neither read to the end nor closed reports nothing,
and leaks its connection as well.

Lifecycle transports nest: an application's NewTransport around a library's
(otelhooks.NewTransport is one), or the other way round, still fires each
hook once per event. The outermost transport that sees a trace reports it,
and tells those further in, through the request's context, not to.

NewTransport checks what the transport it wraps returns, as [http.Client]
does, whether or not a lifecycle hook is installed: no response and no error
is an error, and so is a nil body where the response promises ContentLength
bytes; any other nil body becomes [http.NoBody].

# Concurrency and late hooks

Hooks run on net/http's goroutines, possibly concurrently with each other and
after RoundTrip has returned: a dial started for a request can outlive it and
report ConnectDone later. A hook guards its own state and tolerates being
called late, several times (retries, parallel dials), or not at all.

# Bridging to net/http/httptrace

[FromHTTPTrace] and [ToHTTPTrace] convert between the two types, for code that
takes or gives an *httptrace.ClientTrace.
*/
package clienttrace
