package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testlog"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/topic"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeWeb makes a web directory with a stand-in app.wasm.
func fakeWeb(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"app.wasm": "\x00asm-test", "app.css": "body{}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// openStream GETs url, for at most 10 s; the test's cleanup closes it.
func openStream(t *testing.T, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	return openRequest(t, req)
}

// openRequest sends req, for at most 10 s; the test's cleanup closes the
// response.
func openRequest(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// defaults returns the configuration the flags give with no arguments.
func defaults(t testing.TB, args ...string) config {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// makeService makes the service from cfg over a fake web directory; the
// caller serves it.
func makeService(t *testing.T, cfg config, log *slog.Logger) *service {
	t.Helper()
	web, err := openWebDir(fakeWeb(t))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(cfg, web, log)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// newTestService serves the whole service from an httptest server.
func newTestService(t *testing.T, cfg config) (*httptest.Server, *service) {
	t.Helper()
	svc := makeService(t, cfg, quiet)
	ts := httptest.NewServer(svc.handler)
	t.Cleanup(func() {
		svc.beginShutdown(time.Second, quiet)
		ts.Close()
	})
	return ts, svc
}

// newTestServer serves the classic stream alone, with its own interval,
// through a broker of its own, which it returns: its Shutdown ends the
// streams.
func newTestServer(t *testing.T, interval time.Duration) (*httptest.Server, *sse.Broker) {
	t.Helper()
	b, err := sse.New(sse.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /stream", classicStream(b, interval))
	ts := httptest.NewServer(logRequests(mux, quiet))
	t.Cleanup(func() {
		b.Shutdown(context.Background())
		ts.Close()
	})
	return ts, b
}

// TestStreamWire checks /stream against the classic Node demo's wire format:
// `retry: 10000`, a named connecttime event, then unnamed pings, each ended
// by a blank line, with the streaming headers (CORS for any origin).
func TestStreamWire(t *testing.T) {
	ts, _ := newTestServer(t, 20*time.Millisecond)
	req, _ := http.NewRequest("GET", ts.URL+"/stream", nil)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	resp := openRequest(t, req)

	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
		// The original's: a page from another origin (a file, another
		// port) may read the stream, which carries no credentials.
		"Access-Control-Allow-Origin":      "*",
		"Access-Control-Allow-Credentials": "",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// The raw text, line by line, as curl -N shows it.
	r := bufio.NewReader(resp.Body)
	readLine := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		return l
	}
	if l := readLine(); l != "retry: 10000\n" {
		t.Fatalf("first line %q, want retry: 10000", l)
	}
	// Then, per the classic demo, events; the retry may be followed by
	// the blank line that ends its block.
	l := readLine()
	if l == "\n" {
		l = readLine()
	}
	if l != "event: connecttime\n" {
		t.Fatalf("want the connecttime event, got %q", l)
	}
	data := readLine()
	if !strings.HasPrefix(data, "data: ") {
		t.Fatalf("connecttime without data: %q", data)
	}
	if _, err := event.Decode[demo.ConnectTime](strings.TrimSuffix(strings.TrimPrefix(data, "data: "), "\n")); err != nil {
		t.Errorf("connecttime data: %v", err)
	}
	if l := readLine(); l != "\n" {
		t.Fatalf("connecttime not ended by a blank line: %q", l)
	}
	for i := 0; i < 3; i++ {
		if l := readLine(); !strings.HasPrefix(l, "data: ") {
			t.Fatalf("ping %d: %q, want a data: line", i, l)
		}
		if l := readLine(); l != "\n" {
			t.Fatalf("ping %d not ended by a blank line: %q", i, l)
		}
	}
}

// TestStreamPingsAtOnce: as the original, the first ping follows
// connecttime at once, not an interval later (an hour here).
func TestStreamPingsAtOnce(t *testing.T) {
	ts, _ := newTestServer(t, time.Hour)
	resp := openStream(t, ts.URL+"/stream")
	d := sse.NewDecoder(resp.Body)
	for i, want := range []string{"connecttime", ""} {
		e, err := d.Next()
		if err != nil {
			t.Fatalf("event %d: %v (want %q at once)", i, err, want)
		}
		if e.Name != want {
			t.Fatalf("event %d is %q, want %q", i, e.Name, want)
		}
		if want == "" {
			if _, err := event.Decode[demo.Ping](e.Data); err != nil {
				t.Errorf("first ping: %v", err)
			}
		}
	}
}

// TestStreamCORS: /stream answers any origin with "*" and no
// credentials, while /events keeps its allow-list.
func TestStreamCORS(t *testing.T) {
	ts, _ := newTestService(t, defaults(t, "-allow-origin", "https://app.example"))
	tests := []struct {
		path, origin    string
		allow, withCred string
	}{
		{"/stream", "https://other.example", "*", ""},
		{"/stream", "https://app.example", "*", ""},
		{"/stream", "", "*", ""},
		{"/events", "https://other.example", "", ""},
		{"/events", "https://app.example", "https://app.example", "true"},
	}
	for _, tt := range tests {
		t.Run(tt.path+" from "+tt.origin, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+tt.path, nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp := openRequest(t, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.allow {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.allow)
			}
			if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != tt.withCred {
				t.Errorf("Access-Control-Allow-Credentials = %q, want %q", got, tt.withCred)
			}
		})
	}
}

// TestStreamRefusedCORS: over -max-clients-per-ip, /stream answers 503
// with Retry-After and without its "*": a page of another origin then
// sees a network error, and its EventSource reconnects instead of
// closing for good, as before the stream counted under the limits.
func TestStreamRefusedCORS(t *testing.T) {
	ts, _ := newTestService(t, defaults(t, "-max-clients-per-ip", "1"))
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", ts.URL+"/stream", nil)
		req.Header.Set("Origin", "https://other.example")
		return openRequest(t, req)
	}
	first, second := get(), get()
	if first.StatusCode != 200 || first.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("first stream: %d, Access-Control-Allow-Origin %q; want 200 and *", first.StatusCode, first.Header.Get("Access-Control-Allow-Origin"))
	}
	if second.StatusCode != 503 || second.Header.Get("Retry-After") == "" || second.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("second stream: %d, Retry-After %q, Access-Control-Allow-Origin %q; want 503, a delay and none",
			second.StatusCode, second.Header.Get("Retry-After"), second.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestStreamDecodes reads /stream with our decoder, as a browser would.
func TestStreamDecodes(t *testing.T) {
	ts, _ := newTestServer(t, 10*time.Millisecond)
	resp := openStream(t, ts.URL+"/stream")
	d := sse.NewDecoder(resp.Body)
	first, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "connecttime" {
		t.Fatalf("first event %q, want connecttime", first.Name)
	}
	if d.Retry() != 10*time.Second {
		t.Errorf("retry = %v, want 10s", d.Retry())
	}
	var last time.Time
	for i := 0; i < 5; i++ {
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name != "" {
			t.Fatalf("ping %d is named %q, want unnamed", i, e.Name)
		}
		p, err := event.Decode[demo.Ping](e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if p.Time.Before(last) {
			t.Errorf("ping times go backwards: %v after %v", p.Time, last)
		}
		last = p.Time
	}
}

// TestStreamEndsOnShutdown: the broker's Shutdown (what http.Server.Shutdown
// calls through RegisterOnShutdown) ends open streams, so shutdown does not
// wait forever.
func TestStreamEndsOnShutdown(t *testing.T) {
	ts, b := newTestServer(t, time.Hour)
	resp, err := http.Get(ts.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go b.Shutdown(context.Background()) // it waits for the stream to end
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5s after Shutdown")
	}
}

// TestPagesAreRouted: the server registers the same routes as the wasm
// binary, so go-app serves the page instead of 404, with our own assets.
func TestPagesAreRouted(t *testing.T) {
	ts, _ := newTestService(t, defaults(t))
	tests := []struct {
		path     string
		status   int
		contains string
	}{
		{"/", 200, `<title>ssewasm`},
		{"/web/app.css", 200, "body{}"},
		{"/web/app.wasm", 200, "asm-test"},
		{"/app-worker.js", 200, `text/event-stream`},
		{"/manifest.webmanifest", 200, `/web/icon-512.png`},
		{"/web/missing.png", 404, ""},
		{"/healthz", 200, "ok"},
		{"/metrics", 200, "ssewasm_clients 0"},
		{"/metrics", 200, "ssewasm_publishes_stalled_total 0"},
		{"/metrics", 200, "ssewasm_replays_failed_total 0"},
		{"/metrics", 200, "ssewasm_epoll_errors_total 0"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(ts.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body does not contain %q:\n%.400s", tt.contains, body)
			}
			if strings.Contains(string(body), "raw.githubusercontent.com") {
				t.Errorf("%s refers to the internet", tt.path)
			}
		})
	}
}

// TestRunShutsDownWithOpenStreams runs the real main loop, opens streams,
// and cancels: the open streams end, and the graceful shutdown completes
// instead of running out its grace (-shutdown-grace, 5 s) and cutting
// connections, which it would log.
func TestRunShutsDownWithOpenStreams(t *testing.T) {
	web := fakeWeb(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	var logs testlog.Buffer
	go func() {
		errc <- run(ctx, []string{"-addr", "127.0.0.1:0", "-web", web}, pw, &logs)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("run printed no URL: %v", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), "serving on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q, want the URL", line)
	}
	go io.Copy(io.Discard, pr)

	var bodies []io.Closer
	for i := 0; i < 5; i++ {
		resp, err := http.Get(url + "stream")
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
	}
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if l := logs.Line("timed out"); l != "" || logs.Line("msg=stopped") == "" {
			t.Errorf("the graceful shutdown did not complete: %q\n%s", l, logs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return within a minute of the signal")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no app.wasm", []string{"-web", t.TempDir()}, "make build"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"bad flag", []string{"-addr"}, "flag needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestStatsPublished: the /live page's chart gets the server's figures
// once a second on the stats topic.
func TestStatsPublished(t *testing.T) {
	ts, _ := newTestService(t, defaults(t))
	resp := openStream(t, ts.URL+"/events?"+topic.Query(demo.StatsTopic))
	d := sse.NewDecoder(resp.Body)
	var prev demo.ServerStats
	for i := 0; i < 2; i++ {
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name != "stats" {
			t.Fatalf("event %q, want stats", e.Name)
		}
		s, err := event.Decode[demo.ServerStats](e.Data)
		if err != nil {
			t.Fatal(err)
		}
		if s.Clients < 1 || s.Goroutines < 1 || s.MemoryBytes < 1<<20 || s.At <= prev.At {
			t.Errorf("implausible stats %+v after %+v", s, prev)
		}
		prev = s
	}
}
