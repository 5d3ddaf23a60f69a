package otelhooks

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/clienttrace"
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
	redacted        []string // WithRedactedHeaders
	spanName        func(*http.Request) string
	filters         []func(*http.Request) bool
	meterProvider   metric.MeterProvider
	noMetrics       bool
	spanOpts        []trace.SpanStartOption
	metricAttrsFn   func(*http.Request) []attribute.KeyValue
	clientTrace     func(context.Context) *clienttrace.ClientTrace
	connSpans       bool

	// Redaction options (redact.go).
	queryKeyEdits  []queryKeyEdit
	redactAllQuery bool
	urlScrubber    func(*url.URL) string

	// Resolved by newConfig.
	reqHeaders  []headerKey
	respHeaders []headerKey
	scrub       *scrubber
	// startOpts are the options every request span starts with: its kind,
	// then WithSpanOptions's. A request adds its attributes after them.
	startOpts []trace.SpanStartOption
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
	c.scrub = newScrubber(c.queryKeyEdits, c.redactAllQuery, c.urlScrubber, c.redacted)
	c.startOpts = append([]trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}, c.spanOpts...)
	c.reqHeaders = headerKeys(c.requestHeaders, requestHeaderKey, c.scrub.headers)
	c.respHeaders = headerKeys(c.responseHeaders, responseHeaderKey, c.scrub.headers)
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
// global propagator once the application has set one (an empty composite
// sends nothing), W3C Trace Context alone until then. Baggage is sent only by
// a propagator that has it, set globally or here, and then within the host
// policy. The other settings of the propagation package (host policy,
// baggage filters) go through [WithPropagationOptions].
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
// no header lines gets the values of the request's Header. Keys are trimmed
// of white space and compared in canonical form, as for WithRedactedHeaders,
// so " x-api-key" is X-Api-Key. Repeated use is additive. Without it, no
// request header is recorded, and no hook watches the header lines.
// Authorization, Proxy-Authorization, Cookie, Set-Cookie and the keys given
// to WithRedactedHeaders are recorded as "REDACTED"; the values of Location,
// Content-Location, Referer and Origin, which are URLs, and the URLs in
// Link, are scrubbed as url.full is; other HTTP/2 pseudo-headers (":path")
// are never recorded.
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
// beside Authorization, Proxy-Authorization, Cookie and Set-Cookie, and
// whose values are removed from error texts. Keys are trimmed of white space
// and compared in canonical form, as for WithRequestHeaders. Repeated use is
// additive. Without it, only the four are redacted.
func WithRedactedHeaders(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.redacted = append(c.redacted, keys...)
		return c
	})
}

// The redaction options below shape the scrubbing of URLs: url.full, the
// URL-valued headers recorded (Location, Content-Location, Referer, Origin),
// and the URLs in error texts. docs/spans.md, "What is scrubbed", describes
// all of it.

// WithRedactedQueryKeys adds query parameters whose values are recorded as
// "REDACTED", beside [DefaultRedactedQueryKeys]. Keys are matched without
// regard to case, after percent-decoding, in the query (parameters split at
// '&' and ';') and in a fragment of parameters ("#access_token=…"); empty
// keys are ignored. Repeated use is additive; with
// [WithoutRedactedQueryKeys], the options apply in order, so a key removed
// and then added again is redacted. Without it, the default keys are
// redacted.
func WithRedactedQueryKeys(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.queryKeyEdits = append(c.queryKeyEdits[:len(c.queryKeyEdits):len(c.queryKeyEdits)], queryKeyEdit{keys: slices.Clone(keys), add: true})
		return c
	})
}

// WithoutRedactedQueryKeys stops redacting the values of the given query
// parameters, default ones included: WithoutRedactedQueryKeys("code") for
// an API whose "code" is a product code. Keys are matched as for
// [WithRedactedQueryKeys], and the two apply in order. Keys that are not
// redacted are ignored. Without it, every default key is redacted.
func WithoutRedactedQueryKeys(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.queryKeyEdits = append(c.queryKeyEdits[:len(c.queryKeyEdits):len(c.queryKeyEdits)], queryKeyEdit{keys: slices.Clone(keys)})
		return c
	})
}

// WithRedactAllQueryValues records every query and fragment parameter value
// as "REDACTED", whatever its key, as .NET's HttpClient instrumentation does
// by default: "?q=shoes&page=2" becomes "?q=REDACTED&page=REDACTED". Keys,
// and parameters without a value, are kept. Without it, only the values of
// the redacted keys are replaced.
func WithRedactAllQueryValues() Option {
	return optionFunc(func(c config) config {
		c.redactAllQuery = true
		return c
	})
}

// WithURLScrubber replaces the scrubbing of URLs with f: url.full, the
// URL-valued headers recorded, and the URLs found in error texts become what
// f returns. f gets a copy of the URL, which it may modify; it is called on
// net/http's goroutines and, for url.full, on the goroutine that calls
// RoundTrip before the span starts (sampled or not: the sampler sees its
// result), concurrently, and must not block. The secrets of the
// request (userinfo, the values of the redacted query keys and headers) are
// still removed from error texts after f. Without it, or with nil, URLs lose
// their userinfo and the values of the redacted query keys. The last
// WithURLScrubber wins.
func WithURLScrubber(f func(*url.URL) string) Option {
	return optionFunc(func(c config) config {
		c.urlScrubber = f
		return c
	})
}

