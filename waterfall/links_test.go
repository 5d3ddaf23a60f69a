package waterfall_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/waterfall"
)

// connModel is otelhooks' WithConnectionSpans: a connection set up in a
// trace of its own, with a dead IPv6 attempt; the request that waited for
// it; and a request of a later trace that reused it.
func connModel() []sdktrace.ReadOnlySpan {
	setup := newFixture(0xc5)
	root := setup.add(nil, "HTTP connection_setup example.com:443", 0, 45,
		attribute.String("server.address", "example.com"),
		attribute.Int("server.port", 443),
		attribute.String("url.scheme", "https"),
		attribute.Int("wiretrace.conn.id", 7),
		attribute.String("network.peer.address", "93.184.216.34"))
	setup.add(root, "DNS lookup example.com", 0, 8,
		attribute.String("dns.question.name", "example.com"),
		attribute.StringSlice("dns.answers", []string{"2606:2800:220:1::", "93.184.216.34"}))
	dead := setup.add(root, "socket connect [2606:2800:220:1::]:443", 8, 21, connect("ipv6", "2606:2800:220:1::", 443, false)[:2]...)
	fail(dead, "unreachable", "connect: network is unreachable")
	setup.add(root, "socket connect 93.184.216.34:443", 8.3, 19, connect("ipv4", "93.184.216.34", 443, true)...)
	setup.add(root, "TLS client handshake example.com", 19, 45, tlsDone("h2")...)

	link := func(requests int64, age float64) []sdktrace.Link {
		return []sdktrace.Link{{SpanContext: root.SpanContext, Attributes: []attribute.KeyValue{
			attribute.Int("wiretrace.conn.id", 7),
			attribute.Int64("wiretrace.conn.requests", requests),
			attribute.Float64("wiretrace.conn.age_s", age),
		}}}
	}
	phases := func(f *fixture, req *tracetest.SpanStub, start float64) {
		f.add(req, "http.send", start, start+1)
		f.add(req, "http.wait", start+1, start+60)
		f.add(req, "http.receive", start+60, start+70, attribute.Int("http.response.body.size", 1234))
	}
	response := []attribute.KeyValue{
		attribute.String("network.protocol.version", "2"),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("http.response.body.size", 1234),
	}

	first := newFixture(0xa1)
	req := first.request(nil, "GET", "https://example.com/", "example.com", 443, 0, 115, response...)
	req.Links = link(1, 0)
	wait := first.add(req, "HTTP wait_for_connection example.com:443", 0, 45)
	wait.Links = link(1, 0)
	phases(first, req, 45)

	second := newFixture(0xa2)
	req2 := second.request(nil, "GET", "https://example.com/next", "example.com", 443, 5000, 5070, response...)
	req2.Links = link(2, 4.955)
	phases(second, req2, 5000)

	return append(append(setup.spans(), first.spans()...), second.spans()...)
}

func TestGoldenConnectionModel(t *testing.T) {
	for _, color := range []bool{false, true} {
		name := "conn_model"
		if color {
			name += "_color"
		}
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			exp := waterfall.NewExporter(&buf, waterfall.WithWidth(110), waterfall.WithColor(color))
			require.NoError(t, exp.ExportSpans(context.Background(), connModel()))
			require.NoError(t, exp.Shutdown(context.Background()))
			assertFits(t, buf.String(), 110)
			checkGolden(t, name, buf.String())
		})
	}
}

func TestLinkedSetupSeenInAnEarlierExport(t *testing.T) {
	spans := connModel()
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(110), waterfall.WithColor(false))
	// The setup's trace is written when it is complete, before the
	// requests it serves end.
	require.NoError(t, exp.ExportSpans(context.Background(), spans[:5]))
	setupOut := buf.String()
	assert.Contains(t, setupOut, "HTTP connection_setup example.com:443")
	require.NoError(t, exp.ExportSpans(context.Background(), spans[5:]))
	require.NoError(t, exp.Shutdown(context.Background()))
	requests := strings.TrimPrefix(buf.String(), setupOut)
	assert.Equal(t, 2, strings.Count(requests, "setup, linked"), "one linked row per request, none for the wait:\n%s", requests)
}

func TestLinkToUnknownSpanAddsNoRow(t *testing.T) {
	spans := connModel()[5:] // the requests, without the setup's trace
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(110), waterfall.WithColor(false))
	require.NoError(t, exp.ExportSpans(context.Background(), spans))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.NotContains(t, buf.String(), "setup, linked")
}

func TestJSONLinks(t *testing.T) {
	spans := connModel()
	var buf bytes.Buffer
	exp := waterfall.NewJSONExporter(&buf)
	require.NoError(t, exp.ExportSpans(context.Background(), spans))
	var withLinks, without int
	for line := range strings.Lines(buf.String()) {
		var s struct {
			Name  string `json:"name"`
			Links []struct {
				TraceID    string         `json:"trace_id"`
				SpanID     string         `json:"span_id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"links"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &s))
		if len(s.Links) == 0 {
			without++
			assert.NotContains(t, line, `"links"`, "no links, no field")
			continue
		}
		withLinks++
		require.Len(t, s.Links, 1)
		assert.Equal(t, strings.Repeat("c5", 16), s.Links[0].TraceID)
		assert.Equal(t, "0000000000000001", s.Links[0].SpanID)
		assert.InDelta(t, 7, s.Links[0].Attributes["wiretrace.conn.id"], 0)
	}
	assert.Equal(t, 3, withLinks, "two requests and one wait")
	assert.Positive(t, without)
}

func TestLinkedSetupCarriesTheConnectionsTCPFacts(t *testing.T) {
	spans := connModel()
	setup := tracetest.SpanStubFromReadOnlySpan(spans[0])
	req := newFixture(0xa3)
	r := req.request(nil, "GET", "https://example.com/", "example.com", 443, 0, 10,
		attribute.Float64("wiretrace.tcp.rtt_s", 0.000029),
		attribute.Float64("wiretrace.tcp.rtt_var_s", 0.000016),
		attribute.Int("wiretrace.tcp.retransmits", 0),
		attribute.Int("wiretrace.tcp.snd_cwnd", 10))
	r.Links = []sdktrace.Link{{SpanContext: setup.SpanContext}}
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(140), waterfall.WithColor(false))
	require.NoError(t, exp.ExportSpans(context.Background(), append(spans[:5:5], req.spans()...)))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Regexp(t, `↗ setup, linked example\.com:443 conn #7 rtt 29µs`, buf.String())
}
