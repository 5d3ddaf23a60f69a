// Package weather is a tiny client of a made-up weather API, written the way
// an application would write one: its requests are traced with wiretrace's
// otelhooks.NewTransport, so that every request shows up as a client span
// with its phases (connection, sending, waiting, receiving) as children.
//
// Its test, weather_test.go, is the point of this example: how to unit-test
// the spans of your own HTTP client code with the OpenTelemetry SDK's
// in-memory exporter, against an httptest server.
package weather

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// Report is the current weather in a city.
type Report struct {
	City  string  `json:"city"`
	TempC float64 `json:"temp_c"`
}

// Client asks the weather API about cities. It is safe for concurrent use.
type Client struct {
	baseURL string
	http    *http.Client
}

// New returns a client of the weather API at baseURL, such as
// "https://weather.example.com". Its requests are traced with tp; with a
// nil tp, with the provider of the span in each request's context, or the
// global provider (otel.SetTracerProvider) when there is none.
//
// A test passes a provider of its own, so that it needs no global state
// and can run in parallel with others.
func New(baseURL string, tp trace.TracerProvider) *Client {
	// A transport of its own, not http.DefaultTransport: its pool of
	// connections is this client's alone. (Tests show why: the Close of
	// any httptest.Server closes the idle connections of
	// http.DefaultTransport, those of other tests included.)
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &Client{
		baseURL: baseURL,
		http: &http.Client{
			Transport: otelhooks.NewTransport(base, otelhooks.WithTracerProvider(tp)),
			Timeout:   10 * time.Second,
		},
	}
}

// CloseIdleConnections closes the connections the client keeps for reuse.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Current returns the current weather in city.
func (c *Client) Current(ctx context.Context, city string) (Report, error) {
	var r Report
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/v1/current?city="+url.QueryEscape(city), nil)
	if err != nil {
		return r, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return r, fmt.Errorf("weather: %w", err)
	}
	// The request's spans end when the body is read to the end or
	// closed: a body left open is a span left open, which the test
	// would catch.
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("weather: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return r, fmt.Errorf("weather: %w", err)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("weather: %w", err)
	}
	return r, nil
}
