// Command e2echeck is the Go half of tools/jaeger/e2e.sh: the HTTP checks
// and JSON assertions that a shell script should not do with curl and grep,
// on a machine that may have neither curl nor jq.
//
//	e2echeck health -url http://127.0.0.1:13133/status -timeout 60s
//	e2echeck example -api http://127.0.0.1:16686 -run grpc-123 -traces 3
//	e2echeck client -api http://127.0.0.1:16686 -service wiretrace-cli -parent-service wiretrace-frontend
//	e2echeck connspans -api http://127.0.0.1:16686 -service wiretrace-cli-connspans
//	e2echeck ports -pid 1234
//	e2echeck binary -bin ~/.cache/wiretrace/jaeger-v1.76.0 -modfile go.mod -sumfile go.sum
//	e2echeck freeport
//
// Each command exits 0 when its check passes and 1, with the reasons on
// stderr, when it does not. The commands that query Jaeger poll until the
// check passes or -timeout passes: spans reach Jaeger asynchronously.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "e2echeck:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: e2echeck health|example|client|connspans|ports|binary|freeport [flags]")
	}
	fs := flag.NewFlagSet("e2echeck "+args[0], flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "how long to poll before giving up")
	api := fs.String("api", "http://127.0.0.1:16686", "Jaeger query's HTTP address")
	ctx := context.Background()

	switch args[0] {
	case "health":
		u := fs.String("url", "http://127.0.0.1:13133/status", "the health check's URL")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return poll(ctx, *timeout, func(ctx context.Context) error { return healthy(ctx, *u) })

	case "example":
		runID := fs.String("run", "", "the example.run resource attribute of the run to check")
		traces := fs.Int("traces", 1, "how many traces the run made: one per request to the frontend")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *runID == "" {
			return errors.New("example: -run is required")
		}
		var n int
		err := poll(ctx, *timeout, func(ctx context.Context) error {
			found, err := fetchTraces(ctx, *api, frontendService)
			if err != nil {
				return err
			}
			n, err = checkExample(found, *runID, *traces)
			return err
		})
		if err == nil {
			fmt.Fprintf(stdout, "run %s: %d traces, %d spans, as expected\n", *runID, *traces, n)
		}
		return err

	case "client":
		service := fs.String("service", "", "service.name of the traced client")
		parent := fs.String("parent-service", "", "if set, a server span of this service must be a child of the client span")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *service == "" {
			return errors.New("client: -service is required")
		}
		var n int
		err := poll(ctx, *timeout, func(ctx context.Context) error {
			found, err := fetchTraces(ctx, *api, *service)
			if err != nil {
				return err
			}
			n, err = checkClient(found, *service, *parent)
			return err
		})
		if err == nil {
			fmt.Fprintf(stdout, "service %s: %d traced requests, as expected\n", *service, n)
		}
		return err

	case "connspans":
		service := fs.String("service", "", "service.name of the client traced with otelhooks.WithConnectionSpans")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *service == "" {
			return errors.New("connspans: -service is required")
		}
		var setups, linked int
		err := poll(ctx, *timeout, func(ctx context.Context) error {
			found, err := fetchTraces(ctx, *api, *service)
			if err != nil {
				return err
			}
			setups, linked, err = checkConnSpans(ctx, found, *service, func(ctx context.Context, id string) (jaegerTrace, error) {
				return fetchTrace(ctx, *api, id)
			})
			return err
		})
		if err == nil {
			fmt.Fprintf(stdout, "service %s: %d requests linked to %d connection setups in traces of their own, as expected\n", *service, linked, setups)
		}
		return err

	case "ports":
		pid := fs.Int("pid", 0, "the process whose listening sockets must all be on loopback")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		socks, err := listeningSockets(*pid)
		if err != nil {
			return err
		}
		var bad []error
		for _, s := range socks {
			fmt.Fprintf(stdout, "  %s %s\n", s.proto, s.addr)
			if !s.addr.Addr().IsLoopback() {
				bad = append(bad, fmt.Errorf("%s %s is not a loopback address", s.proto, s.addr))
			}
		}
		if len(socks) == 0 {
			return fmt.Errorf("ports: process %d listens on nothing", *pid)
		}
		return errors.Join(bad...)

	case "binary":
		bin := fs.String("bin", "", "the built jaeger binary")
		modfile := fs.String("modfile", "go.mod", "the tool module's go.mod")
		sumfile := fs.String("sumfile", "go.sum", "the tool module's go.sum")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return binaryMatches(*bin, *modfile, *sumfile)

	case "freeport":
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// poll calls check until it returns nil or timeout passes, and returns its
// last error then.
func poll(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		// A check cut short by the deadline says less than the one
		// before it: report that one.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still failing after %s: %w", timeout, last)
		case <-tick.C:
		}
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// getJSON gets u and returns its body, if the status is 200.
func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
	}
	return body, nil
}
