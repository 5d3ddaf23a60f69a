package otelhooks

import (
	"net/http"
	"net/textproto"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/propagation"
)

// config is the configuration NewTransport and NewClientTrace build from
// their options. It is read-only once built: what changes at run time is the
// transport's.
type config struct {
	provider        trace.TracerProvider
	propOpts        []propagation.Option
	events          bool // WithoutSubSpans: phases are events, not spans
	noRequestSpan   bool
	requestHeaders  []string
	responseHeaders []string
	redacted        []string
	spanName        func(*http.Request) string
	filters         []func(*http.Request) bool
	meterProvider   metric.MeterProvider
	noMetrics       bool

	// Resolved by newConfig.
	reqHeaders  []headerKey
	respHeaders []headerKey
}

// Option configures [NewTransport], [NewClientTrace] and [InstrumentDialer].
// Options are applied in order: when one setting is given twice, the last one
// wins, except for the options said to be additive. A nil Option is ignored.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// newConfig returns the defaults with opts applied in order, nil ones
// skipped, and what they ask for resolved.
func newConfig(opts []Option) *config {
	c := config{spanName: defaultSpanName}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	redacted := make(map[string]bool, len(alwaysRedacted)+len(c.redacted))
	for _, k := range alwaysRedacted {
		redacted[k] = true
	}
	for _, k := range c.redacted {
		redacted[textproto.CanonicalMIMEHeaderKey(k)] = true
	}
	c.reqHeaders = headerKeys(c.requestHeaders, requestHeaderKey, redacted)
	c.respHeaders = headerKeys(c.responseHeaders, responseHeaderKey, redacted)
	return &c
}

// WithTracerProvider sets the provider of the tracer that creates spans.
// Without it, or with nil, each request uses the provider of the span in its
// context if that span is valid, and the global provider otherwise, as
// otelhttp does.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		c.provider = tp
		return c
	})
}

// WithMeterProvider sets the provider of the meter that records the HTTP
// client metrics (docs/metrics.md). Without it, or with nil, the global
// provider is used, which records nothing until the application sets one.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.meterProvider = mp
		return c
	})
}

// WithoutMetrics turns the metrics of NewTransport off, whatever the meter
// provider. Without it, metrics are recorded when the provider records them.
func WithoutMetrics() Option {
	return optionFunc(func(c config) config {
		c.noMetrics = true
		return c
	})
}

// WithPropagators sets the propagator that injects the request span's
// context into outgoing requests, as otelhttp's option of the same name does.
// Without it, or with nil, the propagation package's default applies: the
// global propagator once the application has set one, W3C Trace Context and
// Baggage until then. The other settings of the propagation package (host
// policy, baggage filters) go through [WithPropagationOptions].
func WithPropagators(p otelprop.TextMapPropagator) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.propOpts = append(c.propOpts, propagation.WithPropagators(p))
		}
		return c
	})
}

// WithPropagationOptions passes options to the propagation package, such as
// a host policy that keeps baggage from untrusted destinations
// ([propagation.WithHostPolicy]). Repeated use is additive, and adds to
// [WithPropagators]; for options that replace each other, the last one wins.
func WithPropagationOptions(opts ...propagation.Option) Option {
	return optionFunc(func(c config) config {
		c.propOpts = append(c.propOpts, opts...)
		return c
	})
}

// WithoutSubSpans records the phases of a request as span events on the
// request span (or, for NewClientTrace, on the span in the context) instead
// of as child spans: "http.dns.start" and "http.dns.done" instead of an
// "http.dns" span, with the same attributes. It is otelhttptrace's option of
// the same name. Without it, each phase is a child span.
func WithoutSubSpans() Option {
	return optionFunc(func(c config) config {
		c.events = true
		return c
	})
}

