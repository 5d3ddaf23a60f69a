package otelhooks

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// DialFunc is the type of [net.Dialer.DialContext] and of
// [http.Transport.DialContext].
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// InstrumentDialer returns a dial function that dials with dial (with a
// zero [net.Dialer] if dial is nil) and instruments every connection it
// makes, so that:
//
//   - http.client.open_connections counts it, as idle or as active (while a
//     request of a [NewTransport] transport uses it), until it is closed, and
//     http.client.connection.duration records its lifetime when it closes;
//   - the request spans of a [NewTransport] transport that use it record the
//     kernel's view of it at the end of the request, on Linux: round-trip
//     time and its variance, retransmissions, congestion window, and the
//     local network interface (see docs/metrics.md).
//
// Metrics go to the provider of [WithMeterProvider], or the global one; with
// [WithoutMetrics] none are recorded, and the connections are instrumented
// for the request spans only. Other options are ignored. Use it as an
// http.Transport's DialContext:
//
//	tr := &http.Transport{DialContext: otelhooks.InstrumentDialer(nil)}
//
// Connections the transport dials with DialTLSContext are not instrumented.
//
// The connection metrics' server.address and server.port are those of the
// server the connection serves: the dialed address, or, for a CONNECT tunnel
// through a proxy to an "https" URL of a request sent through a
// [NewTransport] transport, the server behind the proxy, as the semantic
// conventions ask. A connection to a proxy that forwards plain "http"
// requests serves any server, and keeps the proxy's address.
func InstrumentDialer(dial DialFunc, opts ...Option) DialFunc {
	if dial == nil {
		dial = new(net.Dialer).DialContext
	}
	cfg := newConfig(opts)
	mp := cfg.meterProvider
	if cfg.noMetrics {
		mp = metricnoop.NewMeterProvider()
	}
	ci := newConnInstruments(mp)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		// Under WithConnectionSpans, the dial's setup (connspans.go).
		var s *connSetup
		if r, ok := ctx.Value(dialKey{}).(*request); ok {
			s = r.csDialStart()
		}
		// The server behind a proxy is learnt from the request before the
		// dial, while the request surely goes on: its context stops
		// leading to it once its round trip returned (pool.go), and the
		// dial may outlive it.
		server := serverAddr(ctx, addr)
		c, err := dial(ctx, network, addr)
		if err != nil || c == nil {
			s.dialDone(nil, err)
			return c, err
		}
		ic := ci.wrap(c, server)
		ic.setup = s
		s.dialDone(ic, nil)
		return ic, nil
	}
}

// InstrumentTransport instruments the connections tr dials, as
// [InstrumentDialer] describes, by replacing tr.DialContext, in place, with
// an instrumented one that dials as tr.DialContext did (or with a zero
// [net.Dialer] if it was nil). It returns tr.
//
// It also chains tr.OnProxyConnectResponse, in place: the function tr had,
// if any, is still called first, with the same arguments, and its error is
// returned unchanged; then the proxy's answer to the CONNECT goes to the
// requests of [NewTransport] transports that asked for it, whose
// http.proxy_connect span gets the proxy's status code and ends when net/http
// read the answer (docs/spans.md). Without it, http.proxy_connect is still
// recorded, from the hooks alone, without a status code.
//
// It modifies tr rather than a copy, so that the pool the program already
// shares stays one pool: call it before tr makes its first request, as
// http.Transport's fields must not change once it is in use. A nil tr gives
// nil.
func InstrumentTransport(tr *http.Transport, opts ...Option) *http.Transport {
	if tr == nil {
		return nil
	}
	tr.DialContext = InstrumentDialer(tr.DialContext, opts...)
	instrumentProxyConnect(tr)
	return tr
}

// connInstruments are the connection metrics of one instrumented dialer.
type connInstruments struct {
	open     metric.Int64UpDownCounter
	duration metric.Float64Histogram
}

