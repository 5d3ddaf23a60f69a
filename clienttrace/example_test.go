package clienttrace_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"

	"github.com/wiretrace/wiretrace/clienttrace"
)

func ExampleWithClientTrace() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	// One trace serves every request: installing never modifies it.
	trace := &clienttrace.ClientTrace{
		GotConn: func(info clienttrace.GotConnInfo) {
			fmt.Println("reused connection:", info.Reused)
		},
	}
	for range 2 {
		ctx := clienttrace.WithClientTrace(context.Background(), trace)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	// Output:
	// reused connection: false
	// reused connection: true
}

func ExampleCompose() {
	logConn := &clienttrace.ClientTrace{
		GetConn: func(hostPort string) { fmt.Println("log: connecting to", hostPort) },
	}
	count := 0
	countConn := &clienttrace.ClientTrace{
		GetConn: func(string) { count++ },
	}
	// A trace written for net/http/httptrace joins in through the bridge.
	legacy := clienttrace.FromHTTPTrace(&httptrace.ClientTrace{
		GetConn: func(string) { fmt.Println("legacy: GetConn") },
	})

	trace := clienttrace.Compose(logConn, countConn, nil, legacy)
	trace.GetConn("example.com:443")
	fmt.Println("count:", count)
	// Output:
	// log: connecting to example.com:443
	// legacy: GetConn
	// count: 1
}

func ExampleNewTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "twelve bytes")
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: clienttrace.NewTransport(base)}

	trace := &clienttrace.ClientTrace{
		RoundTripDone: func(info clienttrace.RoundTripDoneInfo) {
			fmt.Println("round trip done:", info.Response.Status)
		},
		BodyDone: func(info clienttrace.BodyDoneInfo) {
			fmt.Printf("body done: %s after %d bytes\n", info.Reason, info.BytesRead)
		},
	}
	ctx := clienttrace.WithClientTrace(context.Background(), trace)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	// Output:
	// round trip done: 200 OK
	// body done: eof after 12 bytes
}
