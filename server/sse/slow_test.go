package sse

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// smallBufListener gives each accepted connection a small send buffer,
// so that a client that stops reading blocks the server's writes soon.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// smallBufServer serves b in mode from a test server whose connections
// have small send buffers; the test's cleanup closes it.
func smallBufServer(t *testing.T, mode testMode, b *Broker) *httptest.Server {
	t.Helper()
	b.opts.SendBuffer = 8 << 10 // hijacked streams set their own (Options.SendBuffer)
	srv := startServer(mode, b, func(l net.Listener) net.Listener { return smallBufListener{l} })
	t.Cleanup(srv.Close)
	return srv
}

// stoppedConn opens a stream on a raw connection with a small receive
// buffer, and does not read it until told.
func stoppedConn(t *testing.T, srv *httptest.Server, query string) (net.Conn, *http.Request) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if srv.TLS != nil { // tlsMode: HTTP/1.1 over TLS
		conf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		conf.NextProtos, conf.ServerName = []string{"http/1.1"}, "127.0.0.1"
		conn = tls.Client(conn, conf)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events?"+query, nil)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	return conn, req
}

// tcpConn is the TCP connection of a stoppedConn.
func tcpConn(c net.Conn) *net.TCPConn {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn().(*net.TCPConn)
	}
	return c.(*net.TCPConn)
}

// A client that stops reading does not delay delivery to 100 others, is
// evicted, and after reconnecting with its Last-Event-ID has every event,
// in order, exactly once.
func TestStoppedClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 100 clients and one that stopped reading, until its eviction")
	}
	run(t, testStoppedClient, http1Modes...)
}

