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

	// Err is the read error for BodyReadError, and the error Close
	// returned, if any, for BodyClosed.
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
)

// String returns "eof", "closed" or "read_error".
func (r BodyDoneReason) String() string {
	switch r {
	case BodyEOF:
		return "eof"
	case BodyClosed:
		return "closed"
	case BodyReadError:
		return "read_error"
	}
	return fmt.Sprintf("BodyDoneReason(%d)", uint8(r))
}

var errNilRequest = errors.New("clienttrace: nil *http.Request")

// NewTransport returns an [http.RoundTripper] that sends requests through
// base, or through [http.DefaultTransport] if base is nil, and calls the
// lifecycle hooks, RoundTripDone and BodyDone, of every [ClientTrace]
// installed in the request's context with [WithClientTrace].
//
// The returned transport never modifies the request. On success it replaces
// the response body with one that reports BodyDone; the replacement keeps
// io.Writer when the body has it, as for a 101 Switching Protocols response,
// and a nil body becomes [http.NoBody]. If base returns neither a response
// nor an error, RoundTrip returns an error naming base's type.
//
// A request whose context has no lifecycle hook passes straight through to
// base, without allocating.
//
// The transport forwards CloseIdleConnections to base if base has it.
func NewTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base}
}

type transport struct {
	base http.RoundTripper
}

var _ http.RoundTripper = (*transport)(nil)

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errNilRequest
	}
	c := installed(req.Context())
	if c == nil || !c.lifecycle {
		return t.base.RoundTrip(req)
	}

	resp, err := t.base.RoundTrip(req)
	if resp == nil && err == nil {
		err = fmt.Errorf("clienttrace: %T.RoundTrip returned a nil *http.Response and a nil error", t.base)
	}
	c.roundTripDone(RoundTripDoneInfo{Request: req, Response: resp, Err: err})
	if err != nil {
		return resp, err
	}
	resp.Body = wrapBody(resp.Body, c)
	return resp, nil
}

// CloseIdleConnections calls base's CloseIdleConnections, if it has one.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// roundTripDone calls the RoundTripDone hooks of c and older installs.
func (c *traceCtx) roundTripDone(info RoundTripDoneInfo) {
	for ; c != nil; c = c.older {
		if f := c.trace.RoundTripDone; f != nil {
			f(info)
		}
	}
}

// bodyDone calls the BodyDone hooks of c and older installs.
func (c *traceCtx) bodyDone(info BodyDoneInfo) {
	for ; c != nil; c = c.older {
		if f := c.trace.BodyDone; f != nil {
			f(info)
		}
	}
}
