package clienttrace_test

import (
	"crypto/tls"
	"errors"
	"net/textproto"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wiretrace/wiretrace/clienttrace"
)

// hookCall calls one hook of a trace with placeholder arguments.
type hookCall struct {
	name  string
	isSet func(*clienttrace.ClientTrace) bool
	call  func(*clienttrace.ClientTrace)
}

// acceptValues is allocated once, so that calling a hook does not.
var acceptValues = []string{"*/*"}

// allHooks lists the eighteen hooks of ClientTrace.
var allHooks = []hookCall{
	{"GetConn", func(t *clienttrace.ClientTrace) bool { return t.GetConn != nil },
		func(t *clienttrace.ClientTrace) { t.GetConn("example.com:80") }},
	{"GotConn", func(t *clienttrace.ClientTrace) bool { return t.GotConn != nil },
		func(t *clienttrace.ClientTrace) { t.GotConn(clienttrace.GotConnInfo{}) }},
	{"PutIdleConn", func(t *clienttrace.ClientTrace) bool { return t.PutIdleConn != nil },
		func(t *clienttrace.ClientTrace) { t.PutIdleConn(nil) }},
	{"GotFirstResponseByte", func(t *clienttrace.ClientTrace) bool { return t.GotFirstResponseByte != nil },
		func(t *clienttrace.ClientTrace) { t.GotFirstResponseByte() }},
	{"Got100Continue", func(t *clienttrace.ClientTrace) bool { return t.Got100Continue != nil },
		func(t *clienttrace.ClientTrace) { t.Got100Continue() }},
	{"Got1xxResponse", func(t *clienttrace.ClientTrace) bool { return t.Got1xxResponse != nil },
		func(t *clienttrace.ClientTrace) { _ = t.Got1xxResponse(103, nil) }},
	{"DNSStart", func(t *clienttrace.ClientTrace) bool { return t.DNSStart != nil },
		func(t *clienttrace.ClientTrace) { t.DNSStart(clienttrace.DNSStartInfo{}) }},
	{"DNSDone", func(t *clienttrace.ClientTrace) bool { return t.DNSDone != nil },
		func(t *clienttrace.ClientTrace) { t.DNSDone(clienttrace.DNSDoneInfo{}) }},
	{"ConnectStart", func(t *clienttrace.ClientTrace) bool { return t.ConnectStart != nil },
		func(t *clienttrace.ClientTrace) { t.ConnectStart("tcp", "127.0.0.1:80") }},
	{"ConnectDone", func(t *clienttrace.ClientTrace) bool { return t.ConnectDone != nil },
		func(t *clienttrace.ClientTrace) { t.ConnectDone("tcp", "127.0.0.1:80", nil) }},
	{"TLSHandshakeStart", func(t *clienttrace.ClientTrace) bool { return t.TLSHandshakeStart != nil },
		func(t *clienttrace.ClientTrace) { t.TLSHandshakeStart() }},
	{"TLSHandshakeDone", func(t *clienttrace.ClientTrace) bool { return t.TLSHandshakeDone != nil },
		func(t *clienttrace.ClientTrace) { t.TLSHandshakeDone(tls.ConnectionState{}, nil) }},
	{"WroteHeaderField", func(t *clienttrace.ClientTrace) bool { return t.WroteHeaderField != nil },
		func(t *clienttrace.ClientTrace) { t.WroteHeaderField("Accept", acceptValues) }},
	{"WroteHeaders", func(t *clienttrace.ClientTrace) bool { return t.WroteHeaders != nil },
		func(t *clienttrace.ClientTrace) { t.WroteHeaders() }},
	{"Wait100Continue", func(t *clienttrace.ClientTrace) bool { return t.Wait100Continue != nil },
		func(t *clienttrace.ClientTrace) { t.Wait100Continue() }},
	{"WroteRequest", func(t *clienttrace.ClientTrace) bool { return t.WroteRequest != nil },
		func(t *clienttrace.ClientTrace) { t.WroteRequest(clienttrace.WroteRequestInfo{}) }},
	{"RoundTripDone", func(t *clienttrace.ClientTrace) bool { return t.RoundTripDone != nil },
		func(t *clienttrace.ClientTrace) { t.RoundTripDone(clienttrace.RoundTripDoneInfo{}) }},
	{"BodyDone", func(t *clienttrace.ClientTrace) bool { return t.BodyDone != nil },
		func(t *clienttrace.ClientTrace) { t.BodyDone(clienttrace.BodyDoneInfo{}) }},
}

// TestAllHooksListsEveryField keeps the hand-written list above in step with
// ClientTrace, so that the tests that walk it cover a hook added later.
func TestAllHooksListsEveryField(t *testing.T) {
	var fields []string
	ct := reflect.TypeFor[clienttrace.ClientTrace]()
	for i := range ct.NumField() {
		fields = append(fields, ct.Field(i).Name)
	}
	listed := make([]string, len(allHooks))
	for i, h := range allHooks {
		listed[i] = h.name
	}
	assert.Equal(t, fields, listed)
}

