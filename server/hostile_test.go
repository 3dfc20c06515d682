package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

// newHostileServer serves the service as run does: its http.Server (the
// header cap) and its capped listener, on a free loopback port.
func newHostileServer(t *testing.T, cfg config, log *slog.Logger) (*httptest.Server, *service) {
	t.Helper()
	web, err := openWebDir(fakeWeb(t))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(cfg, web, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = svc.httpServer(cfg, log)
	ts.Listener = svc.listener(ts.Listener, cfg)
	ts.Start()
	t.Cleanup(func() {
		svc.beginShutdown(time.Second, quiet)
		ts.Close()
	})
	return ts, svc
}

// dialFrom connects to addr from the loopback address ip (127.0.0.x: a
// client address of its own, with no network set-up).
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// statusOf reads the status code of the response on c, within 10 s; 0
// means the connection closed (or reset) without an answer.
func statusOf(c net.Conn, br *bufio.Reader) int {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil {
		return 0
	}
	var code int
	fmt.Sscanf(line, "HTTP/1.1 %d", &code)
	return code
}

// rawSend writes a raw request from ip and returns its status and the reader
// positioned after the status line.
func rawSend(t *testing.T, ip, addr, req string) (int, *bufio.Reader) {
	t.Helper()
	c := dialFrom(t, ip, addr)
	if _, err := io.WriteString(c, req); err != nil {
		return 0, nil
	}
	br := bufio.NewReader(c)
	return statusOf(c, br), br
}

// healthy is a well-behaved client: it reads a stream of events that a
// publisher sends every 10 ms, and records each event's latency. It
// checks that none is lost or reordered.
type healthy struct {
	mu        sync.Mutex
	latencies []time.Duration
	err       error
	got       int
}

func startHealthy(t *testing.T, ts *httptest.Server, b *sse.Broker) *healthy {
	t.Helper()
	h := &healthy{}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events?topic=healthy", nil)
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sent := make(map[string]time.Time)
	var sentMu sync.Mutex
	wg.Go(func() { // the publisher
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			sentMu.Lock()
			at := time.Now()
			id, err := b.Publish(ctx, "healthy", sse.Event{Data: fmt.Sprint(i)})
			if err == nil {
				sent[id] = at
			}
			sentMu.Unlock()
		}
	})
	wg.Go(func() { // the reader
		d := sse.NewDecoder(bufio.NewReader(resp.Body))
		next := 0
		for {
			e, err := d.Next()
			if err != nil {
				return
			}
			sentMu.Lock()
			at, ok := sent[e.ID]
			sentMu.Unlock()
			h.mu.Lock()
			if e.Data != fmt.Sprint(next) && h.err == nil {
				h.err = fmt.Errorf("healthy client: event %q, want %d (lost or reordered)", e.Data, next)
			}
			next++
			h.got++
			if ok {
				h.latencies = append(h.latencies, time.Since(at))
			}
			h.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		wg.Wait()
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.err != nil {
			t.Error(h.err)
		}
	})
	return h
}

// p99 returns the healthy client's p99 latency over the events since
// from, and how many there were.
func (h *healthy) p99(from int) (time.Duration, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := slices.Clone(h.latencies[min(from, len(h.latencies)):])
	if len(l) == 0 {
		return 0, 0
	}
	slices.Sort(l)
	return l[len(l)*99/100], len(l)
}

func (h *healthy) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.latencies)
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// TestHostile sends each hostile request of issue #12 to a server with
// small caps, while a healthy client receives events, and checks the
// server's answer, the counter in /metrics, that the healthy client lost
// nothing, and that descriptors and goroutines return to their baseline
// (goleak checks the goroutines of the whole package at the end).
func TestHostile(t *testing.T) {
	var logs lockedLog
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := defaults(t, "-max-conns", "60", "-max-publishing", "4", "-publish-read-timeout", "500ms",
		"-max-clients-per-ip", "3", "-max-event-size", "1024", "-heartbeat", "1h")
	ts, svc := newHostileServer(t, cfg, log)
	addr := ts.Listener.Addr().String()
	fdBase, gBase := openFDs(), runtime.NumGoroutine()
	h := startHealthy(t, ts, svc.broker)
	waitForT(t, "the healthy client's first events", func() bool { return h.count() > 10 })
	before, _ := h.p99(0)

	cases := []struct {
		name   string
		attack func(t *testing.T) string // returns what the server answered
	}{
		{"slow /publish bodies: 408 at the read deadline, and over -max-publishing 503", func(t *testing.T) string {
			results := make(chan int, 8)
			for i := range 8 {
				go func() {
					c := dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1), addr)
					fmt.Fprintf(c, "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
					results <- statusOf(c, bufio.NewReader(c))
				}()
			}
			var codes []int
			for range 8 {
				codes = append(codes, <-results)
			}
			slices.Sort(codes)
			if want := []int{408, 408, 408, 408, 503, 503, 503, 503}; !slices.Equal(codes, want) {
				t.Errorf("8 stalled bodies, 4 allowed at once: %v, want %v", codes, want)
			}
			if svc.refused.count(refusedPublishTimeout) != 4 || svc.refused.count(refusedPublishBusy) != 4 {
				t.Errorf("counted %d timeouts, %d busy", svc.refused.count(refusedPublishTimeout), svc.refused.count(refusedPublishBusy))
			}
			return fmt.Sprint(codes)
		}},
		{"connections over -max-conns: closed at once, open streams go on", func(t *testing.T) string {
			// The healthy stream and keep-alive connections hold a few;
			// 80 idle connections overflow the cap of 60.
			var conns []net.Conn
			for i := range 80 {
				conns = append(conns, dialFrom(t, fmt.Sprintf("127.0.2.%d", i+1), addr))
			}
			waitForT(t, "the connections over the cap to be refused", func() bool { return svc.refused.count(refusedConnCap) >= 20 })
			for _, c := range conns {
				c.Close()
			}
			// Slots free up: a new connection is served.
			waitForT(t, "/healthz on a new connection", func() bool {
				code, _ := rawSend(t, "127.0.0.1", addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
				return code == 200
			})
			return fmt.Sprintf("%d connections closed unanswered", svc.refused.count(refusedConnCap))
		}},
		{"100 KB of headers: 431", func(t *testing.T) string {
			code, _ := rawSend(t, "127.0.0.3", addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
			if code != 431 {
				t.Errorf("status %d, want 431", code)
			}
			return fmt.Sprint(code)
		}},
		{"100 KB method: 431; 1 KB method: 501", func(t *testing.T) string {
			big, _ := rawSend(t, "127.0.0.3", addr, strings.Repeat("A", 100<<10)+" / HTTP/1.1\r\nHost: x\r\n\r\n")
			small, _ := rawSend(t, "127.0.0.3", addr, strings.Repeat("A", 1<<10)+" / HTTP/1.1\r\nHost: x\r\n\r\n")
			if big != 431 || small != 501 || svc.refused.count(refusedMethod) != 1 {
				t.Errorf("100 KB method: %d, 1 KB method: %d (counted %d); want 431, 501 (1)", big, small, svc.refused.count(refusedMethod))
			}
			return fmt.Sprint(big, " ", small)
		}},
		{"an event name over -max-event-size: 413", func(t *testing.T) string {
			code, _ := rawSend(t, "127.0.0.3", addr, "POST /publish?topic=t&event="+strings.Repeat("e", 2000)+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
			if code != 413 {
				t.Errorf("status %d, want 413", code)
			}
			return fmt.Sprint(code)
		}},
		{"a topic over 128 bytes: 400", func(t *testing.T) string {
			code, _ := rawSend(t, "127.0.0.3", addr, "GET /events?topic="+strings.Repeat("t", 129)+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if code != 400 {
				t.Errorf("status %d, want 400", code)
			}
			return fmt.Sprint(code)
		}},
		{"a malformed /events query: 400", func(t *testing.T) string {
			code, _ := rawSend(t, "127.0.0.3", addr, "GET /events?topic=a&%zz HTTP/1.1\r\nHost: x\r\n\r\n")
			if code != 400 {
				t.Errorf("status %d, want 400", code)
			}
			return fmt.Sprint(code)
		}},
		{"an 8 KB Last-Event-ID: a malformed gap", func(t *testing.T) string {
			code, br := rawSend(t, "127.0.0.3", addr, "GET /events?topic=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: "+strings.Repeat("1", 8<<10)+"\r\n\r\n")
			var gap string
			for br != nil && code == 200 {
				line, err := br.ReadString('\n')
				if err != nil {
					break
				}
				if strings.HasPrefix(line, "data: ") && strings.Contains(line, "reason") {
					gap = line
					break
				}
			}
			if code != 200 || !strings.Contains(gap, `"malformed"`) {
				t.Errorf("status %d, gap %q; want 200 and a malformed gap", code, gap)
			}
			return fmt.Sprintf("%d, gap %s", code, strings.TrimSpace(gap)[:60])
		}},
		{"/stream under -max-clients-per-ip, with /events", func(t *testing.T) string {
			for range 3 {
				if code, _ := rawSend(t, "127.0.3.1", addr, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"); code != 200 {
					t.Fatalf("a /stream within the limit: %d", code)
				}
			}
			s4, _ := rawSend(t, "127.0.3.1", addr, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
			e4, _ := rawSend(t, "127.0.3.1", addr, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
			if s4 != 503 || e4 != 503 {
				t.Errorf("4th stream from one address: /stream %d, /events %d; want 503 both", s4, e4)
			}
			if n := svc.broker.Stats().Clients; n < 4 {
				t.Errorf("ssewasm_clients %d, want the /stream streams counted", n)
			}
			return fmt.Sprint(s4, " ", e4)
		}},
		{"a /web/ name over 255 bytes: 404", func(t *testing.T) string {
			code, _ := rawSend(t, "127.0.0.3", addr, "GET /web/"+strings.Repeat("n", 300)+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if code != 404 || svc.refused.count(refusedWebName) != 1 {
				t.Errorf("status %d (counted %d), want 404 (1)", code, svc.refused.count(refusedWebName))
			}
			return fmt.Sprint(code)
		}},
		{"a 10 KB path: logged cut", func(t *testing.T) string {
			code, _ := rawSend(t, "127.0.0.3", addr, "GET /"+strings.Repeat("p", 10<<10)+" HTTP/1.1\r\nHost: x\r\n\r\n")
			line := logs.find(t, "path=", "pppp")
			if line == "" || len(line) > 1024 {
				t.Errorf("access log line of %d bytes for a 10 KB path", len(line))
			}
			return fmt.Sprintf("%d, logged in %d bytes", code, len(line))
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			from := h.count()
			answer := tt.attack(t)
			waitForT(t, "the healthy client to receive events after the attack", func() bool { return h.count() >= from+5 })
			p, n := h.p99(from)
			t.Logf("answer %s; healthy client: %d events, p99 %v (before: %v)", answer, n, p, before)
		})
	}

	// Every refusal is in /metrics.
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, reason := range []string{refusedMethod, refusedWebName, refusedConnCap, refusedPublishBusy, refusedPublishTimeout} {
		line := fmt.Sprintf(`ssewasm_refused_total{reason=%q} %d`, reason, svc.refused.count(reason))
		if svc.refused.count(reason) == 0 || !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if !strings.Contains(string(body), "ssewasm_connections_rejected_total") {
		t.Error("/metrics lacks the rejected streams")
	}
	if n := h.count(); n < 50 {
		t.Errorf("the healthy client received %d events during the attacks", n)
	}
	// The attackers' sockets close with their subtests: descriptors and
	// goroutines come back to the baseline (the healthy client's own
	// and the keep-alive /metrics connection aside).
	http.DefaultClient.CloseIdleConnections()
	waitForT(t, "descriptors and goroutines back to their baseline", func() bool {
		return openFDs() <= fdBase+6 && runtime.NumGoroutine() <= gBase+10
	})
	t.Logf("fds %d -> %d, goroutines %d -> %d", fdBase, openFDs(), gBase, runtime.NumGoroutine())
}

func waitForT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMaxConnsFor(t *testing.T) {
	for _, tt := range []struct{ flag, limit, want int }{
		{0, 256, 192},        // a headroom of at least 64
		{0, 1024, 922},       // a tenth, 102
		{0, 1 << 20, 943719}, // a tenth
		{0, 0, 0},            // limit unknown: no cap
		{-1, 1024, -1},       // no cap asked
		{500, 1024, 500},     // as given
	} {
		if got := maxConnsFor(tt.flag, tt.limit); got != tt.want {
			t.Errorf("maxConnsFor(%d, %d) = %d, want %d", tt.flag, tt.limit, got, tt.want)
		}
	}
}
