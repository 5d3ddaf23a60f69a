package propagation

import (
	"net/http"
	"net/textproto"
	"strings"

	otelpropagation "go.opentelemetry.io/otel/propagation"
)

// The canonical header keys of the W3C fields.
const (
	traceparentKey = "Traceparent"
	tracestateKey  = "Tracestate"
	baggageKey     = "Baggage"
)

// Extraction limits on the W3C Trace Context headers,
// https://www.w3.org/TR/trace-context/#traceparent-header and
// https://www.w3.org/TR/trace-context/#tracestate-header.
const (
	// maxTraceparentBytes bounds a traceparent value. Version 00 has 55
	// bytes; later versions may append fields, and this leaves them room.
	maxTraceparentBytes = 512
	// maxTracestateBytes bounds the combined tracestate: twice what 32
	// list-members of 256-byte keys and 256-byte values take, with their
	// separators (32896 bytes).
	maxTracestateBytes = 2 * 32 * (256 + 1 + 256 + 1)
)

// canonicalKey returns the canonical form of a header key, without
// allocating for the W3C fields.
func canonicalKey(key string) string {
	switch key {
	case "traceparent", traceparentKey:
		return traceparentKey
	case "tracestate", tracestateKey:
		return tracestateKey
	case "baggage", baggageKey:
		return baggageKey
	}
	return textproto.CanonicalMIMEHeaderKey(key)
}

// injectCarrier is the TextMapCarrier that Inject writes to. Set replaces
// every value of the key with a single one. Being a map, it converts to an
// interface without allocating.
type injectCarrier http.Header

var _ otelpropagation.TextMapCarrier = injectCarrier(nil)

func (c injectCarrier) Get(key string) string {
	if vs := c[canonicalKey(key)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (c injectCarrier) Set(key, value string) {
	c[canonicalKey(key)] = []string{value}
}

func (c injectCarrier) Keys() []string {
	return headerKeys(http.Header(c))
}

// extractCarrier is the TextMapCarrier that Extract reads from. It applies
// the W3C rules to the W3C fields, so that any propagator reading them sees
// only what could be valid:
//
//   - traceparent: a field sent more than once, whether as repeated header
//     lines or comma-separated in one line, is invalid and reads as empty,
//     and so does one longer than maxTraceparentBytes.
//   - tracestate: repeated lines are combined with commas, as RFC 9110
//     section 5.3 allows for list-based fields; a combined value longer than
//     maxTracestateBytes reads as empty.
//   - baggage: repeated lines are combined, and only the list-members that
//     are valid and fit within the limits are kept (see sanitizeBaggage).
//
// Other keys read as in http.Header.
type extractCarrier http.Header

var (
	_ otelpropagation.TextMapCarrier = extractCarrier(nil)
	_ otelpropagation.ValuesGetter   = extractCarrier(nil)
)

func (c extractCarrier) Get(key string) string {
	switch k := canonicalKey(key); k {
	case traceparentKey:
		return c.traceparent()
	case tracestateKey:
		return c.tracestate()
	case baggageKey:
		return sanitizeBaggage(c[baggageKey])
	default:
		if vs := c[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
}

func (c extractCarrier) Values(key string) []string {
	var v string
	switch k := canonicalKey(key); k {
	case traceparentKey:
		v = c.traceparent()
	case tracestateKey:
		v = c.tracestate()
	case baggageKey:
		v = sanitizeBaggage(c[baggageKey])
	default:
		return c[k]
	}
	if v == "" {
		return nil
	}
	return []string{v}
}

func (c extractCarrier) Set(string, string) {}

func (c extractCarrier) Keys() []string {
	return headerKeys(http.Header(c))
}

func (c extractCarrier) traceparent() string {
	vs := c[traceparentKey]
	if len(vs) != 1 || len(vs[0]) > maxTraceparentBytes || strings.Contains(vs[0], ",") {
		return ""
	}
	return vs[0]
}

func (c extractCarrier) tracestate() string {
	vs := c[tracestateKey]
	switch len(vs) {
	case 0:
		return ""
	case 1:
		if len(vs[0]) > maxTracestateBytes {
			return ""
		}
		return vs[0]
	}
	n := len(vs) - 1
	for _, v := range vs {
		n += len(v)
	}
	if n > maxTracestateBytes {
		return ""
	}
	return strings.Join(vs, ",")
}

func headerKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