func TestComposeCallsInArgumentOrder(t *testing.T) {
	for _, h := range allHooks {
		t.Run(h.name, func(t *testing.T) {
			var rec recorder
			composed := clienttrace.Compose(rec.tagged("a."), nil, rec.tagged("b."), rec.tagged("c."))
			require.True(t, h.isSet(composed))
			h.call(composed)
			assert.Equal(t, []string{"a." + h.name, "b." + h.name, "c." + h.name}, rec.hooks())
		})
	}
}

func TestComposeSkipsNil(t *testing.T) {
	t.Run("no traces", func(t *testing.T) {
		composed := clienttrace.Compose()
		require.NotNil(t, composed)
		for _, h := range allHooks {
			assert.False(t, h.isSet(composed), h.name)
		}
	})
	t.Run("nil traces and empty traces", func(t *testing.T) {
		composed := clienttrace.Compose(nil, &clienttrace.ClientTrace{}, nil)
		for _, h := range allHooks {
			assert.False(t, h.isSet(composed), h.name)
		}
	})
	t.Run("hook set by one trace", func(t *testing.T) {
		var rec recorder
		only := rec.tagged("only.")
		composed := clienttrace.Compose(&clienttrace.ClientTrace{}, only, nil)
		for _, h := range allHooks {
			h.call(composed)
		}
		want := make([]string, len(allHooks))
		for i, h := range allHooks {
			want[i] = "only." + h.name
		}
		assert.Equal(t, want, rec.hooks())
	})
}

func TestComposeDoesNotModifyArguments(t *testing.T) {
	var rec recorder
	a, b := rec.tagged("a."), rec.tagged("b.")
	composed := clienttrace.Compose(a, b)
	_ = clienttrace.Compose(composed, a)

	for _, h := range allHooks {
		h.call(a)
	}
	for _, name := range rec.hooks() {
		assert.Regexp(t, `^a\.`, name, "calling a hook of an argument reached another trace")
	}
	assert.Len(t, rec.hooks(), len(allHooks))
}

func TestComposeGot1xxResponseCallsAllAndReturnsFirstError(t *testing.T) {
	errFirst := errors.New("first")
	errSecond := errors.New("second")
	tests := []struct {
		name    string
		results []error
		want    error
	}{
		{"all succeed", []error{nil, nil, nil}, nil},
		{"first of two errors", []error{nil, errFirst, errSecond}, errFirst},
		{"error from the first hook", []error{errSecond, nil, errFirst}, errSecond},
		{"error from the last hook", []error{nil, nil, errFirst}, errFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var called []int
			traces := make([]*clienttrace.ClientTrace, len(tt.results))
			for i, result := range tt.results {
				traces[i] = &clienttrace.ClientTrace{
					Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
						assert.Equal(t, 103, code)
						called = append(called, i)
						return result
					},
				}
			}
			err := clienttrace.Compose(traces...).Got1xxResponse(103, textproto.MIMEHeader{})
			assert.Equal(t, tt.want, err)
			assert.Equal(t, []int{0, 1, 2}, called, "every hook is called, even after an error")
		})
	}
}

func TestComposedHookCallDoesNotAllocate(t *testing.T) {
	noop := func() *clienttrace.ClientTrace {
		return &clienttrace.ClientTrace{
			GetConn:              func(string) {},
			GotConn:              func(clienttrace.GotConnInfo) {},
			PutIdleConn:          func(error) {},
			GotFirstResponseByte: func() {},
			Got100Continue:       func() {},
			Got1xxResponse:       func(int, textproto.MIMEHeader) error { return nil },
			DNSStart:             func(clienttrace.DNSStartInfo) {},
			DNSDone:              func(clienttrace.DNSDoneInfo) {},
			ConnectStart:         func(string, string) {},
			ConnectDone:          func(string, string, error) {},
			TLSHandshakeStart:    func() {},
			TLSHandshakeDone:     func(tls.ConnectionState, error) {},
			WroteHeaderField:     func(string, []string) {},
			WroteHeaders:         func() {},
			Wait100Continue:      func() {},
			WroteRequest:         func(clienttrace.WroteRequestInfo) {},
			RoundTripDone:        func(clienttrace.RoundTripDoneInfo) {},
			BodyDone:             func(clienttrace.BodyDoneInfo) {},
		}
	}
	composed := clienttrace.Compose(noop(), noop(), noop())
	for _, h := range allHooks {
		allocs := testing.AllocsPerRun(100, func() { h.call(composed) })
		assert.Zero(t, allocs, h.name)
	}
}
