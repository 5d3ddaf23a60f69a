package otelhooks

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/dnsconv"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
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
}

// newInstruments creates the instruments from mp, or the global provider
// if mp is nil. An instrument the provider refuses is left out; the error
// goes to the global error handler, as OpenTelemetry's own do.
func newInstruments(mp metric.MeterProvider) *instruments {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version()), metric.WithSchemaURL(semconv.SchemaURL))
	var inst instruments
	var err error
	report := func(e error) {
		if e != nil {
			otel.Handle(e)
		}
	}
	var d httpconv.ClientRequestDuration
	d, err = httpconv.NewClientRequestDuration(m)
	report(err)
	inst.duration = d.Inst()
	var rq httpconv.ClientRequestBodySize
	rq, err = httpconv.NewClientRequestBodySize(m)
	report(err)
	inst.requestSize = rq.Inst()
	var rs httpconv.ClientResponseBodySize
	rs, err = httpconv.NewClientResponseBodySize(m)
	report(err)
	inst.responseSize = rs.Inst()
	var a httpconv.ClientActiveRequests
	a, err = httpconv.NewClientActiveRequests(m)
	report(err)
	inst.active = a.Inst()
	var dns dnsconv.LookupDuration
	dns, err = dnsconv.NewLookupDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	report(err)
	inst.dnsDuration = dns.Inst()
	// Not in the conventions' Go package: the name, unit and attributes
	// are those of .NET's HTTP client, which the conventions cite.
	inst.timeInQueue, err = m.Float64Histogram("http.client.request.time_in_queue",
		metric.WithDescription("The amount of time requests spent on a queue waiting for an available connection."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	report(err)
	return &inst
}

// enabled reports whether any request instrument records: with the
// OpenTelemetry default (no meter provider set), none does.
func (i *instruments) enabled(ctx context.Context) bool {
	return i != nil && (i.duration.Enabled(ctx) || i.requestSize.Enabled(ctx) || i.responseSize.Enabled(ctx) ||
		i.active.Enabled(ctx) || i.timeInQueue.Enabled(ctx) || i.dnsDuration.Enabled(ctx))
}

// requestMeter is the metric state of one request, guarded by the
// request's mutex. A nil *requestMeter records nothing. Its attributes are the low-cardinality
// ones only: never the URL or its path.
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
	// base are the attributes known when the request starts: method,
	// server.address, server.port, url.scheme.
	base    attribute.Set
	baseOpt metric.MeasurementOption
	// protocol and status are known once the response arrives.
	protocol string
	status   int
}

// newRequestMeter starts metering req, and records it as active if
// requestLevel.
func newRequestMeter(ctx context.Context, inst *instruments, req *http.Request, requestLevel bool) *requestMeter {
	m := &requestMeter{inst: inst, ctx: ctx, requestLevel: requestLevel}
	m.start = time.Now()
	m.requestSize = req.ContentLength
	meth, known := method(req)
	if !known {
		meth = "_OTHER"
	}
	attrs := [4]attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(meth),
		semconv.ServerAddress(req.URL.Hostname()),
		semconv.ServerPort(portNumber(req.URL.Port(), req.URL.Scheme)),
		semconv.URLScheme(req.URL.Scheme),
	}
	m.base = attribute.NewSet(attrs[:]...)
	m.baseOpt = metric.WithAttributeSet(m.base)
	if requestLevel {
		m.inst.active.Add(ctx, 1, m.baseOpt)
	}
	return m
}

func (m *requestMeter) getConn() {
	if m != nil && m.inst != nil {
		m.queued = time.Now()
	}
}

func (m *requestMeter) gotConn() {
	if m != nil && m.inst != nil && !m.queued.IsZero() {
		m.inst.timeInQueue.Record(m.ctx, time.Since(m.queued).Seconds(), m.baseOpt)
		m.queued = time.Time{}
	}
}

func (m *requestMeter) dnsStarted(host string) {
	if m != nil && m.inst != nil {
		m.dnsStart, m.dnsName = time.Now(), host
	}
}

func (m *requestMeter) dnsDone(err error) {
	if m == nil || m.inst == nil || m.dnsStart.IsZero() {
		return
	}
	attrs := []attribute.KeyValue{semconv.DNSQuestionName(m.dnsName)}
	if err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
	}
	m.inst.dnsDuration.Record(m.ctx, time.Since(m.dnsStart).Seconds(), metric.WithAttributes(attrs...))
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
	m.inst.active.Add(m.ctx, -1, m.baseOpt)

	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, m.base.ToSlice()...)
	if m.status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(m.status))
		if m.status >= 400 && errType == "" {
			errType = strconv.Itoa(m.status)
		}
	}
	if m.protocol != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(m.protocol))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(attrs...))
	m.inst.duration.Record(m.ctx, time.Since(m.start).Seconds(), opt)
	if m.requestSize >= 0 {
		m.inst.requestSize.Record(m.ctx, m.requestSize, opt)
	}
	if errType == "" || m.status != 0 {
		m.inst.responseSize.Record(m.ctx, bodySize, opt)
	}
	m.inst = nil
}
