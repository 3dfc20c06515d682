package sse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ownServer serves b's topic streams at /events, serve's streams at
// /own through ServeStream, and 200 at /ping. The broker shuts down
// before the server closes.
func ownServer(t *testing.T, b *Broker, serve func(*Stream) error) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/events", b)
	mux.HandleFunc("/own", func(w http.ResponseWriter, r *http.Request) { b.ServeStream(w, r, serve) })
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnContext = ConnContext
	srv.Start()
	t.Cleanup(func() { stopBoth(t, b, srv) })
	return srv
}

// hello is a ServeStream function: one event, then it waits for the end.
func hello(s *Stream) error {
	if err := s.Send(Event{Name: "hello", Data: "you"}); err != nil {
		return err
	}
	<-s.Context().Done()
	return nil
}

// openOwn opens path from the address ip (X-Test-IP) and returns its
// status and Retry-After; an open stream stays open until the test
// ends, or until the returned close.
func openOwn(t *testing.T, srv *httptest.Server, path, ip string) (status int, retryAfter string, close func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
	req.Header.Set("X-Test-IP", ip)
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	close = func() {
		cancel()
		resp.Body.Close()
	}
	t.Cleanup(close)
	if resp.StatusCode == http.StatusOK && path == "/own" {
		if e, err := NewDecoder(resp.Body).Next(); err != nil || e.Name != "hello" {
			t.Fatalf("first event %+v, %v; want hello", e, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), close
}

// TestServeStreamLimits: streams of ServeStream and of topics share
// MaxClients and MaxClientsPerIP, are refused alike over them (503 with
// Retry-After, Rejected, OnReject) without serve being called, and free
// their place when they end.
func TestServeStreamLimits(t *testing.T) {
	var mu sync.Mutex
	var rejected []error
	b, err := New(Options{
		MaxClients:      3,
		MaxClientsPerIP: 2,
		RetryAfter:      7 * time.Second,
		ClientIP:        func(r *http.Request) string { return r.Header.Get("X-Test-IP") },
		Hooks: Hooks{OnReject: func(_ *http.Request, err error) {
			mu.Lock()
			defer mu.Unlock()
			rejected = append(rejected, err)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	srv := ownServer(t, b, func(s *Stream) error {
		served.Add(1)
		return hello(s)
	})
	var closeFirst func()
	for i, step := range []struct {
		path, ip string
		want     int
		reason   error // of a refusal
	}{
		{"/own", "1", 200, nil},
		{"/own", "1", 200, nil},
		{"/own", "1", 503, ErrTooManyClientsPerIP},
		{"/events", "1", 503, ErrTooManyClientsPerIP}, // the own streams count for /events too
		{"/events", "2", 200, nil},
		{"/own", "3", 503, ErrTooManyClients}, // and the topic streams for ServeStream
		{"/events", "3", 503, ErrTooManyClients},
	} {
		status, retryAfter, closeStream := openOwn(t, srv, step.path, step.ip)
		if i == 0 {
			closeFirst = closeStream
		}
		if status != step.want {
			t.Fatalf("step %d, %s from %s: %d, want %d", i, step.path, step.ip, status, step.want)
		}
		if status != 503 {
			continue
		}
		mu.Lock()
		last := rejected[len(rejected)-1]
		mu.Unlock()
		if retryAfter != "7" || !errors.Is(last, step.reason) {
			t.Errorf("step %d: Retry-After %q, reason %v; want 7 and %v", i, retryAfter, last, step.reason)
		}
	}
	if s := b.Stats(); s.Clients != 3 || s.Rejected != 4 || served.Load() != 2 {
		t.Errorf("%d clients, %d rejected, served %d; want 3, 4 and 2", s.Clients, s.Rejected, served.Load())
	}
	closeFirst()
	waitFor(t, "the closed stream to free its place", func() bool { return b.Stats().Clients == 2 })
	if status, _, _ := openOwn(t, srv, "/own", "1"); status != 200 {
		t.Errorf("after a stream from 1 ended, another from 1: %d, want 200", status)
	}
}

// TestServeStreamShutdown: Shutdown ends the stream's context with
// ErrClosed and waits for serve to return; the hooks see the client,
// with its address and no topics; afterwards ServeStream refuses.
func TestServeStreamShutdown(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf(format, args...))
	}
	b, err := New(Options{
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Test-IP") },
		Hooks: Hooks{
			OnConnect:    func(c ClientInfo) { record("connect %s %d", c.IP, len(c.Topics)) },
			OnDisconnect: func(c ClientInfo, reason error) { record("disconnect %s %v", c.IP, errors.Is(reason, ErrClosed)) },
			OnEvict:      func(c ClientInfo) { record("evict %s", c.IP) },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := ownServer(t, b, func(s *Stream) error {
		err := hello(s)
		time.Sleep(50 * time.Millisecond) // Shutdown waits for this
		record("serve returned, cause %v", context.Cause(s.Context()))
		return err
	})
	if status, _, _ := openOwn(t, srv, "/own", "192.0.2.1"); status != 200 {
		t.Fatalf("status %d", status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := slices.Clone(events)
	mu.Unlock()
	want := []string{"connect 192.0.2.1 0", "serve returned, cause " + ErrClosed.Error(), "disconnect 192.0.2.1 true"}
	if !slices.Equal(got, want) {
		t.Errorf("events when Shutdown returned: %q, want %q", got, want)
	}
	if status, retryAfter, _ := openOwn(t, srv, "/own", "192.0.2.1"); status != 503 || retryAfter == "" {
		t.Errorf("after Shutdown: %d, Retry-After %q; want 503 with Retry-After", status, retryAfter)
	}
}

// TestServeStreamEnds: how serve's answer ends the stream. A reader that stopped
// evicts the client and closes its connection; any other end keeps the
// connection for the next request.
func TestServeStreamEnds(t *testing.T) {
	for _, tt := range []struct {
		name    string
		end     error
		evicted bool
	}{
		{"serve returns", nil, false},
		{"a write error", errors.New("sse: write: broken pipe"), false},
		{"a stopped client", fmt.Errorf("sse: write: %w", ErrNotReading), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var evicted, disconnected atomic.Int32
			var reason atomic.Value
			b, err := New(Options{Hooks: Hooks{
				OnEvict: func(ClientInfo) { evicted.Add(1) },
				OnDisconnect: func(_ ClientInfo, r error) {
					reason.Store(fmt.Sprint(r))
					disconnected.Add(1)
				},
			}})
			if err != nil {
				t.Fatal(err)
			}
			srv := ownServer(t, b, func(s *Stream) error {
				if err := s.Send(Event{Data: "one"}); err != nil {
					return err
				}
				return tt.end
			})
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(wait))
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /own HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), "data: one\n") {
				t.Errorf("body %q, want the event", body)
			}
			// The next request on the connection: answered, or the
			// connection is closed.
			io.WriteString(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
			next, nextErr := http.ReadResponse(br, nil)
			if tt.evicted {
				if err == nil || nextErr == nil {
					t.Errorf("evicted: body read %v, next request %v; want the connection closed mid-response", err, next.Status)
				}
			} else if err != nil || nextErr != nil || next.StatusCode != 200 {
				t.Errorf("body read %v, next request %v; want the response complete and the connection kept", err, nextErr)
			}
			waitFor(t, "the stream to end", func() bool { return disconnected.Load() == 1 })
			if got, want := b.Stats().Evicted, map[bool]uint64{true: 1}[tt.evicted]; got != want || evicted.Load() != int32(want) {
				t.Errorf("BrokerStats.Evicted %d, OnEvict %d; want %d", got, evicted.Load(), want)
			}
			if got, want := reason.Load(), fmt.Sprint(tt.end); got != want {
				t.Errorf("OnDisconnect reason %q, want %q", got, want)
			}
			if n := b.Stats().Clients; n != 0 {
				t.Errorf("%d clients after the stream ended", n)
			}
		})
	}
}

// noFlush hides the Flush of the ResponseWriter it wraps.
type noFlush struct{ w http.ResponseWriter }

func (n noFlush) Header() http.Header         { return n.w.Header() }
func (n noFlush) Write(p []byte) (int, error) { return n.w.Write(p) }
func (n noFlush) WriteHeader(code int)        { n.w.WriteHeader(code) }

// TestServeStreamCannotFlush: a ResponseWriter that cannot flush gets a
// 500, and serve is not called.
func TestServeStreamCannotFlush(t *testing.T) {
	var rejected error
	b, err := New(Options{Hooks: Hooks{OnReject: func(_ *http.Request, err error) { rejected = err }}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	rec := httptest.NewRecorder()
	b.ServeStream(noFlush{rec}, httptest.NewRequest("GET", "/own", nil), func(*Stream) error {
		t.Error("serve called")
		return nil
	})
	if rec.Code != http.StatusInternalServerError || !errors.Is(rejected, ErrFlushUnsupported) {
		t.Errorf("%d, %v; want 500 and ErrFlushUnsupported", rec.Code, rejected)
	}
	if s := b.Stats(); s.Clients != 0 || s.Rejected != 1 {
		t.Errorf("%d clients, %d rejected; want 0 and 1", s.Clients, s.Rejected)
	}
}
