package otelhooks_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/wiretrace/wiretrace/internal/testnet"
	"github.com/wiretrace/wiretrace/otelhooks"
)

// TestTransportScrubsPresignedURL pins an S3 presigned URL and an OAuth
// implicit-flow fragment: url.full keeps neither signature nor token.
func TestTransportScrubsPresignedURL(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(testnet.OK))
	defer srv.Close()
	target := srv.URL + "/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSECRET%2F20260101&x-amz-signature=SIGSECRET;X-Amz-Security-Token=TOKSECRET#access_token=ATSECRET&state=s"
	_, _ = get(t, t.Context(), e.client(srv.Client().Transport), target)

	assert.Equal(t,
		srv.URL+"/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&x-amz-signature=REDACTED;X-Amz-Security-Token=REDACTED#access_token=REDACTED&state=s",
		attrValue(t, one(t, e.spans(), "GET"), "url.full").AsString())
}

// TestTransportScrubsURLErrorOfBase pins the *url.Error a retrying base
// transport returns: the status description has the URL only in redacted
// form.
func TestTransportScrubsURLErrorOfBase(t *testing.T) {
	for _, events := range []bool{false, true} {
		e := newEnv(t)
		base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: io.ErrUnexpectedEOF}
		})
		var opts []otelhooks.Option
		if events {
			opts = append(opts, otelhooks.WithoutSubSpans())
		}
		err := send(t.Context(), e.client(base, opts...), "http://user:PWSECRET@127.0.0.1:1/echo?sig=SIGSECRET")
		require.Error(t, err)

		r := one(t, e.spans(), "GET")
		assert.Equal(t, codes.Error, r.Status().Code)
		assert.Equal(t, `Get "http://127.0.0.1:1/echo?sig=REDACTED": unexpected EOF`, r.Status().Description)
		assert.NotContains(t, allStrings(e.spans()), "SECRET")
	}
}

// TestTransportMalformedHeaderLineNotQuoted pins net/http's error for a
// response header line without a colon, which quotes the line: the status
// description and the phase's error keep the error, not the line.
func TestTransportMalformedHeaderLineNotQuoted(t *testing.T) {
	addr := testnet.ServeConn(t, testnet.MalformedHeaderLine)
	e := newEnv(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	err := send(t.Context(), e.client(tr), "http://"+addr+"/")
	require.Error(t, err)

	r := one(t, e.spans(), "GET")
	assert.Equal(t, codes.Error, r.Status().Code)
	assert.Contains(t, r.Status().Description, `malformed MIME header: missing colon: "REDACTED"`)
	assert.NotContains(t, allStrings(e.spans()), "COOKIESECRET")
}

// TestTransportHeaderOptionsNormalizeKeys pins that WithRedactedHeaders and
// WithRequestHeaders read keys alike: a key from a comma-separated list,
// with its space, is still redacted.
func TestTransportHeaderOptionsNormalizeKeys(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "https://u:LOCSECRET@cdn.example.com/x?X-Goog-Signature=GOOGSECRET&X-Goog-Credential=CREDSECRET")
		w.Header().Set("Content-Location", "/y?token=TOKSECRET")
	}))
	defer srv.Close()
	keys := strings.Split("X-Request-Id, X-Api-Key ,referer", ",")
	client := e.client(srv.Client().Transport,
		otelhooks.WithRequestHeaders(keys...),
		otelhooks.WithResponseHeaders(" location", "CONTENT-LOCATION "),
		otelhooks.WithRedactedHeaders(" x-api-key\t"))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", "KEYSECRET")
	req.Header.Set("X-Request-Id", "req-1")
	req.Header.Set("Referer", "https://app.example.com/from?code=CODESECRET&page=2")
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	r := one(t, e.spans(), "GET")
	for key, want := range map[string][]string{
		"http.request.header.x-api-key":         {"REDACTED"},
		"http.request.header.x-request-id":      {"req-1"},
		"http.request.header.referer":           {"https://app.example.com/from?code=REDACTED&page=2"},
		"http.response.header.location":         {"https://cdn.example.com/x?X-Goog-Signature=REDACTED&X-Goog-Credential=REDACTED"},
		"http.response.header.content-location": {"/y?token=REDACTED"},
	} {
		assert.Equal(t, want, attrValue(t, r, attribute.Key(key)).AsStringSlice(), key)
	}
	assert.NotContains(t, allStrings(e.spans()), "SECRET")
}

// TestConnectionSpansScrubDialErrors pins the error texts of the connection
// model: a dial error that quotes a URL with userinfo and a signed query (as
// wrapping dialers do) reaches the setup span, its socket connect child and
// the wait span only scrubbed, with the request's own secrets removed too.
func TestConnectionSpansScrubDialErrors(t *testing.T) {
	for _, events := range []bool{false, true} {
		t.Run(map[bool]string{false: "spans", true: "events"}[events], func(t *testing.T) {
			e := newEnv(t)
			refused := testnet.RefusedAddr(t)
			tr := &http.Transport{
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					c, err := new(net.Dialer).DialContext(ctx, network, refused)
					if err != nil {
						return nil, fmt.Errorf("dial via %q: %w", "http://proxyuser:PWSECRET@"+refused+"/?sig=SIGSECRET", err)
					}
					return c, nil
				},
			}
			defer tr.CloseIdleConnections()
			opts := []otelhooks.Option{otelhooks.WithConnectionSpans()}
			if events {
				opts = append(opts, otelhooks.WithoutSubSpans())
			}
			err := send(t.Context(), e.client(tr, opts...), "http://user:REQSECRET@127.0.0.1:1/echo?sig=SIGSECRET")
			require.Error(t, err)

			spans := e.spans()
			var described int
			for _, s := range spans {
				if s.Status().Code == codes.Error && strings.Contains(s.Status().Description, "dial via") {
					described++
				}
			}
			assert.Positive(t, described, "the dial's error is described")
			assert.NotContains(t, allStrings(spans), "SECRET")
		})
	}
}
