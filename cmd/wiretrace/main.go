package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1  // a request failed
	exitUsage       = 2  // the command line is wrong
	exitHTTPError   = 22 // -f, and a response's status was 400 or more, as curl's
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
	if o.version {
		fmt.Fprintln(stdout, versionText())
		return exitOK
	}

	stdout, stderr = newLockedWriter(stdout), newLockedWriter(stderr)
	warn := newWarner(stderr)
	setErrorHandler(warn)

	// What is for people goes to stdout, unless stdout is the script's:
	// JSON lines, -w's output or the body.
	human := stdout
	if o.json || o.hasWrite || contains(o.outputs, "-") {
		human = stderr
	}
	var waterfallOut io.Writer
	switch {
	case o.json:
		waterfallOut = stdout // the JSON exporter
	case !o.silent:
		waterfallOut = human
	}
	tr, err := newTracing(ctx, o, waterfallOut, warn, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "wiretrace: %s\n", oneLine(err.Error()))
		return exitFailed
	}
	r := &runner{o: o, tr: tr, stdout: stdout, captions: human, stderr: stderr, warn: warn}
	if o.silent {
		r.captions = io.Discard
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
	case r.httpError:
		return exitHTTPError
	}
	return exitOK
}
