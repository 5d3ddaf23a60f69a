package otelhooks_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

var (
	leakSeed  = flag.Uint64("leak.seed", 11, "seed of TestNoSecretReachesTelemetry")
	leakCases = flag.Int("leak.cases", 150, "number of generated cases of TestNoSecretReachesTelemetry")
)

// leakBudget bounds TestNoSecretReachesTelemetry in time: no case starts
// after it, whatever -leak.cases says.
const leakBudget = 45 * time.Second

// TestNoSecretReachesTelemetry generates requests with secrets placed
// wherever real services put them, sends them over HTTP/1.1, TLS and HTTP/2
// (and to a raw server that answers with malformed header lines), and
// searches every span name, status description, attribute, event name and
// attribute, link attribute and metric attribute for each secret: none may
// appear. The URL path is out of scope (docs/spans.md).
//
// It is seeded (-leak.seed) and bounded (-leak.cases, and leakBudget in
// time); a failure names the seed, the case and the placement.
func TestNoSecretReachesTelemetry(t *testing.T) {
	w := newLeakWorld(t)
	rng := rand.New(rand.NewPCG(*leakSeed, 0x5ec7e75))
	deadline := time.Now().Add(leakBudget)
	placements, cases := 0, 0
	byKind := map[string]int{}
	for i := range *leakCases {
		if time.Now().After(deadline) {
			t.Logf("time budget spent after %d cases", i)
			break
		}
		c := w.generate(i, rng)
		t.Run(fmt.Sprintf("case%03d/%s", i, c.name()), func(t *testing.T) {
			w.run(t, c)
		})
		cases++
		placements += len(c.placed)
		for _, p := range c.placed {
			byKind[p.kind]++
		}
	}
	t.Logf("seed %d: %d cases, %d secret placements searched, by kind: %v", *leakSeed, cases, placements, byKind)
}

// placement is one secret and where it was put.
type placement struct {
	secret string
	kind   string // for the tally: "header", "query", ...
	where  string
}

// leakCase is one generated request, with the server's part of it.
type leakCase struct {
	id     int
	proto  string // "h1", "tls", "h2", "raw", "rawtls"
	events bool   // WithoutSubSpans
	// noSpan is WithoutRequestSpan: the phases go under the caller's span,
	// as under otelhttp.
	noSpan bool
	// connSpans is WithConnectionSpans: dials are setup spans of their own.
	connSpans bool
	opts      []otelhooks.Option

	rawURL   string
	header   http.Header
	cookies  []*http.Cookie
	redirect string // Location the server answers with, if any
	// response headers the server sets; early, those of a 103 first.
	response, early http.Header
	// baseErr, if not nil, makes the base transport fail the round trip
	// with this error built from its request, after sending it.
	baseErr func(*http.Request) error
	// malformed is the raw response of a "raw" server.
	malformed string
	// proxy, if not nil, is the base transport's Proxy: one that cannot be
	// reached, or that fails with an error naming its URL.
	proxy func(*http.Request) (*url.URL, error)

	placed []placement
}

func (c *leakCase) name() string {
	n := c.proto
	if c.events {
		n += "+events"
	}
	if c.noSpan {
		n += "+nospan"
	}
	if c.connSpans {
		n += "+connspans"
	}
	switch {
	case c.baseErr != nil:
		n += "+baseerr"
	case c.proxy != nil:
		n += "+proxy"
	case c.redirect != "":
		n += "+redirect"
	}
	return n
}

// leakWorld is the servers every case uses.
type leakWorld struct {
	mu    sync.Mutex
	cases map[int]*leakCase

	h1, tls1, h2     *httptest.Server
	raw, rawTLS      net.Listener
	refused          string // an address where nothing listens
	tr1, trTLS, trH2 *http.Transport
	trRawTLS         *http.Transport
}

