package testnet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartTinyproxy runs Debian's tinyproxy as a child of the test, on
// 127.0.0.2, allowing CONNECT to connectPort only, and returns its URL. It
// is ready when this returns: tinyproxy said it accepts connections. It is
// killed by tb.Cleanup, which logs its output if the test failed.
//
// It fails the test under CI=true if tinyproxy is not installed (.ci/run
// installs it), and skips it elsewhere.
func StartTinyproxy(tb testing.TB, connectPort int) *url.URL {
	tb.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("testnet: tinyproxy is not installed; .ci/run installs it: %v", err)
		}
		tb.Skipf("testnet: tinyproxy is not installed (apt-get install tinyproxy): %v", err)
	}
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp4", "127.0.0.2:0")
	if err != nil {
		tb.Fatalf("testnet: listen on 127.0.0.2, loopback on Linux: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)

	conf := filepath.Join(tb.TempDir(), "tinyproxy.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil,
		"Port %s\nListen 127.0.0.2\nTimeout 60\nAllow 127.0.0.0/8\nConnectPort %d\nMaxClients 20\nLogLevel Info\n",
		port, connectPort), 0o600); err != nil {
		tb.Fatalf("testnet: %v", err)
	}
	cmd := exec.CommandContext(context.Background(), bin, "-d", "-c", conf) // killed by the cleanup
	// In the foreground, tinyproxy logs to standard output; it is ready
	// once it says it accepts connections.
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("testnet: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testnet: start tinyproxy: %v", err)
	}
	ready := make(chan struct{})
	var log bytes.Buffer // written by the reader below until out closes
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(out)
		signaled := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !signaled && strings.Contains(sc.Text(), "Accepting connections") {
				signaled = true
				close(ready)
			}
		}
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-readerDone
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("tinyproxy log:\n%s", log.String())
		}
	})
	select {
	case <-ready:
	case <-readerDone:
		tb.Fatalf("testnet: tinyproxy exited before accepting connections")
	case <-time.After(10 * time.Second):
		tb.Fatalf("testnet: tinyproxy did not start in 10s")
	}
	return &url.URL{Scheme: "http", Host: addr}
}
