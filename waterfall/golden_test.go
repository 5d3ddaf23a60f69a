package waterfall_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/wiretrace/wiretrace/waterfall"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// checkGolden compares got with testdata/name.golden, or rewrites the file
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./waterfall -update to create it")
	assert.Equal(t, string(want), got, "output differs from %s; rerun with -update if the change is intended", path)
}

// assertFits checks that no line of out is longer than width runes, once
// color sequences are removed.
func assertFits(t *testing.T, out string, width int) {
	t.Helper()
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(ansi.ReplaceAllString(line, ""), "\n")
		assert.LessOrEqual(t, utf8.RuneCountInString(line), width, "line too long: %q", line)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		fixture func() *fixture
		width   int
		color   bool
	}{
		{name: "cold_https", fixture: coldHTTPS, width: 100},
		{name: "cold_https_color", fixture: coldHTTPS, width: 100, color: true},
		{name: "warm_reused", fixture: warmReused, width: 100},
		{name: "parallel_dial", fixture: parallelDial, width: 100},
		{name: "failed_request", fixture: failedRequest, width: 100},
		{name: "failed_request_color", fixture: failedRequest, width: 100, color: true},
		{name: "late_span", fixture: lateSpan, width: 100},
		{name: "redirect_chain", fixture: redirectChain, width: 100},
		{name: "orphan", fixture: orphan, width: 100},
		{name: "events_mode", fixture: eventsMode, width: 100},
		{name: "long_url_60", fixture: longURL, width: 60},
		{name: "foreign_spans", fixture: foreign, width: 100},
		{name: "foreign_spans_color", fixture: foreign, width: 100, color: true},
		{name: "narrow_30", fixture: parallelDial, width: 30},
		{name: "tcp_facts", fixture: tcpFacts, width: 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			exp := waterfall.NewExporter(&buf, waterfall.WithWidth(tt.width), waterfall.WithColor(tt.color))
			require.NoError(t, exp.ExportSpans(context.Background(), tt.fixture().spans()))
			require.NoError(t, exp.Shutdown(context.Background()))
			out := buf.String()
			assertFits(t, out, tt.width)
			if !tt.color {
				assert.NotContains(t, out, "\x1b[", "color is off")
			}
			checkGolden(t, tt.name, out)
		})
	}
}

func TestUnknownMethodShowsOriginal(t *testing.T) {
	f := newFixture(0xef)
	f.request(nil, "HTTP", "http://cache.example/item", "cache.example", 80, 0, 3,
		attribute.String("http.request.method_original", "PURGE"),
		attribute.Int("http.response.status_code", 200))
	f.stubs[0].Attributes[0] = attribute.String("http.request.method", "_OTHER")
	var buf bytes.Buffer
	exp := waterfall.NewExporter(&buf, waterfall.WithWidth(80), waterfall.WithColor(false))
	require.NoError(t, exp.ExportSpans(context.Background(), f.spans()))
	assert.Contains(t, buf.String(), "\nHTTP PURGE http://cache.example/item 200 ")
}
