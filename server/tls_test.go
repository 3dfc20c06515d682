package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
	"github.com/ssewasm/ssewasm/server/sse"
)

// startRun runs the real main loop with args (on a free port, over the
// fake web directory) and returns the URL it prints, and stop, which
// cancels it and fails the test unless run returns cleanly within 10s.
func startRun(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-web", fakeWeb(t)}, args...), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("run printed no URL: %v", err)
	}
	_, url, _ = strings.Cut(strings.TrimSpace(line), "serving on ")
	go io.Copy(io.Discard, pr)
	return url, func() {
		t.Helper()
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("run did not return within 10s with a stream open")
		}
	}
}

// TestTLSServesHTTP2Streams runs the real main loop with -tls-cert and
// -tls-key: streams go over HTTP/2 (the path browsers take over TLS, and
// the one that is not hijacked), carry published events, and end at
// shutdown.
func TestTLSServesHTTP2Streams(t *testing.T) {
	dir := t.TempDir()
	cert, key := testcert.WriteFiles(t, dir)
	url, stop := startRun(t, "-tls-cert", cert, "-tls-key", key)
	ctx := t.Context()
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("printed %q, want an https URL", url)
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", url+"events?topic=tls", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("the stream went over %s, want HTTP/2", resp.Proto)
	}

	pub, err := client.Post(url+"publish?topic=tls&event=secure", "text/plain", strings.NewReader("over h2"))
	if err != nil {
		t.Fatal(err)
	}
	pub.Body.Close()
	if pub.StatusCode != 200 {
		t.Fatalf("publish: %s", pub.Status)
	}
	e, err := sse.NewDecoder(resp.Body).Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "secure" || e.Data != "over h2" {
		t.Fatalf("got %+v", e)
	}

	stop()
}

// With -tls-http2=false the server offers HTTP/1.1 only over TLS, and
// the stream is the hijacked one (delimited by the connection's close).
func TestTLSHTTP1Only(t *testing.T) {
	dir := t.TempDir()
	cert, key := testcert.WriteFiles(t, dir)
	url, stop := startRun(t, "-tls-cert", cert, "-tls-key", key, "-tls-http2=false")
	ctx := t.Context()

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", url+"events?topic=tls", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 1 || !resp.Close || len(resp.TransferEncoding) != 0 {
		t.Fatalf("%s, close %v, transfer encoding %v: want HTTP/1.1 delimited by the connection's close", resp.Proto, resp.Close, resp.TransferEncoding)
	}
	stop()
}
