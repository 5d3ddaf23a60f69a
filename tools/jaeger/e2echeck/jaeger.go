package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Service names and the run attribute of examples/jaeger.
const (
	frontendService = "wiretrace-frontend"
	backendService  = "wiretrace-backend"
	runKey          = "example.run"
)

// The parts of Jaeger's /api/traces answer that the checks read.
type (
	tracesResponse struct {
		Data   []jaegerTrace `json:"data"`
		Errors []struct {
			Msg string `json:"msg"`
		} `json:"errors"`
	}
	jaegerTrace struct {
		TraceID   string                   `json:"traceID"`
		Spans     []jaegerSpan             `json:"spans"`
		Processes map[string]jaegerProcess `json:"processes"`
	}
	jaegerSpan struct {
		TraceID       string      `json:"traceID"`
		SpanID        string      `json:"spanID"`
		OperationName string      `json:"operationName"`
		References    []reference `json:"references"`
		Tags          []tag       `json:"tags"`
		ProcessID     string      `json:"processID"`
	}
	reference struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	jaegerProcess struct {
		ServiceName string `json:"serviceName"`
		Tags        []tag  `json:"tags"`
	}
	tag struct {
		Key   string `json:"key"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	}
)

// healthy reports whether the health check at u says the server is up.
func healthy(ctx context.Context, u string) error {
	body, err := get(ctx, u)
	if err != nil {
		return err
	}
	var status struct {
		Healthy *bool  `json:"healthy"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal(body, &status); err != nil {
		return fmt.Errorf("%s: %w: %.200s", u, err, body)
	}
	if status.Healthy == nil || !*status.Healthy {
		return fmt.Errorf("%s: not healthy: %.200s", u, body)
	}
	return nil
}

// fetchTraces returns the traces of the last hour that have a span of
// service.
func fetchTraces(ctx context.Context, api, service string) ([]jaegerTrace, error) {
	q := url.Values{"service": {service}, "limit": {"1000"}, "lookback": {"1h"}}
	body, err := get(ctx, strings.TrimSuffix(api, "/")+"/api/traces?"+q.Encode())
	if err != nil {
		return nil, err
	}
	return parseTraces(body)
}

func parseTraces(body []byte) ([]jaegerTrace, error) {
	var resp tracesResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("/api/traces: %w", err)
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("/api/traces: %s", resp.Errors[0].Msg)
	}
	return resp.Data, nil
}

// trace is one Jaeger trace, indexed.
type trace struct {
	jaegerTrace
	byID     map[string]*jaegerSpan
	children map[string][]*jaegerSpan // by parent span ID
	roots    []*jaegerSpan
}

func index(t jaegerTrace) *trace {
	x := &trace{jaegerTrace: t, byID: map[string]*jaegerSpan{}, children: map[string][]*jaegerSpan{}}
	for i := range x.Spans {
		s := &x.Spans[i]
		x.byID[s.SpanID] = s
		parent := s.parentID()
		if parent == "" {
			x.roots = append(x.roots, s)
			continue
		}
		x.children[parent] = append(x.children[parent], s)
	}
	return x
}

// parentID returns the span ID of the CHILD_OF reference, or "".
func (s *jaegerSpan) parentID() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s *jaegerSpan) tag(key string) (any, bool) {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return nil, false
}

func (s *jaegerSpan) kind() string {
	v, _ := s.tag("span.kind")
	k, _ := v.(string)
	return k
}

func (s *jaegerSpan) String() string { return fmt.Sprintf("%q (%s)", s.OperationName, s.SpanID) }

func (x *trace) service(s *jaegerSpan) string { return x.Processes[s.ProcessID].ServiceName }

// childNames returns the sorted names of the children of s.
func (x *trace) childNames(s *jaegerSpan) []string {
	var names []string
	for _, c := range x.children[s.SpanID] {
		names = append(names, c.OperationName)
	}
	slices.Sort(names)
	return names
}

// named returns the children of s with the given name.
func (x *trace) named(s *jaegerSpan, name string) []*jaegerSpan {
	var out []*jaegerSpan
	for _, c := range x.children[s.SpanID] {
		if c.OperationName == name {
			out = append(out, c)
		}
	}
	return out
}

// problems collects what a check found wrong.
type problems struct{ errs []error }

func (p *problems) addf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *problems) err() error {
	const most = 20
	if len(p.errs) > most {
		extra := len(p.errs) - most
		p.errs = append(p.errs[:most], fmt.Errorf("and %d more", extra))
	}
	return errors.Join(p.errs...)
}

// wantTag records a problem unless s has the tag key with the value want.
func (p *problems) wantTag(s *jaegerSpan, key string, want any) {
	got, ok := s.tag(key)
	switch {
	case !ok:
		p.addf("%s: no tag %s", s, key)
	case fmt.Sprint(got) != fmt.Sprint(want):
		p.addf("%s: tag %s = %v, want %v", s, key, got, want)
	}
}

