package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// transfer is what one traced request came to: the response's facts, and
// the timing of its hops from the spans. -w and the -n summary read it.
type transfer struct {
	url          *url.URL // as given
	method       string   // of the last hop
	file         string   // -o or -O; "" for none
	urlEffective string   // of the last hop, without user info

	err    error  // nil if a response was read to its end
	errMsg string // err on one line

	status      int    // 0 without a response
	statusText  string // "404 Not Found"
	proto       string // "1.1", "2"
	header      http.Header
	redirectURL string // the Location not followed, if any
	sizeUpload  int64
	httpConnect int // the proxy's answer to CONNECT; 0 if none

	decoded      int64 // bytes after --compressed decoded them
	decodedKnown bool
	encoding     string

	timing timing
}

// failed records err, the URL in it shown as captions show URLs: net/http
// leaves the query in, sensitive values and all.
func (t *transfer) failed(err error) *transfer {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = displayURL(u)
		}
	}
	t.err, t.errMsg = err, oneLine(err.Error())
	return t
}

// response takes the facts of the last response.
func (t *transfer) response(resp *http.Response) {
	t.status, t.statusText = resp.StatusCode, resp.Status
	t.proto = protoVersion(resp)
	t.header = resp.Header
	if resp.Request != nil {
		t.method = resp.Request.Method
		t.urlEffective = redactURL(resp.Request.URL)
		if resp.Request.ContentLength > 0 {
			t.sizeUpload = resp.Request.ContentLength
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if loc, err := resp.Location(); err == nil {
			t.redirectURL = redactURL(loc)
		}
	}
}

// sizeDownload is the body of the last hop as it crossed the wire.
func (t *transfer) sizeDownload() int64 {
	if h := t.timing.last(); h != nil {
		return h.bodySize
	}
	return 0
}

// protoVersion is "1.1" for HTTP/1.1, "2" for HTTP/2, as curl writes it.
func protoVersion(resp *http.Response) string {
	switch {
	case resp.ProtoMajor == 2:
		return "2"
	case resp.ProtoMajor == 1 && resp.ProtoMinor == 0:
		return "1.0"
	case resp.ProtoMajor == 1:
		return "1.1"
	}
	return resp.Proto
}

// redactURL is u without its password and with the values of sensitive
// query keys replaced, as url.full has it in the spans. An empty path is
// "/", as it is sent.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		c.User = nil
	}
	if c.Path == "" && c.Opaque == "" {
		c.Path = "/"
	}
	c.RawQuery = redactQuery(c.RawQuery)
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// timing is a request's hops, each from its request span.
type timing struct {
	hops []hopTiming // in order
}

// hopTiming is one hop: a request span and its phases.
type hopTiming struct {
	start, end time.Time // of the request span

	// When each phase ended; zero if it did not happen.
	dnsEnd, connectEnd, tlsEnd, gotConn, firstByte time.Time
	// How long each took; has* tells whether it happened.
	dns, connect, tls, wait, receive                time.Duration
	hasDNS, hasConnect, hasTLS, hasWait, hasReceive bool
	getconnStart                                    time.Time

	newConn             bool // the request dialed its connection
	hasConn             bool // it got one
	peerAddr, localAddr string
	peerPort, localPort int64
	bodySize            int64
	failed              bool
}

func (t *timing) last() *hopTiming {
	if len(t.hops) == 0 {
		return nil
	}
	return &t.hops[len(t.hops)-1]
}

