// Package names is the one source of the span, event and attribute names
// that wiretrace invents: otelhooks records them and waterfall recognizes
// them, so a rename here reaches both, and TestWaterfallRecognizesOnlyEmittedNames
// fails if waterfall looks for a name otelhooks no longer uses.
//
// Names the OpenTelemetry semantic conventions define (http.response.status_code,
// dns.question.name, …) are not here: both packages take them from the same
// semconv package. Docs/spans.md documents every name.
//
// The package uses the standard library only, so that any package of the
// module can import it; the values are plain strings (otelhooks wraps the
// attribute keys in attribute.Key).
package names

// Span names of the phases of a request, children of the request span.
const (
	SpanGetConn = "http.getconn"
	SpanDNS     = "http.dns"
	SpanConnect = "http.connect"
	SpanTLS     = "http.tls"
	// SpanProxyConnect is the CONNECT exchange with a forward proxy, between
	// SpanConnect and SpanTLS.
	SpanProxyConnect = "http.proxy_connect"
	SpanSend         = "http.send"
	SpanWait         = "http.wait"
	SpanReceive      = "http.receive"
)

// StartSuffix and DoneSuffix make the names of the pair of events that stand
// for a phase under otelhooks.WithoutSubSpans: the span name, then ".start"
// or ".done".
const (
	StartSuffix = ".start"
	DoneSuffix  = ".done"
)

// Event pairs of the phases under otelhooks.WithoutSubSpans. Each is its
// span's name with StartSuffix or DoneSuffix.
const (
	EventGetConnStart      = "http.getconn.start"
	EventGetConnDone       = "http.getconn.done"
	EventDNSStart          = "http.dns.start"
	EventDNSDone           = "http.dns.done"
	EventConnectStart      = "http.connect.start"
	EventConnectDone       = "http.connect.done"
	EventTLSStart          = "http.tls.start"
	EventTLSDone           = "http.tls.done"
	EventProxyConnectStart = "http.proxy_connect.start"
	EventProxyConnectDone  = "http.proxy_connect.done"
	EventSendStart         = "http.send.start"
	EventSendDone          = "http.send.done"
	EventWaitStart         = "http.wait.start"
	EventWaitDone          = "http.wait.done"
	EventReceiveStart      = "http.receive.start"
	EventReceiveDone       = "http.receive.done"
)

// Point events, on the open phase or on the request span.
const (
	EventWroteHeaders  = "http.wrote_headers"
	EventWait100       = "http.wait_100_continue"
	EventGot100        = "http.got_100_continue"
	EventInformational = "http.informational_response"
	EventFirstByte     = "http.first_response_byte"
	EventPutIdleConn   = "http.put_idle_conn"
	EventResend        = "http.resend"
)

// Attribute keys for facts the semantic conventions have no name for.
const (
	AttrConnReused    = "wiretrace.conn.reused"
	AttrConnWasIdle   = "wiretrace.conn.was_idle"
	AttrConnIdleTime  = "wiretrace.conn.idle_time_s"
	AttrDNSCoalesced  = "wiretrace.dns.coalesced"
	AttrConnectWinner = "wiretrace.connect.winner"
	AttrBodyDone      = "wiretrace.body.done"
	AttrAbandoned     = "wiretrace.abandoned"
	// AttrSendEnd says why http.send ended when it was not at
	// WroteRequest: SendEndFirstByte or SendEndRequestEnd.
	AttrSendEnd = "wiretrace.send.end"
	// AttrBodyDecodedSize is the size of a body net/http decoded, in place
	// of http.response.body.size.
	AttrBodyDecodedSize = "wiretrace.response.body.decoded_size"
	// AttrErrorMessage is the error's text, scrubbed, on the done event of
	// a failed phase, where an event has no status to carry it, and on
	// http.put_idle_conn. Neither the pinned semantic conventions (v1.43.0)
	// nor this project named it before: it is in the wiretrace namespace.
	AttrErrorMessage = "wiretrace.error.message"

	// The kernel's view of an instrumented connection.
	AttrTCPRTT         = "wiretrace.tcp.rtt_s"
	AttrTCPRTTVar      = "wiretrace.tcp.rtt_var_s"
	AttrTCPRetransmits = "wiretrace.tcp.retransmits"
	AttrTCPCwnd        = "wiretrace.tcp.snd_cwnd"

	// Prefixes of the recorded headers, followed by the lower-cased key.
	AttrRequestHeaderPrefix  = "http.request.header."
	AttrResponseHeaderPrefix = "http.response.header."
)

// The connection model of otelhooks.WithConnectionSpans: the span names of
// the semantic conventions' .NET network traces, as prefixes (the host and
// port, or the address, follow), the events of the wait under
// WithoutSubSpans, and the attributes of a request's link to the setup of
// its connection (also on the setup span: AttrConnID).
const (
	SpanConnSetupPrefix     = "HTTP connection_setup "
	SpanWaitConnPrefix      = "HTTP wait_for_connection "
	SpanDNSLookupPrefix     = "DNS lookup "
	SpanSocketConnectPrefix = "socket connect "
	SpanTLSHandshakePrefix  = "TLS client handshake "

	EventWaitConnStart = "http.wait_for_connection.start"
	EventWaitConnDone  = "http.wait_for_connection.done"

	AttrConnID       = "wiretrace.conn.id"
	AttrConnAge      = "wiretrace.conn.age_s"
	AttrConnRequests = "wiretrace.conn.requests"
)

// Attribute values.
const (
	// BodyDoneClosed is the AttrBodyDone value of a body closed before its
	// end: clienttrace.BodyClosed.String().
	BodyDoneClosed = "closed"
	// Redacted replaces a value that must not be recorded.
	Redacted = "REDACTED"
	// SendEndFirstByte and SendEndRequestEnd are the AttrSendEnd values:
	// a request without a body whose response began before WroteRequest,
	// and a request that ended before WroteRequest came.
	SendEndFirstByte  = "first_response_byte"
	SendEndRequestEnd = "request_end"
)

// MetricTimeInQueue is the histogram of the time a request waited for a
// connection.
const MetricTimeInQueue = "http.client.request.time_in_queue"

// Attributes of the root span that cmd/wiretrace starts for each request it
// traces, and of its events.
const (
	// AttrCLIDecodedSize is the body's size once --compressed decoded it;
	// the request span's http.response.body.size stays the wire size.
	AttrCLIDecodedSize = "wiretrace.cli.body.decoded_size"
	// AttrCLIContentEncoding is the Content-Encoding --compressed decoded.
	AttrCLIContentEncoding = "wiretrace.cli.body.content_encoding"
	// AttrCLIMaxRedirs is the --max-redirs of a redirect not followed.
	AttrCLIMaxRedirs = "wiretrace.cli.max_redirs"
)
