package otelhooks

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// phaseName names a phase as a span and as the pair of events that stand for
// it under WithoutSubSpans.
type phaseName struct {
	span, start, done string
}

var (
	getconnPhase = phaseName{names.SpanGetConn, names.EventGetConnStart, names.EventGetConnDone}
	dnsPhase     = phaseName{names.SpanDNS, names.EventDNSStart, names.EventDNSDone}
	connectPhase = phaseName{names.SpanConnect, names.EventConnectStart, names.EventConnectDone}
	tlsPhase     = phaseName{names.SpanTLS, names.EventTLSStart, names.EventTLSDone}
	sendPhase    = phaseName{names.SpanSend, names.EventSendStart, names.EventSendDone}
	waitPhase    = phaseName{names.SpanWait, names.EventWaitStart, names.EventWaitDone}
	receivePhase = phaseName{names.SpanReceive, names.EventReceiveStart, names.EventReceiveDone}
)

// Point event names.
const (
	eventWroteHeaders   = names.EventWroteHeaders
	eventWait100        = names.EventWait100
	eventGot100         = names.EventGot100
	eventInformational  = names.EventInformational
	eventFirstByte      = names.EventFirstByte
	eventPutIdleConn    = names.EventPutIdleConn
	eventResend         = names.EventResend
	errorTypeRetried    = "retried"
	statusRetriedReason = "the request was retried on another connection"
)

// phase is one phase of a request: a child span while it is open, or, under
// WithoutSubSpans, just the fact that its start event was added.
// The request's mutex, r.mu, guards it.
type phase struct {
	name *phaseName
	span trace.Span // nil under WithoutSubSpans
	open bool
}

// start opens p, ending it first if it was still open, at the time at (now
// if zero). In span mode the new span is a child of the span in parent, and
// its context is returned; under WithoutSubSpans its start event carries
// attrs, in span mode the span does. r.mu must be held.
//
// attrs may be backed by r's scratch array (request.attrs): start abandons
// p before it reads them, which is why abandon must not use that array.
func (r *request) start(parent context.Context, p *phase, name *phaseName, at time.Time, attrs ...attribute.KeyValue) context.Context {
	if p.open {
		r.abandon(p)
	}
	p.name, p.open = name, true
	if r.events {
		r.addEvent(r.span, name.start, at, attrs)
		return parent
	}
	var ctx context.Context
	if at.IsZero() {
		ctx, p.span = r.tracer.Start(parent, name.span)
	} else {
		// Through r's own array, so that the variadic slice is not
		// allocated.
		r.startOpts[0] = r.timestamp(at)
		ctx, p.span = r.tracer.Start(parent, name.span, r.startOpts[:]...)
	}
	if len(attrs) > 0 {
		p.span.SetAttributes(attrs...)
	}
	return ctx
}

// end closes p at the time at (now if zero) with attrs, as failed if err is
// not nil. It does nothing if p is not open. r.mu must be held.
func (r *request) end(p *phase, err error, at time.Time, attrs ...attribute.KeyValue) {
	if !p.open {
		return
	}
	if err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(err)))
	}
	r.close(p, at, err, "", attrs)
}

// fail closes p as failed with the given error.type and status description.
// Like abandon, it builds its attributes outside r's scratch array. r.mu must
// be held.
func (r *request) fail(p *phase, errType, description string) {
	if !p.open {
		return
	}
	r.close(p, time.Time{}, nil, description, []attribute.KeyValue{semconv.ErrorTypeKey.String(errType)})
}

// abandon closes p, marked as abandoned: the request ended, or moved on,
// before the phase did. Like fail, it leaves r's scratch attributes alone:
// both run while a caller may be building attributes there (start calls it
// with its attrs in hand). r.mu must be held.
func (r *request) abandon(p *phase) {
	if !p.open {
		return
	}
	r.close(p, time.Time{}, nil, "", []attribute.KeyValue{abandonedKey.Bool(true)})
}

// close closes p at the time at (now if zero) with attrs, and with status
// Error if err is not nil or description is not empty: as events, a done
// event; as a span, its end. r.mu must be held.
func (r *request) close(p *phase, at time.Time, err error, description string, attrs []attribute.KeyValue) {
	p.open = false
	if r.events {
		switch {
		case err != nil:
			attrs = append(attrs, errorMessageKey.String(r.cfg.scrub.errText(err, r.req)))
		case description != "":
			attrs = append(attrs, errorMessageKey.String(description))
		}
		r.addEvent(r.span, p.name.done, at, attrs)
		return
	}
	span := p.span
	p.span = nil
	attrs = r.startAttrs(p, attrs)
	if len(attrs) > 0 {
		span.SetAttributes(attrs...)
	}
	switch {
	case err != nil:
		span.SetStatus(codes.Error, r.cfg.scrub.errText(err, r.req))
	case description != "":
		span.SetStatus(codes.Error, description)
	}
	if at.IsZero() {
		span.End()
	} else {
		// Through r's own array, so that the variadic slice is not
		// allocated.
		r.endOpts[0] = r.timestamp(at)
		span.End(r.endOpts[:]...)
	}
}

// addEvent adds an event at the time at (now if zero) with attrs to span.
// The options go through r's own array, so that passing them allocates
// nothing. r.mu must be held.
func (r *request) addEvent(span trace.Span, name string, at time.Time, attrs []attribute.KeyValue) {
	opts := r.eventOpts[:0]
	if len(attrs) > 0 {
		opts = append(opts, trace.WithAttributes(attrs...))
	}
	if !at.IsZero() {
		opts = append(opts, r.timestamp(at))
	}
	span.AddEvent(name, opts...)
}

// timestamp returns trace.WithTimestamp(at), reusing the last one made if it
// was for the same time: each costs an allocation (the time in an
// interface), and the end of one phase is often the start of the next.
// r.mu must be held.
func (r *request) timestamp(at time.Time) trace.SpanEventOption {
	// The last option's time is read back from it, rather than kept
	// beside it: 24 bytes the state has no room for.
	if r.tsOpt != nil {
		last := trace.NewSpanEndConfig(r.tsOpt)
		if last.Timestamp().Equal(at) {
			return r.tsOpt
		}
	}
	r.tsOpt = trace.WithTimestamp(at)
	return r.tsOpt
}

// pointEvent adds an event to the open phase p if there is one and phases
// are spans, else to the request's span. r.mu must be held.
func (r *request) pointEvent(p *phase, name string, attrs ...attribute.KeyValue) {
	target := r.span
	if p != nil && p.open && p.span != nil {
		target = p.span
	}
	r.addEvent(target, name, time.Time{}, attrs)
}
