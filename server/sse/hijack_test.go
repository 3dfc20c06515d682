package sse

import (
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/internal/epoll"
)

// On Linux a plain HTTP/1.1 stream is hijacked: its body is delimited by
// the connection's close, and an open stream holds no goroutine.
func TestHijackedStream(t *testing.T) { run(t, testHijackedStream, hijackMode) }

func testHijackedStream(t *testing.T, mode testMode) {
	if !canHijack {
		t.Skip("streams are hijacked on Linux only")
	}
	b, srv := newTestBroker(t, mode, Options{})
	first := connect(t, srv, topicsQuery("t"), nil)
	if h := first.resp.Header; !first.resp.Close || len(first.resp.TransferEncoding) != 0 || first.resp.ContentLength != -1 {
		t.Errorf("headers %v, transfer encoding %v: want Connection: close, no framing", h, first.resp.TransferEncoding)
	}
	publish(t, b, "t", "warm") // the writers and the watcher are running
	first.nextEvent()

	before := runtime.NumGoroutine()
	const n = 50
	clients := make([]*testClient, n)
	for i := range clients {
		clients[i] = connect(t, srv, topicsQuery("t"), nil)
	}
	waitFor(t, "the streams", func() bool { return b.Stats().Clients == n+1 })
	publish(t, b, "t", "x")
	for _, c := range clients {
		if e := c.nextEvent(); e.Data != "x" {
			t.Fatalf("got %+v", e)
		}
	}
	// Each test client has a reader goroutine and its transport two;
	// the server side must add none.
	if extra := runtime.NumGoroutine() - before; extra > 3*n+5 {
		t.Errorf("%d more goroutines for %d streams: the server keeps some per stream", extra, n)
	}
	for _, c := range clients {
		c.Close()
	}
	// A client that closes is noticed without a write (the epoll watcher).
	deadline := time.Now().Add(wait)
	for b.Stats().Clients != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := b.Stats().Clients; got != 1 {
		t.Errorf("%d clients after %d closed, want 1", got, n)
	}
}

// A stream outlives its write deadline, on every path: the deadline
// bounds each write, not the stream (the hijacked handler's writes once
// left it set, and every stream died WriteTimeout after it opened; on
// HTTP/2 a deadline left set resets an idle stream when it passes).
func TestStreamOutlivesWriteTimeout(t *testing.T) { run(t, testStreamOutlivesWriteTimeout) }

func testStreamOutlivesWriteTimeout(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{WriteTimeout: 50 * time.Millisecond})
	c := connect(t, srv, topicsQuery("t"), nil)
	waitFor(t, "the client", func() bool { return b.Stats().Clients == 1 })
	time.Sleep(200 * time.Millisecond)
	publish(t, b, "t", "late")
	if e := c.nextEvent(); e.Data != "late" {
		t.Fatalf("got %+v", e)
	}
	if s := b.Stats(); s.Clients != 1 {
		t.Errorf("stats %+v: the stream ended", s)
	}
}

// If the epoll set of the watcher fails, its streams end, with a reason
// that says so (their clients reconnect and replay), rather than go
// unwatched; the streams that open later are watched by a new set.
func TestWatcherFails(t *testing.T) { run(t, testWatcherFails, hijackMode, tlsMode) }

func testWatcherFails(t *testing.T, mode testMode) {
	if !canHijack {
		t.Skip("streams are hijacked on Linux only")
	}
	reasons := make(chan error, 4)
	b, srv := newTestBroker(t, mode, Options{Hooks: Hooks{OnDisconnect: func(_ ClientInfo, reason error) { reasons <- reason }}})
	first := connect(t, srv, topicsQuery("t"), nil)
	waitFor(t, "the stream", func() bool { return b.Stats().Clients == 1 })
	w := b.watcher.Load()
	w.mu.Lock()
	set := w.set
	w.mu.Unlock()

	errs := epoll.Errors()
	set.Fail(syscall.EBADF)
	first.waitEnd()
	if err := nextReason(t, reasons); !errors.Is(err, syscall.EBADF) {
		t.Errorf("the stream ended with %v, want the watcher's failure", err)
	}
	if n := epoll.Errors() - errs; n != 1 {
		t.Errorf("epoll.Errors counted %d failures, want 1", n)
	}

	second := connect(t, srv, topicsQuery("t"), nil)
	waitFor(t, "the second stream", func() bool { return b.Stats().Clients == 1 })
	second.Close() // noticed without a write: watched
	if err := nextReason(t, reasons); !errors.Is(err, errClientGone) {
		t.Errorf("the second stream ended with %v, want %v", err, errClientGone)
	}
}

// nextReason returns the next reason an OnDisconnect hook sent.
func nextReason(t *testing.T, reasons <-chan error) error {
	t.Helper()
	select {
	case err := <-reasons:
		return err
	case <-time.After(wait):
		t.Fatal("no stream ended")
		return nil
	}
}
