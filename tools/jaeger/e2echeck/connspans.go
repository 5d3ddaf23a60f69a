package main

import (
	"context"
	"fmt"
	"strings"
)

// Span names of otelhooks.WithConnectionSpans (docs/spans.md, "The
// connection model").
const (
	connSetupPrefix = "HTTP connection_setup "
	socketPrefix    = "socket connect "
)

// fetchTrace returns the trace id as Jaeger's query API answers
// /api/traces/{id}.
func fetchTrace(ctx context.Context, api, id string) (jaegerTrace, error) {
	body, err := get(ctx, strings.TrimSuffix(api, "/")+"/api/traces/"+id)
	if err != nil {
		return jaegerTrace{}, err
	}
	traces, err := parseTraces(body)
	if err != nil {
		return jaegerTrace{}, err
	}
	if len(traces) != 1 {
		return jaegerTrace{}, fmt.Errorf("/api/traces/%s: %d traces, want 1", id, len(traces))
	}
	return traces[0], nil
}

// checkConnSpans checks the traces of service, a client traced with
// otelhooks.WithConnectionSpans (the wiretrace CLI with -connspans): each
// successful client span has no http.getconn and exactly one FOLLOWS_FROM
// reference (Jaeger's form of a span link) into another trace, which
// lookup, the query API's /api/traces/{id}, returns with that span as its
// root: an internal "HTTP connection_setup host:port" span of service, with
// a socket connect child. Some setup must have served two requests (a
// reused connection). It returns the number of setups and of linked client
// spans.
func checkConnSpans(ctx context.Context, all []jaegerTrace, service string, lookup func(ctx context.Context, id string) (jaegerTrace, error)) (setups, linked int, err error) {
	var p problems
	served := map[string]int{} // setup span ID → requests linked to it
	seen := map[string]*trace{}
	for _, t := range all {
		x := index(t)
		for i := range x.Spans {
			s := &x.Spans[i]
			if x.service(s) != service || s.kind() != "client" || !succeeded(s) {
				continue
			}
			if g := x.named(s, "http.getconn"); len(g) > 0 {
				p.addf("%s: has http.getconn: not the connection model", s)
			}
			var refs []reference
			for _, r := range s.References {
				if r.RefType == "FOLLOWS_FROM" {
					refs = append(refs, r)
				}
			}
			if len(refs) != 1 {
				p.addf("%s: %d FOLLOWS_FROM references, want 1 (to its connection's setup): %v", s, len(refs), s.References)
				continue
			}
			r := refs[0]
			if r.TraceID == x.TraceID {
				p.addf("%s: its setup is in its own trace, want a trace of its own", s)
				continue
			}
			st := seen[r.TraceID]
			if st == nil {
				t, err := lookup(ctx, r.TraceID)
				if err != nil {
					p.addf("%s: the referenced trace: %v", s, err)
					continue
				}
				st = index(t)
				seen[r.TraceID] = st
			}
			setup := st.byID[r.SpanID]
			switch {
			case setup == nil:
				p.addf("%s: span %s is not in the referenced trace %s", s, r.SpanID, r.TraceID)
				continue
			case !strings.HasPrefix(setup.OperationName, connSetupPrefix) || setup.kind() != "internal":
				p.addf("%s: references %s, a %q span, want an internal %q one", s, setup, setup.kind(), connSetupPrefix+"…")
				continue
			case setup.parentID() != "" || len(st.roots) != 1 || st.roots[0] != setup:
				p.addf("%s: references %s, which is not the root of its trace", s, setup)
			case st.service(setup) != service:
				p.addf("%s: references %s of service %q, want %q", s, setup, st.service(setup), service)
			}
			p.noError(setup)
			found := false
			for _, c := range st.children[setup.SpanID] {
				found = found || strings.HasPrefix(c.OperationName, socketPrefix)
			}
			if !found {
				p.addf("%s: no %q child (children: %v)", setup, socketPrefix+"…", st.childNames(setup))
			}
			served[setup.SpanID]++
			linked++
		}
	}
	reused := false
	for _, n := range served {
		reused = reused || n >= 2
	}
	if linked == 0 {
		p.addf("service %s: no successful client span linked to a connection setup yet", service)
	} else if !reused {
		p.addf("service %s: no connection setup served two requests: %v", service, served)
	}
	return len(served), linked, p.err()
}
