// Package bench is wiretrace's benchmark suite, a module of its own so that
// otelhttp and otelhttptrace, which it compares against, never become
// dependencies of the library.
//
// BenchmarkGET sends one GET per iteration to a loopback server, for every
// setup (K: HTTP/1.1 keep-alive, N: a new connection and a DNS lookup per
// request, T: a TLS handshake per request, H2: HTTP/2 streams on one
// connection) and every variant (bare, no-op httptrace hooks, otelhttp,
// otelhttp with otelhttptrace, otelhooks in its modes). TestSpanAccounting
// counts the spans and events of every row and fails if one of ours is left
// unended; TestNoHeapGrowth bounds the live heap over 100k requests.
//
// Run the whole suite with bench/run.sh; docs/performance.md has the method,
// the latest tables and the targets.
package bench
