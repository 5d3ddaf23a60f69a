package waterfall

import (
	"cmp"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// label returns the name of n and the facts that matter about it, as shown
// on its row. parent is the row n hangs under, or nil.
func label(n, parent *node) []seg {
	l := &labeler{n: n, parent: parent, a: n.attrs, showErr: n.status.Code == codes.Error}
	if n.event {
		l.segs = append(l.segs, seg{text: "• " + sanitize(n.name)})
		l.event()
		l.marks()
		return l.segs
	}
	l.segs = append(l.segs, seg{text: sanitize(n.name), style: nameStyle(n)})
	switch {
	case n.name == names.SpanGetConn:
		l.getconn(parent)
	case n.name == names.SpanDNS:
		l.dns()
	case n.name == names.SpanConnect:
		l.connect()
	case n.name == names.SpanTLS:
		l.tls()
	case n.name == names.SpanReceive:
		l.receive()
	case n.name == names.SpanSend, n.name == names.SpanWait:
		// The bar says it all.
	case n.linked || isConnModel(n.name):
		connModelFacts(n, parent, l.add) // links.go
	case isRequest(n):
		l.request()
	default:
		l.other()
	}
	l.marks()
	return l.segs
}

// labeler builds the label of one row: the name first, then the facts of
// its kind of span, then the marks every row may have.
type labeler struct {
	n      *node
	parent *node // the row n hangs under, or nil
	a      attrs
	segs   []seg
	// showErr is whether the row ends with the error; a request's own
	// 4xx or 5xx status says it already.
	showErr bool
}

// add appends text, if any, as a fact in the given style.
func (l *labeler) add(text, style string) {
	if text != "" {
		l.segs = append(l.segs, seg{text: " " + sanitize(text), style: style})
	}
}

// event labels a point event: the status of a 1xx response, the number of a
// resend, and the error it reports.
func (l *labeler) event() {
	a := l.a
	switch l.n.name {
	case names.EventInformational:
		if code, ok := a.int(semconv.HTTPResponseStatusCodeKey); ok {
			l.add(strconv.FormatInt(code, 10), statusStyle(code))
		}
	case names.EventResend:
		if c, ok := a.int(semconv.HTTPRequestResendCountKey); ok {
			l.add("#"+strconv.FormatInt(c, 10), styleNone)
		}
	}
	text := eventError(a)
	if l.n.name == semconv.ExceptionEventName {
		text = cmp.Or(a.str(semconv.ExceptionMessageKey), a.str(semconv.ExceptionTypeKey), "exception")
	}
	if text != "" {
		l.segs = append(l.segs, seg{text: " ✗ " + sanitize(text), style: styleRed, shrink: true})
	}
}

// getconn labels the wait for a connection: the peer, whether the connection
// was new or reused and how long it was idle, and the kernel's view of it.
func (l *labeler) getconn(parent *node) {
	a := l.a
	l.add(hostPort(a), styleNone)
	if reused, ok := a.bool(names.AttrConnReused); ok {
		if reused {
			l.add("reused", styleCyan)
		} else {
			l.add("new", styleNone)
		}
	}
	if idle, _ := a.bool(names.AttrConnWasIdle); idle {
		text := "idle"
		if v, ok := a.get(names.AttrConnIdleTime); ok {
			s := v.AsFloat64()
			if !math.IsNaN(s) && s >= 0 && s < 1e9 {
				text += " " + fmtDur(time.Duration(s*float64(time.Second)))
			}
		}
		l.add(text, styleNone)
	}
	// The kernel's view of the connection, which otelhooks puts on the
	// request span, belongs with the connection.
	if parent != nil && isRequest(parent) {
		l.add(tcpFacts(parent.attrs), styleDim)
	}
}

// dns labels a lookup: the name, the first answer and how many more.
func (l *labeler) dns() {
	a := l.a
	l.add(a.str(semconv.DNSQuestionNameKey), styleNone)
	if v, ok := a.get(semconv.DNSAnswersKey); ok {
		if answers := v.AsStringSlice(); len(answers) > 0 {
			text := "→ " + answers[0]
			if len(answers) > 1 {
				text += " +" + strconv.Itoa(len(answers)-1)
			}
			l.add(text, styleNone)
		}
	}
	if c, _ := a.bool(names.AttrDNSCoalesced); c {
		l.add("coalesced", styleDim)
	}
}

// connect labels a dial attempt: the address, and whether its connection
// was the one used.
func (l *labeler) connect() {
	l.add(hostPort(l.a), styleNone)
	if winner, ok := l.a.bool(names.AttrConnectWinner); ok {
		switch {
		case winner:
			l.add("✓ winner", styleGreen)
		case !l.showErr && !abandoned(l.n):
			l.add("unused", styleDim)
		}
	}
}

// tls labels a handshake: the protocol version, the negotiated protocol,
// and whether the session was resumed.
func (l *labeler) tls() {
	a := l.a
	if v := a.str(semconv.TLSProtocolVersionKey); v != "" {
		name := strings.ToUpper(a.str(semconv.TLSProtocolNameKey))
		if name == "" {
			name = "TLS"
		}
		l.add(name+" "+v, styleNone)
	}
	l.add(a.str(semconv.TLSNextProtocolKey), styleNone)
	if r, _ := a.bool(semconv.TLSResumedKey); r {
		l.add("resumed", styleNone)
	}
}

// receive labels the body: its size, and whether it was closed early.
func (l *labeler) receive() {
	l.bodySize()
	if done := l.a.str(names.AttrBodyDone); done == names.BodyDoneClosed {
		l.add("closed early", styleYellow)
	}
}

// bodySize labels the body's size: the bytes transferred, or the decoded
// size of a body net/http decoded.
func (l *labeler) bodySize() {
	if size, ok := l.a.int(semconv.HTTPResponseBodySizeKey); ok {
		l.add(fmtBytes(size), styleNone)
	} else if size, ok := l.a.int(names.AttrBodyDecodedSize); ok {
		l.add(fmtBytes(size)+" decoded", styleNone)
	}
}

// request labels an HTTP client request span: the method it does not name,
// the URL, the status, the protocol, the body size and the resends.
func (l *labeler) request() {
	a := l.a
	l.add(a.str(semconv.HTTPRequestMethodOriginalKey), styleNone)
	if u := a.str(semconv.URLFullKey); u != "" {
		l.segs = append(l.segs, seg{text: " " + sanitize(u), shrink: true})
	} else {
		l.add(serverAddr(a), styleNone)
	}
	if code, ok := a.int(semconv.HTTPResponseStatusCodeKey); ok {
		l.add(strconv.FormatInt(code, 10), statusStyle(code))
		// A 4xx or 5xx is its own error: say it once.
		errType := a.str(semconv.ErrorTypeKey)
		if code >= 400 && (l.n.status.Description == "" || l.n.status.Description == errType) &&
			(errType == "" || errType == strconv.FormatInt(code, 10)) {
			l.showErr = false
		}
	}
	if v := a.str(semconv.NetworkProtocolVersionKey); v != "" {
		l.add("HTTP/"+v, styleNone)
	}
	l.bodySize()
	if c, ok := a.int(semconv.HTTPRequestResendCountKey); ok && c > 0 {
		l.add("resend #"+strconv.FormatInt(c, 10), styleYellow)
	}
}

// other labels a span of another instrumentation: its kind when it is not
// a client or internal one, and its HTTP status.
func (l *labeler) other() {
	switch l.n.kind {
	case trace.SpanKindServer, trace.SpanKindProducer, trace.SpanKindConsumer:
		l.add("("+l.n.kind.String()+")", styleDim)
	}
	if code, ok := l.a.int(semconv.HTTPResponseStatusCodeKey); ok {
		l.add(strconv.FormatInt(code, 10), statusStyle(code))
		if code >= 400 && l.n.status.Description == "" && l.a.str(semconv.ErrorTypeKey) == strconv.FormatInt(code, 10) {
			l.showErr = false
		}
	}
}

// marks appends what any span row may have: unfinished, abandoned, late,
// orphan, no end, then the error, last because it is long and cut first.
// An abandoned row is dimmed, but for its error.
func (l *labeler) marks() {
	n := l.n
	if n.unpaired {
		l.add("unfinished", styleYellow)
	}
	if abandoned(n) {
		l.add("abandoned", styleYellow)
	}
	if n.late > 0 {
		l.add("late +"+fmtDur(n.late), styleYellow)
	}
	if n.orphan {
		l.add("orphan", styleDim)
	}
	if n.badEnd {
		l.add("no end", styleDim)
	}
	// A row whose parent failed with the same error, or a part of it,
	// shows only the mark: the message is said once, at the top of its
	// chain.
	if l.showErr {
		if p := l.parent; p != nil && p.status.Code == codes.Error && sameError(errorText(p), errorText(n)) {
			l.segs = append(l.segs, seg{text: " ✗", style: styleRed})
		} else {
			l.segs = append(l.segs, seg{text: " ✗ " + sanitize(errorText(n)), style: styleRed, shrink: true})
		}
	}
	if abandoned(n) || n.linked {
		for i := range l.segs {
			if l.segs[i].style != styleRed {
				l.segs[i].style = styleDim
			}
		}
	}
}

// sameError reports whether two error messages tell the same failure: one
// holds the other, as "tls: failed to verify certificate: x509: …" holds
// its root cause "x509: …".
func sameError(a, b string) bool {
	return a != "" && b != "" && (strings.Contains(a, b) || strings.Contains(b, a))
}

func nameStyle(n *node) string {
	if n.status.Code == codes.Error {
		return styleRed
	}
	if isRequest(n) || n.kind == trace.SpanKindServer {
		return styleBold
	}
	return styleNone
}

// isRequest reports whether n is an HTTP client request span: ours, or
// another instrumentation's.
func isRequest(n *node) bool {
	if n.pseudo || n.event || n.kind != trace.SpanKindClient {
		return false
	}
	_, method := n.attrs.get(semconv.HTTPRequestMethodKey)
	_, url := n.attrs.get(semconv.URLFullKey)
	return method || url
}

func abandoned(n *node) bool {
	a, _ := n.attrs.bool(names.AttrAbandoned)
	return a
}

// errorText is the status description, else wiretrace.error.message, else
// error.type, else "error".
func errorText(n *node) string {
	return cmp.Or(n.status.Description, n.attrs.str(names.AttrErrorMessage), n.attrs.str(semconv.ErrorTypeKey), "error")
}

func statusStyle(code int64) string {
	switch {
	case code >= 400:
		return styleRed
	case code >= 300:
		return styleYellow
	case code >= 200:
		return styleGreen
	}
	return styleCyan
}

// hostPort formats network.peer.address and network.peer.port as
// "1.2.3.4:443" or "[::1]:443".
func hostPort(a attrs) string {
	addr := a.str(semconv.NetworkPeerAddressKey)
	if addr == "" {
		return ""
	}
	if port, ok := a.int(semconv.NetworkPeerPortKey); ok {
		return net.JoinHostPort(addr, strconv.FormatInt(port, 10))
	}
	return addr
}

// serverAddr formats server.address and server.port.
func serverAddr(a attrs) string {
	addr := a.str(semconv.ServerAddressKey)
	if addr == "" {
		return ""
	}
	if port, ok := a.int(semconv.ServerPortKey); ok {
		return net.JoinHostPort(addr, strconv.FormatInt(port, 10))
	}
	return addr
}

// barStyle is the color of n's bar.
func barStyle(n *node) string {
	switch {
	case n.status.Code == codes.Error:
		return styleRed
	case abandoned(n), n.linked:
		return styleDim
	}
	switch n.name {
	case names.SpanDNS:
		return styleCyan
	case names.SpanConnect:
		return styleYellow
	case names.SpanTLS:
		return styleMagenta
	case names.SpanSend:
		return styleBlue
	case names.SpanWait:
		return styleGray
	case names.SpanReceive:
		return styleGreen
	}
	return styleNone
}

// tcpFacts returns the kernel's view of the request's connection, which
// otelhooks records when its connections are instrumented: "rtt 29µs±16µs
// cwnd 10 lo", with the retransmissions when there were any.
func tcpFacts(a attrs) string {
	v, ok := a.get(names.AttrTCPRTT)
	if !ok {
		return ""
	}
	rtt := v.AsFloat64()
	if math.IsNaN(rtt) || rtt < 0 || rtt > 1e6 {
		return ""
	}
	text := "rtt " + fmtDur(time.Duration(rtt*float64(time.Second)))
	if v, ok := a.get(names.AttrTCPRTTVar); ok {
		if d := v.AsFloat64(); !math.IsNaN(d) && d >= 0 && d < 1e6 {
			text += "±" + fmtDur(time.Duration(d*float64(time.Second)))
		}
	}
	if c, ok := a.int(names.AttrTCPCwnd); ok {
		text += " cwnd " + strconv.FormatInt(c, 10)
	}
	if r, ok := a.int(names.AttrTCPRetransmits); ok && r > 0 {
		text += " retrans " + strconv.FormatInt(r, 10)
	}
	if iface := a.str(semconv.NetworkInterfaceNameKey); iface != "" {
		text += " " + iface
	}
	return text
}
