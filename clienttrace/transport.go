package clienttrace

import (
	"errors"
	"fmt"
	"net/http"
)

// RoundTripDoneInfo is the argument to [ClientTrace.RoundTripDone].
type RoundTripDoneInfo struct {
	// Request is the request given to RoundTrip. It must not be mutated.
	Request *http.Request

	// Response is the response RoundTrip returns, or nil if it failed.
	// It must not be mutated and its body must not be read.
	Response *http.Response

	// Err is the error RoundTrip returns, or nil.
	Err error
}

// BodyDoneInfo is the argument to [ClientTrace.BodyDone].
type BodyDoneInfo struct {
	// Reason says how the body ended.
	Reason BodyDoneReason

	// BytesRead is the number of body bytes the caller read.
	BytesRead int64

	// Err is the read error for BodyReadError, the write error for
	// BodyWriteError, and the error Close returned, if any, for BodyClosed.
	Err error
}

// BodyDoneReason says how a response body ended.
type BodyDoneReason uint8

const (
	// BodyEOF means the body was read to io.EOF, or there was no body.
	BodyEOF BodyDoneReason = iota + 1
	// BodyClosed means the body was closed before io.EOF was read.
	BodyClosed
	// BodyReadError means a Read returned an error other than io.EOF,
	// such as a reset connection or a canceled context.
	BodyReadError
	// BodyWriteError means a Write to the body of a protocol switch (101
	// Switching Protocols) response returned an error: the connection
	// under the new protocol is broken.
	BodyWriteError
)

// String returns "eof", "closed", "read_error" or "write_error".
func (r BodyDoneReason) String() string {
	switch r {
	case BodyEOF:
		return "eof"
	case BodyClosed:
		return "closed"
	case BodyReadError:
		return "read_error"
	case BodyWriteError:
		return "write_error"
	}
	return fmt.Sprintf("BodyDoneReason(%d)", uint8(r))
}

var errNilRequest = errors.New("clienttrace: nil *http.Request")

// NewTransport returns an [http.RoundTripper] that sends requests through
// base, or through [http.DefaultTransport] if base is nil, and calls the
// lifecycle hooks, RoundTripDone and BodyDone, of every [ClientTrace]
// installed in the request's context with [WithClientTrace].
//
// The returned transport never modifies the request. Whether or not a
// lifecycle hook is installed, it checks what base returns, as
// [http.Client] does:
//
//   - If base returns neither a response nor an error, RoundTrip returns an
//     error naming base's type.
//   - If base returns a response with a nil body and a ContentLength > 0
//     (for a method other than HEAD), RoundTrip returns an error naming
//     base's type and no response: the body base promised is missing.
//   - Any other nil body becomes [http.NoBody].
//
// On success, when a lifecycle hook is installed, it replaces the response
// body with one that reports BodyDone; the replacement keeps io.Writer when
// the body has it, as for a 101 Switching Protocols response.
//
// # Nesting
//
// Transports of this package (and of packages built on it, such as
// otelhooks) may wrap one another: each hook fires once per event whatever
// the nesting. The outermost transport that sees a trace reports its
// lifecycle hooks, and tells the transports it calls, through the context of
// the request it passes on, that it does; a trace installed further in is
// reported by the transport outermost of those that see it. To tell them, a
// transport whose base is not an [*http.Transport] passes base a shallow copy
// of the request with that context; one whose base is an *http.Transport,
// which reports no lifecycle hook, passes the request itself.
//
// A request whose context has no lifecycle hook to report passes straight
// through to base, without allocating.
//
// The transport forwards CloseIdleConnections to base if base has it.
func NewTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	_, leaf := base.(*http.Transport)
	return &transport{base: base, leaf: leaf}
}

type transport struct {
	base http.RoundTripper
	// leaf is whether base is an *http.Transport, which calls no
	// lifecycle hook: the traces this transport reports need not be
	// claimed from it.
	leaf bool
}

var _ http.RoundTripper = (*transport)(nil)

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errNilRequest
	}
	ctx := req.Context()
	c := installed(ctx)
	var stop *traceCtx
	if c != nil {
		stop = claimedBy(ctx)
	}
	if !c.lifecycleUntil(stop) {
		resp, err := t.base.RoundTrip(req)
		return t.check(req, resp, err)
	}

	sent := req
	if !t.leaf {
		// base may report lifecycle hooks too: tell it that c and the
		// traces older than it are ours to report.
		sent = req.WithContext(&claimCtx{Context: ctx, upTo: c})
	}
	resp, err := t.base.RoundTrip(sent)
	resp, err = t.check(req, resp, err)
	c.roundTripDone(stop, RoundTripDoneInfo{Request: req, Response: resp, Err: err})
	if err != nil {
		return resp, err
	}
	resp.Body = wrapBody(resp.Body, c, stop)
	return resp, nil
}

// check returns what base returned, as http.Client would take it: an error
// for a missing response or a missing body, http.NoBody for an empty nil
// one. It allocates only to report an error.
func (t *transport) check(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		return resp, err
	}
	if resp == nil {
		return nil, fmt.Errorf("clienttrace: %T.RoundTrip returned a nil *http.Response and a nil error", t.base)
	}
	if resp.Body == nil {
		// net/http's own check (http.Client.send), made here so that
		// replacing the nil body does not hide it.
		if resp.ContentLength > 0 && req.Method != http.MethodHead {
			return nil, fmt.Errorf("clienttrace: %T.RoundTrip returned a *http.Response with ContentLength %d but a nil Body",
				t.base, resp.ContentLength)
		}
		resp.Body = http.NoBody
	}
	return resp, nil
}

// CloseIdleConnections calls base's CloseIdleConnections, if it has one.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// lifecycleUntil reports whether c or an older install, down to but not
// including stop, has a lifecycle hook. A nil c has none.
func (c *traceCtx) lifecycleUntil(stop *traceCtx) bool {
	for ; c != nil && c != stop && c.lifecycle; c = c.older {
		if c.trace.hasLifecycleHooks() {
			return true
		}
	}
	return false
}

// roundTripDone calls the RoundTripDone hooks of c and older installs, down
// to but not including stop.
func (c *traceCtx) roundTripDone(stop *traceCtx, info RoundTripDoneInfo) {
	for ; c != nil && c != stop; c = c.older {
		if f := c.trace.RoundTripDone; f != nil {
			f(info)
		}
	}
}

// bodyDone calls the BodyDone hooks of c and older installs, down to but not
// including stop.
func (c *traceCtx) bodyDone(stop *traceCtx, info BodyDoneInfo) {
	for ; c != nil && c != stop; c = c.older {
		if f := c.trace.BodyDone; f != nil {
			f(info)
		}
	}
}