func newLeakWorld(t *testing.T) *leakWorld {
	t.Helper()
	w := &leakWorld{cases: map[int]*leakCase{}, refused: testnet.RefusedAddr(t)}
	h := http.HandlerFunc(w.serve)
	w.h1 = httptest.NewServer(h)
	t.Cleanup(w.h1.Close)
	w.tr1 = &http.Transport{}
	w.tls1, w.trTLS = testnet.NewTLSServer(t, h, false)
	w.h2, w.trH2 = testnet.NewTLSServer(t, h, true)

	ca := testnet.NewCA(t, "wiretrace leak CA")
	var wg sync.WaitGroup
	listen := func(cfg *tls.Config) net.Listener {
		ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		if cfg != nil {
			ln = tls.NewListener(ln, cfg)
		}
		wg.Go(func() { w.serveRaw(ln) })
		return ln
	}
	w.raw = listen(nil)
	w.rawTLS = listen(&tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, "localhost", "localhost", "127.0.0.1")}, NextProtos: []string{"http/1.1"}})
	w.trRawTLS = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	t.Cleanup(func() {
		_ = w.raw.Close()
		_ = w.rawTLS.Close()
		wg.Wait()
		for _, tr := range []*http.Transport{w.tr1, w.trTLS, w.trH2, w.trRawTLS} {
			tr.CloseIdleConnections()
		}
	})
	return w
}

func (w *leakWorld) lookup(path string) *leakCase {
	var id int
	if _, err := fmt.Sscanf(path, "/c/%d/", &id); err != nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cases[id]
}

// serve answers for a case: a redirect, or 200 with the case's headers,
// after a 103 Early Hints with its own if the case has them.
func (w *leakWorld) serve(rw http.ResponseWriter, r *http.Request) {
	c := w.lookup(r.URL.Path)
	if c == nil {
		http.NotFound(rw, r)
		return
	}
	if c.redirect != "" && strings.HasSuffix(r.URL.Path, "/start") {
		for k, vs := range c.response {
			rw.Header()[k] = vs
		}
		rw.Header().Set("Location", c.redirect)
		rw.WriteHeader(http.StatusFound)
		return
	}
	if c.early != nil {
		for k, vs := range c.early {
			rw.Header()[k] = vs
		}
		rw.WriteHeader(http.StatusEarlyHints)
		for k := range c.early {
			rw.Header().Del(k)
		}
	}
	for k, vs := range c.response {
		rw.Header()[k] = vs
	}
	_, _ = io.WriteString(rw, "ok")
}

// serveRaw answers each connection with its case's malformed response.
func (w *leakWorld) serveRaw(ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer func() { _ = conn.Close() }()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			c := w.lookup(req.URL.Path)
			if c == nil {
				return
			}
			_, _ = io.WriteString(conn, c.malformed)
		})
	}
}

// gen draws the parts of one case.
type gen struct {
	rng *rand.Rand
	c   *leakCase
}

const secretChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// secret returns a new secret, recorded as placed at where.
func (g *gen) secret(kind, where string) string {
	b := []byte("zq")
	for range 18 {
		b = append(b, secretChars[g.rng.IntN(len(secretChars))])
	}
	s := string(b)
	g.c.placed = append(g.c.placed, placement{secret: s, kind: kind, where: where})
	return s
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *gen) pick(xs []string) string { return xs[g.rng.IntN(len(xs))] }

// casing returns s with each letter in a random case.
func (g *gen) casing(s string) string {
	b := []byte(s)
	for i, c := range b {
		if g.chance(0.5) {
			b[i] = strings.ToUpper(string(c))[0]
		} else {
			b[i] = strings.ToLower(string(c))[0]
		}
	}
	return string(b)
}

