package propagation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

const (
	validTraceID = "0af7651916cd43dd8448eb211c80319c"
	validSpanID  = "b7ad6b7169203331"
	validTP      = "00-" + validTraceID + "-" + validSpanID + "-01"
)

// TestExtractHostileHeaders sends malformed, oversized, duplicated and
// hostile trace context fields to a real server, whose handler uses Extract:
// it always answers 200 with a clean context, or the valid part.
func TestExtractHostileHeaders(t *testing.T) {
	requireNoGlobalPropagator(t)
	srv := newObserver(t, jsonObserver)
	addr := srv.Listener.Addr().String()
	members32 := make([]string, 32)
	for i := range members32 {
		members32[i] = string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "=1"
	}

	tests := []struct {
		name  string
		lines []string
		// wantValid says whether the server finds a parent span.
		wantValid      bool
		wantTraceState string
		wantMembers    []string
	}{
		{name: "no fields"},
		{name: "valid", lines: []string{"traceparent: " + validTP}, wantValid: true},
		{name: "valid, any case", lines: []string{"TraceParent: " + validTP}, wantValid: true},
		{name: "duplicated", lines: []string{"traceparent: " + validTP, "traceparent: " + validTP}},
		{name: "duplicated, different", lines: []string{"traceparent: " + validTP, "traceparent: " + staleTraceparent}},
		{name: "duplicated in one line", lines: []string{"traceparent: " + validTP + "," + validTP}},
		{name: "empty", lines: []string{"traceparent: "}},
		{name: "upper-case hex", lines: []string{"traceparent: 00-" + strings.ToUpper(validTraceID) + "-" + validSpanID + "-01"}},
		{name: "version ff", lines: []string{"traceparent: ff-" + validTraceID + "-" + validSpanID + "-01"}},
		{name: "version 00 with more fields", lines: []string{"traceparent: " + validTP + "-00"}},
		{name: "future version with more fields", lines: []string{"traceparent: cc-" + validTraceID + "-" + validSpanID + "-01-what-the-future-holds"}, wantValid: true},
		{name: "zero trace ID", lines: []string{"traceparent: 00-00000000000000000000000000000000-" + validSpanID + "-01"}},
		{name: "zero span ID", lines: []string{"traceparent: 00-" + validTraceID + "-0000000000000000-01"}},
		{name: "short trace ID", lines: []string{"traceparent: 00-" + validTraceID[1:] + "-" + validSpanID + "-01"}},
		{name: "non-hex", lines: []string{"traceparent: 00-" + strings.Repeat("g", 32) + "-" + validSpanID + "-01"}},
		{name: "non-ASCII", lines: []string{"traceparent: 00-" + validTraceID[:30] + "é-" + validSpanID + "-01"}},
		{name: "oversized", lines: []string{"traceparent: cc-" + validTraceID + "-" + validSpanID + "-01-" + strings.Repeat("a", 64<<10)}},
		{name: "tracestate without traceparent", lines: []string{"tracestate: a=1"}},
		{name: "tracestate", lines: []string{"traceparent: " + validTP, "tracestate: a=1,b=2"}, wantValid: true, wantTraceState: "a=1,b=2"},
		{name: "tracestate in two lines", lines: []string{"traceparent: " + validTP, "tracestate: a=1", "tracestate: b=2"}, wantValid: true, wantTraceState: "a=1,b=2"},
		{name: "invalid tracestate keeps the traceparent", lines: []string{"traceparent: " + validTP, "tracestate: A=1"}, wantValid: true},
		{name: "duplicated tracestate key", lines: []string{"traceparent: " + validTP, "tracestate: a=1,a=2"}, wantValid: true},
		{name: "32 tracestate members", lines: []string{"traceparent: " + validTP, "tracestate: " + strings.Join(members32, ",")}, wantValid: true, wantTraceState: strings.Join(members32, ",")},
		{name: "33 tracestate members", lines: []string{"traceparent: " + validTP, "tracestate: " + strings.Join(members32, ",") + ",zz=1"}, wantValid: true},
		{name: "oversized tracestate", lines: []string{"traceparent: " + validTP, "tracestate: a=" + strings.Repeat("1", 64<<10)}, wantValid: true},
		{
			name:  "hostile everything",
			lines: []string{"traceparent: " + validTP, "traceparent: x", "tracestate: ,,,", "baggage: \"k\"=\"v\"", "baggage: a=1"},
			// The duplicated traceparent is dropped; the valid baggage
			// member is kept.
			wantMembers: []string{"a=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := rawRequest(t, addr, tt.lines)
			require.Equal(t, http.StatusOK, resp.StatusCode, "never an error response")
			assert.Equal(t, tt.wantValid, got.Valid)
			if tt.wantValid {
				assert.Equal(t, validTraceID, got.TraceID)
				assert.Equal(t, validSpanID, got.SpanID)
				assert.True(t, got.Sampled)
			}
			assert.Equal(t, tt.wantTraceState, got.TraceState)
			assert.Equal(t, tt.wantMembers, got.Members)
		})
	}
}

// TestExtractHeaderValues checks the same rules on header maps that a
// client could not send, such as non-canonical keys.
func TestExtractHeaderValues(t *testing.T) {
	tests := []struct {
		name      string
		header    http.Header
		wantValid bool
	}{
		{"canonical", http.Header{"Traceparent": {validTP}}, true},
		{"non-canonical key is not read, as in http.Header.Get", http.Header{"traceparent": {validTP}}, false},
		{"two values", http.Header{"Traceparent": {validTP, validTP}}, false},
		{"empty slice", http.Header{"Traceparent": {}}, false},
		{"nil map", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http.Request{Header: tt.header}
			sc := trace.SpanContextFromContext(propagation.Extract(context.Background(), req))
			assert.Equal(t, tt.wantValid, sc.IsValid())
		})
	}
}
