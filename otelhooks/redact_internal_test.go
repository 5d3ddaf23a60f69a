package otelhooks

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScrubURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "https://example.com/p?q=1", "https://example.com/p?q=1"},
		{"userinfo", "https://user:pass@example.com/", "https://example.com/"},
		{"user only", "https://user@example.com/", "https://example.com/"},
		{"sig", "https://example.com/?sig=abc&x=1", "https://example.com/?sig=REDACTED&x=1"},
		{"S3 v2", "https://example.com/?AWSAccessKeyId=AK&Signature=s%2Fs&Expires=1", "https://example.com/?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1"},
		{"S3 v4 presigned", "https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F2026&X-Amz-Signature=ff&X-Amz-Security-Token=tt",
			"https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED"},
		{"GCS", "https://example.com/?X-Goog-Signature=abc&X-Goog-Credential=c", "https://example.com/?X-Goog-Signature=REDACTED&X-Goog-Credential=REDACTED"},
		{"OAuth and API keys", "https://example.com/?access_token=a&refresh_token=b&id_token=c&token=d&code=e&client_secret=f&api_key=g&apikey=h&password=i&state=s",
			"https://example.com/?access_token=REDACTED&refresh_token=REDACTED&id_token=REDACTED&token=REDACTED&code=REDACTED&client_secret=REDACTED&api_key=REDACTED&apikey=REDACTED&password=REDACTED&state=s"},
		{"escaped key", "https://example.com/?%73ig=abc", "https://example.com/?%73ig=REDACTED"},
		{"escaped key later", "https://example.com/?a=1&si%67=abc", "https://example.com/?a=1&si%67=REDACTED"},
		{"any case", "https://example.com/?SIG=a&x-amz-signature=b&Access_Token=c&%53ignature=d", "https://example.com/?SIG=REDACTED&x-amz-signature=REDACTED&Access_Token=REDACTED&%53ignature=REDACTED"},
		{"near keys kept", "https://example.com/?sigma=1&tokens=2&signatures=3", "https://example.com/?sigma=1&tokens=2&signatures=3"},
		{"no value", "https://example.com/?sig", "https://example.com/?sig"},
		{"empty value", "https://example.com/?sig=&x=1", "https://example.com/?sig=&x=1"},
		{"semicolons", "https://example.com/?a=1;sig=abc;b=2", "https://example.com/?a=1;sig=REDACTED;b=2"},
		{"mixed separators", "https://example.com/?a=1;token=t&b=2", "https://example.com/?a=1;token=REDACTED&b=2"},
		{"bad escape in key", "https://example.com/?%zz=secret", "https://example.com/?%zz=REDACTED"},
		{"plus", "https://example.com/?q=a+b", "https://example.com/?q=a+b"},
		{"fragment", "https://example.com/cb#access_token=AT&token_type=bearer&state=s", "https://example.com/cb#access_token=REDACTED&token_type=bearer&state=s"},
		{"fragment anchor", "https://example.com/doc#section-2", "https://example.com/doc#section-2"},
		{"fragment and query and user", "https://u:p@example.com/?code=C#id_token=I", "https://example.com/?code=REDACTED#id_token=REDACTED"},
	}
	s := newScrubber(nil, false, nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.url(u))
			assert.Equal(t, tt.in, u.String(), "the URL is not modified")
		})
	}
}

func TestScrubURLOptions(t *testing.T) {
	const in = "https://example.com/?code=C&q=shoes&x-custom-sig=X&flag&sig=S"
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"default", nil, "https://example.com/?code=REDACTED&q=shoes&x-custom-sig=X&flag&sig=REDACTED"},
		{"added key, any case", []Option{WithRedactedQueryKeys(" X-Custom-Sig")}, "https://example.com/?code=REDACTED&q=shoes&x-custom-sig=REDACTED&flag&sig=REDACTED"},
		{"removed default key", []Option{WithoutRedactedQueryKeys("CODE")}, "https://example.com/?code=C&q=shoes&x-custom-sig=X&flag&sig=REDACTED"},
		{"removed then added", []Option{WithoutRedactedQueryKeys("code"), WithRedactedQueryKeys("code")}, "https://example.com/?code=REDACTED&q=shoes&x-custom-sig=X&flag&sig=REDACTED"},
		{"added then removed", []Option{WithRedactedQueryKeys("q"), WithoutRedactedQueryKeys("q")}, "https://example.com/?code=REDACTED&q=shoes&x-custom-sig=X&flag&sig=REDACTED"},
		{"all values", []Option{WithRedactAllQueryValues()}, "https://example.com/?code=REDACTED&q=REDACTED&x-custom-sig=REDACTED&flag&sig=REDACTED"},
		{"custom", []Option{WithURLScrubber(func(u *url.URL) string { u.RawQuery = ""; return u.String() })}, "https://example.com/"},
		{"custom nil is the default", []Option{WithURLScrubber(nil)}, "https://example.com/?code=REDACTED&q=shoes&x-custom-sig=X&flag&sig=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, newConfig(tt.opts).scrub.url(u))
			assert.Equal(t, in, u.String(), "the URL is not modified, even by a scrubber that changes its copy")
		})
	}
}

