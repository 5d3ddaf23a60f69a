// Package bench is wiretrace's benchmark suite, a module of its own so that
// otelhttp and otelhttptrace, which it compares against, never become
// dependencies of the library.
//
// BenchmarkGET sends one GET per iteration to a loopback server, for every
// setup (K: HTTP/1.1 keep-alive, N: a new connection and a DNS lookup per
// request, T: a TLS handshake per request, H2: HTTP/2 streams on one
// connection) and every variant (bare, no-op httptrace hooks, propagation
// alone, otelhttp, otelhttp with otelhttptrace, otelhooks in its modes), and
// the SDK-only rows, which send no request but replay, through the SDK alone,
// the spans of a request recorded through otelhooks in the same run: with the
// no-op hooks and propagation alone, they make the floor, what any hook-based
// tracer must spend for the same telemetry (floor_test.go).
// BenchmarkParallelGET sends requests from many goroutines at once over one
// keep-alive pool and over HTTP/2 streams, for -cpu 1,2,4.
//
// TestSpanAccounting counts the spans and events of every row and fails if
// one of ours is left unended; TestReplayEmitsTheRecordedSpans checks that
// the SDK-only rows emit what they recorded; TestNoHeapGrowth bounds the live
// heap over 100k requests.
//
// Run the whole suite with bench/run.sh; docs/performance.md has the method,
// the latest tables and the targets.
package bench
