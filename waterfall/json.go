package waterfall

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// JSONExporter is an [sdktrace.SpanExporter] that writes each span as one
// line of JSON, for scripts. Unlike the waterfall of [Exporter], its output
// is a stable contract: fields are only ever added.
//
// Each line is an object with these fields, all always present:
//
//	name            string  the span name, e.g. "GET" or "http.dns"
//	trace_id        string  32 lowercase hex digits
//	span_id         string  16 lowercase hex digits
//	parent_span_id  string  16 lowercase hex digits of the parent span,
//	                        local or remote; "" if the span has no parent
//	kind            string  "internal", "server", "client", "producer",
//	                        "consumer" or "unspecified"
//	start           string  RFC 3339 in UTC with up to nanoseconds,
//	                        e.g. "2025-01-02T03:04:05.123456789Z"
//	end             string  likewise; "0001-01-01T00:00:00Z" if the span
//	                        has no end time
//	duration_ms     number  end minus start in milliseconds, with a
//	                        fraction; 0 if either is missing
//	status          object  {"code": "Unset" | "Ok" | "Error",
//	                         "description": string, "" if none}
//	attributes      object  attribute key to value, see below
//	events          array   [{"name": string, "time": string as start,
//	                          "attributes": object}], in recorded order;
//	                        [] if none
//
// One field is present only when the span has some:
//
//	links           array   [{"trace_id": string, "span_id": string,
//	                          "attributes": object}], the spans it links
//	                        to, in recorded order: with otelhooks'
//	                        WithConnectionSpans, the setup span of the
//	                        connection that served a request
//
// Attribute values follow the OpenTelemetry rules for non-OTLP formats:
// booleans, integers and floats are JSON literals, strings are strings,
// byte arrays are base64 strings, arrays and maps are JSON arrays and
// objects, and an empty value is null. Floats that JSON cannot hold are the
// strings "NaN", "Infinity" and "-Infinity". Integers keep all 64 bits in
// the text; readers that parse numbers as float64 lose precision past 2^53.
// When a key occurs twice, the last value wins.
//
// Spans are written in the order they are exported, which for the SDK is
// the order they end: children before their parents. Nothing is held back,
// so ForceFlush has nothing to do.
//
// All methods are safe to be called concurrently; each call to ExportSpans
// writes its lines in one Write, holding a lock. After Shutdown,
// ExportSpans returns an error and writes nothing.
type JSONExporter struct {
	w io.Writer

	mu      sync.Mutex // guards stopped and writes to w
	stopped bool
}

var _ sdktrace.SpanExporter = (*JSONExporter)(nil)

// NewJSONExporter returns a JSONExporter that writes to w, or to os.Stdout
// if w is nil.
func NewJSONExporter(w io.Writer) *JSONExporter {
	if w == nil {
		w = os.Stdout
	}
	return &JSONExporter{w: w}
}

type jsonSpan struct {
	Name         string         `json:"name"`
	TraceID      string         `json:"trace_id"`
	SpanID       string         `json:"span_id"`
	ParentSpanID string         `json:"parent_span_id"`
	Kind         string         `json:"kind"`
	Start        string         `json:"start"`
	End          string         `json:"end"`
	DurationMS   float64        `json:"duration_ms"`
	Status       jsonStatus     `json:"status"`
	Attributes   map[string]any `json:"attributes"`
	Events       []jsonEvent    `json:"events"`
	Links        []jsonLink     `json:"links,omitempty"`
}

type jsonStatus struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

type jsonEvent struct {
	Name       string         `json:"name"`
	Time       string         `json:"time"`
	Attributes map[string]any `json:"attributes"`
}

// ExportSpans writes one line of JSON per span. It returns ctx's error,
// writing nothing, if ctx is already done; an error after Shutdown; and the
// error of writing, if any. Nil spans are ignored. This method is safe to be
// called concurrently.
func (e *JSONExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, s := range spans {
		if s == nil {
			continue
		}
		if err := enc.Encode(toJSON(s)); err != nil {
			return fmt.Errorf("waterfall: encode span %q: %w", s.Name(), err)
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return errShutdown
	}
	if buf.Len() == 0 {
		return nil
	}
	if _, err := e.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("waterfall: write: %w", err)
	}
	return nil
}

// ForceFlush does nothing: nothing is held back. It returns ctx's error if
// ctx is already done.
func (*JSONExporter) ForceFlush(ctx context.Context) error {
	if ctx != nil {
		return ctx.Err()
	}
	return nil
}

// Shutdown stops the exporter: later calls to ExportSpans return an error.
// Calling it again does nothing. This method is safe to be called
// concurrently.
func (e *JSONExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	return nil
}

func toJSON(s sdktrace.ReadOnlySpan) jsonSpan {
	sc := s.SpanContext()
	j := jsonSpan{
		Name:       s.Name(),
		TraceID:    sc.TraceID().String(),
		SpanID:     sc.SpanID().String(),
		Kind:       s.SpanKind().String(),
		Start:      jsonTime(s.StartTime()),
		End:        jsonTime(s.EndTime()),
		Status:     jsonStatus{Code: s.Status().Code.String(), Description: s.Status().Description},
		Attributes: jsonAttrs(s.Attributes()),
		Events:     make([]jsonEvent, 0, len(s.Events())),
	}
	if p := s.Parent(); p.HasSpanID() {
		j.ParentSpanID = p.SpanID().String()
	}
	if start, end := s.StartTime(), s.EndTime(); !start.IsZero() && !end.IsZero() {
		j.DurationMS = float64(end.Sub(start)) / float64(time.Millisecond)
	}
	j.Links = jsonLinks(s.Links())
	for _, ev := range s.Events() {
		j.Events = append(j.Events, jsonEvent{
			Name:       ev.Name,
			Time:       jsonTime(ev.Time),
			Attributes: jsonAttrs(ev.Attributes),
		})
	}
	return j
}

func jsonTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func jsonAttrs(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = jsonValue(kv.Value)
	}
	return m
}

// jsonValue converts v to a value encoding/json writes as the OpenTelemetry
// rules for non-OTLP formats ask.
func jsonValue(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return jsonFloat(v.AsFloat64())
	case attribute.STRING:
		return v.AsString()
	case attribute.BOOLSLICE:
		return v.AsBoolSlice()
	case attribute.INT64SLICE:
		return v.AsInt64Slice()
	case attribute.FLOAT64SLICE:
		fs := v.AsFloat64Slice()
		out := make([]any, len(fs))
		for i, f := range fs {
			out[i] = jsonFloat(f)
		}
		return out
	case attribute.STRINGSLICE:
		return v.AsStringSlice()
	case attribute.BYTESLICE:
		return v.AsByteSlice() // encoding/json writes base64
	case attribute.SLICE:
		vs := v.AsSlice()
		out := make([]any, len(vs))
		for i, e := range vs {
			out[i] = jsonValue(e)
		}
		return out
	case attribute.MAP:
		return jsonAttrs(v.AsMap())
	case attribute.EMPTY:
		return nil
	}
	return v.String()
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}
