package clienttrace

import (
	"crypto/tls"
	"net/textproto"
)

// Compose returns a new trace whose every hook calls the non-nil hooks of
// traces, in argument order. Nil traces and nil hooks are skipped; a hook that
// no argument sets stays nil, so net/http does no work for it. When a single
// argument sets a hook, the composed trace holds that very function.
//
// Got1xxResponse calls every hook, even after one returns an error, and
// returns the first non-nil error.
//
// Compose never modifies its arguments and uses no reflection; calling a
// composed hook does not allocate. The result is independent of later changes
// to the arguments' fields.
func Compose(traces ...*ClientTrace) *ClientTrace {
	return &ClientTrace{
		GetConn:              hooks1(traces, func(t *ClientTrace) func(string) { return t.GetConn }),
		GotConn:              hooks1(traces, func(t *ClientTrace) func(GotConnInfo) { return t.GotConn }),
		PutIdleConn:          hooks1(traces, func(t *ClientTrace) func(error) { return t.PutIdleConn }),
		GotFirstResponseByte: hooks0(traces, func(t *ClientTrace) func() { return t.GotFirstResponseByte }),
		Got100Continue:       hooks0(traces, func(t *ClientTrace) func() { return t.Got100Continue }),
		Got1xxResponse:       got1xxResponse(traces),
		DNSStart:             hooks1(traces, func(t *ClientTrace) func(DNSStartInfo) { return t.DNSStart }),
		DNSDone:              hooks1(traces, func(t *ClientTrace) func(DNSDoneInfo) { return t.DNSDone }),
		ConnectStart:         hooks2(traces, func(t *ClientTrace) func(string, string) { return t.ConnectStart }),
		ConnectDone:          connectDone(traces),
		TLSHandshakeStart:    hooks0(traces, func(t *ClientTrace) func() { return t.TLSHandshakeStart }),
		TLSHandshakeDone: hooks2(traces, func(t *ClientTrace) func(tls.ConnectionState, error) {
			return t.TLSHandshakeDone
		}),
		WroteHeaderField: hooks2(traces, func(t *ClientTrace) func(string, []string) { return t.WroteHeaderField }),
		WroteHeaders:     hooks0(traces, func(t *ClientTrace) func() { return t.WroteHeaders }),
		Wait100Continue:  hooks0(traces, func(t *ClientTrace) func() { return t.Wait100Continue }),
		WroteRequest:     hooks1(traces, func(t *ClientTrace) func(WroteRequestInfo) { return t.WroteRequest }),
		RoundTripDone:    hooks1(traces, func(t *ClientTrace) func(RoundTripDoneInfo) { return t.RoundTripDone }),
		BodyDone:         hooks1(traces, func(t *ClientTrace) func(BodyDoneInfo) { return t.BodyDone }),
	}
}

// collect returns the non-nil hooks that field selects from the non-nil
// traces, in order.
func collect[F any](traces []*ClientTrace, field func(*ClientTrace) F, isSet func(F) bool) []F {
	var fs []F
	for _, t := range traces {
		if t == nil {
			continue
		}
		if f := field(t); isSet(f) {
			fs = append(fs, f)
		}
	}
	return fs
}

func hooks0(traces []*ClientTrace, field func(*ClientTrace) func()) func() {
	fs := collect(traces, field, func(f func()) bool { return f != nil })
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func() {
		for _, f := range fs {
			f()
		}
	}
}

func hooks1[A any](traces []*ClientTrace, field func(*ClientTrace) func(A)) func(A) {
	fs := collect(traces, field, func(f func(A)) bool { return f != nil })
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(a A) {
		for _, f := range fs {
			f(a)
		}
	}
}

func hooks2[A, B any](traces []*ClientTrace, field func(*ClientTrace) func(A, B)) func(A, B) {
	fs := collect(traces, field, func(f func(A, B)) bool { return f != nil })
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(a A, b B) {
		for _, f := range fs {
			f(a, b)
		}
	}
}

func connectDone(traces []*ClientTrace) func(network, addr string, err error) {
	fs := collect(traces, func(t *ClientTrace) func(string, string, error) { return t.ConnectDone },
		func(f func(string, string, error)) bool { return f != nil })
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(network, addr string, err error) {
		for _, f := range fs {
			f(network, addr, err)
		}
	}
}

func got1xxResponse(traces []*ClientTrace) func(code int, header textproto.MIMEHeader) error {
	fs := collect(traces, func(t *ClientTrace) func(int, textproto.MIMEHeader) error { return t.Got1xxResponse },
		func(f func(int, textproto.MIMEHeader) error) bool { return f != nil })
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(code int, header textproto.MIMEHeader) error {
		var first error
		for _, f := range fs {
			if err := f(code, header); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
}