// WithoutRequestSpan makes NewTransport start no request span of its own:
// the phases become children (or events) of the span already in the
// request's context, such as the client span of an otelhttp.Transport
// wrapped around this one. The propagation still happens, from that span.
// Without it, NewTransport starts a client span per round trip.
func WithoutRequestSpan() Option {
	return optionFunc(func(c config) config {
		c.noRequestSpan = true
		return c
	})
}

// WithRequestHeaders records the values of the given request headers as
// "http.request.header.<key>" attributes (key lower-cased) on the request
// span, as net/http sent them (it reports each header line it writes): with
// the Host, the default User-Agent and the Accept-Encoding it adds, and, on
// HTTP/2, the ":authority" pseudo-header as Host. A transport that reports
// no header lines gets the values of the request's Header. Repeated use is
// additive. Without it, no request header is recorded, and no hook watches
// the header lines. Authorization, Proxy-Authorization, Cookie, Set-Cookie
// and the keys given to WithRedactedHeaders are recorded as "REDACTED"; other
// HTTP/2 pseudo-headers (":path") are never recorded.
func WithRequestHeaders(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.requestHeaders = append(c.requestHeaders, keys...)
		return c
	})
}

// WithResponseHeaders records the values of the given response headers as
// "http.response.header.<key>" attributes (key lower-cased) on the request
// span, and on the events of 1xx responses. Repeated use is additive.
// Without it, no response header is recorded. Redaction is as for
// WithRequestHeaders.
func WithResponseHeaders(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.responseHeaders = append(c.responseHeaders, keys...)
		return c
	})
}

// WithRedactedHeaders adds header keys whose values are always recorded as
// "REDACTED" when WithRequestHeaders or WithResponseHeaders asks for them,
// beside Authorization, Proxy-Authorization, Cookie and Set-Cookie. Repeated
// use is additive.
func WithRedactedHeaders(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.redacted = append(c.redacted, keys...)
		return c
	})
}

// WithSpanNameFormatter sets the function that names the request span.
// Without it, or with nil, the span is named after the method as the HTTP
// semantic conventions say: "GET", or "HTTP" for a method they do not know.
func WithSpanNameFormatter(f func(*http.Request) string) Option {
	return optionFunc(func(c config) config {
		if f == nil {
			f = defaultSpanName
		}
		c.spanName = f
		return c
	})
}

// WithFilter adds a filter: a request for which any filter returns false is
// sent untouched, with no span, no hooks and no propagation. Repeated use is
// additive. Without it, every request is traced.
func WithFilter(f func(*http.Request) bool) Option {
	return optionFunc(func(c config) config {
		if f != nil {
			c.filters = append(c.filters, f)
		}
		return c
	})
}

// alwaysRedacted are the canonical header keys whose values never reach a
// span.
var alwaysRedacted = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// headerKey is one header to record, resolved once.
type headerKey struct {
	canonical string
	attr      attribute.Key
	redacted  bool
}

// headerKeys resolves keys into headerKeys, dropping duplicates and
// pseudo-headers.
func headerKeys(keys []string, prefix string, redacted map[string]bool) []headerKey {
	var out []headerKey
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || strings.HasPrefix(k, ":") {
			continue
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if seen[ck] {
			continue
		}
		seen[ck] = true
		out = append(out, headerKey{
			canonical: ck,
			attr:      attribute.Key(prefix + strings.ToLower(ck)),
			redacted:  redacted[ck],
		})
	}
	return out
}

// appendHeaders appends the recorded headers of h to attrs.
func appendHeaders(attrs []attribute.KeyValue, keys []headerKey, h http.Header) []attribute.KeyValue {
	for _, k := range keys {
		values := h[k.canonical]
		if len(values) == 0 {
			continue
		}
		if k.redacted {
			attrs = append(attrs, k.attr.StringSlice([]string{redactedValue}))
			continue
		}
		attrs = append(attrs, k.attr.StringSlice(values))
	}
	return attrs
}

// traced reports whether every filter lets r through.
func (c *config) traced(r *http.Request) bool {
	for _, f := range c.filters {
		if !f(r) {
			return false
		}
	}
	return true
}
