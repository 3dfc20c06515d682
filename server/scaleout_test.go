package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testlog"
)

// TestPerIPLimitBehindTrustedProxy runs the whole service behind a
// "proxy" on 127.0.0.1 (the test's own client, which sets the headers a
// proxy would): the per-IP limit counts each forwarded client on its own,
// a client cannot escape it by sending its own X-Forwarded-For, and the
// access log names the client and the proxy. Without -trusted-proxy for
// that address, the headers are ignored and every stream counts against
// the proxy.
func TestPerIPLimitBehindTrustedProxy(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // nothing idle to leak
	// open returns the status of a new stream sent with xff, and keeps it
	// open until the test ends.
	open := func(t *testing.T, url, xff string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events?topic=t", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp.StatusCode
	}
	type step struct {
		xff  string
		want int
	}
	tests := []struct {
		name    string
		trusted string
		steps   []step
	}{
		{"trusted proxy", "127.0.0.1", []step{
			{"198.51.100.1", 200}, {"198.51.100.1", 200},
			{"198.51.100.1", 503},                // the third stream of client .1
			{"6.6.6.6, 198.51.100.1", 503},       // spoofing an address does not help
			{"10.9.9.9, 198.51.100.1", 503},      // nor claiming a trusted one
			{"garbage, 198.51.100.1", 503},       // nor sending junk
			{"198.51.100.2", 200},                // another client has its own count
			{"198.51.100.1, 198.51.100.2", 200},  // (the rightmost untrusted counts)
			{"198.51.100.1, 198.51.100.2", 503},  // and now .2 has two
			{"198.51.100.3, 127.0.0.1", 200},     // the proxy's own entry is skipped
			{"", 200}, {"", 200}, {"bogus", 503}, // no usable header: the proxy's count
		}},
		{"untrusted peer", "10.0.0.0/8", []step{
			{"198.51.100.1", 200}, {"198.51.100.2", 200},
			{"198.51.100.3", 503}, // all three are 127.0.0.1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testlog.Buffer
			web, err := openWebDir(fakeWeb(t))
			if err != nil {
				t.Fatal(err)
			}
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			svc, err := newService(defaults(t, "-max-clients-per-ip", "2", "-trusted-proxy", tt.trusted), web, log)
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(svc.handler)
			t.Cleanup(func() {
				svc.beginShutdown(time.Second, quiet)
				ts.Close()
			})
			for i, s := range tt.steps {
				if got := open(t, ts.URL, s.xff); got != s.want {
					t.Fatalf("step %d, X-Forwarded-For %q: status %d, want %d", i, s.xff, got, s.want)
				}
			}
			// The access log: a request seen through the proxy names both.
			req, _ := http.NewRequest("GET", ts.URL+"/healthz", nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.50")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			line := findLine(t, &logs, "path=/healthz")
			if tt.trusted == "127.0.0.1" {
				if !strings.Contains(line, "remote=203.0.113.50:0") || !strings.Contains(line, "proxy=127.0.0.1:") {
					t.Errorf("access log %q: want the client as remote and the proxy", line)
				}
				if l := findLine(t, &logs, "unusable"); !strings.Contains(l, "level=DEBUG") || !strings.Contains(l, "peer=127.0.0.1") {
					t.Errorf("malformed header log: %q, want a DEBUG line naming the peer", l)
				}
			} else if !strings.Contains(line, "remote=127.0.0.1:") || strings.Contains(line, "203.0.113.50") || strings.Contains(line, "proxy=") {
				t.Errorf("access log %q: want the peer as remote; an untrusted peer's header was believed", line)
			}
		})
	}
}

// findLine returns the first line of logs containing every one of subs,
// waiting for it a while, or "".
func findLine(t *testing.T, logs *testlog.Buffer, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second) // access logs come when a request ends
	for {
		if line := logs.Line(subs...); line != "" || time.Now().After(deadline) {
			return line
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDrain runs the real main loop with -drain: on the signal, /healthz
// answers 503 and new streams are refused with 503 and Retry-After while
// an open stream goes on; when the window ends, it ends and run returns.
func TestDrain(t *testing.T) {
	const drain = 1500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0", "-web", fakeWeb(t), "-drain", drain.String(), "-heartbeat", "100ms"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("run printed no URL: %v", err)
	}
	_, url, _ := strings.Cut(strings.TrimSpace(line), "serving on ")
	go io.Copy(io.Discard, pr)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := client.Get(url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp
	}
	health := func() int {
		resp := get("healthz")
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := health(); code != 200 {
		t.Fatalf("healthz before the signal: %d", code)
	}
	const streams = 3
	ended := make(chan time.Time, streams) // buffered: each stream's end, read at the end
	for range streams {
		stream := get("events?topic=t")
		defer stream.Body.Close()
		go func() {
			io.Copy(io.Discard, stream.Body) // heartbeats until the stream ends
			ended <- time.Now()
		}()
	}

	start := time.Now()
	cancel()
	for health() != http.StatusServiceUnavailable {
		if time.Since(start) > time.Minute {
			t.Fatal("healthz still 200 a minute after the signal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp := get("events?topic=t")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("new stream while draining: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	// In that order: the server refuses while the drain holds streams
	// open, the last of them until 3/4 of the window.
	if n := len(ended); n == streams {
		t.Errorf("all %d open streams had ended before /healthz answered 503", n)
	}
	// The open streams end one by one, stream k not before k/4 of the
	// window (timers never fire early), not all at the signal.
	var ends []time.Duration
	for range streams {
		select {
		case at := <-ended:
			ends = append(ends, at.Sub(start))
		case <-time.After(time.Minute):
			t.Fatal("an open stream did not end after the drain")
		}
	}
	slices.Sort(ends)
	for k, d := range ends {
		if due := drain * time.Duration(k+1) / (streams + 1); d < due {
			t.Errorf("stream %d of %d ended %v after the signal, before its time in the %v drain, %v", k+1, streams, d, drain, due)
		}
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return")
	}
}

// TestProxyFlags: -trusted-proxy takes CIDRs and IPs, repeated; -drain a
// duration of 0 or more; bad values say what to write.
func TestProxyFlags(t *testing.T) {
	cfg := defaults(t, "-trusted-proxy", "10.0.0.0/8", "-trusted-proxy", "127.0.0.1", "-drain", "2s")
	if got := fmt.Sprint(cfg.trustedProxies); got != "[10.0.0.0/8 127.0.0.1/32]" || cfg.drain != 2*time.Second {
		t.Errorf("trusted proxies %s, drain %v; want [10.0.0.0/8 127.0.0.1/32] and 2s", got, cfg.drain)
	}
	if cfg := defaults(t); cfg.trustedProxies != nil || cfg.drain != 0 {
		t.Errorf("defaults: trusted proxies %v, drain %v; want none and 0", cfg.trustedProxies, cfg.drain)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-trusted-proxy", "proxy.local"}, "neither a CIDR"},
		{[]string{"-trusted-proxy", "10.0.0.0/40"}, "neither a CIDR"},
		{[]string{"-drain", "-1s"}, "-drain must be 0 or a positive duration"},
		{[]string{"-drain", "5"}, "invalid value"},
	} {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseFlags(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}
