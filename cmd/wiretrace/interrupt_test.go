package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInterruptFlushesWhatWasTraced sends the signal once the server has
// the request, so that it is in flight, and expects the partial trace, the
// message and exit status 130.
func TestInterruptFlushesWhatWasTraced(t *testing.T) {
	tests := []struct {
		name    string
		signal  os.Signal
		json    bool
		wantErr string // the request's error, from the signal
	}{
		{"SIGINT, waterfall", os.Interrupt, false, "interrupt signal received"},
		{"SIGINT, JSON", os.Interrupt, true, "interrupt signal received"},
		{"SIGTERM, waterfall", syscall.SIGTERM, false, "terminated signal received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			srv := blockUntilDone(t, arrived)
			args := []string{"-n", "3", srv.URL}
			if tt.json {
				args = append([]string{"-json"}, args...)
			}

			ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
			defer cancel()
			cmd := command(ctx, runOpts{}, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			select {
			case <-arrived:
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("the request never reached the server; stderr: %s", stderr.String())
			}
			require.NoError(t, cmd.Process.Signal(tt.signal))
			err := cmd.Wait()
			require.NoError(t, ctx.Err(), "wiretrace did not stop")

			assert.Equal(t, exitInterrupted, exitCode(t, err))
			assert.Contains(t, stderr.String(), "wiretrace: interrupted\n")
			assert.Contains(t, stdout.String()+stderr.String(), "(1 of 3)")
			assert.NotContains(t, stdout.String()+stderr.String(), "(2 of 3)", "no request after the interruption")
			if !tt.json {
				assert.Regexp(t, `wiretrace GET `+regexp.QuoteMeta(srv.URL)+` .*✗ .*`+tt.wantErr, stdout.String())
				assert.Regexp(t, `└─ GET `+regexp.QuoteMeta(srv.URL)+` ✗\s`, stdout.String())
				assert.Contains(t, stdout.String(), "http.wait")
				return
			}
			tr := traces(t, parseSpans(t, stdout.String()))
			require.Len(t, tr, 1, "the trace of the interrupted request")
			requireTree(t, tr[0])
			get := tr[0].one(t, "GET")
			assert.Equal(t, "Error", get.Status.Code)
			assert.Equal(t, "canceled", get.Attributes["error.type"])
			assert.Contains(t, get.Status.Description, tt.wantErr)
			assert.Equal(t, "Error", tr[0].root.Status.Code)
		})
	}
}
