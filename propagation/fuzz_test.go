package propagation_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

// FuzzExtract feeds Extract arbitrary traceparent, tracestate and baggage
// fields; a "\n" in an argument splits it into several header lines. The
// seed corpus is in testdata/fuzz/FuzzExtract and runs with go test; to
// fuzz:
//
//	go test -run '^$' -fuzz FuzzExtract -fuzztime 2m ./propagation/
func FuzzExtract(f *testing.F) {
	f.Add(validTP, "", "")
	f.Add(validTP, "a=1,b=2", "tenant=acme,user=alice;p=1")
	f.Add(validTP+"\n"+validTP, "a=1\nb=2", "a=1\nb=2")
	f.Add("cc-"+validTraceID+"-"+validSpanID+"-01-future", "a=1,a=2", "k = v ; p ; q = r , ,x=%41")
	f.Add("00-"+strings.ToUpper(validTraceID)+"-"+validSpanID+"-01", "A=1", "a b=1,c=%zz,d=é")
	f.Add(validTP, strings.Repeat("a=1,", 33), strings.Repeat("k=v,", 70)+"\n"+strings.Repeat("j=%FF", 1000))
	f.Add(validTP+","+validTP, strings.Repeat("x", 40<<10), "a="+strings.Repeat("v", 4500)+",b="+strings.Repeat("v", 4500)+",c=1")

	requireNoGlobalPropagator(f)
	f.Fuzz(func(t *testing.T, traceparent, tracestate, bag string) {
		h := http.Header{}
		for k, v := range map[string]string{"Traceparent": traceparent, "Tracestate": tracestate, "Baggage": bag} {
			if v != "" {
				h[k] = strings.Split(v, "\n")
			}
		}
		ctx := propagation.Extract(context.Background(), &http.Request{Header: h})

		sc := trace.SpanContextFromContext(ctx)
		if sc.IsValid() {
			require.Len(t, h["Traceparent"], 1, "a duplicated traceparent is invalid")
			require.True(t, sc.IsRemote())
		}
		b := baggage.FromContext(ctx)
		require.LessOrEqual(t, b.Len(), 64)
		require.LessOrEqual(t, len(b.String()), 8192)

		// What was extracted can be sent on, as valid fields.
		out := &http.Request{URL: &url.URL{Scheme: "http", Host: "127.0.0.1"}}
		propagation.Inject(ctx, out)
		if !sc.IsValid() {
			require.Empty(t, out.Header["Traceparent"])
		} else {
			require.Len(t, out.Header["Traceparent"], 1)
			again := trace.SpanContextFromContext(propagation.Extract(context.Background(), out))
			require.Equal(t, sc.TraceID(), again.TraceID())
			require.Equal(t, sc.SpanID(), again.SpanID())
			require.Equal(t, sc.TraceFlags(), again.TraceFlags())
			require.Equal(t, sc.TraceState().String(), again.TraceState().String())
		}
		if vs, ok := out.Header["Baggage"]; ok {
			require.Len(t, vs, 1)
			require.NotEmpty(t, vs[0])
			require.LessOrEqual(t, len(vs[0]), 8192)
			sent, err := baggage.Parse(vs[0])
			require.NoError(t, err)
			require.NotZero(t, sent.Len())
			for _, m := range sent.Members() {
				require.Equal(t, b.Member(m.Key()).Value(), m.Value())
			}
		}
	})
}
