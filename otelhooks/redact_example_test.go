package otelhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// urlFull sends a GET to srv's path through NewTransport with opts and
// returns the request span's url.full, with srv's address as "server".
func urlFull(srv *httptest.Server, path string, opts ...otelhooks.Option) string {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client := &http.Client{Transport: otelhooks.NewTransport(srv.Client().Transport,
		append([]otelhooks.Option{otelhooks.WithTracerProvider(tp), otelhooks.WithoutMetrics()}, opts...)...)}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	_ = resp.Body.Close()
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "url.full" {
				return strings.Replace(kv.Value.AsString(), srv.URL, "http://server", 1)
			}
		}
	}
	return ""
}

func ExampleWithRedactedQueryKeys() {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	const path = "/o?X-Amz-Credential=AKID&x-amz-signature=f00d;session=s1&code=SKU-42#access_token=t0k"

	fmt.Println(urlFull(srv, path))
	fmt.Println(urlFull(srv, path, otelhooks.WithRedactedQueryKeys("Session"), otelhooks.WithoutRedactedQueryKeys("code")))
	fmt.Println(urlFull(srv, path, otelhooks.WithRedactAllQueryValues()))
	fmt.Println(urlFull(srv, path, otelhooks.WithURLScrubber(func(u *url.URL) string {
		u.RawQuery, u.Fragment = "", ""
		return u.String()
	})))
	// Output:
	// http://server/o?X-Amz-Credential=REDACTED&x-amz-signature=REDACTED;session=s1&code=REDACTED#access_token=REDACTED
	// http://server/o?X-Amz-Credential=REDACTED&x-amz-signature=REDACTED;session=REDACTED&code=SKU-42#access_token=REDACTED
	// http://server/o?X-Amz-Credential=REDACTED&x-amz-signature=REDACTED;session=REDACTED&code=REDACTED#access_token=REDACTED
	// http://server/o
}
