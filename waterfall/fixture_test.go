package waterfall_test

import (
	"encoding/binary"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// epoch is the start of every fixture's time line.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// at returns the time ms milliseconds after epoch.
func at(ms float64) time.Time {
	return epoch.Add(time.Duration(ms * float64(time.Millisecond)))
}

// fixture builds the spans of one trace with fixed ids and times.
type fixture struct {
	tid   trace.TraceID
	n     uint64
	stubs []*tracetest.SpanStub
}

func newFixture(traceByte byte) *fixture {
	f := &fixture{}
	for i := range f.tid {
		f.tid[i] = traceByte
	}
	return f
}

// spanContext returns the context of the n-th span id of the fixture.
func (f *fixture) spanContext(n uint64, remote bool) trace.SpanContext {
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], n)
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: f.tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: remote,
	})
}

// add adds an internal span from start to end milliseconds, under parent if
// it is not nil.
func (f *fixture) add(parent *tracetest.SpanStub, name string, start, end float64, kv ...attribute.KeyValue) *tracetest.SpanStub {
	f.n++
	s := &tracetest.SpanStub{
		Name:        name,
		SpanContext: f.spanContext(f.n, false),
		SpanKind:    trace.SpanKindInternal,
		StartTime:   at(start),
		EndTime:     at(end),
		Attributes:  kv,
	}
	if parent != nil {
		s.Parent = parent.SpanContext
	}
	f.stubs = append(f.stubs, s)
	return s
}

// request adds a client request span.
func (f *fixture) request(parent *tracetest.SpanStub, method, url, host string, port int, start, end float64, kv ...attribute.KeyValue) *tracetest.SpanStub {
	s := f.add(parent, method, start, end, append([]attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("url.full", url),
		attribute.String("server.address", host),
		attribute.Int("server.port", port),
	}, kv...)...)
	s.SpanKind = trace.SpanKindClient
	return s
}

func (f *fixture) spans() []sdktrace.ReadOnlySpan {
	out := make([]sdktrace.ReadOnlySpan, len(f.stubs))
	for i, s := range f.stubs {
		out[i] = s.Snapshot()
	}
	return out
}

// fail marks s as failed with errType and, if not empty, description.
func fail(s *tracetest.SpanStub, errType, description string) {
	s.Status = sdktrace.Status{Code: codes.Error, Description: description}
	s.Attributes = append(s.Attributes, attribute.String("error.type", errType))
}

func event(name string, ms float64, kv ...attribute.KeyValue) sdktrace.Event {
	return sdktrace.Event{Name: name, Time: at(ms), Attributes: kv}
}

func peer(addr string, port int) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("network.peer.address", addr),
		attribute.Int("network.peer.port", port),
	}
}

func connect(netType, addr string, port int, winner bool) []attribute.KeyValue {
	return append([]attribute.KeyValue{
		attribute.String("network.transport", "tcp"),
		attribute.String("network.type", netType),
		attribute.Bool("wiretrace.connect.winner", winner),
	}, peer(addr, port)...)
}

func gotConn(addr string, port int, reused, wasIdle bool) []attribute.KeyValue {
	return append(peer(addr, port),
		attribute.String("network.local.address", "192.0.2.10"),
		attribute.Int("network.local.port", 50432),
		attribute.Bool("wiretrace.conn.reused", reused),
		attribute.Bool("wiretrace.conn.was_idle", wasIdle),
	)
}

func tlsDone(next string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("tls.protocol.name", "tls"),
		attribute.String("tls.protocol.version", "1.3"),
		attribute.String("tls.cipher", "TLS_AES_128_GCM_SHA256"),
		attribute.Bool("tls.resumed", false),
		attribute.String("tls.next_protocol", next),
		attribute.String("tls.client.server_name", "example.com"),
		attribute.String("tls.server.subject", "CN=example.com"),
		attribute.String("tls.server.issuer", "CN=Example CA"),
		attribute.String("tls.server.not_after", "2026-01-02T03:04:05Z"),
	}
}