// escape percent-encodes some of the bytes of a query key.
func (g *gen) escape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if g.chance(0.3) {
			f := "%%%02X"
			if g.chance(0.5) {
				f = "%%%02x"
			}
			fmt.Fprintf(&b, f, s[i])
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// spaced surrounds an option's key with white space, as a config file
// split at commas gives it.
func (g *gen) spaced(s string) string {
	return g.pick([]string{"", " ", "  ", "\t"}) + s + g.pick([]string{"", " ", "\t"})
}

// query returns a raw query (or fragment) of benign and secret parameters,
// joined by '&' or ';'.
func (g *gen) query(kind string) string {
	keys := otelhooks.DefaultRedactedQueryKeys()
	var parts []string
	for range 1 + g.rng.IntN(4) {
		if g.chance(0.3) {
			parts = append(parts, g.pick([]string{"page=2", "limit=10", "q=shoes", "flag"}))
			continue
		}
		k := g.casing(g.pick(keys))
		if g.chance(0.4) {
			k = g.escape(k)
		}
		parts = append(parts, k+"="+g.secret(kind, kind+" key "+k))
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString(g.pick([]string{"&", ";"}))
		}
		b.WriteString(p)
	}
	return b.String()
}

// userinfo returns "user:secret@", "secret@" or "secret:secret@".
func (g *gen) userinfo(kind string) string {
	switch g.rng.IntN(3) {
	case 0:
		return "user:" + g.secret(kind, kind+" password") + "@"
	case 1:
		return g.secret(kind, kind+" user") + "@"
	}
	return g.secret(kind, kind+" user") + ":" + g.secret(kind, kind+" password") + "@"
}

// secretURL returns an absolute URL on host with secrets in its userinfo,
// query and fragment.
func (g *gen) secretURL(kind, scheme, host, path string) string {
	u := scheme + "://"
	if g.chance(0.6) {
		u += g.userinfo(kind)
	}
	u += host + path + "?" + g.query(kind)
	if g.chance(0.4) {
		u += "#" + g.query(kind)
	}
	return u
}

// putHeader sets a request header under a key in a random casing (a
// non-canonical map key half the time) with one or more values.
func (g *gen) putHeader(h http.Header, key string, value func() string) {
	n := 1 + g.rng.IntN(3)
	var vs []string
	for range n {
		vs = append(vs, value())
	}
	if g.chance(0.5) {
		h[http.CanonicalHeaderKey(key)] = append(h[http.CanonicalHeaderKey(key)], vs...)
		return
	}
	h[g.casing(key)] = vs
}