// noError records a problem if s is marked as failed.
func (p *problems) noError(s *jaegerSpan) {
	if v, ok := s.tag("otel.status_code"); ok && v == "ERROR" {
		p.addf("%s: status ERROR", s)
	}
	if v, ok := s.tag("error"); ok && v == true {
		p.addf("%s: error=true", s)
	}
}

// phases are the children every request span has in span mode, besides the
// spans of the server it called.
var phases = []string{"http.getconn", "http.receive", "http.send", "http.wait"}

// checkPhases checks the phase spans under the request span req of a
// successful request, and returns whether its connection was reused. With
// exact set, the request went over plain HTTP to 127.0.0.1 at port: the
// connection's spans are exactly one dial there; otherwise DNS, failed
// dials (Happy Eyeballs) and TLS may show under http.getconn.
func (p *problems) checkPhases(x *trace, req *jaegerSpan, port any, exact bool) (reused bool) {
	for _, name := range phases {
		spans := x.named(req, name)
		// Over HTTP/2, net/http may report the request written only
		// after the response has arrived, even after its body was read:
		// the request then has no http.wait, and its http.send is
		// abandoned. Only the exact checks, over HTTP/1.1, insist.
		if !exact && name == "http.wait" && len(spans) == 0 {
			continue
		}
		if len(spans) != 1 {
			p.addf("%s: %d children %q, want 1 (children: %v)", req, len(spans), name, x.childNames(req))
			continue
		}
		s := spans[0]
		p.noError(s)
		if x.service(s) != x.service(req) {
			p.addf("%s: service %q, want its request's, %q", s, x.service(s), x.service(req))
		}
		if s.kind() != "internal" {
			p.addf("%s: span.kind %q, want internal", s, s.kind())
		}
	}
	for _, g := range x.named(req, "http.getconn") {
		if _, ok := g.tag("network.peer.address"); !ok {
			p.addf("%s: no tag network.peer.address", g)
		}
		v, ok := g.tag("wiretrace.conn.reused")
		reused, _ = v.(bool)
		if !ok {
			p.addf("%s: no tag wiretrace.conn.reused", g)
		}
		connects := x.named(g, "http.connect")
		if reused && len(x.children[g.SpanID]) > 0 {
			p.addf("%s: reused a connection, yet has children %v", g, x.childNames(g))
		}
		if !reused && len(connects) == 0 {
			p.addf("%s: new connection, yet no http.connect child (children: %v)", g, x.childNames(g))
		}
		for _, c := range connects {
			if _, ok := c.tag("network.peer.address"); !ok {
				p.addf("%s: no tag network.peer.address", c)
			}
		}
		for _, c := range x.children[g.SpanID] {
			if !slices.Contains([]string{"http.dns", "http.connect", "http.tls"}, c.OperationName) {
				p.addf("%s: unexpected child %s", g, c)
			}
		}
		if !exact {
			continue
		}
		p.wantTag(g, "network.peer.address", "127.0.0.1")
		p.wantTag(g, "network.peer.port", port)
		if !reused && len(connects) != 1 {
			p.addf("%s: new connection with %d http.connect children, want 1", g, len(connects))
		}
		if got := x.childNames(g); len(got) != len(connects) {
			p.addf("%s: children %v, want http.connect only (no DNS for an IP address, no TLS for http)", g, got)
		}
		for _, c := range connects {
			p.noError(c)
			p.wantTag(c, "network.peer.address", "127.0.0.1")
			p.wantTag(c, "network.peer.port", port)
			p.wantTag(c, "network.transport", "tcp")
			p.wantTag(c, "wiretrace.connect.winner", true)
		}
	}
	if exact {
		for _, r := range x.named(req, "http.receive") {
			p.wantTag(r, "wiretrace.body.done", "eof")
		}
	}
	return reused
}