// coldHTTPS is a first request to an HTTPS server: DNS, one dial, TLS.
func coldHTTPS() *fixture {
	f := newFixture(0x4b)
	req := f.request(nil, "GET", "https://example.com/index.html", "example.com", 443, 0, 120.4,
		attribute.String("network.protocol.version", "2"),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("http.request.resend_count", 0),
		attribute.Int("http.response.body.size", 12345),
	)
	req.Events = []sdktrace.Event{
		event("http.first_response_byte", 95.2),
		event("http.put_idle_conn", 120.3),
	}
	conn := f.add(req, "http.getconn", 0.1, 60.2, gotConn("93.184.216.34", 443, false, false)...)
	f.add(conn, "http.dns", 0.2, 15.3,
		attribute.String("dns.question.name", "example.com"),
		attribute.StringSlice("dns.answers", []string{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"}),
		attribute.Bool("wiretrace.dns.coalesced", false),
	)
	f.add(conn, "http.connect", 15.5, 32.0, connect("ipv4", "93.184.216.34", 443, true)...)
	f.add(conn, "http.tls", 32.1, 60.0, tlsDone("h2")...)
	send := f.add(req, "http.send", 60.2, 60.6)
	send.Events = []sdktrace.Event{event("http.wrote_headers", 60.5)}
	f.add(req, "http.wait", 60.6, 95.2)
	f.add(req, "http.receive", 95.2, 120.4,
		attribute.Int("http.response.body.size", 12345),
		attribute.String("wiretrace.body.done", "eof"),
	)
	return f
}

// warmReused is a request on an idle pooled connection.
func warmReused() *fixture {
	f := newFixture(0x5c)
	req := f.request(nil, "GET", "https://example.com/index.html", "example.com", 443, 0, 21.3,
		attribute.String("network.protocol.version", "1.1"),
		attribute.Int("http.response.status_code", 304),
		attribute.Int("http.response.body.size", 0),
	)
	req.Events = []sdktrace.Event{
		event("http.first_response_byte", 18.1),
		event("http.put_idle_conn", 21.2, attribute.String("wiretrace.error.message", "http: putIdleConn: too many idle connections")),
	}
	f.add(req, "http.getconn", 0.02, 0.07, append(gotConn("93.184.216.34", 443, true, true),
		attribute.Float64("wiretrace.conn.idle_time_s", 3.25))...)
	f.add(req, "http.send", 0.07, 0.21)
	f.add(req, "http.wait", 0.21, 18.1)
	f.add(req, "http.receive", 18.1, 21.3,
		attribute.Int("http.response.body.size", 0),
		attribute.String("wiretrace.body.done", "eof"),
	)
	return f
}

// parallelDial is Happy Eyeballs to localhost: the ::1 attempt hangs and
// fails after the request is done, the 127.0.0.1 one wins.
func parallelDial() *fixture {
	f := newFixture(0x6d)
	req := f.request(nil, "GET", "http://localhost:8443/health", "localhost", 8443, 0, 30.0,
		attribute.String("network.protocol.version", "1.1"),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("http.response.body.size", 2),
	)
	conn := f.add(req, "http.getconn", 0.1, 9.0, gotConn("127.0.0.1", 8443, false, false)...)
	f.add(conn, "http.dns", 0.2, 1.0,
		attribute.String("dns.question.name", "localhost"),
		attribute.StringSlice("dns.answers", []string{"::1", "127.0.0.1"}),
	)
	lost := f.add(conn, "http.connect", 1.1, 41.0, connect("ipv6", "::1", 8443, false)...)
	fail(lost, "*net.OpError", "dial tcp [::1]:8443: i/o timeout")
	f.add(conn, "http.connect", 4.0, 8.9, connect("ipv4", "127.0.0.1", 8443, true)...)
	f.add(req, "http.send", 9.0, 9.2)
	f.add(req, "http.wait", 9.2, 28.0)
	f.add(req, "http.receive", 28.0, 30.0,
		attribute.Int("http.response.body.size", 2),
		attribute.String("wiretrace.body.done", "eof"),
	)
	return f
}

// failedRequest is a request whose every dial is refused.
func failedRequest() *fixture {
	f := newFixture(0x7e)
	req := f.request(nil, "GET", "https://localhost:1/", "localhost", 1, 0, 2.5)
	fail(req, "*net.OpError", "dial tcp 127.0.0.1:1: connect: connection refused")
	conn := f.add(req, "http.getconn", 0.05, 2.4)
	fail(conn, "*net.OpError", "dial tcp 127.0.0.1:1: connect: connection refused")
	f.add(conn, "http.dns", 0.1, 0.6,
		attribute.String("dns.question.name", "localhost"),
		attribute.StringSlice("dns.answers", []string{"::1", "127.0.0.1"}),
	)
	c6 := f.add(conn, "http.connect", 0.7, 1.3, connect("ipv6", "::1", 1, false)...)
	fail(c6, "*net.OpError", "connect: connection refused")
	c4 := f.add(conn, "http.connect", 1.4, 2.3, connect("ipv4", "127.0.0.1", 1, false)...)
	fail(c4, "*net.OpError", "connect: connection refused")
	return f
}

// lateSpan is a request canceled while dialing: the dial outlives it.
func lateSpan() *fixture {
	f := newFixture(0x8f)
	req := f.request(nil, "GET", "https://slow.example/", "slow.example", 443, 0, 50.0)
	fail(req, "context.deadlineExceededError", "context deadline exceeded")
	conn := f.add(req, "http.getconn", 0.1, 50.0)
	fail(conn, "context.deadlineExceededError", "context deadline exceeded")
	f.add(conn, "http.dns", 0.2, 3.0,
		attribute.String("dns.question.name", "slow.example"),
		attribute.StringSlice("dns.answers", []string{"198.51.100.7"}),
	)
	f.add(conn, "http.connect", 3.1, 180.0, append(connect("ipv4", "198.51.100.7", 443, false),
		attribute.Bool("wiretrace.abandoned", true))...)
	return f
}

// redirectChain is three hops under the caller's span.
func redirectChain() *fixture {
	f := newFixture(0x9a)
	root := f.add(nil, "checkout", 0, 300)
	hop := func(start float64, url string, code int, reused bool, body int) {
		req := f.request(root, "GET", url, "shop.example", 443, start, start+80,
			attribute.String("network.protocol.version", "2"),
			attribute.Int("http.response.status_code", code),
			attribute.Int("http.response.body.size", body),
		)
		f.add(req, "http.getconn", start+0.1, start+1, gotConn("203.0.113.5", 443, reused, false)...)
		f.add(req, "http.send", start+1, start+2)
		f.add(req, "http.wait", start+2, start+70)
		f.add(req, "http.receive", start+70, start+80,
			attribute.Int("http.response.body.size", body),
			attribute.String("wiretrace.body.done", "eof"))
	}
	hop(10, "https://shop.example/cart", 301, false, 0)
	hop(95, "https://shop.example/cart/", 302, true, 0)
	hop(180, "https://shop.example/checkout", 200, true, 48213)
	return f
}

// orphan holds a span whose parent never arrived, beside a complete
// request.
func orphan() *fixture {
	f := newFixture(0xab)
	req := f.request(nil, "GET", "http://api.example/v1", "api.example", 80, 0, 10,
		attribute.Int("http.response.status_code", 200))
	f.add(req, "http.wait", 1, 9)
	lost := f.add(nil, "http.receive", 10, 12, attribute.Int("http.response.body.size", 1500))
	lost.Parent = f.spanContext(99, false)
	return f
}

// eventsMode is the cold request of parallelDial, with phases as events on
// the request span.
func eventsMode() *fixture {
	f := newFixture(0xbc)
	req := f.request(nil, "GET", "http://localhost:8443/health", "localhost", 8443, 0, 30.0,
		attribute.String("network.protocol.version", "1.1"),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("http.response.body.size", 2),
	)
	req.Events = []sdktrace.Event{
		event("http.getconn.start", 0.1),
		event("http.dns.start", 0.2, attribute.String("dns.question.name", "localhost")),
		event("http.dns.done", 1.0, attribute.String("dns.question.name", "localhost"),
			attribute.StringSlice("dns.answers", []string{"::1", "127.0.0.1"})),
		event("http.connect.start", 1.1, peer("::1", 8443)...),
		event("http.connect.start", 4.0, peer("127.0.0.1", 8443)...),
		event("http.connect.done", 8.9, connect("ipv4", "127.0.0.1", 8443, true)...),
		event("http.getconn.done", 9.0, gotConn("127.0.0.1", 8443, false, false)...),
		event("http.send.start", 9.0),
		event("http.wrote_headers", 9.1),
		event("http.send.done", 9.2),
		event("http.wait.start", 9.2),
		event("http.informational_response", 20.0, attribute.Int("http.response.status_code", 103)),
		event("http.first_response_byte", 20.0),
		event("http.wait.done", 28.0),
		event("http.receive.start", 28.0),
		event("http.receive.done", 30.0, attribute.Int("http.response.body.size", 2),
			attribute.String("wiretrace.body.done", "eof")),
		event("http.connect.done", 41.0, append(connect("ipv6", "::1", 8443, false),
			attribute.String("error.type", "*net.OpError"),
			attribute.String("wiretrace.error.message", "dial tcp [::1]:8443: i/o timeout"))...),
	}
	return f
}

// longURL is a request to a very long URL.
func longURL() *fixture {
	f := newFixture(0xcd)
	req := f.request(nil, "POST",
		"https://upload.storage.example.com/v2/buckets/customer-invoices-2025/objects/"+
			"very/deeply/nested/path/to/an/invoice-with-a-long-name.pdf?uploadId=abcdef0123456789&part=1",
		"upload.storage.example.com", 443,
		0, 842,
		attribute.String("network.protocol.version", "1.1"),
		attribute.Int("http.response.status_code", 201),
		attribute.Int("http.request.resend_count", 1),
	)
	req.Events = []sdktrace.Event{event("http.resend", 200, attribute.Int("http.request.resend_count", 1))}
	f.add(req, "http.getconn", 0, 190, gotConn("192.0.2.99", 443, false, false)...)
	send := f.add(req, "http.send", 201, 700)
	send.Events = []sdktrace.Event{
		event("http.wrote_headers", 202),
		event("http.wait_100_continue", 202),
		event("http.got_100_continue", 260),
	}
	f.add(req, "http.wait", 700, 840)
	return f
}

// foreign is spans of other instrumentation: the caller's root, an otelhttp
// client span and, through a remote parent, the server's span.
func foreign() *fixture {
	f := newFixture(0xde)
	root := f.add(nil, "sync-inventory", 0, 40)
	client := f.add(root, "HTTP GET", 1, 39,
		attribute.String("http.request.method", "GET"),
		attribute.String("url.full", "http://inventory.internal/items"),
		attribute.Int("http.response.status_code", 503),
		attribute.String("error.type", "503"),
	)
	client.SpanKind = trace.SpanKindClient
	client.Status = sdktrace.Status{Code: codes.Error}
	server := f.add(nil, "GET /items", 3, 37,
		attribute.Int("http.response.status_code", 503),
	)
	server.Parent = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: f.tid, SpanID: client.SpanContext.SpanID(), Remote: true,
	})
	server.SpanKind = trace.SpanKindServer
	server.Status = sdktrace.Status{Code: codes.Error, Description: "backend unavailable"}
	server.Events = []sdktrace.Event{event("exception", 30,
		attribute.String("exception.type", "*errors.errorString"),
		attribute.String("exception.message", "database: too many connections"))}
	return f
}

// tcpFacts is a reused connection whose dialer otelhooks instruments: the
// request span carries the kernel's view of it.
func tcpFacts() *fixture {
	f := newFixture(0x7e)
	req := f.request(nil, "GET", "https://example.com/", "example.com", 443, 0, 12.0,
		attribute.String("network.protocol.version", "2"),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("http.response.body.size", 1256),
		attribute.Float64("wiretrace.tcp.rtt_s", 0.004125),
		attribute.Float64("wiretrace.tcp.rtt_var_s", 0.000350),
		attribute.Int("wiretrace.tcp.retransmits", 2),
		attribute.Int("wiretrace.tcp.snd_cwnd", 10),
		attribute.String("network.interface.name", "eth0"),
	)
	f.add(req, "http.getconn", 0.02, 0.05, gotConn("93.184.216.34", 443, true, false)...)
	f.add(req, "http.send", 0.05, 0.2)
	f.add(req, "http.wait", 0.2, 9.0)
	f.add(req, "http.receive", 9.0, 12.0,
		attribute.Int("http.response.body.size", 1256),
		attribute.String("wiretrace.body.done", "eof"),
	)
	return f
}
