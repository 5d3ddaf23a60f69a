package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArgsCurlFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *options)
	}{
		{
			name: "combined one-letter flags, the last with a value",
			args: []string{"-sSfLo", "/dev/null", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.True(t, o.silent)
				assert.True(t, o.fail)
				assert.Equal(t, []string{"/dev/null"}, o.outputs)
			},
		},
		{
			name: "long names as curl spells them",
			args: []string{"--request", "PUT", "--header", "X-A: 1", "--data", "a=1", "--data", "b=2", "--insecure", "--include", "--verbose", "--fail", "--http1.1", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, "PUT", o.method)
				assert.Equal(t, "1", o.header.Get("X-A"))
				assert.Equal(t, "a=1&b=2", string(o.body), "repeated -d are joined by &, as curl joins them")
				assert.True(t, o.insecure && o.include && o.verbose && o.fail && o.http1)
			},
		},
		{
			name: "--data-raw takes @ literally",
			args: []string{"--data-raw", "@not-a-file", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, "@not-a-file", string(o.body))
			},
		},
		{
			name: "-m and --connect-timeout take seconds or durations",
			args: []string{"-m", "2.5", "--connect-timeout", "300ms", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, 2500*time.Millisecond, o.timeout)
				assert.Equal(t, 300*time.Millisecond, o.connectTimeout)
			},
		},
		{
			name: "-u, -x without a scheme, --noproxy",
			args: []string{"-u", "bob:pa:ss", "-x", "proxy.test:3128", "--noproxy", "a.test, .internal", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				pass, _ := o.user.Password()
				assert.Equal(t, "bob", o.user.Username())
				assert.Equal(t, "pa:ss", pass)
				assert.Equal(t, "http://proxy.test:3128", o.proxy.String())
				assert.Equal(t, []string{"a.test", ".internal"}, o.noProxy)
			},
		},
		{
			name: "--resolve and --connect-to",
			args: []string{"--resolve", "A.test:443:10.0.0.1,[::1]", "--connect-to", "a.test::[::1]:8443", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, []resolveRule{{host: "a.test", port: "443", addrs: []string{"10.0.0.1", "::1"}}}, o.resolve)
				assert.Equal(t, []connectRule{{fromHost: "a.test", toHost: "::1", toPort: "8443"}}, o.connectTo)
			},
		},
		{
			name: "-I is HEAD and shows the headers",
			args: []string{"-I", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.True(t, o.head)
				assert.True(t, o.include)
			},
		},
		{
			name: "--max-redirs and -w",
			args: []string{"--max-redirs", "0", "-w", `%{http_code}\n`, "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, 0, o.maxRedirs)
				assert.Equal(t, `%{http_code}\n`, o.writeOut)
			},
		},
		{
			name: "-w @- reads the format from stdin",
			args: []string{"-w", "@-", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, "stdin body", o.writeOut)
			},
		},
		{
			name: "a flag's value is never split, even if it looks combined",
			args: []string{"-d", "-sS", "-H", "X-A: -ik", "--data", "-fL", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.Equal(t, "-sS&-fL", string(o.body))
				assert.False(t, o.silent)
				assert.False(t, o.fail)
			},
		},
		{
			name: "a flag that looks combined but is one stays one",
			args: []string{"-json", "-http2", "a.test"},
			check: func(t *testing.T, o *options) {
				t.Helper()
				assert.True(t, o.json)
				assert.True(t, o.http2)
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

func TestParseArgsCurlFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-u", "bob", "a.test"}, "-u wants user:password"},
		{[]string{"-4", "-6", "a.test"}, "-4 and -6 exclude each other"},
		{[]string{"-json", "-w", "%{json}", "a.test"}, "-json and -w both write to stdout"},
		{[]string{"-json", "-o", "-", "a.test"}, "-json and -o - both write to stdout"},
		{[]string{"-I", "-d", "x", "a.test"}, "-I and -d exclude each other"},
		{[]string{"--key", "k.pem", "a.test"}, "--key needs -E/--cert"},
		{[]string{"--max-redirs", "-1", "a.test"}, "--max-redirs must not be negative"},
		{[]string{"--connect-timeout", "soon", "a.test"}, `--connect-timeout "soon": want seconds`},
		{[]string{"-m", "-3", "a.test"}, `--max-time "-3": out of range`},
		{[]string{"--resolve", "a.test:443", "a.test"}, "want host:port:address"},
		{[]string{"--resolve", "a.test:443:nowhere", "a.test"}, `"nowhere" in "a.test:443:nowhere" is not an IP address`},
		{[]string{"--connect-to", "a:b:c:d", "a.test"}, `bad port "b"`},
		{[]string{"-x", "ftp://p.test", "a.test"}, `proxy scheme "ftp"`},
		{[]string{"-o", "a", "-o", "b", "a.test"}, "2 -o for 1 URLs"},
		{[]string{"-O", "a.test/"}, "-O: http://a.test/ has no file name"},
		{[]string{"-w", "@-", "-d", "@-", "a.test"}, "-w @- and -d @- cannot both read standard input"},
		{[]string{"-v"}, "-v needs a URL"},
		{[]string{"--proxy", "p.test"}, "-x needs a URL"},
		{[]string{"http://bob:hunter2@[::1"}, `malformed URL "http://bob:xxxxx@[::1"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseArgs(tt.args, strings.NewReader(""), noEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	fs := newFlagSet(&options{header: make(http.Header)}, &parseState{})
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		spelled := regexp.MustCompile(`(^|[\s,(])--?` + regexp.QuoteMeta(f.Name) + `([\s,;)]|$)`)
		assert.Regexp(t, spelled, usageText, "-h shows -%s", f.Name)
	})
	assert.Greater(t, n, 50)
	for _, group := range []string{"\nRequest:\n", "\nOutput:\n", "\nConnection:\n", "\nRepeat:\n", "\nTracing:\n"} {
		assert.Contains(t, usageText, group)
	}
}

func TestDialerRoute(t *testing.T) {
	d := &dialer{
		connectTo: []connectRule{{fromHost: "lb.test", fromPort: "443", toHost: "backend-2.test", toPort: "8443"}, {fromPort: "80", toPort: "8080"}},
		resolve:   []resolveRule{{host: "backend-2.test", port: "8443", addrs: []string{"10.0.0.2", "::1"}}, {host: "x.test", port: "*", addrs: []string{"10.0.0.9"}}},
	}
	tests := []struct {
		addr string
		want []string
	}{
		{"lb.test:443", []string{"10.0.0.2:8443", "[::1]:8443"}},
		{"LB.test:443", []string{"10.0.0.2:8443", "[::1]:8443"}},
		{"other.test:80", []string{"other.test:8080"}},
		{"x.test:1234", []string{"10.0.0.9:1234"}},
		{"y.test:443", []string{"y.test:443"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, d.route(tt.addr), tt.addr)
	}
}

func TestBypassProxy(t *testing.T) {
	list := []string{"a.test", ".internal.test", "b.test."}
	for host, want := range map[string]bool{
		"a.test": true, "www.a.test": true, "x.internal.test": true, "internal.test": false,
		"b.test": true, "c.test": false, "aa.test": false,
	} {
		assert.Equal(t, want, bypassProxy(list, host), host)
	}
	assert.True(t, bypassProxy([]string{"*"}, "any.test"))
}

// fixedTransfer is a redirect and a final hop on a new TLS connection, at
// known times.
func fixedTransfer() *transfer {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	u, _ := url.Parse("https://bob:pw@a.test/start?sig=secret")
	return &transfer{
		url: u, method: "GET", urlEffective: "https://a.test/final", status: 200, statusText: "200 OK", proto: "2",
		header: http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"s=secret"}, "X-A": {"1", "2"}},
		timing: timing{hops: []hopTiming{
			{
				start: at(0), end: at(12), getconnStart: at(0.1),
				hasDNS: true, dnsEnd: at(1), hasConnect: true, connectEnd: at(2), hasTLS: true, tlsEnd: at(5),
				hasConn: true, gotConn: at(5.5), firstByte: at(11), newConn: true,
				peerAddr: "10.0.0.1", peerPort: 443, localAddr: "10.0.0.9", localPort: 5000, bodySize: 50,
			},
			{
				start: at(12), end: at(40), getconnStart: at(12.1),
				hasConn: true, gotConn: at(12.2), firstByte: at(32),
				peerAddr: "10.0.0.1", peerPort: 443, localAddr: "10.0.0.9", localPort: 5000, bodySize: 3000,
			},
		}},
	}
}

func TestWriteOutVariablesFromTheHops(t *testing.T) {
	tr := fixedTransfer()
	var out, errOut bytes.Buffer
	var unknown []string
	expandWriteOut(`%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} %{time_starttransfer} %{time_total} %{time_redirect}\n`+
		`%{http_code} %{http_version} %{size_download} %{num_connects} %{num_redirects} %{remote_ip}:%{remote_port} %{local_port}\n`+
		`%{url_effective} %{url} %{content_type} %{num_headers} %header{x-a} %header{set-cookie} %{exitcode}\t%%{nope}%{nope}\q%{stderr}%{errormsg}to stderr`,
		tr, 0, &out, &errOut, &unknown)

	// Each hop's times from its own start, added up, as curl adds them.
	assert.Equal(t, "0.001100 0.002000 0.005000 0.005700 0.031000 0.040000 0.012000\n"+
		"200 2 3000 1 1 10.0.0.1:443 5000\n"+
		"https://a.test/final https://a.test/start?sig=REDACTED text/plain 4 1, 2 REDACTED 0\t%{nope}\\q", out.String())
	assert.Equal(t, "to stderr", errOut.String())
	assert.Equal(t, []string{"nope"}, unknown)
}

func TestWriteOutJSONHasEveryVariable(t *testing.T) {
	tr := fixedTransfer()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(writeOutJSON(tr, 0)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	assert.Len(t, m, len(writeOutVars))
	assert.Equal(t, json.Number("0.040000"), m["time_total"])
	assert.Equal(t, json.Number("200"), m["http_code"])
	assert.Equal(t, "2", m["http_version"])
	assert.Nil(t, m["errormsg"])
	assert.Nil(t, m["redirect_url"])
	assert.NotContains(t, string(writeOutJSON(tr, 0)), "secret")
}

func TestWriteOutWithoutResponse(t *testing.T) {
	u, _ := url.Parse("http://a.test/")
	tr := (&transfer{url: u, method: "GET"}).failed(&url.Error{Op: "Get", URL: "http://a.test/?sig=x", Err: assertErr("connection refused")})
	var out bytes.Buffer
	var unknown []string
	expandWriteOut("%{http_code} %{http_version} %{time_total} %{errormsg} %{exitcode}", tr, exitFailed, &out, &out, &unknown)
	assert.Equal(t, `000 0 0.000000 Get "http://a.test/?sig=REDACTED": connection refused 1`, out.String())
}

type assertErr string

func (e assertErr) Error() string { return string(e) }

func TestPercentileIsNearestRank(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	st := statsOf(ds)
	assert.Equal(t, stats{n: 100, min: 1 * time.Millisecond, med: 50 * time.Millisecond, p90: 90 * time.Millisecond, p99: 99 * time.Millisecond, maxDur: 100 * time.Millisecond}, st)
	assert.Equal(t, stats{n: 1, min: 7, med: 7, p90: 7, p99: 7, maxDur: 7}, statsOf([]time.Duration{7}))
}
