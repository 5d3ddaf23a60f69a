package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// redactedValue replaces credentials wherever headers are shown.
const redactedValue = names.Redacted

// redactedHeaders are never shown, by -v, -i or -json: the headers the
// spans never record (otelhooks' list).
var redactedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// sensitiveQueryKeys are query parameters whose values are credentials:
// otelhooks' own list, which url.full is scrubbed with. Keys match in any
// case, after unescaping.
var sensitiveQueryKeys = otelhooks.DefaultRedactedQueryKeys()

// urlHeaders are the headers whose values are URLs: scrubbed as url.full is.
var urlHeaders = []string{"Location", "Content-Location", "Referer", "Origin"}

// redactHeader returns h with the values of credential headers replaced.
func redactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if slices.ContainsFunc(redactedHeaders, func(r string) bool { return strings.EqualFold(r, k) }) {
			r := make([]string, len(vs))
			for i := range r {
				r[i] = redactedValue
			}
			out[k] = r
			continue
		}
		if slices.ContainsFunc(urlHeaders, func(r string) bool { return strings.EqualFold(r, k) }) {
			r := make([]string, len(vs))
			for i, v := range vs {
				r[i] = redactHeaderURL(v)
			}
			out[k] = r
			continue
		}
		out[k] = vs
	}
	return out
}

// redactHeaderURL returns the URL v scrubbed as redactURL does, keeping a
// relative reference relative; a value that is no URL is redacted whole.
func redactHeaderURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return redactedValue
	}
	u.User = nil
	u.RawQuery = redactQuery(u.RawQuery)
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactQuery replaces the values of sensitive keys in the raw query q,
// whose parameters may be split at '&' or ';'. A key that does not unescape
// counts as sensitive.
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	var b strings.Builder
	for q != "" {
		i := strings.IndexAny(q, "&;")
		part, sep := q, ""
		if i >= 0 {
			part, sep, q = q[:i], q[i:i+1], q[i+1:]
		} else {
			q = ""
		}
		k, _, hasValue := strings.Cut(part, "=")
		if hasValue && isSensitiveQueryKey(k) {
			part = k + "=" + redactedValue
		}
		b.WriteString(part)
		b.WriteString(sep)
	}
	return b.String()
}

func isSensitiveQueryKey(k string) bool {
	key, err := url.QueryUnescape(k)
	if err != nil {
		return true
	}
	return slices.ContainsFunc(sensitiveQueryKeys, func(s string) bool { return strings.EqualFold(s, key) })
}

// exchange is one hop's request and response heads, as sent and received,
// credentials redacted.
type exchange struct {
	traceID  trace.TraceID
	method   string
	target   string // path and query, redacted
	host     string
	header   http.Header // as sent, redacted
	bodySize int64       // -1 if unknown
	resp     *http.Response
	err      error
}

// exchangeRecorder sits between otelhooks and net/http's transport, so
// that it sees each hop's request as it is sent, propagation headers
// included, and its response.
type exchangeRecorder struct {
	base   http.RoundTripper
	record func(exchange)
	// proxy is the transport's Proxy, or nil: a request to a forward
	// proxy names its target with the whole URL.
	proxy func(*http.Request) (*url.URL, error)
}

// RoundTrip sends req through the base transport and records the
// exchange, on the request's goroutine, before it returns.
func (e *exchangeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := e.base.RoundTrip(req)
	target := req.URL.EscapedPath()
	if target == "" {
		target = "/"
	}
	if q := redactQuery(req.URL.RawQuery); q != "" {
		target += "?" + q
	}
	if e.proxy != nil && req.URL.Scheme == "http" {
		if p, perr := e.proxy(req); perr == nil && p != nil {
			target = redactURL(req.URL) // absolute-form, as sent to the proxy
		}
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	e.record(exchange{
		traceID:  trace.SpanContextFromContext(req.Context()).TraceID(),
		method:   req.Method,
		target:   target,
		host:     host,
		header:   redactHeader(req.Header),
		bodySize: req.ContentLength,
		resp:     resp,
		err:      err,
	})
	return resp, err
}

// writeRequestHead writes ex's request as curl -v does, each line after
// prefix: the request line, Host, the headers in order, Content-Length.
func writeRequestHead(w io.Writer, ex exchange, prefix string) {
	proto := "HTTP/1.1"
	if ex.resp != nil {
		proto = protoName(ex.resp)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s %s %s\n", prefix, ex.method, ex.target, proto)
	fmt.Fprintf(&b, "%sHost: %s\n", prefix, ex.host)
	writeHeader(&b, ex.header, prefix)
	if ex.bodySize > 0 && ex.header.Get("Content-Length") == "" {
		fmt.Fprintf(&b, "%sContent-Length: %d\n", prefix, ex.bodySize)
	}
	_, _ = io.WriteString(w, b.String())
}

// writeResponseHead writes resp's status line and headers, each line after
// prefix, credentials redacted.
func writeResponseHead(w io.Writer, resp *http.Response, prefix string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s %s\n", prefix, protoName(resp), resp.Status)
	writeHeader(&b, redactHeader(resp.Header), prefix)
	_, _ = io.WriteString(w, b.String())
}

// protoName is resp's protocol as curl writes it: HTTP/1.1, HTTP/2.
func protoName(resp *http.Response) string {
	return "HTTP/" + protoVersion(resp)
}

func writeHeader(b *strings.Builder, h http.Header, prefix string) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}

// jsonExchange is the line -json writes for an exchange with -v or -i:
// {"exchange": {...}}.
type jsonExchange struct {
	Exchange jsonExchangeBody `json:"exchange"`
}

type jsonExchangeBody struct {
	TraceID  string        `json:"trace_id"`
	Request  *jsonRequest  `json:"request,omitempty"`
	Response *jsonResponse `json:"response"`
	Error    *string       `json:"error"`
}

type jsonRequest struct {
	Method  string              `json:"method"`
	Target  string              `json:"target"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
}

type jsonResponse struct {
	Protocol   string              `json:"protocol"`
	StatusCode int                 `json:"status_code"`
	Status     string              `json:"status"`
	Headers    map[string][]string `json:"headers"`
}

// exchangeJSON is ex as a line of -json: the request with -v, the
// response always.
func exchangeJSON(ex exchange, withRequest bool) []byte {
	j := jsonExchange{Exchange: jsonExchangeBody{TraceID: ex.traceID.String()}}
	if withRequest {
		h := ex.header.Clone()
		if h == nil {
			h = http.Header{}
		}
		j.Exchange.Request = &jsonRequest{Method: ex.method, Target: ex.target, Host: ex.host, Headers: h}
	}
	if ex.resp != nil {
		j.Exchange.Response = &jsonResponse{
			Protocol:   protoName(ex.resp),
			StatusCode: ex.resp.StatusCode,
			Status:     ex.resp.Status,
			Headers:    redactHeader(ex.resp.Header),
		}
	}
	if ex.err != nil {
		msg := oneLine(ex.err.Error())
		j.Exchange.Error = &msg
	}
	b, _ := json.Marshal(j) // of strings and ints only: cannot fail
	return append(b, '\n')
}
