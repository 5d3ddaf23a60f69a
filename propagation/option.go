package propagation

import (
	"fmt"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
)

// Policy says what a [Propagator] sends to a destination host. It is a bit
// set: [SendTraceContext] and [SendBaggage] may be combined.
type Policy uint8

const (
	// SendTraceContext sends the trace context: the fields that the
	// propagator injects from the span context, such as traceparent and
	// tracestate.
	SendTraceContext Policy = 1 << iota
	// SendBaggage sends the baggage: the fields that the propagator injects
	// from the baggage, such as baggage, after [WithBaggageFilter] and the
	// W3C Baggage limits.
	SendBaggage

	// SendNothing sends no propagation field at all.
	SendNothing Policy = 0
	// SendAll sends the trace context and the baggage.
	SendAll = SendTraceContext | SendBaggage
)

// String returns "SendNothing", "SendTraceContext", "SendBaggage",
// "SendAll", or "Policy(n)" for a value with other bits set.
func (p Policy) String() string {
	switch p {
	case SendNothing:
		return "SendNothing"
	case SendTraceContext:
		return "SendTraceContext"
	case SendBaggage:
		return "SendBaggage"
	case SendAll:
		return "SendAll"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// config is the configuration of a Propagator. Its zero value is the default
// configuration: every nil field means "the default behavior".
type config struct {
	// propagator is the configured propagator, or nil for the default.
	propagator otelpropagation.TextMapPropagator
	// hostPolicy decides per host, or nil to send everything everywhere.
	hostPolicy func(host string) Policy
	// baggageFilters all keep a member for it to be sent.
	baggageFilters []func(baggage.Member) bool
}

// Option configures a [Propagator], and through it [NewTransport], [Inject]
// and [Extract]. Options are built by the With… functions of this package and
// applied in order: when one setting is given twice, the last one wins,
// except for the options said to be additive. A nil Option is ignored.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// newConfig returns the default configuration with opts applied in order.
// Nil options are skipped.
func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithPropagators sets the propagator that injects and extracts the
// propagation fields, for instance
// otelpropagation.NewCompositeTextMapPropagator(b3.New(),
// otelpropagation.Baggage{}).
//
// Without this option, or with a nil p, the propagator is resolved at every
// request: the global one, [otel.GetTextMapPropagator], once the application
// has set one with otel.SetTextMapPropagator, whatever it is (an empty
// composite, the usual way to switch propagation off, sends and extracts
// nothing); until then, W3C Trace Context alone to inject, so that no
// baggage is sent unless the application asks for it, and W3C Trace Context
// plus W3C Baggage to extract. To send baggage, set a propagator that has
// it, globally or with this option:
//
//	propagation.WithPropagators(otelpropagation.NewCompositeTextMapPropagator(
//		otelpropagation.TraceContext{}, otelpropagation.Baggage{}))
//
// The last WithPropagators wins.
//
// p's Fields are read once, when the Propagator is built, and must list every
// header p injects: they are the fields deleted before each injection. A
// propagator that injects headers its Fields do not name, such as Jaeger's
// "uberctx-" baggage headers, leaves stale copies of those headers in place.
//
// [otel.GetTextMapPropagator]: https://pkg.go.dev/go.opentelemetry.io/otel#GetTextMapPropagator
func WithPropagators(p otelpropagation.TextMapPropagator) Option {
	return optionFunc(func(c config) config {
		c.propagator = p
		return c
	})
}

// WithHostPolicy sets the function that decides, for each outgoing request,
// what is sent to its destination host. It is called with the host of the
// request's URL, as [url.URL.Hostname] gives it: without the port and without
// the brackets of an IPv6 literal, lower-cased, and without a trailing dot
// ("Example.COM.:8443" gives "example.com", "[::1]:80" gives "::1"). The host
// may be empty when the URL has none. The policy is evaluated anew for every
// request and so for every hop of a redirect chain, on the hop's own host.
//
// Without this option, or with a nil f, everything the propagator injects is
// sent everywhere: with zero setup the trace context alone, and once baggage
// propagation is configured (see [WithPropagators]) all the baggage to every
// destination. Baggage often carries user or tenant identifiers; use
// [TrustedHosts] to keep it inside your own services. The last WithHostPolicy
// wins.
//
// f may be called concurrently from many goroutines and must not block.
// Extract does not use it.
func WithHostPolicy(f func(host string) Policy) Option {
	return optionFunc(func(c config) config {
		c.hostPolicy = f
		return c
	})
}

// WithBaggageFilter adds a filter on the baggage members sent: a member is
// sent only if f returns true for it. Repeated use is additive: a member is
// sent only if every filter keeps it. A nil f is ignored.
//
// Without this option every member is sent, within the W3C Baggage limits,
// to the hosts whose [Policy] includes [SendBaggage]. Filters run before the
// limits are enforced, so filtered members leave room for others.
//
// f may be called concurrently from many goroutines, on every request that
// carries baggage, and must not block. Extract does not use it.
func WithBaggageFilter(f func(baggage.Member) bool) Option {
	return optionFunc(func(c config) config {
		if f != nil {
			c.baggageFilters = append(c.baggageFilters[:len(c.baggageFilters):len(c.baggageFilters)], f)
		}
		return c
	})
}