// buildTiming finds the hops of one trace: the client spans of otelhooks
// under the root, with their phases.
func buildTiming(spans []sdktrace.ReadOnlySpan) timing {
	kids := make(map[trace.SpanID][]sdktrace.ReadOnlySpan)
	var roots, requests []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if !s.Parent().IsValid() {
			roots = append(roots, s)
			continue
		}
		kids[s.Parent().SpanID()] = append(kids[s.Parent().SpanID()], s)
	}
	for _, root := range roots {
		for _, s := range kids[root.SpanContext().SpanID()] {
			if s.SpanKind() == trace.SpanKindClient && hasAttr(s.Attributes(), "http.request.method") {
				requests = append(requests, s)
			}
		}
	}
	slices.SortFunc(requests, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })

	var t timing
	for _, req := range requests {
		h := hopTiming{start: req.StartTime(), end: req.EndTime(), failed: req.Status().Code == codes.Error}
		if n, ok := intAttr(req.Attributes(), "http.response.body.size"); ok {
			h.bodySize = n
		}
		var getconn, wait, receive sdktrace.ReadOnlySpan
		for _, s := range kids[req.SpanContext().SpanID()] {
			switch s.Name() {
			case names.SpanGetConn:
				// After a retry, the last attempt's.
				if getconn == nil || s.StartTime().After(getconn.StartTime()) {
					getconn = s
				}
			case names.SpanWait:
				if wait == nil || s.StartTime().After(wait.StartTime()) {
					wait = s
				}
			case names.SpanReceive:
				receive = s
			}
		}
		if getconn != nil {
			h.getconnStart = getconn.StartTime()
			a := getconn.Attributes()
			if getconn.Status().Code != codes.Error {
				h.hasConn, h.gotConn = true, getconn.EndTime()
			}
			h.peerAddr = strAttr(a, "network.peer.address")
			h.peerPort, _ = intAttr(a, "network.peer.port")
			h.localAddr = strAttr(a, "network.local.address")
			h.localPort, _ = intAttr(a, "network.local.port")
			if reused, ok := boolAttr(a, names.AttrConnReused); ok && !reused {
				h.newConn = true
			}
			for _, s := range kids[getconn.SpanContext().SpanID()] {
				switch s.Name() {
				case names.SpanDNS:
					h.hasDNS, h.dns, h.dnsEnd = true, s.EndTime().Sub(s.StartTime()), s.EndTime()
				case names.SpanConnect:
					if w, _ := boolAttr(s.Attributes(), names.AttrConnectWinner); w {
						h.hasConnect, h.connect, h.connectEnd = true, s.EndTime().Sub(s.StartTime()), s.EndTime()
					}
				case names.SpanTLS:
					if s.Status().Code != codes.Error {
						h.hasTLS, h.tls, h.tlsEnd = true, s.EndTime().Sub(s.StartTime()), s.EndTime()
					}
				}
			}
		}
		if getconn == nil {
			connModelHop(&h, req, kids, spans) // -connspans (connspans.go)
		}
		if wait != nil && wait.Status().Code != codes.Error {
			h.hasWait, h.wait, h.firstByte = true, wait.EndTime().Sub(wait.StartTime()), wait.EndTime()
		}
		if receive != nil {
			h.hasReceive, h.receive = true, receive.EndTime().Sub(receive.StartTime())
			if h.firstByte.IsZero() {
				h.firstByte = receive.StartTime()
			}
		}
		t.hops = append(t.hops, h)
	}
	return t
}

func hasAttr(kvs []attribute.KeyValue, key attribute.Key) bool {
	for _, kv := range kvs {
		if kv.Key == key {
			return true
		}
	}
	return false
}

func attr(kvs []attribute.KeyValue, key attribute.Key) (attribute.Value, bool) {
	for i := len(kvs) - 1; i >= 0; i-- {
		if kvs[i].Key == key {
			return kvs[i].Value, true
		}
	}
	return attribute.Value{}, false
}

func strAttr(kvs []attribute.KeyValue, key attribute.Key) string {
	if v, ok := attr(kvs, key); ok && v.Type() == attribute.STRING {
		return v.AsString()
	}
	return ""
}

func intAttr(kvs []attribute.KeyValue, key attribute.Key) (int64, bool) {
	if v, ok := attr(kvs, key); ok && v.Type() == attribute.INT64 {
		return v.AsInt64(), true
	}
	return 0, false
}

func boolAttr(kvs []attribute.KeyValue, key attribute.Key) (value, ok bool) {
	if v, ok := attr(kvs, key); ok && v.Type() == attribute.BOOL {
		return v.AsBool(), true
	}
	return false, false
}

// collector is a span processor that keeps the ended spans of each trace
// until the runner takes them, to compute -w's variables and the -n
// summary from them.
type collector struct {
	mu    sync.Mutex // guards the fields below
	spans map[trace.TraceID][]sdktrace.ReadOnlySpan
	taken map[trace.TraceID]bool // traces taken, whose late spans are dropped
}

var _ sdktrace.SpanProcessor = (*collector)(nil)

func newCollector() *collector {
	return &collector{spans: make(map[trace.TraceID][]sdktrace.ReadOnlySpan), taken: make(map[trace.TraceID]bool)}
}

// OnStart does nothing.
func (*collector) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd keeps s, unless its trace was taken already. It is called on the
// goroutine that ends the span, concurrently with the others.
func (c *collector) OnEnd(s sdktrace.ReadOnlySpan) {
	id := s.SpanContext().TraceID()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.taken[id] {
		return
	}
	c.spans[id] = append(c.spans[id], s)
}

// take returns the spans of trace id ended so far, and drops the ones that
// end later.
func (c *collector) take(id trace.TraceID) []sdktrace.ReadOnlySpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.spans[id]
	delete(c.spans, id)
	c.taken[id] = true
	return s
}

// Shutdown does nothing.
func (*collector) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*collector) ForceFlush(context.Context) error { return nil }
