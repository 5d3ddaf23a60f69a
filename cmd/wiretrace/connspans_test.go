package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConnSpansFlagLinksRequestsToTheSetup(t *testing.T) {
	srv := newServer(t, hello)
	hostPort := strings.TrimPrefix(srv.URL, "http://")

	res := wiretrace(t, "-connspans", "-json", "-n", "2", srv.URL)
	require.Equal(t, exitOK, res.code, res.stderr)
	type linked struct {
		Name    string `json:"name"`
		TraceID string `json:"trace_id"`
		SpanID  string `json:"span_id"`
		Links   []struct {
			TraceID string `json:"trace_id"`
			SpanID  string `json:"span_id"`
		} `json:"links"`
	}
	var setups, gets []linked
	for line := range strings.Lines(res.stdout) {
		var s linked
		require.NoError(t, json.Unmarshal([]byte(line), &s), line)
		switch s.Name {
		case "HTTP connection_setup " + hostPort:
			setups = append(setups, s)
		case "GET":
			gets = append(gets, s)
		case "http.getconn":
			t.Errorf("no http.getconn with -connspans")
		}
	}
	require.Len(t, setups, 1, "one connection, reused")
	require.Len(t, gets, 2)
	for _, g := range gets {
		require.Len(t, g.Links, 1)
		assert.Equal(t, setups[0].SpanID, g.Links[0].SpanID)
		assert.Equal(t, setups[0].TraceID, g.Links[0].TraceID)
		assert.NotEqual(t, setups[0].TraceID, g.TraceID, "the setup is a trace of its own")
	}

	res = wiretraceWith(t, runOpts{env: []string{"NO_COLOR=1", "COLUMNS=200"}}, "-connspans", "-n", "2", srv.URL)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout, "HTTP connection_setup "+hostPort)
	assert.Contains(t, res.stdout, "↗ setup, linked "+hostPort)
	assert.Regexp(t, `↗ setup, linked \S+ conn #\d+ request #2 age `, res.stdout, "the second request reused it")
}

func TestConnSpansFlagKeepsWriteOutAndSummary(t *testing.T) {
	srv := newServer(t, hello)
	format := "%{num_connects} %{remote_ip}:%{remote_port} %{http_code}\n"
	outputs := map[string]string{}
	for _, model := range [][]string{nil, {"-connspans"}} {
		args := append(append([]string{}, model...), "-s", "-n", "2", "-w", format, srv.URL)
		res := wiretrace(t, args...)
		require.Equal(t, exitOK, res.code, res.stderr)
		outputs[strings.Join(model, "")] = res.stdout
	}
	assert.Equal(t, outputs[""], outputs["-connspans"], "the same facts from the linked setup")
	assert.Contains(t, outputs[""], "1 127.0.0.1:")
	assert.Contains(t, outputs[""], "0 127.0.0.1:", "the second request reused the connection")

	res := wiretraceWith(t, runOpts{env: []string{"NO_COLOR=1"}}, "-connspans", "-n", "2", srv.URL)
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Contains(t, res.stdout+res.stderr, "connections: 1 new, 1 reused")
}
