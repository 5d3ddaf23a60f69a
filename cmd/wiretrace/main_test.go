package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// binary is the wiretrace command, built once by TestMain, with the race
// detector when the tests run with it.
var binary string

// raceEnabled is set by race_test.go when the tests run with -race.
var raceEnabled bool

// buildTimeout bounds building the binary, race detector included, on a
// slow machine.
const buildTimeout = 10 * time.Minute

// runTimeout bounds each run of the binary: far above what any run takes.
const runTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wiretrace-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "wiretrace")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	build := exec.CommandContext(ctx, "go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	err = build.Run()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build wiretrace:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}

var (
	plainOnce   sync.Once
	plainBinary string
	plainErr    error
)

// binaryWithoutRace is the command built without the race detector, for
// the tests that compare its timings with another client's: the
// detector's slowdown is not what they measure. Without -race it is
// binary itself.
func binaryWithoutRace(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		return binary
	}
	plainOnce.Do(func() {
		path := filepath.Join(filepath.Dir(binary), "wiretrace-norace")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		build := exec.CommandContext(ctx, "go", "build", "-o", path, ".")
		out, err := build.CombinedOutput()
		if err != nil {
			plainErr = fmt.Errorf("build wiretrace without -race: %w: %s", err, out)
			return
		}
		plainBinary = path
	})
	require.NoError(t, plainErr)
	return plainBinary
}

// result is what a run of the binary left.
type result struct {
	code           int
	stdout, stderr string
}

// runOpts are the rest of a run's setup.
type runOpts struct {
	env   []string // added to the test's environment, less OTEL_* and NO_COLOR
	stdin string
	dir   string // working directory; "" for the test's
	bin   string // the command to run; "" for binary
}

// wiretrace runs the binary with args, within runTimeout.
func wiretrace(t *testing.T, args ...string) result {
	t.Helper()
	return wiretraceWith(t, runOpts{}, args...)
}

func wiretraceWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	cmd := command(ctx, o, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "wiretrace %q did not finish within %v", args, runTimeout)
	return result{code: exitCode(t, err), stdout: stdout.String(), stderr: stderr.String()}
}

// command returns the command that runs the binary with args, in an
// environment free of the OTLP exporter's variables and with wide
// waterfalls, so that rows are not cut.
func command(ctx context.Context, o runOpts, args ...string) *exec.Cmd {
	bin := binary
	if o.bin != "" {
		bin = o.bin
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") || strings.HasPrefix(kv, "NO_COLOR=") || strings.HasPrefix(kv, "COLUMNS=") || strings.HasPrefix(kv, "GORACE=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "COLUMNS=200")
	if raceEnabled {
		// A race-enabled program sleeps a second before a successful
		// exit, unless told not to.
		env = append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	env = append(env, o.env...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(o.stdin)
	cmd.Dir = o.dir
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	return exitErr.ExitCode()
}

// span is a line of -json output, as waterfall.JSONExporter documents it.
type span struct {
	Name         string         `json:"name"`
	TraceID      string         `json:"trace_id"`
	SpanID       string         `json:"span_id"`
	ParentSpanID string         `json:"parent_span_id"`
	Kind         string         `json:"kind"`
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	DurationMS   float64        `json:"duration_ms"`
	Status       spanStatus     `json:"status"`
	Attributes   map[string]any `json:"attributes"`
	Events       []spanEvent    `json:"events"`
}

type spanStatus struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

type spanEvent struct {
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
}

// records are the lines of -json output that are not spans, each of one
// key: "summary" (-n) or "exchange" (-i, -v).
type records struct {
	summaries []jsonSummaryBody
	exchanges []jsonExchangeBody
}

// parseRecords parses the lines of -json output that are not spans.
func parseRecords(t *testing.T, out string) records {
	t.Helper()
	var r records
	for line := range strings.Lines(out) {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(line), &m), "line %q", line)
		switch {
		case m["summary"] != nil:
			require.Len(t, m, 1, "a summary line has one key: %q", line)
			var s jsonSummaryBody
			require.NoError(t, json.Unmarshal(m["summary"], &s))
			r.summaries = append(r.summaries, s)
		case m["exchange"] != nil:
			require.Len(t, m, 1, "an exchange line has one key: %q", line)
			var e jsonExchangeBody
			require.NoError(t, json.Unmarshal(m["exchange"], &e))
			r.exchanges = append(r.exchanges, e)
		}
	}
	return r
}

// isRecord reports whether a line of -json output is a record, not a span.
func isRecord(line []byte) bool {
	return bytes.HasPrefix(line, []byte(`{"summary":`)) || bytes.HasPrefix(line, []byte(`{"exchange":`))
}

// parseSpans parses -json output, requiring every line but the records
// to be one span.
func parseSpans(t *testing.T, out string) []span {
	t.Helper()
	var spans []span
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if isRecord(sc.Bytes()) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		var s span
		require.NoError(t, dec.Decode(&s), "line %q", sc.Text())
		_, err := dec.Token()
		require.ErrorIs(t, err, io.EOF, "line %q holds more than one object", sc.Text())
		require.Len(t, s.TraceID, 32, "line %q", sc.Text())
		require.Len(t, s.SpanID, 16, "line %q", sc.Text())
		spans = append(spans, s)
	}
	require.NoError(t, sc.Err())
	return spans
}

// traces groups spans by trace, each trace's spans in output order, the
// traces ordered by the start of their root.
type traceTree struct {
	root  span
	spans []span
}

func traces(t *testing.T, spans []span) []traceTree {
	t.Helper()
	byID := make(map[string]*traceTree)
	var order []string
	for _, s := range spans {
		tt := byID[s.TraceID]
		if tt == nil {
			tt = &traceTree{}
			byID[s.TraceID] = tt
			order = append(order, s.TraceID)
		}
		tt.spans = append(tt.spans, s)
		if s.ParentSpanID == "" {
			require.Empty(t, tt.root.SpanID, "trace %s has two roots", s.TraceID)
			tt.root = s
		}
	}
	out := make([]traceTree, 0, len(order))
	for _, id := range order {
		require.NotEmpty(t, byID[id].root.SpanID, "trace %s has no root", id)
		out = append(out, *byID[id])
	}
	for i := 1; i < len(out); i++ {
		require.False(t, out[i].root.Start.Before(out[i-1].root.Start), "traces out of order")
	}
	return out
}

// named returns the spans of tt named name.
func (tt traceTree) named(name string) []span {
	var out []span
	for _, s := range tt.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the one span of tt named name.
func (tt traceTree) one(t *testing.T, name string) span {
	t.Helper()
	s := tt.named(name)
	require.Len(t, s, 1, "spans named %q", name)
	return s[0]
}

// byID returns the span of tt with the id.
func (tt traceTree) byID(id string) (span, bool) {
	for _, s := range tt.spans {
		if s.SpanID == id {
			return s, true
		}
	}
	return span{}, false
}

// requireTree requires every span of tt but its root to have its parent
// in tt, so that the spans form one tree.
func requireTree(t *testing.T, tt traceTree) {
	t.Helper()
	for _, s := range tt.spans {
		if s.ParentSpanID == "" {
			continue
		}
		_, ok := tt.byID(s.ParentSpanID)
		require.True(t, ok, "span %s (%s) has no parent in its trace", s.Name, s.SpanID)
	}
}
