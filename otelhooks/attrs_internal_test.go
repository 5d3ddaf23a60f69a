package otelhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSameAddr(t *testing.T) {
	tests := []struct {
		name string
		addr string
		a    net.Addr
		want bool
	}{
		{"IPv4", "127.0.0.1:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, true},
		{"IPv4 as 4 bytes", "127.0.0.1:8080", &net.TCPAddr{IP: net.IP{127, 0, 0, 1}, Port: 8080}, true},
		{"other port", "127.0.0.1:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8081}, false},
		{"other host", "127.0.0.2:8080", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, false},
		{"IPv6", "[::1]:443", &net.TCPAddr{IP: net.IPv6loopback, Port: 443}, true},
		{"IPv6 zone", "[fe80::1%eth0]:443", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth0"}, true},
		{"IPv6 other zone", "[fe80::1%eth0]:443", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth1"}, false},
		{"name", "localhost:80", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, false},
		{"unix", "/tmp/sock", &net.UnixAddr{Name: "/tmp/sock", Net: "unix"}, true},
		{"nil", "127.0.0.1:80", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sameAddr(tt.addr, tt.a))
		})
	}
}

func TestIsIP(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "fe80::1%eth0": true, "2001:db8::1": true,
		"localhost": false, "example.com": false, "": false, "1.example.com": false, "10.0.0.256": false,
	} {
		assert.Equal(t, want, isIP(host), host)
		if want || host != "10.0.0.256" {
			assert.Zero(t, testing.AllocsPerRun(10, func() { isIP(host) }), "a host name or an address costs nothing: %s", host)
		}
	}
}

func TestMethodAndSpanName(t *testing.T) {
	tests := []struct {
		method, wantName, wantMethod string
		known                        bool
	}{
		{"", "GET", "GET", true},
		{"GET", "GET", "GET", true},
		{"QUERY", "QUERY", "QUERY", true},
		{"PURGE", "HTTP", "PURGE", false},
		{"get", "HTTP", "get", false},
	}
	for _, tt := range tests {
		r := &http.Request{Method: tt.method}
		m, known := method(r)
		assert.Equal(t, tt.wantMethod, m)
		assert.Equal(t, tt.known, known)
		assert.Equal(t, tt.wantName, defaultSpanName(r))
	}
}

// TestErrorTypeOfErrorsWithoutATypeOfTheirOwn pins the error.type of the
// errors TestFaultRelayLoad's faults make, which net/http builds with
// errors.New and fmt.Errorf: they were recorded as *fmt.wrapError and
// *errors.errorString.
func TestErrorTypeOfErrorsWithoutATypeOfTheirOwn(t *testing.T) {
	broken := func(err error) error { return fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{broken(textproto.ProtocolError(`malformed MIME header: missing colon: "Content-Leng"`)), "malformed_response"},
		{broken(errors.New(`malformed HTTP response "HTTP"`)), "malformed_response"},
		{errors.New(`malformed HTTP status code "2x0"`), "malformed_response"},
		{errors.New("http2: client connection force closed via ClientConn.Close"), "connection_closed"},
		{errors.New("http2: client connection lost"), "connection_closed"},
		{errors.New("http2: client conn is closed"), "connection_closed"},
		{errors.New(`http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""`), "connection_closed"},
		{&net.OpError{Op: "readfrom", Net: "tcp", Err: net.ErrClosed}, "connection_closed"},
		{errors.New("something else"), "*errors.errorString"},
	} {
		assert.Equal(t, tc.want, errorType(tc.err), "%v", tc.err)
	}
}
