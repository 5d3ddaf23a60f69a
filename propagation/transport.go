package propagation

import (
	"errors"
	"fmt"
	"net/http"
)

var errNilRequest = errors.New("propagation: nil *http.Request")

// NewTransport returns an [http.RoundTripper] that sends each request
// through base, or through [http.DefaultTransport] if base is nil, with the
// propagation fields of the request's context, as [Propagator.Clone] sets
// them: on a copy of the request, never modifying the caller's request or
// its Header map.
//
// Used as the Transport of an http.Client, it runs once per hop of a
// redirect chain, so each hop carries the context of its own request, with
// the host policy evaluated on the hop's own host, and a traceparent that
// http.Client copied from the first request is replaced, never repeated.
// The same holds when a retrying client sends a request again.
//
// The options are resolved once, here. A nil request gives an error naming
// this package; if base returns neither a response nor an error, RoundTrip
// returns an error naming base's type. The transport forwards
// CloseIdleConnections to base if base has it.
func NewTransport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, p: New(opts...)}
}

type transport struct {
	base http.RoundTripper
	p    *Propagator
}

var _ http.RoundTripper = (*transport)(nil)

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errNilRequest
	}
	resp, err := t.base.RoundTrip(t.p.Clone(req.Context(), req))
	if resp == nil && err == nil {
		err = fmt.Errorf("propagation: %T.RoundTrip returned a nil *http.Response and a nil error", t.base)
	}
	return resp, err
}

// CloseIdleConnections calls base's CloseIdleConnections, if it has one.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