// TestScrubURLWithoutSecretAllocatesNothingExtra pins the fast path: a URL
// with nothing to scrub costs what u.String() costs.
func TestScrubURLWithoutSecretAllocatesNothingExtra(t *testing.T) {
	s := newScrubber(nil, false, nil, nil)
	for _, in := range []string{
		"https://api.example.com/items?limit=10&page=2",
		"http://127.0.0.1:8080/p",
		"https://example.com/doc#section-2",
	} {
		u, err := url.Parse(in)
		require.NoError(t, err)
		base := testing.AllocsPerRun(100, func() { _ = u.String() })
		got := testing.AllocsPerRun(100, func() { _ = s.url(u) })
		assert.InDelta(t, base, got, 0, in)
	}
}

func BenchmarkScrubURL(b *testing.B) {
	s := newScrubber(nil, false, nil, nil)
	for name, in := range map[string]string{
		"plain":     "https://api.example.com/items?limit=10&page=2",
		"presigned": "https://b.s3.amazonaws.com/o?X-Amz-Credential=AK&X-Amz-Signature=ff",
	} {
		u, _ := url.Parse(in)
		b.Run("url="+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = s.url(u)
			}
		})
	}
}

func TestScrubHeaderValue(t *testing.T) {
	s := newScrubber(nil, false, nil, nil)
	for _, tt := range []struct{ key, in, want string }{
		{"Location", "https://u:p@cdn.example.com/a?sig=S", "https://cdn.example.com/a?sig=REDACTED"},
		{"Location", "/next?token=T&x=1", "/next?token=REDACTED&x=1"},
		{"Origin", "https://app.example.com", "https://app.example.com"},
		{"Referer", "http://[::1%", "REDACTED"},
		{"Link", `<https://cdn.example.com/s.css?X-Amz-Signature=S>; rel=preload, </f.woff?token=T>; rel=preload`,
			`<https://cdn.example.com/s.css?X-Amz-Signature=REDACTED>; rel=preload, </f.woff?token=REDACTED>; rel=preload`},
		{"Link", `<https://cdn.example.com/s.css?sig=S`, `<REDACTED`},
	} {
		assert.Equal(t, tt.want, s.headerValue(tt.key, tt.in), tt.in)
	}
}

func TestScrubText(t *testing.T) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://user:S3cretPW@127.0.0.1:8080/echo?sig=SIGVALUE&x=1#access_token=FRAGTOKEN", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer BEARERTOKEN")
	req.Header["cookie"] = []string{"sid=COOKIEVAL; theme=dark"}
	req.Header.Set("X-Api-Key", "APIKEYVALUE")

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"url.Error from a base transport",
			&url.Error{Op: "Get", URL: req.URL.String(), Err: io.ErrUnexpectedEOF},
			`Get "http://127.0.0.1:8080/echo?sig=REDACTED&x=1#access_token=REDACTED": unexpected EOF`},
		{"missing colon",
			errors.New(`net/http: HTTP/1.x transport connection broken: malformed MIME header: missing colon: "Set-Cookie sid=S"`),
			`net/http: HTTP/1.x transport connection broken: malformed MIME header: missing colon: "REDACTED"`},
		{"header line",
			errors.New(`malformed MIME header line: " secret=1"`),
			`malformed MIME header line: "REDACTED"`},
		{"status line",
			errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "Set-Cookie: a=b"`),
			`net/http: HTTP/1.x transport connection broken: malformed HTTP response "REDACTED"`},
		{"a token a peer sent",
			errors.New(`bad Content-Length "SECRETTOKEN"`),
			`bad Content-Length "REDACTED"`},
		{"header key kept",
			errors.New(`net/http: invalid header field value for "X-Api-Key"`),
			`net/http: invalid header field value for "X-Api-Key"`},
		{"proxy address",
			errors.New(`invalid proxy address "puser:ppass@proxy:3128": parse error`),
			`invalid proxy address "REDACTED": parse error`},
		{"unquoted proxy URL",
			errors.New(`proxyconnect tcp: via http://puser:ppass@127.0.0.2:3128/?token=T0KEN: EOF`),
			`proxyconnect tcp: via http://127.0.0.2:3128/?token=REDACTED: EOF`},
		{"unquoted userinfo",
			errors.New(`dial puser:ppass@127.0.0.2:3128 failed`),
			`dial REDACTED@127.0.0.2:3128 failed`},
		{"secrets of the request anywhere",
			fmt.Errorf("retry gave up: S3cretPW SIGVALUE BEARERTOKEN COOKIEVAL APIKEYVALUE FRAGTOKEN"),
			"retry gave up: REDACTED REDACTED REDACTED REDACTED REDACTED REDACTED"},
		{"unterminated quote",
			errors.New(`oops "Set-Cookie: a`),
			`oops "REDACTED"`},
		{"nothing to scrub",
			errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
			"dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	s := newScrubber(nil, false, nil, []string{" x-api-key"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, s.errText(tt.err, req))
		})
	}
	s = newScrubber(nil, false, nil, nil)
	assert.Equal(t, "retry gave up: REDACTED APIKEYVALUE", s.text("retry gave up: COOKIEVAL APIKEYVALUE", req),
		"the value of a header that is not redacted is not a secret")
	assert.Empty(t, s.errText(nil, req))
	assert.Equal(t, `Get "http://h/?sig=REDACTED": EOF`, s.text(`Get "http://u:p@h/?sig=x": EOF`, nil), "without a request, the URL rules still hold")
}
