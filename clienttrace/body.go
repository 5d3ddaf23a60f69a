package clienttrace

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// wrapBody returns rc wrapped to report BodyDone to c, keeping io.Writer if rc
// has it. A nil body, or http.NoBody, becomes http.NoBody and reports
// BodyDone now; any other body, even one that is empty, reports at its end.
func wrapBody(rc io.ReadCloser, c *traceCtx) io.ReadCloser {
	if rc == nil || rc == http.NoBody {
		c.bodyDone(BodyDoneInfo{Reason: BodyEOF})
		return http.NoBody
	}
	if w, ok := rc.(io.Writer); ok {
		return &writerBody{body: body{rc: rc, c: c}, w: w}
	}
	return &body{rc: rc, c: c}
}

// body reports BodyDone once, at io.EOF, at the first other read error, or at
// Close, whichever comes first. Close may run concurrently with Read, as
// net/http allows, so the counters are atomic.
type body struct {
	rc   io.ReadCloser
	c    *traceCtx
	n    atomic.Int64
	done atomic.Bool
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
	b.c.bodyDone(BodyDoneInfo{Reason: reason, BytesRead: b.n.Load(), Err: err})
}

// writerBody is a body that keeps the io.Writer of a protocol switch (101
// Switching Protocols) response. Writes are passed through and not counted.
type writerBody struct {
	body
	w io.Writer
}

func (b *writerBody) Write(p []byte) (int, error) {
	return b.w.Write(p)
}
