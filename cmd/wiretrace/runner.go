package main

import (
	"bytes"
	"cmp"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/internal/names"
)

// runner makes the traced requests of one run.
type runner struct {
	o        *options
	tr       *tracing
	client   *http.Client
	stdout   io.Writer // the script's: JSON lines, -w, -o -, -i
	captions io.Writer // where each request's caption goes, before its waterfall
	stderr   io.Writer
	warn     *warner

	httpError bool // -f, and a status of 400 or more
}

// step is one traced request.
type step struct {
	caption string   // printed before the waterfall
	name    string   // of the root span
	url     *url.URL // to GET, or to send the request of -X, -H and -d to
	output  string   // file to save the body to; "" to discard it, "-" for stdout
}

// urls traces the requests of the command line, each -n times, and
// reports whether one of them failed. It stops when ctx is canceled.
func (r *runner) urls(ctx context.Context) (failed bool) {
	var closeIdle func()
	var err error
	r.client, closeIdle, err = newClient(r.o, r.tr.tp, r.exchange, nil)
	if err != nil {
		fmt.Fprintf(r.stderr, "wiretrace: %s\n", oneLine(err.Error()))
		return true
	}
	defer closeIdle()

	method := r.method()
	for ui, u := range r.o.urls {
		sum := newSummary(method, u)
		for i := range r.o.count {
			if ctx.Err() != nil {
				return failed
			}
			caption := "▶ " + method + " " + displayURL(u)
			if r.o.count > 1 {
				caption += fmt.Sprintf(" (%d of %d)", i+1, r.o.count)
			}
			t := r.trace(ctx, step{
				caption: caption,
				name:    "wiretrace " + method + " " + spanURL(u),
				url:     u,
				output:  r.outputFor(ui, u),
			})
			if ctx.Err() != nil {
				return failed
			}
			sum.add(t)
			if t.err != nil {
				failed = true
				// The same failure, again and again under -n, is said
				// once; the summary counts it.
				if sum.errCount[t.errMsg] == 1 {
					fmt.Fprintf(r.stderr, "wiretrace: %s\n", t.errMsg)
				}
			} else if r.o.fail && t.status >= 400 {
				r.httpError = true
				fmt.Fprintf(r.stderr, "wiretrace: %s %s: the server answered %s (-f)\n", t.method, t.urlEffective, t.statusText)
			}
		}
		if r.o.count > 1 {
			r.printSummary(sum)
		}
	}
	return failed
}

// exchange shows a hop's heads: with -json as a line of its own; else the
// request and response with -v on stderr, as curl -v, and the response
// with -i on stdout, as curl -i.
func (r *runner) exchange(ex exchange) {
	if r.o.json {
		_, _ = r.stdout.Write(exchangeJSON(ex, r.o.verbose))
		return
	}
	if r.o.verbose {
		var b strings.Builder
		writeRequestHead(&b, ex, "> ")
		if ex.resp != nil {
			writeResponseHead(&b, ex.resp, "< ")
		}
		_, _ = io.WriteString(r.stderr, b.String()+"\n")
	}
	if r.o.include && ex.resp != nil {
		var b strings.Builder
		writeResponseHead(&b, ex.resp, "")
		_, _ = io.WriteString(r.stdout, b.String()+"\n")
	}
}

// outputFor is where the body of the URL at index i goes: its -o, else
// its file name with -O, else nowhere.
func (r *runner) outputFor(i int, u *url.URL) string {
	if i < len(r.o.outputs) {
		return r.o.outputs[i]
	}
	if r.o.remoteName {
		return remoteName(u)
	}
	return ""
}

// remoteName is the file name -O saves u's body under: the last segment
// of its path, or "" if it has none.
func remoteName(u *url.URL) string {
	p := u.Path
	if p == "" || strings.HasSuffix(p, "/") {
		return ""
	}
	name := path.Base(p)
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	return name
}

// trace prints s's caption, makes its request under a root span of its
// own, so that redirects share one trace, and prints the trace, then what
// -w asks for.
func (r *runner) trace(ctx context.Context, s step) *transfer {
	fmt.Fprintln(r.captions, s.caption)
	ctx, span := r.tr.tracer.Start(ctx, s.name)
	t := r.fetch(ctx, s)
	if t.decodedKnown {
		span.SetAttributes(
			attribute.Int64(names.AttrCLIDecodedSize, t.decoded),
			attribute.String(names.AttrCLIContentEncoding, t.encoding),
		)
	}
	if t.err != nil {
		// The request span below carries the whole error; the root says
		// what it came down to.
		span.SetStatus(codes.Error, rootCause(t.err))
	}
	span.End()
	r.tr.flushWaterfall(ctx)
	if r.tr.spans != nil {
		spans := r.tr.spans.take(span.SpanContext().TraceID())
		// With -connspans, the setups the requests link to (connspans.go).
		t.timing = buildTiming(append(spans, r.tr.spans.linked(spans)...))
	}
	if t.decodedKnown && !r.o.json {
		fmt.Fprintf(r.captions, "  body: %s on the wire, %s decoded (%s)\n\n", fmtSize(t.sizeDownload()), fmtSize(t.decoded), t.encoding)
	}
	if r.o.hasWrite {
		r.writeOut(t)
	}
	return t
}

