package otelhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// countingTracer starts unsampled spans that count how many started and how
// many ended: a tracer of another SDK may hold state for a span, recording
// or not, until End.
type countingTracer struct {
	noop.Tracer
	started, ended atomic.Int64
}

type countingSpan struct {
	noop.Span
	t *countingTracer
}

func (s countingSpan) End(...trace.SpanEndOption) { s.t.ended.Add(1) }

func (t *countingTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	t.started.Add(1)
	s := countingSpan{t: t}
	return trace.ContextWithSpan(ctx, s), s
}

type countingProvider struct {
	noop.TracerProvider
	t *countingTracer
}

func (p countingProvider) Tracer(string, ...trace.TracerOption) trace.Tracer { return p.t }

// TestTransportEndsUnsampledRequestSpan pins that the request span the
// transport starts is ended even when it does not record, metered or not:
// every span that starts ends.
func TestTransportEndsUnsampledRequestSpan(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	for _, metered := range []bool{false, true} {
		tr := &countingTracer{}
		opts := []otelhooks.Option{otelhooks.WithTracerProvider(countingProvider{t: tr})}
		if !metered {
			opts = append(opts, otelhooks.WithoutMetrics())
		}
		client := &http.Client{Transport: otelhooks.NewTransport(srv.Client().Transport, opts...)}
		require.NoError(t, send(t.Context(), client, srv.URL))
		assert.Equal(t, int64(1), tr.started.Load(), "metered: %v", metered)
		assert.Equal(t, tr.started.Load(), tr.ended.Load(), "metered: %v", metered)
	}
}