func (w *leakWorld) generate(id int, rng *rand.Rand) *leakCase {
	c := &leakCase{id: id, header: http.Header{}}
	g := &gen{rng: rng, c: c}
	c.proto = g.pick([]string{"h1", "tls", "h2", "h1", "tls", "h2", "raw", "rawtls"})
	c.events = g.chance(0.4)
	c.noSpan = g.chance(0.15)
	c.connSpans = g.chance(0.3)

	var srvURL *url.URL
	switch c.proto {
	case "h1":
		srvURL, _ = url.Parse(w.h1.URL)
	case "tls":
		srvURL, _ = url.Parse(w.tls1.URL)
	case "h2":
		srvURL, _ = url.Parse(w.h2.URL)
	case "raw":
		srvURL = &url.URL{Scheme: "http", Host: w.raw.Addr().String()}
	case "rawtls":
		srvURL = &url.URL{Scheme: "https", Host: w.rawTLS.Addr().String()}
	}
	path := fmt.Sprintf("/c/%d/start", id)
	c.rawURL = srvURL.Scheme + "://"
	if g.chance(0.5) {
		c.rawURL += g.userinfo("userinfo")
	}
	c.rawURL += srvURL.Host + path
	if g.chance(0.85) {
		c.rawURL += "?" + g.query("query")
	}
	if g.chance(0.4) {
		c.rawURL += "#" + g.query("fragment")
	}

	// Request headers: the always-redacted ones, one of the application's
	// own, the URL-valued ones, and cookies.
	apiKey := g.pick([]string{"X-Api-Key", "X-Auth-Token", "Private-Token"})
	recorded := []string{"x-request-id", "referer", "origin"}
	if g.chance(0.7) {
		g.putHeader(c.header, "authorization", func() string {
			return g.pick([]string{"Bearer ", "Basic ", "token ", ""}) + g.secret("header", "Authorization")
		})
		recorded = append(recorded, "authorization")
	}
	if g.chance(0.4) {
		g.putHeader(c.header, "proxy-authorization", func() string { return "Basic " + g.secret("header", "Proxy-Authorization") })
		recorded = append(recorded, "proxy-authorization")
	}
	if g.chance(0.6) {
		g.putHeader(c.header, strings.ToLower(apiKey), func() string { return g.secret("header", apiKey) })
		recorded = append(recorded, apiKey)
	}
	if g.chance(0.5) {
		g.putHeader(c.header, "cookie", func() string {
			return "sid=" + g.secret("cookie", "Cookie header") + "; theme=dark"
		})
		recorded = append(recorded, "cookie")
	}
	if g.chance(0.5) {
		for range 1 + g.rng.IntN(2) {
			c.cookies = append(c.cookies, &http.Cookie{Name: g.pick([]string{"session", "csrf", "remember"}), Value: g.secret("cookie", "AddCookie")})
		}
		recorded = append(recorded, "cookie")
	}
	if g.chance(0.5) {
		c.header.Set("Referer", g.secretURL("url header", "https", "app.example.com", "/from"))
		recorded = append(recorded, "referer")
	}
	if g.chance(0.3) {
		c.header.Set("Origin", "https://"+g.userinfo("url header")+"app.example.com")
		recorded = append(recorded, "origin")
	}
	c.header.Set("X-Request-Id", "req-1")

	// The server's part.
	c.response = http.Header{}
	if g.chance(0.5) {
		for range 1 + g.rng.IntN(2) {
			c.response.Add("Set-Cookie", "sid="+g.secret("set-cookie", "Set-Cookie")+"; HttpOnly")
		}
	}
	if g.chance(0.4) {
		c.response.Set("Content-Location", g.secretURL("url header", srvURL.Scheme, srvURL.Host, "/elsewhere"))
	}
	if c.proto != "raw" && c.proto != "rawtls" {
		if g.chance(0.3) {
			c.early = http.Header{
				"Set-Cookie": {"early=" + g.secret("set-cookie", "Set-Cookie on 103")},
				"Link":       {"<" + g.secretURL("url header", srvURL.Scheme, srvURL.Host, "/style.css") + ">; rel=preload; as=style"},
			}
		}
		if g.chance(0.35) {
			final := fmt.Sprintf("/c/%d/final", id)
			if g.chance(0.5) {
				c.redirect = g.secretURL("redirect", srvURL.Scheme, srvURL.Host, final)
			} else {
				c.redirect = final + "?" + g.query("redirect")
			}
		}
		switch {
		case g.chance(0.2):
			c.baseErr = g.baseError()
		case g.chance(0.12):
			c.proxy = g.proxy(w.refused)
			c.redirect = ""
		}
	} else {
		c.malformed = g.malformed()
	}

	// Options: headers asked for in any casing and spacing, the
	// application's key redacted the same way.
	var respKeys []string
	for _, k := range []string{"set-cookie", "location", "content-location", "link", "x-visible"} {
		respKeys = append(respKeys, g.spaced(g.casing(k)))
	}
	var reqKeys []string
	for _, k := range recorded {
		reqKeys = append(reqKeys, g.spaced(g.casing(k)))
	}
	c.opts = []otelhooks.Option{
		otelhooks.WithRequestHeaders(reqKeys...),
		otelhooks.WithResponseHeaders(respKeys...),
		otelhooks.WithRedactedHeaders(g.spaced(g.casing(apiKey))),
	}
	if c.events {
		c.opts = append(c.opts, otelhooks.WithoutSubSpans())
	}
	if c.noSpan {
		c.opts = append(c.opts, otelhooks.WithoutRequestSpan())
	}
	if c.connSpans {
		c.opts = append(c.opts, otelhooks.WithConnectionSpans())
	}
	return c
}