// newConnInstruments creates the instruments from mp, or the global provider
// if mp is nil.
func newConnInstruments(mp metric.MeterProvider) *connInstruments {
	m := newMeter(mp)
	open, err := httpconv.NewClientOpenConnections(m)
	if err != nil {
		otel.Handle(err)
	}
	duration, err := httpconv.NewClientConnectionDuration(m, metric.WithExplicitBucketBoundaries(
		0.01, 0.1, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
	if err != nil {
		otel.Handle(err)
	}
	return &connInstruments{open: open.Inst(), duration: duration.Inst()}
}

// wrap instruments c, dialed for the "host:port" addr.
func (ci *connInstruments) wrap(c net.Conn, addr string) *instrumentedConn {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	var peer []attribute.KeyValue
	if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok && ra != nil {
		peer = []attribute.KeyValue{semconv.NetworkPeerAddress(ra.IP.String())}
	}
	// Each set gets a slice of its own: attribute.NewSet sorts the slice
	// it is given in place, so one slice shared by the three sets (and
	// appended to) would reorder, and overwrite, the others' attributes.
	set := func(extra ...attribute.KeyValue) attribute.Set {
		return attribute.NewSet(slices.Concat([]attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(p)}, peer, extra)...)
	}
	ic := &instrumentedConn{
		Conn:    c,
		ci:      ci,
		opened:  time.Now(),
		attrs:   set(),
		active:  metric.WithAttributeSet(set(semconv.HTTPConnectionStateActive)),
		idle:    metric.WithAttributeSet(set(semconv.HTTPConnectionStateIdle)),
		sysConn: sysConnOf(c),
	}
	ci.open.Add(context.Background(), 1, ic.idle)
	return ic
}

// instrumentedConn is a connection counted in http.client.open_connections,
// active while requests use it and idle otherwise, until it closes.
type instrumentedConn struct {
	net.Conn
	ci     *connInstruments
	opened time.Time
	attrs  attribute.Set
	active metric.MeasurementOption
	idle   metric.MeasurementOption
	// sysConn reads the kernel's view of the connection; nil if it is
	// not a socket.
	sysConn sysConn
	// setup is the connection's setup under WithConnectionSpans, or nil;
	// set before the dialer returns the connection, read-only after.
	setup *connSetup

	mu     sync.Mutex
	inUse  int // requests using the connection: one, or HTTP/2 streams
	closed bool
	last   *connFacts // read at Close, for requests that end after it
	iface  string     // the local interface, once looked up
}

// Close closes the connection and records that it closed.
func (c *instrumentedConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.sysConn != nil {
			c.last = c.factsLocked()
		}
		state := c.idle
		if c.inUse > 0 {
			state = c.active
		}
		ctx := context.Background()
		c.ci.open.Add(ctx, -1, state)
		if c.setup != nil {
			// The setup span is the lifetime's exemplar: the metric and
			// the span agree on which connection this is.
			ctx = trace.ContextWithSpanContext(ctx, c.setup.sc)
		}
		c.ci.duration.Record(ctx, time.Since(c.opened).Seconds(), metric.WithAttributeSet(c.attrs))
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// acquire marks the connection as used by one more request.
func (c *instrumentedConn) acquire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.inUse++
	if c.inUse == 1 {
		ctx := context.Background()
		c.ci.open.Add(ctx, -1, c.idle)
		c.ci.open.Add(ctx, 1, c.active)
	}
}

// release marks the connection as used by one request fewer.
func (c *instrumentedConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse > 0 {
		c.inUse--
	}
	if c.closed || c.inUse > 0 {
		return
	}
	ctx := context.Background()
	c.ci.open.Add(ctx, -1, c.active)
	c.ci.open.Add(ctx, 1, c.idle)
}

// facts returns what the kernel says of the connection now, or what it said
// when the connection closed; nil where it says nothing.
func (c *instrumentedConn) facts() *connFacts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.sysConn == nil {
		return c.last
	}
	return c.factsLocked()
}

func (c *instrumentedConn) factsLocked() *connFacts {
	f := readConnFacts(c.sysConn)
	if f == nil {
		return nil
	}
	if c.iface == "" {
		c.iface = interfaceOf(c.LocalAddr())
	}
	f.iface = c.iface
	return f
}

// instrumentedConnOf returns the instrumented connection under c, which
// net/http may have wrapped in TLS, or nil.
func instrumentedConnOf(c net.Conn) *instrumentedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	ic, _ := c.(*instrumentedConn)
	return ic
}

// interfaceOf returns the name of the local network interface that has the
// IP address of a, or "".
func interfaceOf(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta == nil {
		return ""
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, iface := range ifaces {
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			if n, ok := addr.(*net.IPNet); ok && n.IP.Equal(ta.IP) {
				return iface.Name
			}
		}
	}
	return ""
}

// connFacts is the kernel's view of a TCP connection.
type connFacts struct {
	rtt, rttVar time.Duration
	retransmits uint32 // segments retransmitted over the connection's life
	cwnd        uint32 // congestion window, in segments
	iface       string
}

// Attribute keys of the connection facts; docs/metrics.md lists them.
const (
	tcpRTTKey         = attribute.Key(names.AttrTCPRTT)
	tcpRTTVarKey      = attribute.Key(names.AttrTCPRTTVar)
	tcpRetransmitsKey = attribute.Key(names.AttrTCPRetransmits)
	tcpCwndKey        = attribute.Key(names.AttrTCPCwnd)
)

// appendFacts appends the attributes of f.
func appendFacts(attrs []attribute.KeyValue, f *connFacts) []attribute.KeyValue {
	attrs = append(attrs,
		tcpRTTKey.Float64(f.rtt.Seconds()),
		tcpRTTVarKey.Float64(f.rttVar.Seconds()),
		tcpRetransmitsKey.Int64(int64(f.retransmits)),
		tcpCwndKey.Int64(int64(f.cwnd)),
	)
	if f.iface != "" {
		attrs = append(attrs, semconv.NetworkInterfaceName(f.iface))
	}
	return attrs
}
