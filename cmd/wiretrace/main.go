package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // a request failed
	exitUsage       = 2 // the command line is wrong
	exitInterrupted = 130
)

var userAgent = "wiretrace/" + otelhooks.Version()

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, which stops the run and flushes what was
	// traced, a second one ends the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command with the arguments args, without the program name,
// and returns its exit status. Canceling ctx stops it: what was traced is
// flushed, and the status is 130.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, os.Stdin, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "wiretrace: %s (wiretrace -h for help)\n", oneLine(err.Error()))
		return exitUsage
	}

	stdout, stderr = newLockedWriter(stdout), newLockedWriter(stderr)
	warn := newWarner(stderr)
	setErrorHandler(warn)
	tr, err := newTracing(ctx, o, stdout, warn, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "wiretrace: %s\n", oneLine(err.Error()))
		return exitFailed
	}
	r := &runner{o: o, tr: tr, captions: stdout, stderr: stderr}
	if o.json {
		r.captions = stderr // stdout carries JSON lines only
	}

	var failed bool
	if len(o.urls) == 0 {
		failed = r.demo(ctx)
	} else {
		failed = r.urls(ctx)
	}

	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintln(stderr, "wiretrace: interrupted")
	}
	tr.close(interrupted)
	switch {
	case interrupted:
		return exitInterrupted
	case failed:
		return exitFailed
	}
	return exitOK
}

// runner makes the traced requests of one run.
type runner struct {
	o        *options
	tr       *tracing
	client   *http.Client
	captions io.Writer // where each request's caption goes, before its waterfall
	stderr   io.Writer
}

// step is one traced request.
type step struct {
	caption string   // printed before the waterfall
	name    string   // of the root span
	url     *url.URL // to GET, or to send the request of -X, -H and -d to
}

// urls traces the requests of the command line, each -n times, and
// reports whether one of them failed. It stops when ctx is canceled.
func (r *runner) urls(ctx context.Context) (failed bool) {
	var closeIdle func()
	r.client, closeIdle = newClient(r.o, r.tr.tp, nil)
	defer closeIdle()

	method := r.method()
	for _, u := range r.o.urls {
		for i := range r.o.count {
			if ctx.Err() != nil {
				return failed
			}
			caption := "▶ " + method + " " + u.Redacted()
			if r.o.count > 1 {
				caption += fmt.Sprintf(" (%d of %d)", i+1, r.o.count)
			}
			err := r.trace(ctx, step{caption: caption, name: "wiretrace " + method + " " + spanURL(u), url: u})
			if ctx.Err() != nil {
				return failed
			}
			if err != nil {
				failed = true
				fmt.Fprintf(r.stderr, "wiretrace: %s\n", oneLine(err.Error()))
			}
		}
	}
	return failed
}

// trace prints s's caption, makes its request under a root span of its
// own, so that redirects share one trace, and prints the trace.
func (r *runner) trace(ctx context.Context, s step) error {
	fmt.Fprintln(r.captions, s.caption)
	ctx, span := r.tr.tracer.Start(ctx, s.name)
	err := r.fetch(ctx, s.url)
	if err != nil {
		// The request span below carries the whole error; the root says
		// what it came down to.
		span.SetStatus(codes.Error, rootCause(err))
	}
	span.End()
	r.tr.flushWaterfall(ctx)
	return err
}

// fetch makes the request to u and reads the response body to the end,
// discarding it.
func (r *runner) fetch(ctx context.Context, u *url.URL) error {
	if r.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.o.timeout, timeoutError{r.o.timeout})
		defer cancel()
	}
	var body io.Reader
	if r.o.hasBody {
		body = bytes.NewReader(r.o.body) // sets GetBody, for redirects
	}
	req, err := http.NewRequestWithContext(ctx, r.method(), u.String(), body)
	if err != nil {
		return err
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

	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// As net/http words the errors of Do: `Get "URL": …`.
		op := req.Method[:1] + strings.ToLower(req.Method[1:])
		return &url.Error{Op: op, URL: u.Redacted(), Err: fmt.Errorf("reading the body: %w", err)}
	}
	return nil
}

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

// method is the method of -X, else POST with -d, else GET.
func (r *runner) method() string {
	switch {
	case r.o.method != "":
		return r.o.method
	case r.o.hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

// spanURL is u for a span name: without user info and query, which may
// hold secrets.
func spanURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// newClient returns the client that requests go through: a transport like
// net/http's default one, shaped by o, traced by otelhooks to tp. adjust,
// if not nil, changes the transport further. The function returned closes
// its idle connections.
func newClient(o *options, tp trace.TracerProvider, adjust func(*http.Transport)) (*http.Client, func()) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{InsecureSkipVerify: o.insecure} // -k
	var p http.Protocols
	switch {
	case o.http1:
		p.SetHTTP1(true)
	case o.http2:
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true) // h2c with prior knowledge for http://
	default:
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	}
	base.Protocols = &p
	if adjust != nil {
		adjust(base)
	}
	if o.tcpInfo {
		// After adjust, which may set the dialer that this wraps.
		otelhooks.InstrumentTransport(base, otelhooks.WithoutMetrics())
	}
	client := &http.Client{
		Transport: otelhooks.NewTransport(base, hookOptions(o, tp)...),
	}
	return client, base.CloseIdleConnections
}

// hookOptions are the otelhooks options for o: spans go to tp, and no
// metrics are recorded, as nothing would export them.
func hookOptions(_ *options, tp trace.TracerProvider) []otelhooks.Option {
	return []otelhooks.Option{otelhooks.WithTracerProvider(tp), otelhooks.WithoutMetrics()}
}

// timeoutError is the cause of a request's end when -timeout is up.
type timeoutError struct{ d time.Duration }

func (e timeoutError) Error() string { return fmt.Sprintf("-timeout %v exceeded", e.d) }

// Timeout reports that this is a timeout, as [net.Error] does.
func (timeoutError) Timeout() bool { return true }

// Is makes it a [context.DeadlineExceeded].
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
