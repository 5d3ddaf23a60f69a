package otelhooks

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dnsconv"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"

	"github.com/wiretrace/wiretrace/internal/names"
)

// durationBuckets are the bucket boundaries the HTTP semantic conventions
// advise for durations in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// instruments are the request metrics of one transport.
type instruments struct {
	duration     metric.Float64Histogram
	requestSize  metric.Int64Histogram
	responseSize metric.Int64Histogram
	active       metric.Int64UpDownCounter
	timeInQueue  metric.Float64Histogram
	dnsDuration  metric.Float64Histogram
	attrs        attrCache
}

// meterOptions are built once, as tracerOptions are.
var meterOptions = []metric.MeterOption{
	metric.WithInstrumentationVersion(Version()),
	metric.WithSchemaURL(semconv.SchemaURL),
}

// newMeter returns this package's meter from mp, or from the global provider
// if mp is nil: the one meter of the request and the connection metrics.
func newMeter(mp metric.MeterProvider) metric.Meter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(ScopeName, meterOptions...)
}

// newInstruments creates the instruments from mp, or the global provider
// if mp is nil.
func newInstruments(mp metric.MeterProvider) *instruments {
	m := newMeter(mp)
	// The conventions' constructors give the names, units, descriptions
	// and advised buckets. An instrument the provider refuses is a no-op;
	// the error goes to the global handler, as OpenTelemetry's own do.
	var inst instruments
	duration, err1 := httpconv.NewClientRequestDuration(m)
	requestSize, err2 := httpconv.NewClientRequestBodySize(m)
	responseSize, err3 := httpconv.NewClientResponseBodySize(m)
	active, err4 := httpconv.NewClientActiveRequests(m)
	dns, err5 := dnsconv.NewLookupDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	// Not in the conventions' Go package: the name, unit and attributes
	// are those of .NET's HTTP client, which the conventions cite.
	timeInQueue, err6 := m.Float64Histogram(names.MetricTimeInQueue,
		metric.WithDescription("The amount of time requests spent on a queue waiting for an available connection."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		otel.Handle(err)
	}
	if timeInQueue == nil {
		timeInQueue = metricnoop.Float64Histogram{}
	}
	inst.duration, inst.requestSize, inst.responseSize = duration.Inst(), requestSize.Inst(), responseSize.Inst()
	inst.active, inst.dnsDuration, inst.timeInQueue = active.Inst(), dns.Inst(), timeInQueue
	return &inst
}

// enabled reports whether any request instrument records: with the
// OpenTelemetry default (no meter provider set), none does.
func (i *instruments) enabled(ctx context.Context) bool {
	return i != nil && (i.duration.Enabled(ctx) || i.requestSize.Enabled(ctx) || i.responseSize.Enabled(ctx) ||
		i.active.Enabled(ctx) || i.timeInQueue.Enabled(ctx) || i.dnsDuration.Enabled(ctx))
}

// requestMeter is the metric state of one request, guarded by the
// request's mutex. A nil *requestMeter records nothing. Its attributes are
// the low-cardinality ones only: never the URL or its path.
type requestMeter struct {
	inst *instruments
	// requestLevel is false under another instrumentation's request span
	// (WithoutRequestSpan), which records the request-level metrics itself:
	// only the time in queue and DNS lookups are recorded then.
	requestLevel bool
	ctx          context.Context
	start        time.Time
	queued       time.Time // GetConn
	dnsStart     time.Time
	dnsName      string
	requestSize  int64 // -1: unknown
	// base are the attributes known when the request starts.
	base *baseAttrs
	// protocol and status are known once the response arrives.
	protocol string
	status   int
}

// baseAttrs is the attribute set of what is known when a request starts:
// method, server.address, server.port, url.scheme; with the options that
// pass it, built once.
type baseAttrs struct {
	method, host, scheme string
	port                 int
	extra                []attribute.KeyValue // WithMetricAttributesFn's

	set    attribute.Set
	record []metric.RecordOption
	add    []metric.AddOption
}

// endAttrs is the attribute set of a request's end: base, with the status
// code, the protocol version and the error type.
type endAttrs struct {
	base            *baseAttrs
	status          int
	protocol, error string

	record []metric.RecordOption
}

// attrCache keeps the attribute sets of the last request, which the next
// one, to the same server with the same outcome, most often shares: building
// a set and the options that pass it costs allocations. One immutable
// entry each, replaced on a miss; safe for concurrent use.
type attrCache struct {
	base atomic.Pointer[baseAttrs]
	end  atomic.Pointer[endAttrs]
	dns  atomic.Pointer[dnsAttrs]
}

// dnsAttrs is the attribute set of a DNS lookup's duration: the name, and
// the error type if it failed; with the options that pass it, built once.
type dnsAttrs struct {
	name, error string

	record []metric.RecordOption
}

// dnsFor returns the options that record a lookup of name with errType
// (empty: it succeeded). Built afresh, they cost four allocations per
// lookup; a client resolves the same name again and again.
func (c *attrCache) dnsFor(name, errType string) []metric.RecordOption {
	if d := c.dns.Load(); d != nil && d.name == name && d.error == errType {
		return d.record
	}
	d := &dnsAttrs{name: name, error: errType}
	set := attribute.NewSet(semconv.DNSQuestionName(name))
	if errType != "" {
		set = attribute.NewSet(semconv.DNSQuestionName(name), semconv.ErrorTypeKey.String(errType))
	}
	d.record = []metric.RecordOption{metric.WithAttributeSet(set)}
	c.dns.Store(d)
	return d.record
}

func (c *attrCache) baseFor(meth, host string, port int, scheme string, extra []attribute.KeyValue) *baseAttrs {
	if b := c.base.Load(); b != nil && b.method == meth && b.host == host && b.port == port && b.scheme == scheme && slices.Equal(b.extra, extra) {
		return b
	}
	b := &baseAttrs{method: meth, host: host, port: port, scheme: scheme, extra: extra}
	// extra (WithMetricAttributesFn) goes first: the set keeps the last of
	// two attributes with one key, so ours win, as in otelhttp.
	attrs := make([]attribute.KeyValue, 0, len(extra)+4)
	attrs = append(attrs, extra...)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(meth),
		semconv.ServerAddress(host),
		semconv.ServerPort(port),
		semconv.URLScheme(scheme),
	)
	b.set = attribute.NewSet(attrs...)
	opt := metric.WithAttributeSet(b.set)
	b.record, b.add = []metric.RecordOption{opt}, []metric.AddOption{opt}
	c.base.Store(b)
	return b
}

