package main

import (
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *options)
	}{
		{
			name: "defaults",
			args: []string{"example.com"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				require.Len(t, o.urls, 1)
				assert.Equal(t, "http://example.com", o.urls[0].String(), "a URL without a scheme gets http://")
				assert.Equal(t, 1, o.count)
				assert.Equal(t, defaultTimeout, o.timeout)
				assert.False(t, o.hasBody)
				assert.Nil(t, o.otlp)
				assert.Empty(t, o.service)
			},
		},
		{
			name: "flags before, between and after URLs",
			args: []string{"-n", "2", "https://a.test", "-k", "b.test:8080/x", "-timeout", "1.5s"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				require.Len(t, o.urls, 2)
				assert.Equal(t, "https://a.test", o.urls[0].String())
				assert.Equal(t, "http://b.test:8080/x", o.urls[1].String())
				assert.Equal(t, 2, o.count)
				assert.True(t, o.insecure)
				assert.Equal(t, 1500*time.Millisecond, o.timeout)
			},
		},
		{
			name: "-- ends the flags",
			args: []string{"-json", "--", "a.test", "-k"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.True(t, o.json)
				assert.False(t, o.insecure)
				require.Len(t, o.urls, 2)
				assert.Equal(t, "http://-k", o.urls[1].String())
			},
		},
		{
			name: "headers add up; Host goes apart",
			args: []string{"-H", "x-a: 1", "-H", "X-A:2", "-H", "Host: h.test", "-H", "X-Empty:", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, http.Header{"X-A": {"1", "2"}, "X-Empty": {""}}, o.header)
				assert.Equal(t, "h.test", o.host)
			},
		},
		{
			name: "-d",
			args: []string{"-d", "a=1", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.True(t, o.hasBody)
				assert.Equal(t, "a=1", string(o.body))
			},
		},
		{
			name: "-d @- reads stdin",
			args: []string{"-d", "@-", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, "stdin body", string(o.body))
			},
		},
		{
			name: "-timeout 0 is no limit",
			args: []string{"-timeout", "0", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Zero(t, o.timeout)
			},
		},
		{
			name: "no URL is the demo, which takes the output and transport flags",
			args: []string{"-json", "-http1", "-k", "-timeout", "5s", "-service", "s"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Empty(t, o.urls)
				assert.True(t, o.json)
				assert.True(t, o.http1)
				assert.Equal(t, "s", o.service)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseArgs(tt.args, strings.NewReader("stdin body"), noEnv)
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

func TestParseArgsHelp(t *testing.T) {
	_, err := parseArgs([]string{"a.test", "-h"}, strings.NewReader(""), noEnv)
	require.ErrorIs(t, err, flag.ErrHelp)
}

func TestResolveOTLP(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		protocol string
		env      map[string]string
		want     *otlpTarget
		wantErr  string
	}{
		{name: "nothing asked", want: nil},
		{
			name: "grpc:// is gRPC without TLS", endpoint: "grpc://127.0.0.1:4317",
			want: &otlpTarget{protocol: protoGRPC, endpoint: "127.0.0.1:4317", plain: true, display: "grpc://127.0.0.1:4317"},
		},
		{
			name: "grpcs:// is gRPC with TLS, port 4317 by default", endpoint: "grpcs://collector.test",
			want: &otlpTarget{protocol: protoGRPC, endpoint: "collector.test:4317", display: "grpcs://collector.test:4317"},
		},
		{
			name: "http:// is HTTP without TLS, to /v1/traces", endpoint: "http://127.0.0.1:4318",
			want: &otlpTarget{protocol: protoHTTP, endpoint: "127.0.0.1:4318", path: "/v1/traces", plain: true, display: "http://127.0.0.1:4318/v1/traces"},
		},
		{
			name: "https:// keeps its path, port 4318 by default", endpoint: "https://collector.test/otlp/v1/traces",
			want: &otlpTarget{protocol: protoHTTP, endpoint: "collector.test:4318", path: "/otlp/v1/traces", display: "https://collector.test:4318/otlp/v1/traces"},
		},
		{
			name: "bare port 4317 is gRPC, plain on loopback", endpoint: "localhost:4317",
			want: &otlpTarget{protocol: protoGRPC, endpoint: "localhost:4317", plain: true, display: "grpc://localhost:4317"},
		},
		{
			name: "bare port 4318 is HTTP", endpoint: "[::1]:4318",
			want: &otlpTarget{protocol: protoHTTP, endpoint: "[::1]:4318", path: "/v1/traces", plain: true, display: "http://[::1]:4318/v1/traces"},
		},
		{
			name: "bare remote host gets TLS", endpoint: "collector.test:4317",
			want: &otlpTarget{protocol: protoGRPC, endpoint: "collector.test:4317", display: "grpcs://collector.test:4317"},
		},
		{
			name: "-otlp-protocol wins over the port", endpoint: "127.0.0.1:4317", protocol: protoHTTP,
			want: &otlpTarget{protocol: protoHTTP, endpoint: "127.0.0.1:4317", path: "/v1/traces", plain: true, display: "http://127.0.0.1:4317/v1/traces"},
		},
		{
			name: "the environment's protocol wins over the port", endpoint: "http://127.0.0.1:9000",
			env:  map[string]string{envProtocol: "grpc"},
			want: &otlpTarget{protocol: protoGRPC, endpoint: "127.0.0.1:9000", plain: true, display: "grpc://127.0.0.1:9000"},
		},
		{
			name: "the traces protocol wins over the general one", endpoint: "127.0.0.1:9000",
			env:  map[string]string{envProtocol: "grpc", envTracesProtocol: "http/json"},
			want: &otlpTarget{protocol: protoJSON, endpoint: "127.0.0.1:9000", path: "/v1/traces", plain: true, display: "http://127.0.0.1:9000/v1/traces"},
		},
		{
			name: "endpoint from the environment, port 4317", env: map[string]string{envEndpoint: "http://collector.test:4317"},
			want: &otlpTarget{protocol: protoGRPC, display: "http://collector.test:4317 (OTEL_EXPORTER_OTLP_ENDPOINT)"},
		},
		{
			name: "traces endpoint from the environment first",
			env:  map[string]string{envEndpoint: "http://a.test:4317", envTracesEndpoint: "http://b.test:4318/v1/traces"},
			want: &otlpTarget{protocol: protoHTTP, display: "http://b.test:4318/v1/traces (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"},
		},
		{
			name: "-otlp wins over the environment's endpoint", endpoint: "grpc://127.0.0.1:1234",
			env:  map[string]string{envEndpoint: "http://a.test:4318"},
			want: &otlpTarget{protocol: protoGRPC, endpoint: "127.0.0.1:1234", plain: true, display: "grpc://127.0.0.1:1234"},
		},
		{name: "unknown protocol", endpoint: "localhost:4317", protocol: "thrift", wantErr: `-otlp-protocol "thrift"`},
		{name: "protocol alone", protocol: protoGRPC, wantErr: "-otlp-protocol needs -otlp or OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "protocol against the scheme", endpoint: "grpc://localhost:4317", protocol: protoHTTP, wantErr: "contradicts"},
		{name: "unknown scheme", endpoint: "udp://localhost:4317", wantErr: `scheme "udp"`},
		{name: "no host", endpoint: "http://:4318", wantErr: "no host"},
		{name: "bad port", endpoint: "localhost:http", wantErr: `bad port "http"`},
		{name: "malformed", endpoint: "http://[::1", wantErr: "missing ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveOTLP(tt.endpoint, tt.protocol, envOf(tt.env))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRootCause(t *testing.T) {
	_, err := parseArgs([]string{"-d", "@/nonexistent/x", "a.test"}, strings.NewReader(""), noEnv)
	require.Error(t, err)
	assert.Equal(t, "no such file or directory", rootCause(err))
}
