package spantest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wiretrace/wiretrace/internal/spantest"
)

// fakeT records what AssertAllEnded reports.
type fakeT struct{ errors []string }

func (*fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func TestEndCheckerReportsTheSpansLeftOpen(t *testing.T) {
	c := spantest.NewEndChecker()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	_, ended := tracer.Start(context.Background(), "ended")
	_, open := tracer.Start(context.Background(), "open")
	ended.End()
	ended.End() // the SDK ignores it

	assert.Equal(t, []string{"open"}, c.Open())
	assert.Empty(t, c.EndedTwice())
	started, endedN := c.Counts()
	assert.Equal(t, 2, started)
	assert.Equal(t, 1, endedN)
	var ft fakeT
	c.AssertAllEnded(&ft)
	assert.Equal(t, []string{"spans started and never ended: [open]"}, ft.errors)

	open.End()
	ft = fakeT{}
	c.AssertAllEnded(&ft)
	assert.Empty(t, ft.errors)
}

func TestAwaitAllEndedWaitsForSpansEndedElsewhere(t *testing.T) {
	c := spantest.NewEndChecker()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	_, late := tracer.Start(context.Background(), "late")
	waiting := make(chan struct{})
	go func() {
		<-waiting
		late.End()
	}()
	close(waiting)
	var ft fakeT
	c.AwaitAllEnded(&ft, time.Minute)
	assert.Empty(t, ft.errors, "the span ended on another goroutine")

	tracer.Start(context.Background(), "never")
	ft = fakeT{}
	c.AwaitAllEnded(&ft, 10*time.Millisecond)
	assert.Equal(t, []string{"spans started and never ended: [never]"}, ft.errors)
}

func TestDiscardKeepsNothing(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spantest.Discard{}))
	_, span := tp.Tracer("test").Start(context.Background(), "s")
	assert.True(t, span.IsRecording(), "spans are recorded, then dropped")
	span.End()
	assert.NoError(t, tp.Shutdown(context.Background()))
}
