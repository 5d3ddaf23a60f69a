package clienttrace

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// wrapBody returns rc wrapped to report BodyDone to the installs from c down
// to stop, keeping io.Writer if rc has it. http.NoBody is returned as it is
// and reports BodyDone now; any other body, even one that is empty, reports
// at its end. rc is not nil: check made a nil body http.NoBody.
func wrapBody(rc io.ReadCloser, c, stop *traceCtx) io.ReadCloser {
	if rc == http.NoBody {
		c.bodyDone(stop, BodyDoneInfo{Reason: BodyEOF})
		return http.NoBody
	}
	if w, ok := rc.(io.Writer); ok {
		return &writerBody{body: body{rc: rc, c: c, stop: stop}, w: w}
	}
	return &body{rc: rc, c: c, stop: stop}
}

// body reports BodyDone once, at io.EOF, at the first other read error, at
// the first write error (writerBody), or at Close, whichever comes first.
// Close may run concurrently with Read, as net/http allows, so the counters
// are atomic.
type body struct {
	rc      io.ReadCloser
	c, stop *traceCtx
	n       atomic.Int64
	done    atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.finish(BodyEOF, nil)
	default:
		b.finish(BodyReadError, err)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.finish(BodyClosed, err)
	return err
}

func (b *body) finish(reason BodyDoneReason, err error) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	b.c.bodyDone(b.stop, BodyDoneInfo{Reason: reason, BytesRead: b.n.Load(), Err: err})
}

// writerBody is a body that keeps the io.Writer of a protocol switch (101
// Switching Protocols) response. Writes are passed through and not counted;
// the first that fails reports BodyDone with BodyWriteError, as otelhttp
// records it, unless the body was done before.
type writerBody struct {
	body
	w io.Writer
}

func (b *writerBody) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if err != nil {
		b.finish(BodyWriteError, err)
	}
	return n, err
}
