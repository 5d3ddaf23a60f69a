package propagation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

// exampleContext returns a context with a fixed, sampled span context and
// the baggage "tenant=acme", standing in for a span started by a tracer.
func exampleContext() context.Context {
	traceID, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	spanID, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	}))
	m, _ := baggage.NewMember("tenant", "acme")
	b, _ := baggage.New(m)
	return baggage.ContextWithBaggage(ctx, b)
}

func ExampleNewTransport() {
	// The server continues the trace with Extract.
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ctx := propagation.Extract(r.Context(), r)
		parent := trace.SpanContextFromContext(ctx)
		fmt.Println("server: trace", parent.TraceID(), "parent span", parent.SpanID())
		fmt.Println("server: baggage members", baggage.FromContext(ctx).Len())
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	// With no global propagator set, W3C Trace Context is sent, and no
	// baggage: that takes otel.SetTextMapPropagator or WithPropagators.
	client := &http.Client{Transport: propagation.NewTransport(base)}
	req, _ := http.NewRequestWithContext(exampleContext(), http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()
	fmt.Println("client: own header untouched:", len(req.Header) == 0)
	// Output:
	// server: trace 0af7651916cd43dd8448eb211c80319c parent span b7ad6b7169203331
	// server: baggage members 0
	// client: own header untouched: true
}

func ExampleNew() {
	// Built once, used for every request: baggage propagation on, and the
	// baggage stays inside.
	p := propagation.New(
		propagation.WithPropagators(otelpropagation.NewCompositeTextMapPropagator(
			otelpropagation.TraceContext{}, otelpropagation.Baggage{})),
		propagation.WithHostPolicy(propagation.TrustedHosts("*.internal.example")))

	ctx := exampleContext()
	for _, u := range []string{"http://billing.internal.example/charge", "https://api.partner.example/v1/quote"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
		out := p.Clone(ctx, req)
		fmt.Println(out.URL.Hostname())
		fmt.Printf("  traceparent: %q\n", out.Header.Get("Traceparent"))
		fmt.Printf("  baggage:     %q\n", out.Header.Get("Baggage"))
	}
	// Output:
	// billing.internal.example
	//   traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	//   baggage:     "tenant=acme"
	// api.partner.example
	//   traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	//   baggage:     ""
}

func ExampleInject() {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://inventory.internal.example/items", nil)
	// A stale value, as http.Client copies onto redirects, is replaced.
	req.Header.Set("Traceparent", "00-11111111111111111111111111111111-2222222222222222-01")

	// The context has baggage too, but by default only the trace context
	// is sent.
	propagation.Inject(exampleContext(), req)
	fmt.Println(req.Header.Values("Traceparent"))
	fmt.Println(req.Header.Values("Baggage"))
	// Output:
	// [00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01]
	// []
}

func ExampleExtract() {
	// A request as a server receives it; the duplicated traceparent is
	// invalid and ignored, the invalid baggage member dropped.
	for _, tp := range [][]string{
		{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-11111111111111111111111111111111-2222222222222222-01"},
	} {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/items", nil)
		r.Header["Traceparent"] = tp
		r.Header.Set("Baggage", "tenant=acme,bad member=1")

		ctx := propagation.Extract(r.Context(), r)
		parent := trace.SpanContextFromContext(ctx)
		fmt.Println("remote parent:", parent.IsValid() && parent.IsRemote(), parent.SpanID())
		fmt.Println("baggage:", baggage.FromContext(ctx))
	}
	// Output:
	// remote parent: true b7ad6b7169203331
	// baggage: tenant=acme
	// remote parent: false 0000000000000000
	// baggage: tenant=acme
}

func ExampleTrustedHosts() {
	policy := propagation.TrustedHosts("api.example.com", "*.svc.cluster.local", "10.0.0.0/8")
	for _, host := range []string{"api.example.com", "db.prod.svc.cluster.local", "10.2.3.4", "tracker.example.net"} {
		fmt.Println(host, policy(host))
	}
	// Output:
	// api.example.com SendAll
	// db.prod.svc.cluster.local SendAll
	// 10.2.3.4 SendAll
	// tracker.example.net SendTraceContext
}