func testStoppedClient(t *testing.T, mode testMode) {
	const (
		healthy = 100
		events  = 400
		window  = 32 // the publisher runs at most this far ahead of the slowest healthy reader
		// frameBytes is about an event's frame: an ID, "msg" and the data
		frameBytes = 560
	)
	var evicted atomic.Uint64
	b, err := New(Options{
		MaxLag:          2 * window * frameBytes,
		MaxClientsPerIP: -1,
		WriteTimeout:    time.Minute, // if the stopped client held anyone up, the test would time out
		Hooks:           Hooks{OnEvict: func(c ClientInfo) { evicted.Store(c.ID) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := smallBufServer(t, mode, b)
	defer b.Shutdown(t.Context())

	conn, req := stoppedConn(t, srv, topicsQuery("t"))
	waitFor(t, "the stopped client", func() bool { return b.Stats().Clients == 1 })
	stoppedID := b.nextID.Load()

	// The healthy clients count what they receive.
	var received [healthy]atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, healthy) // buffered: readers never block on it
	for i := range healthy {
		c := connect(t, srv, topicsQuery("t"), nil)
		wg.Go(func() {
			for n := range events {
				e := c.nextEvent()
				if want := fmt.Sprint(n); e.Data[:len(want)] != want || e.Data[len(want)] != ' ' {
					errs <- fmt.Errorf("client %d: event %d has data %.10q", i, n, e.Data)
					return
				}
				received[i].Add(1)
			}
		})
	}
	waitFor(t, "all clients", func() bool { return b.Stats().Clients == healthy+1 })

	pad := strings.Repeat("x", frameBytes-60) // enough to fill the stopped client's small socket buffers soon
	start := time.Now()
	var slowest time.Duration
	ids := make([]string, events)
	published := make(chan struct{})
	go func() { // so that a blocked Publish fails the test instead of hanging it
		defer close(published)
		for n := range events {
			for i := range received {
				for received[i].Load() < int64(n-window) {
					time.Sleep(100 * time.Microsecond)
				}
			}
			t0 := time.Now()
			ids[n] = publish(t, b, "t", fmt.Sprint(n, " ", pad))
			slowest = max(slowest, time.Since(t0))
		}
		wg.Wait()
	}()
	select {
	case <-published:
	case <-time.After(4 * wait):
		t.Fatal("the stopped client holds up the publisher or the others")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d events to %d healthy clients in %v; slowest Publish %v", events, healthy, time.Since(start), slowest)

	s := b.Stats()
	if s.Evicted != 1 || evicted.Load() != stoppedID {
		t.Fatalf("BrokerStats.Evicted = %d, OnEvict got client %d; want 1 and the stopped client %d", s.Evicted, evicted.Load(), stoppedID)
	}
	waitFor(t, "the stopped stream to end", func() bool { return b.Stats().Clients == healthy })

	// The stopped client now reads what reached it before the eviction,
	// then reconnects as a browser would, with the last event it got.
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	d := NewDecoder(resp.Body)
	for {
		e, err := d.Next()
		if err != nil {
			break // the stream was cut: io.ErrUnexpectedEOF or EOF
		}
		got = append(got, e)
	}
	resp.Body.Close()
	first := len(got)
	if first == 0 || first >= events {
		t.Fatalf("stopped client got %d events before eviction, want some but not all %d", first, events)
	}
	c := connect(t, srv, topicsQuery("t"), http.Header{"Last-Event-ID": {got[first-1].ID}})
	got = append(got, c.events(events-first)...)
	for n, e := range got {
		if e.ID != ids[n] || !strings.HasPrefix(e.Data, fmt.Sprint(n, " ")) {
			t.Fatalf("stopped client's event %d is %s %.10q, want %s", n, e.ID, e.Data, ids[n])
		}
	}
	c.expectNothing(20 * time.Millisecond)
	t.Logf("stopped client: %d events before eviction, %d replayed", first, events-first)
}

// A client that takes longer than WriteTimeout to take one batch is
// disconnected, even if its queue never fills.
func TestWriteTimeout(t *testing.T) { run(t, testWriteTimeout, http1Modes...) }

func testWriteTimeout(t *testing.T, mode testMode) {
	reasons := make(chan error, 1) // buffered: the hook must not block
	b, err := New(Options{
		WriteTimeout: 100 * time.Millisecond,
		MaxLag:       1 << 30,
		Hooks:        Hooks{OnDisconnect: func(_ ClientInfo, err error) { reasons <- err }},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := smallBufServer(t, mode, b)
	defer b.Shutdown(t.Context())
	stoppedConn(t, srv, "")
	waitFor(t, "the client", func() bool { return b.Stats().Clients == 1 })
	big := strings.Repeat("x", 64<<10)
	for range 100 { // 6.4 MB, far more than the socket buffers
		publish(t, b, "", big)
	}
	select {
	case err := <-reasons:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("disconnected with %v, want the write deadline", err)
		}
	case <-time.After(wait):
		t.Fatal("stopped client still connected")
	}
	if s := b.Stats(); s.Evicted != 0 || s.Clients != 0 {
		t.Errorf("stats %+v, want no eviction and no client", s)
	}
}

// pausedReader is a stream on a raw connection that the test reads when
// it likes: a reader that pauses (a busy tab, a throttled phone).
type pausedReader struct {
	conn net.Conn
	d    *Decoder
}

func openPaused(t *testing.T, srv *httptest.Server, query string) *pausedReader {
	t.Helper()
	conn, req := stoppedConn(t, srv, query)
	// Not stoppedConn's tiny buffer: below the loopback MSS, a reader
	// that resumes waits for the sender's zero-window probes, which back
	// off to seconds.
	tcpConn(conn).SetReadBuffer(128 << 10)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &pausedReader{conn: conn, d: NewDecoder(resp.Body)}
}

// A reader that pauses while a fast publisher runs far past MaxLag is
// not evicted when it resumes within PublishWait: Publish waits for it
// instead, and it gets every event, in order. With the deprecated
// QueueSize, or no wait, the same reader is evicted at once.
func TestPausedReader(t *testing.T) { run(t, testPausedReader, http1Modes...) }

func testPausedReader(t *testing.T, mode testMode) {
	const (
		events = 600
		pause  = 200 * time.Millisecond
	)
	data := strings.Repeat("x", 1000) // 600 KB in all, ten times MaxLag
	for _, tt := range []struct {
		name      string
		opts      Options
		wantEvict bool
		wantWaits bool
	}{
		{"wait", Options{MaxLag: 64 << 10, PublishWait: 10 * wait}, false, true},
		{"no wait", Options{MaxLag: 64 << 10, PublishWait: -1}, true, false},
		{"QueueSize", Options{MaxLag: 1 << 30, QueueSize: 16}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			srv := smallBufServer(t, mode, b)
			defer b.Shutdown(t.Context())
			r := openPaused(t, srv, topicsQuery("t"))
			waitFor(t, "the client", func() bool { return b.Stats().Clients == 1 })

			published := make(chan time.Duration, 1) // buffered: the publisher never blocks on it
			go func() {
				start := time.Now()
				for n := range events {
					if _, err := b.Publish(context.Background(), "t", Event{Data: fmt.Sprint(n, " ", data)}); err != nil {
						t.Error(err)
					}
				}
				published <- time.Since(start)
			}()
			time.Sleep(pause) // the reader pauses; the publisher runs ahead
			n := 0
			for ; n < events; n++ {
				e, err := r.d.Next()
				if err != nil {
					break
				}
				if !strings.HasPrefix(e.Data, fmt.Sprint(n, " ")) {
					t.Fatalf("event %d has data %.10q", n, e.Data)
				}
			}
			took := <-published
			s := b.Stats()
			t.Logf("read %d of %d events; publishing took %v; stats %+v", n, events, took, s)
			if evicted := s.Evicted == 1 && n < events; evicted != tt.wantEvict || s.Evicted > 1 {
				t.Errorf("evicted %v after %d events (stats %+v), want evicted %v", evicted, n, s, tt.wantEvict)
			}
			if (s.PublishWaits > 0) != tt.wantWaits {
				t.Errorf("%d publishes waited, want some: %v", s.PublishWaits, tt.wantWaits)
			}
		})
	}
}

// A client that never reads holds up the publisher once, for
// PublishWait, and is evicted; later publishes do not wait. On HTTP/2
// the stopped stream is one of the client connection's streams, which
// stops reading its body while the connection lives on.
func TestPublishWaitIsBounded(t *testing.T) { run(t, testPublishWaitIsBounded) }

func testPublishWaitIsBounded(t *testing.T, mode testMode) {
	const maxWait = 50 * time.Millisecond
	b, err := New(Options{MaxLag: 16 << 10, PublishWait: maxWait, WriteTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := smallBufServer(t, mode, b)
	defer b.Shutdown(t.Context())
	events := 200 // 800 KB: far beyond the lag bound and the socket buffers
	if mode == http2Mode || mode == h2detMode {
		// The client's HTTP/2 transport takes 4 MB per stream before
		// its flow control stops the server.
		events = 2000
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?"+topicsQuery("t"), nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() }) // never read before

	} else {
		stoppedConn(t, srv, topicsQuery("t"))
	}
	waitFor(t, "the client", func() bool { return b.Stats().Clients == 1 })
	data := strings.Repeat("x", 4<<10)
	start := time.Now()
	for range events {
		publish(t, b, "t", data)
	}
	t.Logf("%d publishes in %v with a wait of at most %v", events, time.Since(start), maxWait)
	waitFor(t, "the eviction", func() bool { return b.Stats().Clients == 0 })
	s := b.Stats()
	// Some publishes wait while the socket buffers still take bytes
	// (the client drains); the last one waits in vain and evicts.
	if s.Evicted != 1 || s.PublishWaits == 0 {
		t.Errorf("stats %+v, want 1 eviction after a publish that waited", s)
	}
	for range 100 {
		publish(t, b, "t", data)
	}
	if s2 := b.Stats(); s2.PublishWaits != s.PublishWaits {
		t.Errorf("%d more publishes waited after the eviction", s2.PublishWaits-s.PublishWaits)
	}
}