// fetch makes the request of s and reads the response body to the end,
// into s.output or nowhere.
func (r *runner) fetch(ctx context.Context, s step) *transfer {
	t := &transfer{url: s.url, method: r.method(), file: s.output, urlEffective: spanURL(s.url)}
	if r.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.o.timeout, timeoutError{cmp.Or(r.o.timeoutFlag, "-timeout"), r.o.timeout})
		defer cancel()
	}
	ctx, stopConnTimer := withConnectTimeout(ctx, r.o.connectTimeout)
	defer stopConnTimer()
	ctx = withProxyConnect(ctx, &t.httpConnect)

	var body io.Reader
	if r.o.hasBody {
		body = bytes.NewReader(r.o.body) // sets GetBody, for redirects
	}
	req, err := http.NewRequestWithContext(ctx, t.method, s.url.String(), body)
	if err != nil {
		return t.failed(err)
	}
	for k, vs := range r.o.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if r.o.host != "" {
		req.Host = r.o.host
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	if r.o.hasBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // as curl -d
	}
	if r.o.compressed && req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "gzip, deflate")
	}
	if r.o.user != nil {
		pass, _ := r.o.user.Password()
		req.SetBasicAuth(r.o.user.Username(), pass)
	}

	resp, err := r.client.Do(req)
	if err != nil {
		return t.failed(err)
	}
	t.response(resp)

	err = r.readBody(t, resp)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// As net/http words the errors of Do: `Get "URL": …`.
		op := req.Method[:1] + strings.ToLower(req.Method[1:])
		return t.failed(&url.Error{Op: op, URL: s.url.Redacted(), Err: err})
	}
	return t
}

// readBody reads resp's body to its end, decoding it with --compressed,
// into t.file or nowhere.
func (r *runner) readBody(t *transfer, resp *http.Response) (err error) {
	dst := io.Discard
	switch t.file {
	case "":
	case "-":
		dst = r.stdout
	default:
		f, err := os.Create(t.file)
		if err != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return fmt.Errorf("-o: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("-o: %w", cerr)
			}
		}()
		dst = f
	}
	src := io.Reader(resp.Body)
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if r.o.compressed && enc != "" && enc != "identity" {
		dec, derr := decoder(enc, resp.Body)
		if derr != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return derr
		}
		defer dec.Close()
		n, err := io.Copy(dst, dec)
		t.decoded, t.decodedKnown, t.encoding = n, true, enc
		if err != nil {
			return fmt.Errorf("decoding the %s body: %w", enc, err)
		}
		// Read what the decoder left, so that the wire size is whole.
		_, err = io.Copy(io.Discard, resp.Body)
		return bodyError(err)
	}
	_, err = io.Copy(dst, src)
	return bodyError(err)
}

func bodyError(err error) error {
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	return nil
}

// decoder returns a reader that decodes a body of the Content-Encoding
// enc.
func decoder(enc string, body io.Reader) (io.ReadCloser, error) {
	switch enc {
	case "gzip", "x-gzip":
		return gzip.NewReader(body)
	case "deflate":
		// RFC 9110's deflate is zlib; some servers send raw deflate.
		br := newPeekReader(body)
		if zr, err := zlib.NewReader(br); err == nil {
			return zr, nil
		}
		return flate.NewReader(br.replay()), nil
	}
	return nil, fmt.Errorf("--compressed: cannot decode Content-Encoding %q", enc)
}

// peekReader keeps what it read, so that it can be read again once.
type peekReader struct {
	r   io.Reader
	buf bytes.Buffer
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

func (p *peekReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.buf.Write(b[:n])
	return n, err
}

// replay returns a reader of what was read, then the rest.
func (p *peekReader) replay() io.Reader { return io.MultiReader(&p.buf, p.r) }

// rootCause returns the message of the innermost error that err wraps,
// such as "connection refused" for a failed dial.
func rootCause(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err.Error()
		}
		err = inner
	}
}

// method is the method of -X, else HEAD with -I, else POST with -d, else
// GET.
func (r *runner) method() string {
	switch {
	case r.o.method != "":
		return r.o.method
	case r.o.head:
		return http.MethodHead
	case r.o.hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

// displayURL is u as a caption shows it: without its password, the
// values of sensitive query keys redacted.
func displayURL(u *url.URL) string {
	c := *u
	c.RawQuery = redactQuery(c.RawQuery)
	return c.Redacted()
}

// spanURL is u for a span name: without user info and query, which may
// hold secrets.
func spanURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// timeoutError is the cause of a request's end when -timeout, or
// --connect-timeout, is up.
type timeoutError struct {
	flag string
	d    time.Duration
}

func (e timeoutError) Error() string { return fmt.Sprintf("%s %v exceeded", e.flag, e.d) }

// Timeout reports that this is a timeout, as [net.Error] does.
func (timeoutError) Timeout() bool { return true }

// Is makes it a [context.DeadlineExceeded].
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// redirectStopped records on the root span in ctx that the redirect to
// next was not followed, as --max-redirs asked: the waterfall shows it as
// an event row.
func redirectStopped(ctx context.Context, maxRedirs int, next *url.URL) {
	span := trace.SpanFromContext(ctx)
	span.AddEvent(fmt.Sprintf("redirect not followed (--max-redirs %d)", maxRedirs), trace.WithAttributes(
		attribute.String("url.full", redactURL(next)),
		attribute.Int(names.AttrCLIMaxRedirs, maxRedirs),
	))
}