func (c *attrCache) endFor(base *baseAttrs, status int, protocol, errType string) *endAttrs {
	if e := c.end.Load(); e != nil && e.base == base && e.status == status && e.protocol == protocol && e.error == errType {
		return e
	}
	e := &endAttrs{base: base, status: status, protocol: protocol, error: errType}
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, base.set.ToSlice()...)
	if status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	if protocol != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(protocol))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	e.record = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	c.end.Store(e)
	return e
}

// newRequestMeter starts metering req, and records it as active if
// requestLevel. extra are WithMetricAttributesFn's attributes for req.
func newRequestMeter(ctx context.Context, inst *instruments, req *http.Request, requestLevel bool, extra []attribute.KeyValue) *requestMeter {
	m := &requestMeter{inst: inst, ctx: ctx, requestLevel: requestLevel, start: time.Now(), requestSize: req.ContentLength}
	meth, known := method(req)
	if !known {
		meth = "_OTHER"
	}
	m.base = inst.attrs.baseFor(meth, req.URL.Hostname(), portNumber(req.URL.Port(), req.URL.Scheme), req.URL.Scheme, extra)
	if requestLevel {
		m.inst.active.Add(ctx, 1, m.base.add...)
	}
	return m
}

// getConn, gotConn, dnsStarted and dnsDone take the hook's time, read once
// before the request's lock, so that the metrics measure the same instants as
// the spans.
func (m *requestMeter) getConn(now time.Time) {
	if m != nil && m.inst != nil {
		m.queued = now
	}
}

func (m *requestMeter) gotConn(now time.Time) {
	if m != nil && m.inst != nil && !m.queued.IsZero() {
		m.inst.timeInQueue.Record(m.ctx, now.Sub(m.queued).Seconds(), m.base.record...)
		m.queued = time.Time{}
	}
}

func (m *requestMeter) dnsStarted(host string, now time.Time) {
	if m != nil && m.inst != nil {
		m.dnsStart, m.dnsName = now, host
	}
}

func (m *requestMeter) dnsDone(err error, now time.Time) {
	if m == nil || m.inst == nil || m.dnsStart.IsZero() {
		return
	}
	errType := ""
	if err != nil {
		errType = errorType(err)
	}
	m.inst.dnsDuration.Record(m.ctx, now.Sub(m.dnsStart).Seconds(), m.inst.attrs.dnsFor(m.dnsName, errType)...)
	m.dnsStart = time.Time{}
}

// response notes what the response says about the request.
func (m *requestMeter) response(resp *http.Response) {
	if m != nil && m.inst != nil {
		m.protocol, m.status = protocolVersion(resp), resp.StatusCode
	}
}

// end records the request's end: failed with errType, or with its body read
// to bodySize bytes.
func (m *requestMeter) end(errType string, bodySize int64) {
	if m == nil || m.inst == nil || !m.requestLevel {
		return
	}
	m.inst.active.Add(m.ctx, -1, m.base.add...)
	if m.status >= 400 && errType == "" {
		errType = strconv.Itoa(m.status)
	}
	opts := m.inst.attrs.endFor(m.base, m.status, m.protocol, errType).record
	m.inst.duration.Record(m.ctx, time.Since(m.start).Seconds(), opts...)
	if m.requestSize >= 0 {
		m.inst.requestSize.Record(m.ctx, m.requestSize, opts...)
	}
	// A negative bodySize is unknown: a decoded body (see appendBodySize).
	if (errType == "" || m.status != 0) && bodySize >= 0 {
		m.inst.responseSize.Record(m.ctx, bodySize, opts...)
	}
	m.inst = nil
}