// baseError returns a base transport's error built from its request, as
// retry libraries make them.
func (g *gen) baseError() func(*http.Request) error {
	switch g.rng.IntN(3) {
	case 0:
		return func(r *http.Request) error {
			return &url.Error{Op: r.Method, URL: r.URL.String(), Err: io.ErrUnexpectedEOF}
		}
	case 1:
		return func(r *http.Request) error {
			return fmt.Errorf("retry: giving up on %s %s after 3 attempts: %w", r.Method, r.URL, io.ErrUnexpectedEOF)
		}
	}
	return func(r *http.Request) error {
		var creds []string
		for k, vs := range r.Header {
			if strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Cookie") {
				creds = append(creds, vs...)
			}
		}
		return fmt.Errorf("upstream rejected credentials %q for %v: %w", creds, r.URL.Redacted(), errors.New("401"))
	}
}

// proxy returns a Proxy function for a proxy with userinfo and a token in
// its URL: one on a refused address, or one whose lookup fails with an error
// that names the URL, quoted or not, as a configuration layer might.
func (g *gen) proxy(refused string) func(*http.Request) (*url.URL, error) {
	u := &url.URL{Scheme: "http", Host: refused, RawQuery: "token=" + g.secret("proxy", "proxy URL token")}
	u.User = url.UserPassword("puser", g.secret("proxy", "proxy password"))
	switch g.rng.IntN(3) {
	case 0:
		return http.ProxyURL(u)
	case 1:
		return func(*http.Request) (*url.URL, error) { return nil, fmt.Errorf("proxy %s: no route", u) }
	}
	raw := strings.TrimPrefix(u.String(), "http://")
	return func(*http.Request) (*url.URL, error) {
		return nil, fmt.Errorf("invalid proxy address %q: %w", raw, errors.New("bad port"))
	}
}

// malformed returns a raw response with a secret in a header line that
// net/http quotes in its error.
func (g *gen) malformed() string {
	s := g.secret("malformed", "malformed response")
	switch g.rng.IntN(8) {
	case 0:
		return "HTTP/1.1 200 OK\r\nSet-Cookie sid=" + s + "\r\nContent-Length: 0\r\n\r\n"
	case 1:
		return "HTTP/1.1 200 OK\r\n Set-Cookie: sid=" + s + "\r\nContent-Length: 0\r\n\r\n"
	case 6:
		return "HTTP/1.1 200 OK\r\nX-A: 1\r\nSet-Cookie: sid=" + s + "\x01\r\nContent-Length: 0\r\n\r\n"
	case 7:
		return "HTTP/1.1 200 OK\r\nX-A: 1\r\nSet-Cookie\x7f: sid=" + s + "\r\nContent-Length: 0\r\n\r\n"
	case 2:
		return "Set-Cookie: sid=" + s + "\r\n\r\n"
	case 3:
		return "HTTP/1.1 2" + s + " OK\r\nContent-Length: 0\r\n\r\n"
	case 4:
		return "HTTP/1.1 200 OK\r\nContent-Length: " + s + "\r\n\r\n"
	}
	return "HTTP/1.1 200 OK\r\nTransfer-Encoding: " + s + "\r\n\r\n"
}

// baseFor returns a new base transport for the case's protocol, recording
// connection metrics to mp.
func (w *leakWorld) baseFor(c *leakCase, mp *sdkmetric.MeterProvider, e *env) http.RoundTripper {
	var tr *http.Transport
	switch c.proto {
	case "h1", "raw":
		tr = w.tr1.Clone()
	case "tls":
		tr = w.trTLS.Clone()
	case "h2":
		tr = w.trH2.Clone()
	case "rawtls":
		tr = w.trRawTLS.Clone()
	}
	if c.proxy != nil {
		tr.Proxy = c.proxy
	}
	tr = otelhooks.InstrumentTransport(tr, otelhooks.WithMeterProvider(mp), otelhooks.WithTracerProvider(e.tp))
	if c.baseErr == nil {
		return tr
	}
	return leakRoundTripper{tr: tr, fail: c.baseErr}
}

// leakRoundTripper sends the request, then fails it with an error of its
// own making, as a retry library that gave up would.
type leakRoundTripper struct {
	tr   *http.Transport
	fail func(*http.Request) error
}

func (l leakRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.tr.RoundTrip(r)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return nil, l.fail(r)
}

func (l leakRoundTripper) CloseIdleConnections() { l.tr.CloseIdleConnections() }

