package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connspans-traces.json is what Jaeger answered to
// /api/traces?service=wiretrace-e2e-connspans after
// "wiretrace -connspans -otlp grpc://127.0.0.1:4317 -service wiretrace-e2e-connspans":
// the demo's six steps and the two connection setups (one refused).
func loadConnSpans(t *testing.T) []jaegerTrace {
	t.Helper()
	b, err := os.ReadFile("testdata/connspans-traces.json")
	require.NoError(t, err)
	traces, err := parseTraces(b)
	require.NoError(t, err)
	require.Len(t, traces, 8)
	return traces
}

// lookupIn answers /api/traces/{id} from traces.
func lookupIn(traces []jaegerTrace) func(context.Context, string) (jaegerTrace, error) {
	return func(_ context.Context, id string) (jaegerTrace, error) {
		for _, t := range traces {
			if t.TraceID == id {
				return t, nil
			}
		}
		return jaegerTrace{}, fmt.Errorf("GET /api/traces/%s: 404 Not Found", id)
	}
}

func TestCheckConnSpansAcceptsTheCLIDemo(t *testing.T) {
	traces := loadConnSpans(t)
	setups, linked, err := checkConnSpans(t.Context(), traces, "wiretrace-e2e-connspans", lookupIn(traces))
	require.NoError(t, err)
	assert.Equal(t, 1, setups, "every request of the demo went over one connection")
	assert.Equal(t, 8, linked, "cold, warm, four redirect hops, slow, early hints")
}

func TestCheckConnSpansRejects(t *testing.T) {
	tests := []struct {
		name   string
		spoil  func(traces []jaegerTrace) []jaegerTrace
		lookup func(all []jaegerTrace) func(context.Context, string) (jaegerTrace, error)
		want   string
	}{
		{
			name: "a request without its link",
			spoil: func(traces []jaegerTrace) []jaegerTrace {
				for i := range traces {
					for j := range traces[i].Spans {
						s := &traces[i].Spans[j]
						if s.OperationName == "GET" && succeeded(s) {
							var kept []reference
							for _, r := range s.References {
								if r.RefType != "FOLLOWS_FROM" {
									kept = append(kept, r)
								}
							}
							s.References = kept
							return traces
						}
					}
				}
				return traces
			},
			want: "0 FOLLOWS_FROM references, want 1",
		},
		{
			name:   "a setup trace the query API does not have",
			lookup: func([]jaegerTrace) func(context.Context, string) (jaegerTrace, error) { return lookupIn(nil) },
			want:   "404 Not Found",
		},
		{
			name: "a link to a span that is not a setup",
			spoil: func(traces []jaegerTrace) []jaegerTrace {
				for i := range traces {
					for j := range traces[i].Spans {
						if s := &traces[i].Spans[j]; len(s.OperationName) > len(connSetupPrefix) && s.OperationName[:len(connSetupPrefix)] == connSetupPrefix {
							s.OperationName = "something else"
						}
					}
				}
				return traces
			},
			want: "want an internal",
		},
		{
			name: "no connection served two requests",
			spoil: func(traces []jaegerTrace) []jaegerTrace {
				var out []jaegerTrace
				gets := 0
				for _, t := range traces {
					n := 0
					for i := range t.Spans {
						if s := &t.Spans[i]; s.OperationName == "GET" && succeeded(s) {
							n++
						}
					}
					if n == 1 && gets == 0 || n == 0 {
						gets += n
						out = append(out, t)
					}
				}
				return out
			},
			want: "no connection setup served two requests",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			traces := loadConnSpans(t)
			if tt.spoil != nil {
				traces = tt.spoil(traces)
			}
			lookup := lookupIn(traces)
			if tt.lookup != nil {
				lookup = tt.lookup(traces)
			}
			_, _, err := checkConnSpans(t.Context(), traces, "wiretrace-e2e-connspans", lookup)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
