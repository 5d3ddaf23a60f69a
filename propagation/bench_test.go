package propagation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"

	"github.com/wiretrace/wiretrace/propagation"
)

// benchRequest returns a request with a few header fields, as clients send.
func benchRequest(b *testing.B) *http.Request {
	b.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://api.example.com/items?limit=10", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "wiretrace")
	req.Header.Set("Authorization", "Bearer token")
	return req
}

// benchBaggage is the baggage of the benchmarks: three small members.
func benchBaggage(b *testing.B) baggage.Baggage {
	b.Helper()
	bag, err := baggage.Parse("tenant=acme,user=alice,region=eu-west-1")
	if err != nil {
		b.Fatal(err)
	}
	return bag
}

// BenchmarkClone measures what a transport pays per request: Clone, and for
// comparison the usual way, req.Clone and the propagator's Inject through
// otelpropagation.HeaderCarrier (which neither removes stale fields nor
// applies a policy or the baggage limits).
func BenchmarkClone(b *testing.B) {
	span := contextWithSpan(context.Background())
	spanBaggage := baggage.ContextWithBaggage(span, benchBaggage(b))
	trusted := propagation.New(withBaggage, propagation.WithHostPolicy(propagation.TrustedHosts("*.example.com")))
	untrusted := propagation.New(withBaggage, propagation.WithHostPolicy(propagation.TrustedHosts("*.internal.example")))
	w3c := otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})

	cases := []struct {
		name string
		ctx  context.Context
		p    *propagation.Propagator
	}{
		{"ctx=span", span, propagation.New()},
		{"ctx=span+baggage", spanBaggage, propagation.New(withBaggage)},
		{"ctx=span+baggage/default", spanBaggage, propagation.New()},
		{"ctx=span+baggage/policy=trusted", spanBaggage, trusted},
		{"ctx=span+baggage/policy=untrusted", spanBaggage, untrusted},
	}
	for _, c := range cases {
		b.Run("impl=propagation/"+c.name, func(b *testing.B) {
			req := benchRequest(b)
			b.ReportAllocs()
			for b.Loop() {
				_ = c.p.Clone(c.ctx, req)
			}
		})
	}
	b.Run("impl=propagation/ctx=span/global=composite", func(b *testing.B) {
		setGlobalPropagator(b, w3c)
		p := propagation.New()
		req := benchRequest(b)
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Clone(span, req)
		}
	})
	for _, c := range cases[:2] {
		b.Run("impl=otel/"+c.name, func(b *testing.B) {
			req := benchRequest(b)
			b.ReportAllocs()
			for b.Loop() {
				r2 := req.Clone(c.ctx)
				w3c.Inject(c.ctx, otelpropagation.HeaderCarrier(r2.Header))
			}
		})
	}
}

// BenchmarkInject measures Inject in place, on a request that already has
// the fields, as on a retry.
func BenchmarkInject(b *testing.B) {
	ctx := contextWithSpan(context.Background())
	p := propagation.New()
	req := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		p.Inject(ctx, req)
	}
}

func BenchmarkExtract(b *testing.B) {
	many := make([]string, 100)
	for i := range many {
		many[i] = "k" + strings.Repeat("x", i) + "=v"
	}
	cases := []struct {
		name   string
		header http.Header
	}{
		{"none", http.Header{}},
		{"traceparent", http.Header{"Traceparent": {fixedTraceparent}}},
		{"traceparent+baggage", http.Header{"Traceparent": {fixedTraceparent}, "Baggage": {"tenant=acme,user=alice,region=eu-west-1"}}},
		{"hostile", http.Header{
			"Traceparent": {fixedTraceparent, fixedTraceparent},
			"Tracestate":  {strings.Repeat("a=1,", 40)},
			"Baggage":     {strings.Join(many, ","), "bad member,x=%zz"},
		}},
	}
	p := propagation.New()
	for _, c := range cases {
		b.Run("header="+c.name, func(b *testing.B) {
			req := &http.Request{Header: c.header}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Extract(ctx, req)
			}
		})
	}
}
