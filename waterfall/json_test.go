package waterfall_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/waterfall"
)

// jsonLine is the documented contract of JSONExporter.
type jsonLine struct {
	Name         string         `json:"name"`
	TraceID      string         `json:"trace_id"`
	SpanID       string         `json:"span_id"`
	ParentSpanID string         `json:"parent_span_id"`
	Kind         string         `json:"kind"`
	Start        string         `json:"start"`
	End          string         `json:"end"`
	DurationMS   float64        `json:"duration_ms"`
	Status       map[string]any `json:"status"`
	Attributes   map[string]any `json:"attributes"`
	Events       []struct {
		Name       string         `json:"name"`
		Time       string         `json:"time"`
		Attributes map[string]any `json:"attributes"`
	} `json:"events"`
}

func exportJSON(t *testing.T, spans []sdktrace.ReadOnlySpan) string {
	t.Helper()
	var buf bytes.Buffer
	exp := waterfall.NewJSONExporter(&buf)
	require.NoError(t, exp.ExportSpans(context.Background(), spans))
	require.NoError(t, exp.ForceFlush(context.Background()))
	require.NoError(t, exp.Shutdown(context.Background()))
	return buf.String()
}

// parseLines decodes every line of out strictly: each must be one object
// with only the documented fields, all present.
func parseLines(t *testing.T, out string) []jsonLine {
	t.Helper()
	var lines []jsonLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(sc.Bytes(), &fields), "line: %s", sc.Text())
		for _, f := range []string{
			"name", "trace_id", "span_id", "parent_span_id", "kind", "start", "end",
			"duration_ms", "status", "attributes", "events",
		} {
			assert.Contains(t, fields, f, "line: %s", sc.Text())
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var l jsonLine
		require.NoError(t, dec.Decode(&l), "line: %s", sc.Text())
		lines = append(lines, l)
	}
	require.NoError(t, sc.Err())
	return lines
}

func TestJSONExporterContract(t *testing.T) {
	f := coldHTTPS()
	out := exportJSON(t, f.spans())
	checkGolden(t, "cold_https_jsonl", out)

	lines := parseLines(t, out)
	require.Len(t, lines, len(f.stubs), "one line per span")
	req, dns := lines[0], lines[2]
	assert.Equal(t, "GET", req.Name)
	assert.Equal(t, "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b", req.TraceID)
	assert.Equal(t, "0000000000000001", req.SpanID)
	assert.Empty(t, req.ParentSpanID)
	assert.Equal(t, "client", req.Kind)
	assert.Equal(t, "2025-01-02T03:04:05Z", req.Start)
	assert.Equal(t, "2025-01-02T03:04:05.1204Z", req.End)
	assert.InDelta(t, 120.4, req.DurationMS, 1e-9)
	assert.Equal(t, map[string]any{"code": "Unset", "description": ""}, req.Status)
	assert.Equal(t, "https://example.com/index.html", req.Attributes["url.full"])
	assert.InDelta(t, 200, req.Attributes["http.response.status_code"], 0)
	require.Len(t, req.Events, 2)
	assert.Equal(t, "http.first_response_byte", req.Events[0].Name)
	assert.Equal(t, "2025-01-02T03:04:05.0952Z", req.Events[0].Time)
	assert.NotNil(t, req.Events[0].Attributes, "attributes are an object, even empty")

	assert.Equal(t, "http.dns", dns.Name)
	assert.Equal(t, "0000000000000002", dns.ParentSpanID)
	assert.Equal(t, "internal", dns.Kind)
	assert.Equal(t, []any{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"}, dns.Attributes["dns.answers"])
	assert.NotNil(t, dns.Events, "events are an array, even empty")
}

func TestJSONExporterValues(t *testing.T) {
	f := newFixture(0x22)
	s := f.add(nil, "values", 0, 1,
		attribute.Bool("bool", true),
		attribute.Int64("int", math.MaxInt64),
		attribute.Float64("float", 1.5),
		attribute.Float64("nan", math.NaN()),
		attribute.Float64("inf", math.Inf(1)),
		attribute.Float64Slice("floats", []float64{1, math.Inf(-1)}),
		attribute.String("html", "<a href=\"?x=1&y=2\">"),
		attribute.String("dup", "first"),
		attribute.String("dup", "last"),
	)
	fail(s, "timeout", "deadline exceeded")
	f.add(s, "odd end", 2, 0).EndTime = at(0).AddDate(-2025, 0, 0) // year 0, before its start
	out := exportJSON(t, f.spans())
	assert.Contains(t, out, `"int":9223372036854775807`, "integers keep all their bits")
	assert.Contains(t, out, `"html":"<a href=\"?x=1&y=2\">"`, "no HTML escaping")

	lines := parseLines(t, out)
	require.Len(t, lines, 2)
	a := lines[0].Attributes
	assert.Equal(t, true, a["bool"])
	assert.InDelta(t, 1.5, a["float"], 0)
	assert.Equal(t, "NaN", a["nan"])
	assert.Equal(t, "Infinity", a["inf"])
	assert.Equal(t, []any{1.0, "-Infinity"}, a["floats"])
	assert.Equal(t, "last", a["dup"], "the last value of a key wins")
	assert.Equal(t, map[string]any{"code": "Error", "description": "deadline exceeded"}, lines[0].Status)
	assert.Equal(t, "0000000000000001", lines[1].ParentSpanID)
}

func TestJSONExporterShutdown(t *testing.T) {
	var buf bytes.Buffer
	exp := waterfall.NewJSONExporter(&buf)
	require.NoError(t, exp.Shutdown(context.Background()))
	require.Error(t, exp.ExportSpans(context.Background(), coldHTTPS().spans()))
	require.NoError(t, exp.Shutdown(context.Background()))
	assert.Empty(t, buf.String())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp = waterfall.NewJSONExporter(&buf)
	require.ErrorIs(t, exp.ExportSpans(ctx, coldHTTPS().spans()), context.Canceled)
	require.ErrorIs(t, exp.ForceFlush(ctx), context.Canceled)
	assert.Empty(t, buf.String())
}

func TestJSONExporterConcurrentLinesStayWhole(t *testing.T) {
	var w writeRecorder
	exp := waterfall.NewJSONExporter(&w)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				assert.NoError(t, exp.ExportSpans(context.Background(), coldHTTPS().spans()))
			}
		})
	}
	wg.Wait()
	require.Len(t, w.writes, 80, "one write per call")
	all := strings.Join(w.writes, "")
	assert.Len(t, parseLines(t, all), 80*len(coldHTTPS().stubs))
}