var weatherURL = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/weather\?city=[a-z]+$`)

// checkExample checks that the traces of examples/jaeger's run runID are
// complete: want traces, each the tree its doc shows, with the spans of
// both services. It returns the number of spans checked.
func checkExample(all []jaegerTrace, runID string, want int) (int, error) {
	var p problems
	var mine []*trace
	for _, t := range all {
		x := index(t)
		for _, proc := range t.Processes {
			if procTag(proc, runKey) == runID {
				mine = append(mine, x)
				break
			}
		}
	}
	if len(mine) != want {
		return 0, fmt.Errorf("run %s: %d traces in Jaeger, want %d", runID, len(mine), want)
	}
	spans, newConns, reusedConns := 0, 0, 0
	for _, x := range mine {
		spans += len(x.Spans)
		for _, proc := range x.Processes {
			if got := procTag(proc, runKey); got != runID {
				p.addf("trace %s: process %q has %s=%q, want %q", x.TraceID, proc.ServiceName, runKey, got, runID)
			}
		}
		for _, s := range x.Spans {
			if s.TraceID != x.TraceID {
				p.addf("trace %s: span %s has trace ID %s", x.TraceID, &s, s.TraceID)
			}
		}
		if len(x.roots) != 1 {
			p.addf("trace %s: %d root spans, want 1 (the backend's spans may not have arrived)", x.TraceID, len(x.roots))
			continue
		}
		root := x.roots[0]
		if root.OperationName != "GET /" || root.kind() != "server" || x.service(root) != frontendService {
			p.addf("trace %s: root %s is a %q span of %q, want the %s server span \"GET /\"",
				x.TraceID, root, root.kind(), x.service(root), frontendService)
		}
		p.noError(root)
		p.wantTag(root, "http.response.status_code", 200)
		reqs := x.children[root.SpanID]
		if len(reqs) != 2 {
			p.addf("trace %s: %s has children %v, want two \"GET\" client spans", x.TraceID, root, x.childNames(root))
		}
		for _, req := range reqs {
			if req.OperationName != "GET" || req.kind() != "client" || x.service(req) != frontendService {
				p.addf("trace %s: %s is a %q span of %q, want a client span \"GET\" of %s",
					x.TraceID, req, req.kind(), x.service(req), frontendService)
				continue
			}
			p.noError(req)
			p.wantTag(req, "http.request.method", "GET")
			p.wantTag(req, "http.response.status_code", 200)
			p.wantTag(req, "network.protocol.version", "1.1")
			p.wantTag(req, "server.address", "127.0.0.1")
			port, _ := req.tag("server.port")
			if u, _ := req.tag("url.full"); !weatherURL.MatchString(fmt.Sprint(u)) {
				p.addf("%s: url.full %v, want one matching %s", req, u, weatherURL)
			}
			if p.checkPhases(x, req, port, true) {
				reusedConns++
			} else {
				newConns++
			}
			servers := x.named(req, "GET /weather")
			if len(servers) != 1 {
				p.addf("%s: %d backend spans \"GET /weather\" under it, want 1 (children: %v)", req, len(servers), x.childNames(req))
			}
			for _, s := range servers {
				p.noError(s)
				if s.kind() != "server" || x.service(s) != backendService {
					p.addf("%s: a %q span of %q, want a server span of %s", s, s.kind(), x.service(s), backendService)
				}
				p.wantTag(s, "http.response.status_code", 200)
			}
			if got, want := len(x.children[req.SpanID]), len(phases)+1; got != want {
				p.addf("%s: children %v, want %v and \"GET /weather\"", req, x.childNames(req), phases)
			}
		}
	}
	// The first request dials; the others reuse the connection.
	if newConns == 0 || reusedConns == 0 {
		p.addf("run %s: %d requests on a new connection and %d on a reused one, want both kinds", runID, newConns, reusedConns)
	}
	return spans, p.err()
}

// checkClient checks the traces of service, a client traced by
// otelhooks.NewTransport such as the wiretrace CLI: no span of them lacks
// its parent, every successful client span of service has its phases and,
// if parentService is set, a server span of that service as a child, proof
// that the trace context went along. It returns the number of successful
// client spans, of which there must be at least one.
func checkClient(all []jaegerTrace, service, parentService string) (int, error) {
	var p problems
	n := 0
	for _, t := range all {
		x := index(t)
		for i := range x.Spans {
			s := &x.Spans[i]
			if parent := s.parentID(); parent != "" && x.byID[parent] == nil {
				p.addf("trace %s: the parent %s of %s is missing", x.TraceID, parent, s)
			}
			if x.service(s) != service || s.kind() != "client" || !succeeded(s) {
				continue
			}
			n++
			if _, ok := s.tag("url.full"); !ok {
				p.addf("%s: no url.full", s)
			}
			port, _ := s.tag("server.port")
			p.checkPhases(x, s, port, false)
			if parentService == "" {
				continue
			}
			found := false
			for _, c := range x.children[s.SpanID] {
				found = found || (c.kind() == "server" && x.service(c) == parentService)
			}
			if !found {
				p.addf("%s: no server span of %s under it (children: %v)", s, parentService, x.childNames(s))
			}
		}
	}
	if n == 0 {
		p.addf("service %s: no successful client span in Jaeger yet", service)
	}
	return n, p.err()
}

// succeeded reports whether s is a request span with a status code below
// 400 and no error.
func succeeded(s *jaegerSpan) bool {
	var q problems
	q.noError(s)
	code, ok := s.tag("http.response.status_code")
	f, isNum := code.(float64)
	return ok && isNum && f < 400 && len(q.errs) == 0
}

func procTag(p jaegerProcess, key string) string {
	for _, t := range p.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}