// WithSpanNameFormatter sets the function that names the request span.
// Without it, or with nil, the span is named after the method as the HTTP
// semantic conventions say: "GET", or "HTTP" for a method they do not know.
//
// otelhttp's formatter takes an operation name too, which its transport
// passes as "". A formatter f written for otelhttp is used as it is by
//
//	otelhooks.WithSpanNameFormatter(func(r *http.Request) string { return f("", r) })
//
// f runs on the goroutine that calls RoundTrip, before the span starts; it
// must not modify r.
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
// additive. Without it, every request is traced. A nil filter is ignored.
//
// The type is that of otelhttp's Filter, so the helpers of otelhttp's
// filters package (filters.Not(filters.Path("/healthz")), filters.Any, …)
// are filters here as they are. A filter runs on the goroutine that calls
// RoundTrip, for every request: it must be fast and must not modify the
// request.
func WithFilter(f func(*http.Request) bool) Option {
	return optionFunc(func(c config) config {
		if f != nil {
			c.filters = append(c.filters, f)
		}
		return c
	})
}

// WithSpanOptions adds options that every request span starts with, as
// otelhttp's option of the same name does: trace.WithAttributes for extra
// attributes such as "peer.service", trace.WithLinks, or trace.WithSpanKind
// to change the kind (client by default). The sampler and span processors
// see them at the span's start. An attribute with the key of one of ours
// (docs/spans.md) is dropped for ours, as in otelhttp, so that url.full
// stays redacted.
// Repeated use is additive. Without it, request spans start with their kind
// and the attributes docs/spans.md lists. The options are shared by every
// request: they must not be modified after this call. It has no effect with
// WithoutRequestSpan, or on NewClientTrace, which start no span.
func WithSpanOptions(opts ...trace.SpanStartOption) Option {
	return optionFunc(func(c config) config {
		c.spanOpts = append(c.spanOpts, opts...)
		return c
	})
}

// WithMetricAttributesFn sets a function whose attributes are added to the
// request metrics of each request (all but dns.lookup.duration,
// docs/metrics.md), as otelhttp's option of the same name does. It runs
// once per metered request, on the goroutine that calls RoundTrip, before
// the request is sent; it must not modify r, and what it returns must not be
// modified afterwards. Its attributes must have low cardinality: each
// distinct set is a time series of every metric. An attribute with the key
// of one of ours is dropped for ours, as in otelhttp. Without it, or with
// nil, the metrics have the attributes of docs/metrics.md.
func WithMetricAttributesFn(f func(r *http.Request) []attribute.KeyValue) Option {
	return optionFunc(func(c config) config {
		c.metricAttrsFn = f
		return c
	})
}

// WithClientTrace sets a function that returns the caller's own hooks for a
// request, as otelhttp's option of the same name does. NewTransport calls it
// for every request that a filter lets through, on the goroutine that calls
// RoundTrip, with the context the request is sent with (its span is the
// request span), and runs the hooks it returns beside its own
// ([clienttrace.Compose]: ours first), sampled or not, without a second
// transport. The returned trace must not be modified afterwards; nil
// installs nothing. Hooks written for net/http/httptrace, such as
// otelhttptrace's, are adapted by [clienttrace.FromHTTPTrace]:
//
//	otelhooks.WithClientTrace(func(ctx context.Context) *clienttrace.ClientTrace {
//		return clienttrace.FromHTTPTrace(myHTTPTrace(ctx))
//	})
//
// Without it, or with nil, only this package's hooks run. NewClientTrace
// ignores it: compose its result with clienttrace.Compose instead.
func WithClientTrace(f func(context.Context) *clienttrace.ClientTrace) Option {
	return optionFunc(func(c config) config {
		c.clientTrace = f
		return c
	})
}

// headerKey is one header to record, resolved once.
type headerKey struct {
	canonical string
	attr      attribute.Key
	redacted  bool
	url       bool // a URL-valued header, scrubbed
}

// headerKeys resolves keys into headerKeys, dropping duplicates and
// pseudo-headers.
func headerKeys(keys []string, prefix string, redacted map[string]bool) []headerKey {
	var out []headerKey
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		ck := canonicalHeaderKey(k)
		if ck == "" || strings.HasPrefix(ck, ":") {
			continue
		}
		if seen[ck] {
			continue
		}
		seen[ck] = true
		out = append(out, headerKey{
			canonical: ck,
			attr:      attribute.Key(prefix + strings.ToLower(ck)),
			redacted:  redacted[ck],
			url:       urlValuedHeaders[ck],
		})
	}
	return out
}

// appendHeaders appends the recorded headers of h to attrs, the URL-valued
// ones scrubbed by s.
func appendHeaders(attrs []attribute.KeyValue, keys []headerKey, h http.Header, s *scrubber) []attribute.KeyValue {
	for _, k := range keys {
		values := h[k.canonical]
		if len(values) == 0 {
			continue
		}
		switch {
		case k.redacted:
			attrs = append(attrs, k.attr.StringSlice([]string{redactedValue}))
		case k.url:
			scrubbed := make([]string, len(values))
			for i, v := range values {
				scrubbed[i] = s.headerValue(k.canonical, v)
			}
			attrs = append(attrs, k.attr.StringSlice(scrubbed))
		default:
			attrs = append(attrs, k.attr.StringSlice(values))
		}
	}
	return attrs
}

// metricAttrs returns the WithMetricAttributesFn attributes of r, if any.
func (c *config) metricAttrs(r *http.Request) []attribute.KeyValue {
	if c.metricAttrsFn == nil {
		return nil
	}
	return c.metricAttrsFn(r)
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
