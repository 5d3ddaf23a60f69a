package clienttrace_test

import (
	"crypto/tls"
	"net/http"
	"net/textproto"
	"slices"
	"sync"

	"github.com/wiretrace/wiretrace/clienttrace"
)

// event is one hook call seen by a recorder.
type event struct {
	hook string
	args []any
}

// recorder records every hook call of the trace it returns, in order, safe
// for concurrent hooks.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) add(hook string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{hook: hook, args: args})
}

// hooks returns the names of the hooks called so far, in order.
func (r *recorder) hooks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, len(r.events))
	for i, e := range r.events {
		names[i] = e.hook
	}
	return names
}

// args returns the arguments of every call of hook, in order.
func (r *recorder) args(hook string) [][]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]any
	for _, e := range r.events {
		if e.hook == hook {
			out = append(out, e.args)
		}
	}
	return out
}

func (r *recorder) count(hook string) int { return len(r.args(hook)) }

func (r *recorder) has(hook string) bool { return slices.Contains(r.hooks(), hook) }

// trace returns a ClientTrace with every hook set.
func (r *recorder) trace() *clienttrace.ClientTrace { return r.tagged("") }

// tagged returns a ClientTrace with every hook set, recording hook names
// prefixed with tag, so that several traces can share one recorder.
func (r *recorder) tagged(tag string) *clienttrace.ClientTrace {
	add := func(hook string, args ...any) { r.add(tag+hook, args...) }
	return &clienttrace.ClientTrace{
		GetConn:              func(hostPort string) { add("GetConn", hostPort) },
		GotConn:              func(info clienttrace.GotConnInfo) { add("GotConn", info) },
		PutIdleConn:          func(err error) { add("PutIdleConn", err) },
		GotFirstResponseByte: func() { add("GotFirstResponseByte") },
		Got100Continue:       func() { add("Got100Continue") },
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			add("Got1xxResponse", code, http.Header(h).Clone())
			return nil
		},
		DNSStart:          func(info clienttrace.DNSStartInfo) { add("DNSStart", info) },
		DNSDone:           func(info clienttrace.DNSDoneInfo) { add("DNSDone", info) },
		ConnectStart:      func(network, addr string) { add("ConnectStart", network, addr) },
		ConnectDone:       func(network, addr string, err error) { add("ConnectDone", network, addr, err) },
		TLSHandshakeStart: func() { add("TLSHandshakeStart") },
		TLSHandshakeDone:  func(cs tls.ConnectionState, err error) { add("TLSHandshakeDone", cs, err) },
		WroteHeaderField:  func(key string, value []string) { add("WroteHeaderField", key, slices.Clone(value)) },
		WroteHeaders:      func() { add("WroteHeaders") },
		Wait100Continue:   func() { add("Wait100Continue") },
		WroteRequest:      func(info clienttrace.WroteRequestInfo) { add("WroteRequest", info) },
		RoundTripDone:     func(info clienttrace.RoundTripDoneInfo) { add("RoundTripDone", info) },
		BodyDone:          func(info clienttrace.BodyDoneInfo) { add("BodyDone", info) },
	}
}