func (w *leakWorld) run(t *testing.T, c *leakCase) {
	t.Helper()
	w.mu.Lock()
	w.cases[c.id] = c
	w.mu.Unlock()

	e := newEnv(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	base := w.baseFor(c, mp, e)
	t.Cleanup(func() { base.(interface{ CloseIdleConnections() }).CloseIdleConnections() })
	opts := append([]otelhooks.Option{otelhooks.WithMeterProvider(mp)}, c.opts...)
	client := e.client(base, opts...)

	ctx, root := e.root(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.rawURL, nil)
	require.NoError(t, err)
	req.Header = c.header
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	resp, err := client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
	}
	root.End()

	failed := c.baseErr != nil || c.malformed != "" || c.proxy != nil
	if failed {
		require.Error(t, err, "the case fails the round trip: %q", c.malformed)
	} else {
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))

	spans := e.spans()
	dump := strings.ToLower(telemetryText(spans, rm))
	if !c.noSpan {
		requests := named(spans, "GET")
		require.NotEmpty(t, requests, "a request span")
		if failed {
			assert.Equal(t, codes.Error, requests[0].Status().Code)
			assert.NotEmpty(t, requests[0].Status().Description)
		}
		require.Contains(t, dump, "url.full=", "the search covers the request span")
		require.Contains(t, dump, "http.request.header.x-request-id=[\"req-1\"]", "the search covers the recorded headers")
	}
	for _, p := range c.placed {
		assert.NotContains(t, dump, p.secret, "seed %d, case %d (%s): the secret of %s leaked; the request was %s", *leakSeed, c.id, c.name(), p.where, c.rawURL)
	}
	if t.Failed() {
		t.Logf("telemetry of the case:\n%s", dump)
	}
}

// telemetryText returns everything the spans and metrics carry as text: span
// names, status descriptions, attributes, event names and attributes, link
// attributes, metric names and the attributes of every data point and
// exemplar.
func telemetryText(spans []sdktrace.ReadOnlySpan, rm metricdata.ResourceMetrics) string {
	var b strings.Builder
	kvs := func(prefix string, set []attribute.KeyValue) {
		for _, kv := range set {
			b.WriteString(prefix + string(kv.Key) + "=" + kv.Value.String() + "\n")
		}
	}
	for _, s := range spans {
		b.WriteString("span " + s.Name() + " status " + s.Status().Description + "\n")
		kvs("  ", s.Attributes())
		for _, ev := range s.Events() {
			b.WriteString("  event " + ev.Name + "\n")
			kvs("    ", ev.Attributes)
		}
		for _, l := range s.Links() {
			b.WriteString("  link\n")
			kvs("    ", l.Attributes)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			b.WriteString("metric " + m.Name + "\n")
			metricAttrs(m.Data, func(set attribute.Set, exemplars [][]attribute.KeyValue) {
				kvs("  ", set.ToSlice())
				for _, ex := range exemplars {
					kvs("  exemplar ", ex)
				}
			})
		}
	}
	return b.String()
}

// metricAttrs calls f with the attributes of each data point of data.
func metricAttrs(data metricdata.Aggregation, f func(attribute.Set, [][]attribute.KeyValue)) {
	switch d := data.(type) {
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			f(p.Attributes, exemplarAttrs(p.Exemplars))
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			f(p.Attributes, exemplarAttrs(p.Exemplars))
		}
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			f(p.Attributes, exemplarAttrs(p.Exemplars))
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			f(p.Attributes, exemplarAttrs(p.Exemplars))
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			f(p.Attributes, exemplarAttrs(p.Exemplars))
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			f(p.Attributes, exemplarAttrs(p.Exemplars))
		}
	default:
		panic(fmt.Sprintf("metric data of type %T not searched", data))
	}
}

func exemplarAttrs[N int64 | float64](exs []metricdata.Exemplar[N]) [][]attribute.KeyValue {
	var out [][]attribute.KeyValue
	for _, ex := range exs {
		out = append(out, ex.FilteredAttributes)
	}
	return out
}
