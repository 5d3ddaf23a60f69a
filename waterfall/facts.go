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
	var segs []seg
	if n.event {
		segs = append(segs, seg{text: "• " + sanitize(n.name)})
	} else {
		segs = append(segs, seg{text: sanitize(n.name), style: nameStyle(n)})
	}
	add := func(text, style string) {
		if text != "" {
			segs = append(segs, seg{text: " " + sanitize(text), style: style})
		}
	}
	a := n.attrs
	showErr := n.status.Code == codes.Error

	switch {
	case n.event:
		switch n.name {
		case names.EventInformational:
			if code, ok := a.int(semconv.HTTPResponseStatusCodeKey); ok {
				add(strconv.FormatInt(code, 10), statusStyle(code))
			}
		case names.EventResend:
			if c, ok := a.int(semconv.HTTPRequestResendCountKey); ok {
				add("#"+strconv.FormatInt(c, 10), styleNone)
			}
		}
		text := eventError(a)
		if n.name == semconv.ExceptionEventName {
			text = cmp.Or(a.str(semconv.ExceptionMessageKey), a.str(semconv.ExceptionTypeKey), "exception")
		}
		if text != "" {
			segs = append(segs, seg{text: " ✗ " + sanitize(text), style: styleRed, shrink: true})
		}
	case n.name == names.SpanGetConn:
		add(hostPort(a), styleNone)
		if reused, ok := a.bool(names.AttrConnReused); ok {
			if reused {
				add("reused", styleCyan)
			} else {
				add("new", styleNone)
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
			add(text, styleNone)
		}
		// The kernel's view of the connection, which otelhooks puts on
		// the request span, belongs with the connection.
		if parent != nil && isRequest(parent) {
			add(tcpFacts(parent.attrs), styleDim)
		}
	case n.name == names.SpanDNS:
		add(a.str(semconv.DNSQuestionNameKey), styleNone)
		if v, ok := a.get(semconv.DNSAnswersKey); ok {
			if answers := v.AsStringSlice(); len(answers) > 0 {
				text := "→ " + answers[0]
				if len(answers) > 1 {
					text += " +" + strconv.Itoa(len(answers)-1)
				}
				add(text, styleNone)
			}
		}
		if c, _ := a.bool(names.AttrDNSCoalesced); c {
			add("coalesced", styleDim)
		}
	case n.name == names.SpanConnect:
		add(hostPort(a), styleNone)
		if winner, ok := a.bool(names.AttrConnectWinner); ok {
			switch {
			case winner:
				add("✓ winner", styleGreen)
			case !showErr && !abandoned(n):
				add("unused", styleDim)
			}
		}
	case n.name == names.SpanTLS:
		if v := a.str(semconv.TLSProtocolVersionKey); v != "" {
			name := strings.ToUpper(a.str(semconv.TLSProtocolNameKey))
			if name == "" {
				name = "TLS"
			}
			add(name+" "+v, styleNone)
		}
		add(a.str(semconv.TLSNextProtocolKey), styleNone)
		if r, _ := a.bool(semconv.TLSResumedKey); r {
			add("resumed", styleNone)
		}
	case n.name == names.SpanReceive:
		if size, ok := a.int(semconv.HTTPResponseBodySizeKey); ok {
			add(fmtBytes(size), styleNone)
		}
		if done := a.str(names.AttrBodyDone); done == names.BodyDoneClosed {
			add("closed early", styleYellow)
		}
	case n.name == names.SpanSend, n.name == names.SpanWait:
	case isRequest(n):
		add(a.str(semconv.HTTPRequestMethodOriginalKey), styleNone)
		if u := a.str(semconv.URLFullKey); u != "" {
			segs = append(segs, seg{text: " " + sanitize(u), shrink: true})
		} else {
			add(serverAddr(a), styleNone)
		}
		code, hasCode := a.int(semconv.HTTPResponseStatusCodeKey)
		if hasCode {
			add(strconv.FormatInt(code, 10), statusStyle(code))
			// A 4xx or 5xx is its own error: say it once.
			if code >= 400 && (n.status.Description == "" || n.status.Description == a.str(semconv.ErrorTypeKey)) &&
				(a.str(semconv.ErrorTypeKey) == "" || a.str(semconv.ErrorTypeKey) == strconv.FormatInt(code, 10)) {
				showErr = false
			}
		}
		if v := a.str(semconv.NetworkProtocolVersionKey); v != "" {
			add("HTTP/"+v, styleNone)
		}
		if size, ok := a.int(semconv.HTTPResponseBodySizeKey); ok {
			add(fmtBytes(size), styleNone)
		}
		if c, ok := a.int(semconv.HTTPRequestResendCountKey); ok && c > 0 {
			add("resend #"+strconv.FormatInt(c, 10), styleYellow)
		}
	default:
		switch n.kind {
		case trace.SpanKindServer, trace.SpanKindProducer, trace.SpanKindConsumer:
			add("("+n.kind.String()+")", styleDim)
		}
		if code, ok := a.int(semconv.HTTPResponseStatusCodeKey); ok {
			add(strconv.FormatInt(code, 10), statusStyle(code))
			if code >= 400 && n.status.Description == "" && a.str(semconv.ErrorTypeKey) == strconv.FormatInt(code, 10) {
				showErr = false
			}
		}
	}

	if n.unpaired {
		add("unfinished", styleYellow)
	}
	if abandoned(n) {
		add("abandoned", styleYellow)
	}
	if n.late > 0 {
		add("late +"+fmtDur(n.late), styleYellow)
	}
	if n.orphan {
		add("orphan", styleDim)
	}
	if n.badEnd {
		add("no end", styleDim)
	}
	// The error goes last: it is long, and cut first.
	if showErr {
		segs = append(segs, seg{text: " ✗ " + sanitize(errorText(n)), style: styleRed, shrink: true})
	}
	if abandoned(n) {
		for i := range segs {
			if segs[i].style != styleRed {
				segs[i].style = styleDim
			}
		}
	}
	return segs
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

// errorText is the status description, else error.message, else
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
	case abandoned(n):
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
